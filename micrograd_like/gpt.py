"""A GPT on scalars: the pieces of Karpathy's microgpt (2026) as functions and a Module, beside nn.

microgpt trains a one-layer GPT on names with nothing but a scalar engine: token and position
embeddings, rmsnorm, causal self-attention through a cache of keys and values, a relu MLP and a
softmax over the next character. The math here is the same (GPT-2 with rmsnorm, no biases and relu);
each weighted sum is one ``linear`` node and each sum one ``sum_of`` node, so a step builds fewer
nodes than microgpt's and gives the same numbers to rounding (tests/test_gpt.py checks it).
"""

from __future__ import annotations

import importlib.resources
import math
import numbers
import os
import random
import stat
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from micrograd_like import model_files
from micrograd_like.arguments import checked_count, checked_real, checked_rng, checked_sequence
from micrograd_like.engine import Value, linear, no_grad, sum_of
from micrograd_like.losses import softmax_cross_entropy
from micrograd_like.model_files import ModelFileError, read_model_file
from micrograd_like.nn import Module

__all__ = [
    "GPT",
    "CompiledLoss",
    "KVCache",
    "NamesFileError",
    "Tokenizer",
    "attention",
    "census_names",
    "embedding",
    "matvec",
    "one_hot",
    "one_hot_loss",
    "read_names",
    "relu_mlp",
    "rmsnorm",
    "sample",
    "softmax",
]

Vector = list[Value]
Matrix = list[list[Value]]

INIT_STD = 0.08  # microgpt's: every weight starts as gauss(0, 0.08)
RMSNORM_EPS = 1e-5
MAX_VOCABULARY = 256  # characters; more would make the output layer the whole model


# --- the pieces: each takes and returns lists of Values, as microgpt's functions do -------------


def matrix(rows: int, cols: int, rng: random.Random, name: str, std: float = INIT_STD) -> Matrix:
    """A rows x cols matrix of leaves drawn from gauss(0, std), row by row, labelled name[i][j]."""
    return [[Value(rng.gauss(0.0, std), f"{name}[{i}][{j}]") for j in range(cols)]
            for i in range(rows)]  # fmt: skip


def embedding(table: Matrix, index: int) -> Vector:
    """Row ``index`` of an embedding table: the learned vector of a token or a position."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(table):
        raise ValueError(f"embedding: index {index!r} is not a row of a {len(table)}-row table")
    return table[index]


def matvec(w: Matrix, x: Sequence[Value]) -> Vector:
    """w @ x, no bias: each output is one ``linear`` node, summed in microgpt's order."""
    return [linear(row, x, Value(0.0)) for row in w]


def rmsnorm(x: Sequence[Value], eps: float = RMSNORM_EPS) -> Vector:
    """x / sqrt(mean(x**2) + eps): every vector comes out with a root mean square of about 1."""
    if not checked_sequence(x, "rmsnorm", "x"):
        raise ValueError("rmsnorm: x is empty; it needs at least one value")
    checked_real(eps, "rmsnorm", "eps", low=0.0)
    mean_square = linear(x, x, Value(0.0)) / len(x)
    scale = (mean_square + eps) ** -0.5
    return [xi * scale for xi in x]


def softmax(logits: Sequence[Value], shift: bool = True) -> Vector:
    """e**l / sum(e**l), shifted by the largest logit so that no exp overflows (``shift=False``
    reads no data, which a function compile_fn traces may not do)."""
    if not checked_sequence(logits, "softmax", "logits"):
        raise ValueError("softmax: no logits; it needs at least one")
    if shift:
        largest = max(v.data for v in logits)
        exps = [(v - largest).exp() for v in logits]
    else:
        exps = [v.exp() for v in logits]
    total = sum_of(exps)
    return [e / total for e in exps]


def attention(
    q: Vector, keys: Sequence[Vector], values: Sequence[Vector], n_head: int, shift: bool = True
) -> Vector:
    """Multi-head attention of one query over the keys and values of the positions so far.

    Causal by construction: the cache holds only this position and the ones before it. Each head
    takes its slice of the vectors; the heads' outputs are concatenated.
    """
    if checked_count(n_head, "attention", "n_head") > len(q) or len(q) % n_head:
        raise ValueError(f"attention: {len(q)} dimensions do not split into n_head={n_head} heads")
    head_dim = len(q) // n_head
    out: Vector = []
    for start in range(0, len(q), head_dim):
        heads = slice(start, start + head_dim)
        q_h = q[heads]
        logits = [linear(q_h, k[heads], Value(0.0)) / math.sqrt(head_dim) for k in keys]
        weights = softmax(logits, shift)
        for j in range(start, start + head_dim):
            out.append(linear(weights, [v[j] for v in values], Value(0.0)))
    return out


def relu_mlp(x: Sequence[Value], fc1: Matrix, fc2: Matrix) -> Vector:
    """fc2 @ relu(fc1 @ x): the feed-forward block, four times wider inside."""
    return matvec(fc2, [h.relu() for h in matvec(fc1, x)])


class KVCache:
    """The keys and values of the positions so far, one list per layer: what attention reads."""

    def __init__(self, n_layer: int) -> None:
        checked_count(n_layer, "KVCache", "n_layer")
        self.keys: list[list[Vector]] = [[] for _ in range(n_layer)]
        self.values: list[list[Vector]] = [[] for _ in range(n_layer)]

    def __len__(self) -> int:
        return len(self.keys[0]) if self.keys else 0


# --- characters in, characters out --------------------------------------------------------------


class Tokenizer:
    """Each character of the names is a token; one more token, BOS, starts and ends every name."""

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars):
            raise ValueError(f"Tokenizer: chars must be distinct characters, got {chars!r}")
        if len(chars) > MAX_VOCABULARY:
            raise ValueError(
                f"Tokenizer: {len(chars)} distinct characters; at most {MAX_VOCABULARY} are allowed"
            )
        self.chars = chars
        self.bos = len(chars)
        self._ids = {c: i for i, c in enumerate(chars)}

    @classmethod
    def of(cls, names: Sequence[str]) -> Tokenizer:
        """The tokenizer of every character used in ``names``, in sorted order (as microgpt)."""
        for index, name in enumerate(checked_sequence(names, "Tokenizer.of", "names")):
            if not isinstance(name, str):
                raise TypeError(f"Tokenizer.of: names[{index}] is {name!r}, not a string")
        return cls("".join(sorted(set("".join(names)))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    def encode(self, name: str) -> list[int]:
        """BOS, the name's characters, BOS."""
        if not isinstance(name, str):
            raise TypeError(f"Tokenizer.encode: expected a name (str), got {name!r}")
        unknown = sorted(set(name) - self._ids.keys())
        if unknown:
            raise ValueError(f"Tokenizer.encode: {name!r} has characters outside the vocabulary "
                             f"{unknown!r}")  # fmt: skip
        return [self.bos, *(self._ids[c] for c in name), self.bos]

    def decode(self, tokens: Sequence[int]) -> str:
        """The characters of ``tokens``, BOS left out; a token outside the vocabulary is refused."""
        found = checked_tokens(tokens, self.vocab_size, "Tokenizer.decode")
        return "".join(self.chars[t] for t in found if t != self.bos)


# --- the model ----------------------------------------------------------------------------------


class GPT(Module):
    """microgpt's model: embeddings, ``n_layer`` blocks of attention and a relu MLP, a linear head.

    Build it as ``GPT.of(tokenizer, rng=...)`` to keep the characters with the weights.
    ``state_dict`` holds the weight matrices under microgpt's names (``wte``, ``wpe``, ``lm_head``,
    ``layer0.attn_wq``, ...), drawn in microgpt's order from ``rng``; ``named_parameters()`` lists
    each weight with its name, ``parameters()`` the weights alone, in the same order.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        n_embd: int = 16,
        n_head: int = 4,
        n_layer: int = 1,
        block_size: int = 16,
        chars: str = "",
        rng: random.Random | None = None,
    ) -> None:
        sizes = {"vocab_size": vocab_size, "n_embd": n_embd, "n_head": n_head,
                 "n_layer": n_layer, "block_size": block_size}  # fmt: skip
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"GPT: {name} must be a positive integer, got {size!r}")
        if n_embd % n_head:
            raise ValueError(f"GPT: n_embd {n_embd} does not split into {n_head} heads")
        count = _weights_count(sizes)
        if count > model_files.MAX_FILE_PARAMETERS:  # a size typo must not fill memory
            raise ValueError(f"GPT: these sizes make {count:,} weights; at most "
                             f"{model_files.MAX_FILE_PARAMETERS:,} are allowed "
                             "(the most a model file holds)")  # fmt: skip
        if chars and Tokenizer(chars).vocab_size != vocab_size:
            raise ValueError(f"GPT: {len(chars)} chars and BOS make {len(chars) + 1} tokens, "
                             f"not vocab_size {vocab_size}")  # fmt: skip
        self.chars = chars  # the tokenizer's characters, kept so a saved model can sample
        self.vocab_size, self.n_embd, self.n_head = vocab_size, n_embd, n_head
        self.n_layer, self.block_size = n_layer, block_size
        rng = checked_rng(rng, "GPT")
        self.state_dict: dict[str, Matrix] = {
            "wte": matrix(vocab_size, n_embd, rng, "wte"),
            "wpe": matrix(block_size, n_embd, rng, "wpe"),
            "lm_head": matrix(vocab_size, n_embd, rng, "lm_head"),
        }
        for i in range(n_layer):
            for name, rows, cols in _block_shapes(n_embd):
                key = f"layer{i}.{name}"
                self.state_dict[key] = matrix(rows, cols, rng, key)

    @classmethod
    def of(cls, tokenizer: Tokenizer, **sizes: Any) -> GPT:
        """A GPT for this tokenizer's tokens; it keeps the characters, so its files can sample."""
        return cls(tokenizer.vocab_size, chars=tokenizer.chars, **sizes)

    @property
    def tokenizer(self) -> Tokenizer:
        if not self.chars:
            raise ValueError("GPT: built without chars, so it has no tokenizer; use GPT.of")
        return Tokenizer(self.chars)

    def __call__(self, token: int, position: int, cache: KVCache) -> Vector:
        """The logits of the token after ``token`` at ``position``; appends to ``cache``."""
        if not isinstance(cache, KVCache):
            raise TypeError(f"GPT: cache must be a KVCache, got {cache!r}")
        if isinstance(position, bool) or position != len(cache) or position >= self.block_size:
            raise ValueError(
                f"GPT: position {position!r} with {len(cache)} positions cached "
                f"(block size {self.block_size}); positions go 0, 1, 2, ..."
            )
        return self.logits_of(embedding(self.state_dict["wte"], token), position, cache)

    def logits_of(
        self, token_row: Sequence[Value], position: int, cache: KVCache, shift: bool = True
    ) -> Vector:
        """The logits after a token given by its embedding row (a one-hot mix of rows, say)."""
        w = self.state_dict
        x = rmsnorm(_plus(token_row, w["wpe"][position]))
        for i in range(self.n_layer):
            residual, x = x, rmsnorm(x)
            q = matvec(w[f"layer{i}.attn_wq"], x)
            cache.keys[i].append(matvec(w[f"layer{i}.attn_wk"], x))
            cache.values[i].append(matvec(w[f"layer{i}.attn_wv"], x))
            mixed = attention(q, cache.keys[i], cache.values[i], self.n_head, shift)
            x = _plus(matvec(w[f"layer{i}.attn_wo"], mixed), residual)
            out = relu_mlp(rmsnorm(x), w[f"layer{i}.mlp_fc1"], w[f"layer{i}.mlp_fc2"])
            x = _plus(out, x)
        return matvec(w["lm_head"], x)

    def loss(self, tokens: Sequence[int]) -> Value:
        """The mean cross-entropy of predicting each next token, over at most block_size of them."""
        tokens = checked_tokens(tokens, self.vocab_size, "GPT.loss")
        if len(tokens) < 2:
            raise ValueError(f"GPT.loss: needs at least two tokens, got {list(tokens)!r}")
        cache = KVCache(self.n_layer)
        n = min(self.block_size, len(tokens) - 1)
        losses = [softmax_cross_entropy(self(tokens[i], i, cache), tokens[i + 1]) for i in range(n)]
        return sum_of(losses) / n

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Each weight with its place: ``wte[3][5]`` is row 3, column 5 of the token embeddings."""
        return [(f"{name}[{i}][{j}]", p) for name, rows in self.state_dict.items()
                for i, row in enumerate(rows) for j, p in enumerate(row)]  # fmt: skip

    def parameters(self) -> list[Value]:
        return [p for rows in self.state_dict.values() for row in rows for p in row]

    def architecture(self) -> dict[str, Any]:
        return {"module": "GPT", "vocab_size": self.vocab_size, "n_embd": self.n_embd,
                "n_head": self.n_head, "n_layer": self.n_layer,
                "block_size": self.block_size, "chars": self.chars}  # fmt: skip

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> GPT:
        """Build the GPT a file written by ``save`` describes and load its weights (checked)."""
        document = read_model_file(path, "GPT.from_file")
        found = document["architecture"]
        keys = ("module", "vocab_size", "n_embd", "n_head", "n_layer", "block_size", "chars")
        model_files.check_keys(path, found, keys, "architecture")
        if found["module"] != "GPT":
            raise ModelFileError(path, f"the file holds a {model_files.short(found['module'])}, "
                                       "not a GPT")  # fmt: skip
        sizes = _sizes(path, found)
        numbers = model_files.parameter_list(
            path, document["parameters"], _parameter_count(path, sizes), "a GPT of its sizes needs"
        )
        if not isinstance(found["chars"], str):
            raise ModelFileError(path, f"chars must be a string, found "
                                       f"{model_files.short(found['chars'])}")  # fmt: skip
        try:
            model = cls(sizes["vocab_size"], n_embd=sizes["n_embd"], n_head=sizes["n_head"],
                        n_layer=sizes["n_layer"], block_size=sizes["block_size"],
                        chars=found["chars"])  # fmt: skip
        except ValueError as error:  # heads that do not split n_embd, chars that do not fit
            raise ModelFileError(path, str(error)) from None
        model._set_parameters(numbers)
        return model

    def __repr__(self) -> str:
        return (f"GPT(vocab {self.vocab_size}, n_embd {self.n_embd}, {self.n_head} heads, "
                f"{self.n_layer} layer(s), block {self.block_size}, "
                f"{len(self.parameters())} parameters)")  # fmt: skip


def checked_tokens(tokens: object, vocab_size: int, where: str) -> list[int]:
    """Token ids from 0 to vocab_size - 1 as a list: a negative one would wrap round silently."""
    found = checked_sequence(tokens, where, "tokens")
    for index, token in enumerate(found):
        integral = isinstance(token, numbers.Integral) and not isinstance(token, bool)
        if not integral or not 0 <= token < vocab_size:
            raise ValueError(
                f"{where}: token {index} is {token!r}, not a token id from 0 to {vocab_size - 1}"
            )
    return [int(token) for token in found]


def _plus(a: Sequence[Value], b: Sequence[Value]) -> Vector:
    """a + b, element by element: the embeddings' sum and the residual connections."""
    return [x + y for x, y in zip(a, b, strict=True)]


def _weights_count(sizes: dict[str, int]) -> int:
    """How many weights a GPT of these sizes has."""
    embd = sizes["n_embd"]
    count = (2 * sizes["vocab_size"] + sizes["block_size"]) * embd
    return count + sizes["n_layer"] * 12 * embd * embd  # four n x n attention, two n x 4n


def _block_shapes(n_embd: int) -> list[tuple[str, int, int]]:
    """The weight matrices of one block, in microgpt's order: name, rows, columns."""
    square = [(f"attn_w{x}", n_embd, n_embd) for x in "qkvo"]
    return [*square, ("mlp_fc1", 4 * n_embd, n_embd), ("mlp_fc2", n_embd, 4 * n_embd)]


def _sizes(path: str | os.PathLike[str], found: dict[str, Any]) -> dict[str, int]:
    """A model file's sizes, each checked to be a positive integer."""
    sizes = {}
    for name in ("vocab_size", "n_embd", "n_head", "n_layer", "block_size"):
        size = found[name]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ModelFileError(path, f"{name} must be a positive integer, "
                                       f"found {model_files.short(size)}")  # fmt: skip
        sizes[name] = size
    return sizes


def _parameter_count(path: str | os.PathLike[str], sizes: dict[str, int]) -> int:
    """How many weights a GPT of these sizes has, refusing absurd sizes before any is built."""
    count = _weights_count(sizes)
    if count > model_files.MAX_FILE_PARAMETERS:
        raise ModelFileError(path, f"the architecture asks for {count:,} parameters; more than "
                                   f"{model_files.MAX_FILE_PARAMETERS:,} are refused")  # fmt: skip
    return count


# --- the compiled path: one traced graph per name length ---------------------------------------


def one_hot(tokens: Sequence[int], vocab_size: int) -> list[float]:
    """Each token as vocab_size numbers, 1.0 at its index: how a traced function takes tokens."""
    checked_tokens(tokens, vocab_size, "one_hot")
    return [1.0 if t == i else 0.0 for t in tokens for i in range(vocab_size)]


def one_hot_loss(model: GPT, length: int) -> Callable[..., Value]:
    """GPT.loss of any name of ``length`` predictions, as a function of one-hot inputs (the
    tokens, then the targets): the same graph for every such name, so compile_fn can trace it.

    A traced function may not read data, so row lookups become one-hot sums and the softmaxes
    are not shifted by their largest logit; the numbers agree with GPT.loss to rounding.
    """
    v, table = model.vocab_size, model.state_dict["wte"]
    columns = [[row[j] for row in table] for j in range(model.n_embd)]

    def loss(*hot: Value) -> Value:
        cache, losses = KVCache(model.n_layer), []
        for i in range(length):
            token, target = hot[i * v : (i + 1) * v], hot[(length + i) * v : (length + i + 1) * v]
            row = [linear(column, token, Value(0.0)) for column in columns]
            logits = model.logits_of(row, i, cache, shift=False)
            picked = linear(logits, target, Value(0.0))  # the target's logit
            losses.append(sum_of([x.exp() for x in logits]).log() - picked)
        return sum_of(losses) / length

    return loss


class CompiledLoss:
    """GPT.loss and its gradients through compiled code, compiled once per name length."""

    def __init__(self, model: GPT) -> None:
        from micrograd_like.compiled import CompiledCache  # the compiler only when asked for

        self.model = model
        self.cache = CompiledCache(self._build, model.parameters(), checks=0)

    def _build(self, length: Hashable) -> tuple[Callable[..., Value], list[float]]:
        assert isinstance(length, int)  # only value_and_grad asks, with a length
        return one_hot_loss(self.model, length), self._inputs([0] * (length + 1))

    def _inputs(self, tokens: Sequence[int]) -> list[float]:
        size = self.model.vocab_size
        return one_hot(tokens[:-1], size) + one_hot(tokens[1:], size)

    def value_and_grad(self, tokens: Sequence[int]) -> tuple[float, list[float]]:
        """The loss of ``tokens`` and d(loss)/d(p) for each of model.parameters(), in order."""
        found = checked_tokens(tokens, self.model.vocab_size, "CompiledLoss.value_and_grad")
        tokens = found[: self.model.block_size + 1]
        if len(tokens) < 2:
            raise ValueError(f"GPT.loss: needs at least two tokens, got {tokens!r}")
        return self.cache(len(tokens) - 1).value_and_grad(*self._inputs(tokens))


def sample(model: GPT, rng: random.Random, temperature: float = 0.5) -> str:
    """A new name: draw each next token from softmax(logits / temperature) until BOS comes back.

    Lower temperatures pick likelier characters; no graph is built.
    """
    rng = checked_rng(rng, "sample")
    if not 0 < checked_real(temperature, "sample", "temperature") <= 100:
        raise ValueError(f"sample: temperature must lie in (0, 100], got {temperature!r}")
    tokenizer = model.tokenizer
    tokens: list[int] = []
    token = tokenizer.bos
    with no_grad():
        cache = KVCache(model.n_layer)
        for position in range(model.block_size):
            probs = softmax([logit / temperature for logit in model(token, position, cache)])
            token = rng.choices(range(model.vocab_size), weights=[p.data for p in probs])[0]
            if token == tokenizer.bos:
                break
            tokens.append(token)
    return tokenizer.decode(tokens)


# --- names to train on ------------------------------------------------------------------------

MAX_NAMES_BYTES = 10 * 1024 * 1024  # ten times the Census lists; a step reads one name anyway
NAMES_EXTRA = 'pip install "micrograd_like[gpt]"'


class NamesFileError(ValueError):
    """A names file that cannot be trained on: the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")


def read_names(path: str | os.PathLike[str]) -> list[str]:
    """The names in a UTF-8 text file, one per line (blank lines and outer spaces dropped).

    Refused with one line naming the file: anything but a regular file, more than
    MAX_NAMES_BYTES, binary content (a NUL byte or bytes that are not UTF-8), no names at all,
    or more than MAX_VOCABULARY distinct characters.
    """
    path = model_files.checked_path(path, "read_names")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise NamesFileError(path, "is not a regular file")
        if info.st_size > MAX_NAMES_BYTES:
            raise NamesFileError(path, _too_large(f"{info.st_size:,} bytes"))
        with open(path, "rb") as file:
            data = file.read(MAX_NAMES_BYTES + 1)  # it may have grown since stat
    except OSError as error:
        raise NamesFileError(path, f"cannot be read: {error.strerror or error}") from None
    if len(data) > MAX_NAMES_BYTES:
        raise NamesFileError(path, _too_large(f"more than {MAX_NAMES_BYTES:,} bytes"))
    if b"\0" in data:
        raise NamesFileError(path, "looks binary (it has NUL bytes); give a text file of names")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NamesFileError(
            path, f"is not UTF-8 text (byte {error.start}); give a text file of names"
        ) from None
    return _checked_names(path, text.splitlines())


def _too_large(size: str) -> str:
    return f"has {size}; a names file may have at most {MAX_NAMES_BYTES:,}"


def _checked_names(path: str | os.PathLike[str], lines: Sequence[str]) -> list[str]:
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise NamesFileError(path, "has no names; give one name per line")
    chars = set("".join(names))
    if len(chars) > MAX_VOCABULARY:
        raise NamesFileError(path, f"uses {len(chars):,} distinct characters; at most "
                                   f"{MAX_VOCABULARY} fit the model")  # fmt: skip
    return names


def census_names() -> list[str]:
    """The US Census first names, male and female, lower case, each once: the ``names`` package.

    Raises LookupError, saying how to install it or what to pass instead, when it is missing.
    """
    try:
        lists = importlib.resources.files("names")
        lines = [
            line.split()[0].lower()
            for part in ("dist.male.first", "dist.female.first")
            for line in (lists / part).read_text(encoding="ascii").splitlines()
            if line.strip()
        ]
    except (ModuleNotFoundError, FileNotFoundError):
        raise LookupError(
            f"the default names come from the 'names' package: {NAMES_EXTRA}, "
            "or pass --data FILE with one name per line"
        ) from None
    return sorted(set(lines))
