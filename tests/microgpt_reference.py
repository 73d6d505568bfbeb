"""A microgpt-shaped model written the way microgpt's users write it, for any micrograd-style Value.

The same math as Karpathy's microgpt (2026): token and position embeddings, rmsnorm, attention
with a cache of keys and values, a relu MLP, softmax cross-entropy and Adam by hand, all in plain
user code: ``sum()`` over Values, ``** -0.5``, ``.log()``, ``.exp()``, ``.relu()``,
``p.data -= ...`` and ``p.grad = 0``. tests/test_gpt.py runs it on our Value and on the minimal
engine and compares the numbers, and compares micrograd_like.gpt against it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE = 16, 4, 1, 16
HEAD_DIM = N_EMBD // N_HEAD
LEARNING_RATE, BETA1, BETA2, EPS = 0.01, 0.85, 0.99, 1e-8  # microgpt's Adam
MATRICES = ["wte", "wpe", "lm_head"] + [
    f"layer{i}.{name}"
    for i in range(N_LAYER)
    for name in ("attn_wq", "attn_wk", "attn_wv", "attn_wo", "mlp_fc1", "mlp_fc2")
]

Weights = dict[str, list[list[float]]]


def initial_weights(vocab_size: int, seed: int) -> Weights:
    """Every matrix as floats drawn from gauss(0, 0.08), in microgpt's order."""
    rng = random.Random(seed)
    shapes = {"wte": (vocab_size, N_EMBD), "wpe": (BLOCK_SIZE, N_EMBD)}
    shapes["lm_head"] = (vocab_size, N_EMBD)
    for name in MATRICES[3:]:
        wide = name.endswith("mlp_fc1")
        narrow = name.endswith("mlp_fc2")
        shapes[name] = (4 * N_EMBD if wide else N_EMBD, 4 * N_EMBD if narrow else N_EMBD)
    return {
        name: [[rng.gauss(0, 0.08) for _ in range(cols)] for _ in range(rows)]
        for name, (rows, cols) in shapes.items()
    }


def linear(x: Sequence[Any], w: Sequence[Sequence[Any]]) -> list[Any]:
    return [sum(wi * xi for wi, xi in zip(row, x, strict=True)) for row in w]


def softmax(logits: Sequence[Any]) -> list[Any]:
    top = max(v.data for v in logits)
    exps = [(v - top).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x: Sequence[Any]) -> list[Any]:
    scale = (sum(xi * xi for xi in x) / len(x) + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def gpt(sd: dict[str, Any], token: int, pos: int, keys: list[Any], values: list[Any]) -> list[Any]:
    x = rmsnorm([t + p for t, p in zip(sd["wte"][token], sd["wpe"][pos], strict=True)])
    for li in range(N_LAYER):
        residual = x
        x = rmsnorm(x)
        q = linear(x, sd[f"layer{li}.attn_wq"])
        keys[li].append(linear(x, sd[f"layer{li}.attn_wk"]))
        values[li].append(linear(x, sd[f"layer{li}.attn_wv"]))
        heads = []
        for h in range(0, N_EMBD, HEAD_DIM):
            scores = [
                sum(q[h + j] * k[h + j] for j in range(HEAD_DIM)) / HEAD_DIM**0.5 for k in keys[li]
            ]
            weights = softmax(scores)
            heads += [
                sum(w * v[h + j] for w, v in zip(weights, values[li], strict=True))
                for j in range(HEAD_DIM)
            ]
        x = [a + b for a, b in zip(linear(heads, sd[f"layer{li}.attn_wo"]), residual, strict=True)]
        residual = x
        hidden = [h.relu() for h in linear(rmsnorm(x), sd[f"layer{li}.mlp_fc1"])]
        x = [a + b for a, b in zip(linear(hidden, sd[f"layer{li}.mlp_fc2"]), residual, strict=True)]
    return linear(x, sd["lm_head"])


def loss_of(sd: dict[str, Any], tokens: Sequence[int]) -> Any:
    n = min(BLOCK_SIZE, len(tokens) - 1)
    keys: list[Any] = [[] for _ in range(N_LAYER)]
    values: list[Any] = [[] for _ in range(N_LAYER)]
    losses = []
    for pos in range(n):
        probs = softmax(gpt(sd, tokens[pos], pos, keys, values))
        losses.append(-probs[tokens[pos + 1]].log())
    return (1 / n) * sum(losses)


class Trainer:
    """microgpt's training loop on the Value class given: weights, loss, backward, Adam by hand."""

    def __init__(self, value: Callable[[float], Any], weights: Weights, steps: int) -> None:
        self.sd = {name: [[value(w) for w in row] for row in m] for name, m in weights.items()}
        self.params = [p for name in MATRICES for row in self.sd[name] for p in row]
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.steps = steps

    def step(self, step: int, tokens: Sequence[int]) -> float:
        """One step; returns the loss. Leaves each parameter's gradient for the caller to read."""
        loss = loss_of(self.sd, tokens)
        loss.backward()
        self.gradients = [p.grad for p in self.params]
        lr = LEARNING_RATE * (1 - step / self.steps)
        for i, p in enumerate(self.params):
            self.m[i] = BETA1 * self.m[i] + (1 - BETA1) * p.grad
            self.v[i] = BETA2 * self.v[i] + (1 - BETA2) * p.grad**2
            m_hat = self.m[i] / (1 - BETA1 ** (step + 1))
            v_hat = self.v[i] / (1 - BETA2 ** (step + 1))
            p.data -= lr * m_hat / (v_hat**0.5 + EPS)
            p.grad = 0
        return float(loss.data)
