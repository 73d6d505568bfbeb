"""Neural networks on Value: Module, Neuron, Layer and MLP; models saved to and loaded from JSON.

The classes keep micrograd's constructors, ``parameters()`` order (per neuron: weights, then bias)
and call conventions, so micrograd's demo runs unchanged; each neuron's weighted sum is one fused
``linear`` node instead of 2n, which is most of why a training step is faster than micrograd's.
Initial weights come from ``rng=``, never the global ``random``, so ``random.seed(1337)`` does not
fix them as it does in micrograd: pass ``rng=random.Random(1337)`` to get micrograd's weights.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from micrograd_like.engine import Value, is_grad_enabled, linear

Input = Value | float | int
Inputs = Sequence[Input] | Value | float | int


def _identity(x: Value) -> Value:
    """The linear 'activation': the weighted sum itself."""
    return x


ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "linear": _identity,
}
_NEURON_NAMES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}

FILE_FORMAT = "micrograd_like.model"
FILE_VERSION = 1
_FILE_KEYS = ("format", "version", "architecture", "parameters")
MAX_FILE_PARAMETERS = 1_000_000  # a file asking for more is refused before anything is built


class ModelFileError(ValueError):
    """A model file that cannot be loaded: the message names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


class Module:
    """Anything with parameters: zero their gradients, save them to JSON and load them back."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def architecture(self) -> dict[str, Any]:
        """What a saved file must describe for its parameters to fit this module."""
        return {"module": type(self).__name__, "parameters": len(self.parameters())}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.parameters())} parameters)"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and every parameter to ``path`` as JSON (never pickle).

        A non-finite parameter (after a diverging run) raises ValueError and writes nothing.
        """
        numbers = [p.data for p in self.parameters()]
        for index, number in enumerate(numbers):
            if not math.isfinite(number):
                raise ValueError(
                    f"{os.fspath(path)}: parameter {index} is {number!r}, not a finite number "
                    "(did training diverge?); nothing was saved"
                )
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "architecture": self.architecture(),
            "parameters": numbers,
        }
        text = json.dumps(document, indent=1, allow_nan=False)
        temporary = Path(f"{os.fspath(path)}.tmp")
        try:
            temporary.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, path)  # a crash mid-write never leaves a half-written model
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def load(self, path: str | os.PathLike[str]) -> None:
        """Set the parameters from a file written by ``save``.

        The file is untrusted: everything is checked before any parameter changes, and any problem
        raises ``ModelFileError`` (a ValueError) naming the file and the problem.
        """
        document = read_model_file(path)
        self._assign(path, document)

    def _assign(self, path: str | os.PathLike[str], document: dict[str, Any]) -> None:
        self._check_architecture(path, document["architecture"])
        count = len(self.parameters())
        self._set_parameters(_parameter_list(path, document["parameters"], count, "the model has"))

    def _check_architecture(self, path: str | os.PathLike[str], found: object) -> None:
        expected = self.architecture()
        if _canonical(found) != _canonical(expected):
            raise ModelFileError(
                path, f"the file describes {_short(found)}, but this model is {_short(expected)}"
            )

    def _set_parameters(self, numbers: list[float]) -> None:
        for p, number in zip(self.parameters(), numbers, strict=True):
            p.data = number
            p.grad = 0.0  # a gradient of the old weights means nothing for the new ones


class Neuron(Module):
    """activation(w . x + b), with micrograd's constructor: ``nonlin=True`` is ReLU, False linear.

    ``activation`` ("relu", "tanh", "sigmoid" or "linear") overrides ``nonlin``. Weights start
    uniform in [-1, 1] and the bias at 0, as in micrograd; pass ``rng`` for reproducible weights.
    Parameters are labelled ``w1``.. and ``b``, inside a Layer ``N2.w1`` and inside an MLP
    ``L1.N2.w1`` (all numbered from 1), so pictures name them; a label changes no number.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_size(nin, "Neuron", "nin")
        chosen = activation if activation is not None else ("relu" if nonlin else "linear")
        if chosen not in ACTIVATIONS:
            raise ValueError(
                f"Neuron: unknown activation {chosen!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        if not nonlin and chosen != "linear":
            raise ValueError(
                f"Neuron: nonlin=False asks for a linear neuron but activation={chosen!r}; "
                "pass only one of them"
            )
        draw = (rng or random.Random()).uniform
        self.w = [Value(draw(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self._name_parameters("")
        self.activation = chosen
        self._activate = ACTIVATIONS[chosen]

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def __call__(self, x: Inputs) -> Value:
        return self._forward(_as_inputs(x, len(self.w), self))

    def _forward(self, inputs: Sequence[Input]) -> Value:
        """The neuron on inputs already checked by its caller (a Layer checks them once)."""
        return self._activate(linear(self.w, inputs, self.b))

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def _name_parameters(self, prefix: str) -> None:
        """Label the weights ``<prefix>w1``.. and the bias ``<prefix>b``, for pictures."""
        for i, w in enumerate(self.w, start=1):
            w.label = f"{prefix}w{i}"
        self.b.label = f"{prefix}b"

    def architecture(self) -> dict[str, Any]:
        return {"module": "Neuron", "nin": len(self.w), "activation": self.activation}

    def __repr__(self) -> str:
        return f"{_NEURON_NAMES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons that all see the same inputs; keyword arguments go to each Neuron.

    Calling it returns a list of Values, except that a layer with one neuron returns that neuron's
    Value itself: micrograd does the same, and its demo relies on it for the final score.
    """

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        _check_size(nin, "Layer", "nin")
        _check_size(nout, "Layer", "nout")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
        self._name_parameters("")

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def __call__(self, x: Inputs) -> Value | list[Value]:
        inputs = _as_inputs(x, self.nin, self)
        if not is_grad_enabled():  # evaluation: read each input's number once, not per neuron
            inputs = [v.data if isinstance(v, Value) else v for v in inputs]
        out = [n._forward(inputs) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def _name_parameters(self, prefix: str) -> None:
        """Label neuron j's parameters ``<prefix>N<j>.w1``.. (numbered from 1), for pictures."""
        for j, neuron in enumerate(self.neurons, start=1):
            neuron._name_parameters(f"{prefix}N{j}.")

    def architecture(self) -> dict[str, Any]:
        return {
            "module": "Layer",
            "nin": self.nin,
            "nout": len(self.neurons),
            "activation": self.activation,
        }

    def __repr__(self) -> str:
        return f"Layer({self.nin} -> {len(self.neurons)}, {self.activation})"


class MLP(Module):
    """Layers in a row: hidden layers use ``activation`` (ReLU, as micrograd), the last is linear.

    Calling it returns a single Value when the last layer has one neuron, else a list (as
    micrograd). A hidden layer of one neuron works here; in micrograd it breaks the next layer.
    ``random.seed`` does not fix the initial weights: pass ``rng=random.Random(seed)`` instead.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "linear",
        rng: random.Random | None = None,
    ) -> None:
        _check_size(nin, "MLP", "nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        for size in nouts:
            _check_size(size, "MLP", "each of nouts")
        rng = rng or random.Random()
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation=output_activation if i == last else activation,
                rng=rng,
            )
            for i in range(len(nouts))
        ]
        for k, layer in enumerate(self.layers, start=1):
            layer._name_parameters(f"L{k}.")  # L2.N3.w1: layer, neuron and weight, from 1

    def __call__(self, x: Inputs) -> Value | list[Value]:
        out: Inputs = x
        for layer in self.layers:
            out = layer(out)  # a bare Value from a one-neuron layer is accepted by the next
        return out  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def architecture(self) -> dict[str, Any]:
        return {
            "module": "MLP",
            "nin": self.layers[0].nin,
            "nouts": [len(layer.neurons) for layer in self.layers],
            "activations": [layer.activation for layer in self.layers],
        }

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MLP:
        """Build the MLP a file describes and load its parameters (checked as in ``load``).

        The parameters are checked against the size the architecture implies before any is built,
        and architectures of more than ``MAX_FILE_PARAMETERS`` parameters are refused.
        """
        document = read_model_file(path)
        nin, nouts, activations = _mlp_shape(path, document["architecture"])
        count = _mlp_parameter_count(path, nin, nouts)
        numbers = _parameter_list(path, document["parameters"], count, "its architecture needs")
        hidden = activations[0] if len(activations) > 1 else "relu"
        model = cls(nin, nouts, activation=hidden, output_activation=activations[-1])
        model._check_architecture(path, document["architecture"])  # e.g. mixed hidden activations
        model._set_parameters(numbers)
        return model

    def __repr__(self) -> str:
        sizes = " -> ".join(str(n) for n in [self.layers[0].nin, *self.architecture()["nouts"]])
        lines = [f"MLP({sizes}, {len(self.parameters())} parameters)("]
        lines += [f"  {layer!r}" for layer in self.layers]
        return "\n".join([*lines, ")"])


def _check_size(size: object, where: str, name: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {size!r}")


def _as_inputs(x: Inputs, expected: int, module: Module) -> Sequence[Input]:
    """The inputs as a sequence: a lone Value or number counts as one input."""
    inputs: Sequence[Input] = [x] if isinstance(x, (Value, float, int)) else x
    if len(inputs) != expected:
        raise ValueError(f"{module!r} takes {expected} inputs, got {len(inputs)}")
    return inputs


# --- reading model files: untrusted input, checked completely before anything is assigned -------


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check a model file's outer structure; raises ModelFileError naming the problem."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(path, f"not UTF-8 text ({error.reason})") from None
    if not text.strip():
        raise ModelFileError(path, "the file is empty")
    try:
        document = json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates
        )
    except json.JSONDecodeError as error:
        ended_early = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated")
        hint = "; the file looks truncated" if ended_early else ""
        problem = f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}){hint}"
        raise ModelFileError(path, problem) from None
    except _JsonProblem as problem:
        raise ModelFileError(path, str(problem)) from None
    except RecursionError:
        raise ModelFileError(path, "arrays or objects nested too deeply to read") from None
    except (ValueError, OverflowError) as error:  # e.g. an integer of more than 4300 digits
        raise ModelFileError(path, f"cannot be read as JSON: {_short(str(error))}") from None
    if not isinstance(document, dict):
        raise ModelFileError(path, f"expected a JSON object, found {type(document).__name__}")
    _check_keys(path, document, _FILE_KEYS, "the file")
    if document["format"] != FILE_FORMAT:
        raise ModelFileError(
            path, f"format is {_short(document['format'])}, expected {FILE_FORMAT!r}"
        )
    version = document["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(path, f"version must be an integer, found {_short(version)}")
    if version != FILE_VERSION:
        raise ModelFileError(
            path,
            f"version {_short(version)} is not supported "
            f"(this micrograd_like reads {FILE_VERSION})",
        )
    if not isinstance(document["architecture"], dict):
        raise ModelFileError(path, "architecture must be a JSON object")
    return document


class _JsonProblem(Exception):
    """Raised from inside the JSON parser's hooks; turned into a ModelFileError by the caller."""


def _refuse_constant(name: str) -> float:
    raise _JsonProblem(f"{name} is not a finite number; parameters must be finite")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    if len(counts) < len(pairs):
        duplicated = sorted(key for key, count in counts.items() if count > 1)
        raise _JsonProblem(f"duplicate keys {_short(duplicated)}")
    return dict(pairs)


def _check_keys(
    path: str | os.PathLike[str], found: dict[str, Any], expected: Sequence[str], what: str
) -> None:
    missing = [key for key in expected if key not in found]
    extra = sorted(key for key in found if key not in expected)
    if missing or extra:
        parts = [f"missing {missing}"] if missing else []
        parts += [f"unexpected {_short(extra)}"] if extra else []
        raise ModelFileError(path, f"{what} has the wrong keys: {', '.join(parts)}")


def _parameter_list(
    path: str | os.PathLike[str], found: object, count: int, needed_by: str
) -> list[float]:
    """The file's parameters as finite floats: exactly ``count``, as ``needed_by`` says."""
    if not isinstance(found, list):
        raise ModelFileError(path, f"parameters must be a list of numbers, found {_short(found)}")
    if len(found) != count:
        raise ModelFileError(path, f"the file has {len(found)} parameters, but {needed_by} {count}")
    numbers = []
    for index, item in enumerate(found):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ModelFileError(path, f"parameter {index} is {_short(item)}, not a number")
        try:
            number = float(item)
        except OverflowError:
            digits = len(str(abs(item)))
            raise ModelFileError(
                path, f"parameter {index} is an integer of {digits} digits, too large for a float"
            ) from None
        if not math.isfinite(number):
            raise ModelFileError(path, f"parameter {index} is {number!r}, not a finite number")
        numbers.append(number)
    return numbers


def _mlp_shape(
    path: str | os.PathLike[str], architecture: dict[str, Any]
) -> tuple[int, list[int], list[str]]:
    """nin, nouts and activations from an MLP file's architecture, each checked."""
    _check_keys(path, architecture, ("module", "nin", "nouts", "activations"), "architecture")
    if architecture["module"] != "MLP":
        raise ModelFileError(path, f"the file holds a {_short(architecture['module'])}, not an MLP")
    nin, nouts, activations = (architecture[k] for k in ("nin", "nouts", "activations"))
    sizes = [nin, *nouts] if isinstance(nouts, list) and nouts else None
    if sizes is None or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        found = f"{_short(nin)} and {_short(nouts)}"
        raise ModelFileError(path, f"nin and nouts must be positive integers, found {found}")
    if (
        not isinstance(activations, list)
        or len(activations) != len(nouts)
        or any(not isinstance(a, str) or a not in ACTIVATIONS for a in activations)
    ):
        raise ModelFileError(
            path,
            f"activations must list one of {sorted(ACTIVATIONS)} per layer, "
            f"found {_short(activations)}",
        )
    return nin, nouts, activations


def _mlp_parameter_count(path: str | os.PathLike[str], nin: int, nouts: list[int]) -> int:
    """How many parameters an MLP of this shape has, refusing absurd sizes before any is built."""
    sizes = [nin, *nouts]
    count = 0
    for fan_in, fan_out in itertools.pairwise(sizes):
        count += (fan_in + 1) * fan_out  # each neuron: fan_in weights and a bias
        if count > MAX_FILE_PARAMETERS:
            raise ModelFileError(
                path,
                f"the architecture asks for more than {MAX_FILE_PARAMETERS:,} parameters "
                f"(nin {_short(nin, 40)}, {len(nouts)} layers); files that large are refused",
            )
    return count


def _canonical(architecture: object) -> str:
    """A form in which 2 and 2.0, or 1 and true, differ (Python's == says they are equal)."""
    try:
        return json.dumps(architecture, sort_keys=True)
    except (RecursionError, ValueError):  # only a file's architecture can be this hostile,
        return "<unreadable architecture>"  # so it never matches the model's own


def _short(thing: object, limit: int = 120) -> str:
    """A repr of untrusted data, cut short so a hostile file cannot flood the message."""
    try:
        text = repr(thing)
    except (RecursionError, ValueError):  # nested too deeply, or an integer too long to print
        return f"a {type(thing).__name__} too large to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."
