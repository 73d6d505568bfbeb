"""Time and size this engine beside micrograd, PyTorch, a minimal engine and plain Python.

``python -m micrograd_like bench`` runs five workloads (a moons training step, the same step with
micrograd's own nn code, a random expression, a deep chain, a wide sum), the bytes each engine
spends per graph node, and the deepest chain each can backpropagate. The minimal engine
(``minimal_engine.py``, microgpt-style) is the floor: the simplest engine that works. Every
measurement runs in a fresh process, engines alternate round by round, and the tables report medians
and the ratios between engines in the same run: on a shared machine the absolute times are noise,
the ratios are not. The garbage collector stays on, as users have it. A summary closes the run: the
key ratios, each beside its goal.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import itertools
import json
import operator
import os
import platform
import random
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from micrograd_like.engine import Value, sum_of

TIMED = ("moons", "mgnn", "eval", "expr", "chain", "wide", "gpt")
BENCHMARKS = (*TIMED, "memory", "depth")
ENGINES = ("plain", "compiled", "ours", "ours-gpt", "ours-sum", "ours-nograd", "minimal",
           "micrograd", "torch")  # fmt: skip
ENGINES_OF = {
    "moons": ("plain", "compiled", "ours", "minimal", "micrograd", "torch"),
    "mgnn": ("ours", "minimal", "micrograd"),
    "eval": ("ours", "ours-nograd"),
    "expr": ("plain", "ours", "minimal", "micrograd", "torch"),
    "chain": ("plain", "ours", "minimal", "micrograd", "torch"),
    "wide": ("plain", "ours", "ours-sum", "minimal", "micrograd", "torch"),
    "gpt": ("compiled", "ours-gpt", "ours", "minimal"),
    "memory": ("plain", "ours", "minimal", "micrograd", "torch"),
    "depth": ("plain", "ours", "minimal", "micrograd", "torch"),
}
OPTIONAL = {"micrograd": "micrograd", "torch": "torch"}  # engine -> the package it needs
NEEDS = {"mgnn": "micrograd"}  # benchmark -> the package it needs, whatever the engine
FULL_SIZES = {
    "moons": 100,
    "mgnn": 100,
    "eval": 100,
    "expr": 100_000,
    "chain": 100_000,
    "wide": 100_000,
    "gpt": 3,  # with 3 timed steps after a warm-up, each name is timed once
    "memory": 100_000,
}
QUICK_SIZES = {
    "moons": 8,
    "mgnn": 8,
    "eval": 8,
    "expr": 2_000,
    "chain": 500,
    "wide": 500,
    "gpt": 1,
    "memory": 2_000,
}
FULL_DEPTHS = (100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_DEPTHS = (1_000,)
DESCRIPTIONS = {
    "moons": "moons step: MLP(2, [16, 16, 1]) on {n} points, hinge + L2, forward+backward+SGD "
    "(minimal, micrograd, torch: Python's sum, as micrograd's nn)",
    "mgnn": "micrograd's nn: the moons step with micrograd.nn's MLP(2, [16, 16, 1]) and each "
    "engine's Value, {n} points wrapped in Values as micrograd's demo does",
    "eval": "moons evaluation: MLP(2, [16, 16, 1]) scores and accuracy on {n} points "
    "(ours-nograd: under no_grad(), so no graph is built)",
    "expr": "random expression: {n} ops (+ * neg relu, with constants), then backward "
    "(checked: every leaf's gradient)",
    "chain": "deep chain: {n} ops (x*-1.0 then +0.1, repeated), then backward",
    "wide": "wide sum: {n} leaves summed, then backward (ours: sum_of; ours-sum: Python sum)",
    "gpt": "gpt step: a microgpt-size GPT (16-dim, 4 heads, 1 layer), {n} name(s) in turn, one "
    "per step, forward+backward+Adam (compiled: one trace per name length; ours-gpt: "
    "micrograd_like.gpt's model; ours and minimal: microgpt's code on each Value)",
}

LEARNING_RATE = 0.05
ALPHA = 1e-4  # L2 regularization strength, as in micrograd's demo
HIDDEN = (16, 16)
CHAIN_FACTOR = -1.0  # keeps the gradient of a million-deep chain exact (+1 or -1)


# --- shared problems: every engine computes exactly the same thing -----------------------------


def moons_problem(n: int) -> tuple[list[list[float]], list[int], list[float]]:
    """Points, labels (-1/+1) and initial weights in micrograd's parameter order."""
    from micrograd_like.data import make_moons
    from micrograd_like.nn import MLP

    points, labels = make_moons(n, noise=0.1, rng=1)
    model = MLP(2, [*HIDDEN, 1], rng=random.Random(0))
    return points, labels, [p.data for p in model.parameters()]


def layer_shapes() -> list[tuple[int, int]]:
    sizes = [2, *HIDDEN, 1]
    return list(itertools.pairwise(sizes))


@dataclass(frozen=True)
class Program:
    """A random expression: leaves, then ops that each overwrite a slot; the slots are summed."""

    leaves: list[float]
    ops: list[tuple[str, int, int, float]]  # (kind, target slot, other slot, constant)

    @property
    def nodes(self) -> int:
        return len(self.leaves) + len(self.ops) + len(self.leaves) - 1


OP_KINDS = ("add", "mul", "neg", "relu", "addc", "mulc")


def expression_program(n: int, seed: int = 0) -> Program:
    """n random ops over n/100 slots (at most 1000): shallow enough for micrograd's recursion."""
    rng = random.Random(seed)
    width = max(10, min(1000, n // 100))
    leaves = [rng.uniform(-1, 1) for _ in range(width)]
    ops = []
    for _ in range(n):
        target = rng.randrange(width)
        other = rng.randrange(width - 1)
        other += other >= target  # never x + x: micrograd keeps parents in a set and loses one
        ops.append((rng.choice(OP_KINDS), target, other, rng.uniform(-1, 1)))
    return Program(leaves, ops)


def pairwise_sum(terms: list[Any]) -> Any:
    """Sum as a balanced tree of adds, so the sum adds log2(n) to the graph's depth, not n."""
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


# --- the value engines (ours, micrograd, torch) share one builder per workload ----------------


def build_expression(program: Program, leaf: Callable[[float], Any]) -> tuple[Any, list[Any]]:
    leaves = [leaf(x) for x in program.leaves]
    slots = list(leaves)
    for kind, target, other, c in program.ops:
        a = slots[target]
        if kind == "add":
            slots[target] = a + slots[other]
        elif kind == "mul":
            slots[target] = a * slots[other]
        elif kind == "neg":
            slots[target] = -a
        elif kind == "relu":
            slots[target] = a.relu()
        elif kind == "addc":
            slots[target] = a + c
        else:
            slots[target] = a * c
    return pairwise_sum(slots), leaves


def build_chain(n: int, leaf: Callable[[float], Any]) -> tuple[Any, Any]:
    x = start = leaf(0.3)
    for i in range(n):
        x = x * CHAIN_FACTOR if i % 2 == 0 else x + 0.1
    return x, start


def value_engine(engine: str) -> tuple[Callable[[float], Any], Callable[[Any], float]]:
    """How to make a leaf and read a number, for ours, minimal, micrograd and torch."""
    if engine in ("ours", "ours-sum", "minimal", "micrograd"):
        return value_class(engine), lambda v: float(v.data)
    torch = importlib.import_module("torch")

    def tensor_leaf(x: float) -> Any:
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    return tensor_leaf, lambda t: float(t.item())


def value_class(engine: str) -> type[Any]:
    """The Value class of ours, minimal or micrograd."""
    if engine in ("ours", "ours-sum"):
        return Value
    if engine == "minimal":
        from micrograd_like.commands.minimal_engine import Value as MinimalValue

        return MinimalValue
    micrograd: type[Any] = importlib.import_module("micrograd.engine").Value
    return micrograd


def gradient_digest(grads: Sequence[float]) -> float:
    """One number that changes when any gradient does: each weighted by its place (1, 2, 3...)."""
    return sum(k * g for k, g in enumerate(grads, start=1))


# --- plain Python: floats and the chain rule written out -------------------------------------


def plain_expression(program: Program) -> tuple[float, list[float]]:
    """Forward onto a tape, backward along it; returns the output and the leaves' gradients."""
    values, tape = plain_forward(program)
    return values[-1], plain_backward(values, tape, len(program.leaves))


Tape = list[tuple[str, int, int, float]]  # (kind, operand a, operand b, constant) per op node


def plain_forward(program: Program) -> tuple[list[float], Tape]:
    """Every node's value (leaves first) and the tape that says how each op node was made."""
    width = len(program.leaves)
    values = list(program.leaves)
    tape: Tape = []
    slots = list(range(width))

    def record(kind: str, a: int, b: int, c: float, result: float) -> int:
        tape.append((kind, a, b, c))
        values.append(result)
        return len(values) - 1

    for kind, target, other, c in program.ops:
        a, b = slots[target], slots[other]
        x = values[a]
        if kind == "add":
            result = x + values[b]
        elif kind == "mul":
            result = x * values[b]
        elif kind == "neg":
            result = -x
        elif kind == "relu":
            result = x if x > 0 else 0.0
        elif kind == "addc":
            result = x + c
        else:
            result = x * c
        slots[target] = record(kind, a, b, c, result)
    terms = slots
    while len(terms) > 1:
        pairs = [
            record("add", terms[i], terms[i + 1], 0.0, values[terms[i]] + values[terms[i + 1]])
            for i in range(0, len(terms) - 1, 2)
        ]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return values, tape


def plain_backward(values: list[float], tape: Tape, width: int) -> list[float]:
    """The chain rule along the tape, last op first; returns the leaves' gradients."""
    grads = [0.0] * len(values)
    grads[-1] = 1.0
    for index in range(len(tape) - 1, -1, -1):
        kind, a, b, c = tape[index]
        g = grads[width + index]
        if kind == "add":
            grads[a] += g  # d(a+b)/da = 1
            grads[b] += g
        elif kind == "mul":
            grads[a] += values[b] * g  # d(a*b)/da = b
            grads[b] += values[a] * g
        elif kind == "neg":
            grads[a] -= g
        elif kind == "relu":
            grads[a] += g if values[a] > 0 else 0.0
        elif kind == "addc":
            grads[a] += g
        else:
            grads[a] += c * g
    return grads[:width]


def plain_chain(n: int) -> tuple[float, float]:
    values, kinds = [0.3], []
    for i in range(n):
        kinds.append(i % 2 == 0)
        values.append(values[-1] * CHAIN_FACTOR if kinds[-1] else values[-1] + 0.1)
    g = 1.0
    for is_mul in reversed(kinds):
        if is_mul:
            g *= CHAIN_FACTOR  # d(x*c)/dx = c
    return values[-1], g


def plain_wide(terms: list[float]) -> tuple[float, list[float]]:
    total = 0.0
    for x in terms:
        total += x
    return total, [1.0] * len(terms)  # d(sum)/d(term) = 1


def plain_moons_step(
    layers: list[tuple[list[list[float]], list[float]]],
    points: Sequence[Sequence[float]],
    labels: Sequence[int],
    learning_rate: float = LEARNING_RATE,
) -> tuple[float, list[tuple[list[list[float]], list[float]]]]:
    """One SGD step of hinge + L2 on an MLP of lists; returns the loss and the gradients.

    Forward keeps every pre-activation; backward walks the layers in reverse by hand.
    """
    grads = [([[0.0] * len(row) for row in w], [0.0] * len(b)) for w, b in layers]
    n, last = len(points), len(layers) - 1
    data_loss = 0.0
    for x, label in zip(points, labels, strict=True):
        activations, pre = [list(x)], []
        for index, (w, b) in enumerate(layers):
            z = []
            for row, bias in zip(w, b, strict=True):
                total = bias
                for weight, a in zip(row, activations[-1], strict=True):
                    total += weight * a
                z.append(total)
            pre.append(z)
            activations.append(z if index == last else [v if v > 0 else 0.0 for v in z])
        margin = 1 - label * activations[-1][0]
        if margin <= 0:
            continue  # relu(margin) is flat here: no gradient from this point
        data_loss += margin
        upstream = [-label / n]  # d(loss)/d(score) = -y / n
        for index in range(last, -1, -1):
            w, _ = layers[index]
            grad_w, grad_b = grads[index]
            inputs = activations[index]
            below = [0.0] * len(inputs)
            for j, d in enumerate(upstream):
                grad_b[j] += d
                row, grad_row = w[j], grad_w[j]
                for k, a in enumerate(inputs):
                    grad_row[k] += a * d  # d(w.a + b)/dw = a
                    below[k] += row[k] * d  # d(w.a + b)/da = w
            if index:
                upstream = [d if z > 0 else 0.0 for d, z in zip(below, pre[index - 1], strict=True)]
    square_sum = 0.0
    for (w, b), (grad_w, grad_b) in zip(layers, grads, strict=True):
        for row, grad_row in zip(w, grad_w, strict=True):
            for k, weight in enumerate(row):
                square_sum += weight * weight
                grad_row[k] += 2 * ALPHA * weight  # d(alpha * w**2)/dw
        for j, bias in enumerate(b):
            square_sum += bias * bias
            grad_b[j] += 2 * ALPHA * bias
    for (w, b), (grad_w, grad_b) in zip(layers, grads, strict=True):
        for row, grad_row in zip(w, grad_w, strict=True):
            for k, g in enumerate(grad_row):
                row[k] -= learning_rate * g
        for j, g in enumerate(grad_b):
            b[j] -= learning_rate * g
    return data_loss / n + ALPHA * square_sum, grads


def plain_layers(weights: list[float]) -> list[tuple[list[list[float]], list[float]]]:
    """Flat weights in micrograd's order (per neuron: weights, then bias) as lists per layer."""
    flat, layers = iter(weights), []
    for nin, nout in layer_shapes():
        rows, biases = [], []
        for _ in range(nout):
            rows.append([next(flat) for _ in range(nin)])
            biases.append(next(flat))
        layers.append((rows, biases))
    return layers


# --- one measured workload per (benchmark, engine) -------------------------------------------


Run = Callable[[], float]  # does the measured work once and returns a number to cross-check


def prepare(benchmark: str, engine: str, n: int) -> tuple[Run, dict[str, float]]:
    """Everything a timed run needs, made outside the timer; the dict holds extra facts."""
    if benchmark == "moons":
        return prepare_moons(engine, n)
    if benchmark == "mgnn":
        return micrograd_nn_moons(engine, *moons_problem(n)), {}
    if benchmark == "eval":
        return prepare_evaluation(engine, n), {}
    if benchmark == "gpt":
        return prepare_gpt(engine, n)
    if engine == "plain":
        return prepare_plain(benchmark, n), {}
    leaf, number = value_engine(engine)
    if benchmark == "expr":
        program = expression_program(n)

        def run_expression() -> float:
            out, leaves = build_expression(program, leaf)
            out.backward()
            return number(out) + gradient_digest([float(x.grad) for x in leaves])

        return run_expression, {}
    if benchmark == "chain":

        def run_chain() -> float:
            out, start = build_chain(n, leaf)
            out.backward()
            return number(out) + float(start.grad)

        return run_chain, {}
    terms = [random.Random(0).uniform(-1, 1) for _ in range(n)]

    def run_wide() -> float:
        leaves = [leaf(x) for x in terms]
        out = sum_of(leaves) if engine == "ours" else sum(leaves)
        out.backward()
        return number(out) + float(leaves[0].grad)

    return run_wide, {}


def prepare_plain(benchmark: str, n: int) -> Run:
    if benchmark == "expr":
        program = expression_program(n)

        def run_expression() -> float:
            out, grads = plain_expression(program)
            return out + gradient_digest(grads)

        return run_expression
    if benchmark == "chain":
        return lambda: sum(plain_chain(n))
    terms = [random.Random(0).uniform(-1, 1) for _ in range(n)]

    def run_wide() -> float:
        out, grads = plain_wide(terms)
        return out + grads[0]

    return run_wide


def prepare_moons(engine: str, n: int) -> tuple[Run, dict[str, float]]:
    points, labels, weights = moons_problem(n)
    if engine == "plain":
        layers = plain_layers(weights)
        return lambda: plain_moons_step(layers, points, labels)[0], {}
    if engine in ("ours", "compiled"):
        return ours_moons(engine, points, labels, weights)
    if engine == "micrograd":
        return micrograd_moons(points, labels, weights), {}
    if engine == "minimal":
        return minimal_moons(points, labels, weights), {}
    return torch_moons(points, labels, weights), {}


def prepare_evaluation(engine: str, n: int) -> Run:
    """The demo's accuracy, building the graph as training would, or as the demo does it."""
    from micrograd_like.commands import demo
    from micrograd_like.nn import MLP

    points, labels, weights = moons_problem(n)
    model = MLP(2, [*HIDDEN, 1], rng=random.Random(0))
    load_weights(model.parameters(), weights)

    def accuracy_with_graph() -> float:
        return demo.fraction_right([demo.score(model, x) for x in points], labels)

    if engine == "ours":
        return accuracy_with_graph
    return lambda: demo.accuracy(model, points, labels)  # under no_grad()


def ours_moons(
    engine: str, points: list[list[float]], labels: list[int], weights: list[float]
) -> tuple[Run, dict[str, float]]:
    from micrograd_like.nn import MLP

    model = MLP(2, [*HIDDEN, 1], rng=random.Random(0))
    params = model.parameters()
    load_weights(params, weights)

    def loss(data: Sequence[tuple[Sequence[Any], Any]]) -> Value:
        losses = [(1 + -label * model(x)).relu() for x, label in data]
        regularization = ALPHA * sum_of([p * p for p in params])
        return sum_of(losses) * (1.0 / len(losses)) + regularization

    def update() -> None:
        for p in params:
            p.data -= LEARNING_RATE * p.grad

    if engine == "ours":

        def step() -> float:
            model.zero_grad()
            total = loss(list(zip(points, labels, strict=True)))
            total.backward()
            update()
            return total.data

        return step, {}
    from micrograd_like.compiled import compile_fn

    flat = [v for (x0, x1), label in zip(points, labels, strict=True) for v in (x0, x1, label)]

    def loss_of_flat(*values: Value) -> Value:
        triples = [values[i : i + 3] for i in range(0, len(values), 3)]
        return loss([((x0, x1), label) for x0, x1, label in triples])

    started = time.perf_counter()
    compiled = compile_fn(loss_of_flat, flat, params)
    compile_seconds = time.perf_counter() - started

    weights = [p.data for p in params]  # kept in a list, as plain Python keeps its own

    def compiled_step() -> float:
        value, grads = compiled.value_and_grad(*flat, weights=weights)
        for i, g in enumerate(grads):
            weights[i] -= LEARNING_RATE * g
        return value

    return compiled_step, {"compile_seconds": compile_seconds}


def micrograd_moons(points: list[list[float]], labels: list[int], weights: list[float]) -> Run:
    nn = importlib.import_module("micrograd.nn")
    model = nn.MLP(2, [*HIDDEN, 1])  # micrograd draws from the global random; we overwrite
    params = model.parameters()
    load_weights(params, weights)
    return python_sum_step(model, params, lambda: points, labels, model.zero_grad)


def minimal_moons(points: list[list[float]], labels: list[int], weights: list[float]) -> Run:
    """The minimal engine has no nn: micrograd's MLP written over its Values, as for torch."""
    value = value_class("minimal")
    params = [value(w) for w in weights]

    def zero_grad() -> None:
        for p in params:
            p.grad = 0.0

    return python_sum_step(list_model(params), params, lambda: points, labels, zero_grad)


def micrograd_nn(value: type[Any]) -> ModuleType:
    """A private copy of micrograd.nn whose neurons make their weights with ``value``.

    micrograd's Neuron looks up the module's global ``Value`` each time it makes a weight, so
    setting it on a fresh module object swaps the engine under micrograd's own code, unchanged,
    and leaves the real ``micrograd.nn`` alone.
    """
    spec = importlib.util.find_spec("micrograd.nn")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError("micrograd.nn not found: pip install micrograd==0.1.0")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vars(module)["Value"] = value  # the module's global, read by Neuron for every weight
    return module


def micrograd_nn_moons(
    engine: str, points: list[list[float]], labels: list[int], weights: list[float]
) -> Run:
    """The moons step on micrograd.nn's MLP with ``engine``'s Value, as micrograd's demo runs it."""
    value = value_class(engine)
    model = micrograd_nn(value).MLP(2, [*HIDDEN, 1])  # global random; we overwrite
    params = model.parameters()
    load_weights(params, weights)

    def inputs() -> list[list[Any]]:
        return [list(map(value, x)) for x in points]  # the demo's list(map(Value, xrow))

    return python_sum_step(model, params, inputs, labels, model.zero_grad)


def load_weights(params: Sequence[Any], weights: Sequence[float]) -> None:
    """Set each parameter's data from the shared weights (micrograd's order)."""
    for p, w in zip(params, weights, strict=True):
        p.data = w


def python_sum_step(
    model: Callable[[Any], Any],
    params: Sequence[Any],
    inputs: Callable[[], Sequence[Any]],
    labels: Sequence[int],
    zero_grad: Callable[[], None],
) -> Run:
    """micrograd's demo step: hinge + L2 added up with Python's sum, backward, then SGD."""

    def step() -> float:
        zero_grad()
        scores = [model(x) for x in inputs()]
        losses = [(1 + -label * score).relu() for score, label in zip(scores, labels, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
        total.backward()
        for p in params:
            p.data -= LEARNING_RATE * p.grad
        return float(total.data)

    return step


def list_model(params: Sequence[Any]) -> Callable[[Sequence[Any]], Any]:
    """micrograd's MLP as plain lists over flat parameters: each neuron sum(w*x, b), then relu."""
    neurons, flat = [], iter(params)
    for nin, nout in layer_shapes():
        neurons.append([([next(flat) for _ in range(nin)], next(flat)) for _ in range(nout)])

    def model(x: Sequence[Any]) -> Any:
        acts: list[Any] = list(x)
        for index, layer in enumerate(neurons):
            out = [sum((w * a for w, a in zip(ws, acts, strict=True)), b) for ws, b in layer]
            acts = out if index == len(neurons) - 1 else [z.relu() for z in out]
        return acts[0]

    return model


def torch_moons(points: list[list[float]], labels: list[int], weights: list[float]) -> Run:
    torch = importlib.import_module("torch")
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    model = list_model(params)

    def step() -> float:
        losses = [(1 + -label * model(x)).relu() for x, label in zip(points, labels, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= LEARNING_RATE * p.grad
                p.grad = None
        return float(total.item())

    return step


# --- gpt: a microgpt-size model, written over any engine's Value --------------------------------

GPT_NAMES = ("emma", "olivia", "isabella", "sophia", "mia", "charlotte", "amelia", "harper")
GPT_EMBED, GPT_HEADS, GPT_BLOCK, GPT_VOCAB = 16, 4, 16, 27  # microgpt's sizes; one layer
GPT_LR, GPT_BETAS, GPT_EPS = 0.01, (0.85, 0.99), 1e-8  # microgpt's Adam


def gpt_shapes() -> list[tuple[int, int]]:
    """Rows and columns of each matrix: token and position embeddings, attention, MLP, head."""
    d = GPT_EMBED
    return [(GPT_VOCAB, d), (GPT_BLOCK, d), (d, d), (d, d), (d, d), (d, d), (4 * d, d),
            (d, 4 * d), (GPT_VOCAB, d)]  # fmt: skip


def gpt_weights() -> list[float]:
    """The shared starting weights, Gaussian with std 0.08 as microgpt's."""
    rng = random.Random(42)
    return [rng.gauss(0.0, 0.08) for rows, cols in gpt_shapes() for _ in range(rows * cols)]


def gpt_tokens(name: str) -> list[int]:
    """The name as token ids, framed by the end-of-name token 26 on both sides."""
    return [26, *(ord(c) - ord("a") for c in name), 26]


Matrix = list[list[Any]]


def gpt_matrices(params: Sequence[Any]) -> list[Matrix]:
    flat, matrices = iter(params), []
    for rows, cols in gpt_shapes():
        matrices.append([[next(flat) for _ in range(cols)] for _ in range(rows)])
    return matrices


def gpt_matmul(x: list[Any], w: Matrix) -> list[Any]:
    return [sum(wi * xi for wi, xi in zip(row, x, strict=True)) for row in w]


def gpt_softmax(logits: list[Any]) -> list[Any]:
    """No max subtracted: that reads data, which a compiled trace cannot (the weights are small)."""
    exps = [z.exp() for z in logits]
    inverse = sum(exps) ** -1
    return [e * inverse for e in exps]


def gpt_rmsnorm(x: list[Any]) -> list[Any]:
    scale = (sum(xi * xi for xi in x) * (1.0 / len(x)) + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def gpt_loss(
    matrices: list[Matrix], inputs: list[list[Any]], targets: Sequence[Callable[[list[Any]], Any]]
) -> Any:
    """Mean cross-entropy over a sequence: ``inputs[t]`` is token t's embedding row,
    ``targets[t](probs)`` picks the next token's probability (a lookup, or a one-hot sum)."""
    _, wpe, wq, wk, wv, wo, fc1, fc2, head = matrices
    keys: list[list[Any]] = []
    values: list[list[Any]] = []
    losses = []
    size = GPT_EMBED // GPT_HEADS
    for position, (row, target) in enumerate(zip(inputs, targets, strict=True)):
        x = gpt_rmsnorm([t + p for t, p in zip(row, wpe[position], strict=True)])
        residual, x = x, gpt_rmsnorm(x)
        q = gpt_matmul(x, wq)
        keys.append(gpt_matmul(x, wk))
        values.append(gpt_matmul(x, wv))
        attended = []
        for h in range(0, GPT_EMBED, size):
            scores = [sum(q[h + j] * k[h + j] for j in range(size)) * size**-0.5 for k in keys]
            weights = gpt_softmax(scores)
            attended += [sum(a * v[h + j] for a, v in zip(weights, values, strict=True))
                         for j in range(size)]  # fmt: skip
        x = [a + b for a, b in zip(gpt_matmul(attended, wo), residual, strict=True)]
        residual = x
        hidden = [z.relu() for z in gpt_matmul(gpt_rmsnorm(x), fc1)]
        x = [a + b for a, b in zip(gpt_matmul(hidden, fc2), residual, strict=True)]
        losses.append(-target(gpt_softmax(gpt_matmul(x, head))).log())
    return sum(losses) * (1.0 / len(losses))


def gpt_adam(
    weights: list[float], grads: Sequence[float], moments: list[list[float]], step: int
) -> None:
    """microgpt's Adam with its linearly decaying rate, in place on a list of floats."""
    (b1, b2), m, v = GPT_BETAS, moments[0], moments[1]
    rate = GPT_LR * (1 - step / 1000)
    m_debias, v_debias = 1 - b1 ** (step + 1), 1 - b2 ** (step + 1)  # the same for every weight
    m[:] = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads, strict=True)]
    v[:] = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads, strict=True)]
    weights[:] = [w - rate * (mi / m_debias) / ((vi / v_debias) ** 0.5 + GPT_EPS)
                  for w, mi, vi in zip(weights, m, v, strict=True)]  # fmt: skip


def prepare_gpt(engine: str, n: int) -> tuple[Run, dict[str, float]]:
    """One Adam step per name, names taken in turn; the fact ``tokens`` is predictions per step."""
    chosen = GPT_NAMES[:n]
    names = itertools.cycle(chosen)
    weights = gpt_weights()
    moments = [[0.0] * len(weights), [0.0] * len(weights)]
    steps = itertools.count()
    facts = {"tokens": statistics.mean(len(name) + 1 for name in chosen)}
    if engine == "compiled":
        run, seconds = compiled_gpt_step(chosen, names, weights, (moments, steps))
        return run, {**facts, "compile_seconds": seconds}
    if engine == "ours-gpt":
        return library_gpt_step(names, weights, (moments, steps)), facts
    value = value_class(engine)
    params = [value(w) for w in weights]
    matrices = gpt_matrices(params)

    def step() -> float:
        ids = gpt_tokens(next(names))
        rows = [matrices[0][t] for t in ids[:-1]]
        targets = [operator.itemgetter(t) for t in ids[1:]]
        loss = gpt_loss(matrices, rows, targets)
        loss.backward()
        now = [p.data for p in params]
        gpt_adam(now, [p.grad for p in params], moments, next(steps))
        for p, w in zip(params, now, strict=True):
            p.data, p.grad = w, 0.0
        return float(loss.data)

    return step, facts


def library_gpt_step(
    names: Iterator[str], weights: list[float], adam: tuple[list[list[float]], Iterator[int]]
) -> Run:
    """The same step on micrograd_like.gpt's model: a linear node per weighted sum, a sum_of
    node per sum, softmaxes shifted by their largest logit (the numbers agree to rounding)."""
    from micrograd_like.gpt import GPT

    model = GPT(GPT_VOCAB, n_embd=GPT_EMBED, n_head=GPT_HEADS, block_size=GPT_BLOCK)
    order = ["wte", "wpe", *(f"layer0.attn_w{x}" for x in "qkvo"), "layer0.mlp_fc1",
             "layer0.mlp_fc2", "lm_head"]  # fmt: skip  # the bench's matrices, in its order
    params = [p for name in order for row in model.state_dict[name] for p in row]
    for p, w in zip(params, weights, strict=True):
        p.data = w

    def step() -> float:
        loss = model.loss(gpt_tokens(next(names)))
        loss.backward()
        now = [p.data for p in params]
        gpt_adam(now, [p.grad for p in params], adam[0], next(adam[1]))
        for p, w in zip(params, now, strict=True):
            p.data, p.grad = w, 0.0
        return float(loss.data)

    return step


def gpt_one_hot(ids: Sequence[int]) -> list[float]:
    return [1.0 if t == i else 0.0 for t in ids for i in range(GPT_VOCAB)]


def compiled_gpt_step(
    chosen: Sequence[str],
    names: Iterator[str],
    weights: list[float],
    adam: tuple[list[list[float]], Iterator[int]],
) -> tuple[Run, float]:
    """The same step, compiled once per name length: tokens enter as one-hot inputs, so the
    graph does not depend on which letters a name has (a lookup would be a branch on data)."""
    from micrograd_like.compiled import CompiledCache

    params = [Value(w) for w in weights]
    matrices = gpt_matrices(params)

    cache = CompiledCache(gpt_compiled_loss(matrices), params)
    started = time.perf_counter()
    for name in chosen:
        cache(len(name) + 1)
    compile_seconds = time.perf_counter() - started

    def step() -> float:
        ids = gpt_tokens(next(names))
        compiled = cache(len(ids) - 1)
        loss, grads = compiled.value_and_grad(
            *gpt_one_hot(ids[:-1]), *gpt_one_hot(ids[1:]), weights=weights
        )
        gpt_adam(weights, grads, adam[0], next(adam[1]))
        return loss

    return step, compile_seconds


def gpt_compiled_loss(
    matrices: list[Matrix],
) -> Callable[[Hashable], tuple[Callable[..., Value], list[float]]]:
    """For a sequence length, the loss over one-hot inputs (the tokens, then the targets) and
    an example point: the graph is the same for every name of that length."""

    def build(length: Hashable) -> tuple[Callable[..., Value], list[float]]:
        if not isinstance(length, int):
            raise TypeError(f"gpt: a sequence length is a whole number, got {length!r}")

        def loss(*one_hot: Value) -> Value:
            rows, picks = [], []
            for t in range(length):
                hot = one_hot[t * GPT_VOCAB : (t + 1) * GPT_VOCAB]
                rows.append(
                    [sum(h * w[i] for h, w in zip(hot, matrices[0], strict=True))
                     for i in range(GPT_EMBED)]
                )  # fmt: skip
                target = one_hot[(length + t) * GPT_VOCAB : (length + t + 1) * GPT_VOCAB]
                picks.append(functools.partial(gpt_dot, target))
            out: Value = gpt_loss(matrices, rows, picks)
            return out

        example = [26] * (length + 1)
        return loss, gpt_one_hot(example[:-1]) + gpt_one_hot(example[1:])

    return build


def gpt_dot(one_hot: Sequence[Any], probs: Sequence[Any]) -> Any:
    """The probability a one-hot vector picks, as a sum: the same number as ``probs[t]``."""
    return sum(y * p for y, p in zip(one_hot, probs, strict=True))


# --- workers: each measurement in a fresh process --------------------------------------------


def time_worker(benchmark: str, engine: str, n: int, steps: int) -> dict[str, Any]:
    run, facts = prepare(benchmark, engine, n)
    run()  # warm-up: imports, first allocations (and for moons, the first of identical steps)
    started = time.perf_counter()
    for _ in range(steps):
        check = run()
    return {"seconds": (time.perf_counter() - started) / steps, "check": check, **facts}


def resident_bytes() -> int:
    """This process's resident memory, from /proc (Linux); 0 where there is none."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_worker(engine: str, n: int) -> dict[str, Any]:
    """Bytes per node of the expression's graph after the forward pass, two ways."""
    import gc

    leaf = value_engine(engine)[0] if engine != "plain" else None

    def build(program: Program) -> Any:
        if leaf is None:
            return plain_forward(program)  # the values and the tape are its graph
        return build_expression(program, leaf)

    build(expression_program(200))  # warm-up on a small graph: imports and caches not counted
    program = expression_program(n)
    gc.collect()
    before = resident_bytes()  # first big build: memory freed by an earlier one would hide it
    graph = build(program)
    rss = resident_bytes() - before
    del graph
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    graph = build(program)
    traced = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    del graph
    return {
        "traced_per_node": traced / program.nodes,
        "rss_per_node": rss / program.nodes,
        "nodes": program.nodes,
    }


def depth_worker(engine: str, n: int) -> dict[str, Any]:
    """Backpropagate a chain n ops deep; report whether it worked."""
    if engine == "plain":
        _, g = plain_chain(n)
    else:
        leaf, _ = value_engine(engine)
        out, start = build_chain(n, leaf)
        out.backward()
        g = float(start.grad)
    expected = CHAIN_FACTOR ** ((n + 1) // 2)
    if g != expected:
        return {"ok": False, "error": f"wrong gradient {g!r}, expected {expected!r}"}
    return {"ok": True}


def worker(args: argparse.Namespace) -> int:
    """Run one measurement and print it as one JSON line; engine failures are results too."""
    try:
        if args.worker == "memory":
            result = memory_worker(args.engine, args.size)
        elif args.worker == "depth":
            result = depth_worker(args.engine, args.size)
        else:
            result = time_worker(args.worker, args.engine, args.size, args.steps)
    except (RecursionError, MemoryError, ArithmeticError, ValueError) as error:
        result = {"error": textwrap.shorten(f"{type(error).__name__}: {error}", 70)}
    print(json.dumps(result))
    return 0


def spawn(
    benchmark: str, engine: str, n: int, steps: int = 1, timeout: float = 900.0
) -> dict[str, Any]:
    """Run a worker in a fresh interpreter and read its JSON line; a crash becomes an error."""
    command = [
        sys.executable,
        "-m",
        "micrograd_like.commands.bench",
        "--worker",
        benchmark,
        "--engine",
        engine,
        "--size",
        str(n),
        "--steps",
        str(steps),
    ]
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"crashed (exit {done.returncode}): {last[:80]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- the parent: rounds, medians, ratios, tables ---------------------------------------------


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


@dataclass
class Timings:
    """One timed benchmark's results: seconds per engine per round, failures, workers' facts."""

    times: dict[str, list[float]]
    errors: dict[str, str]
    facts: dict[str, dict[str, Any]]


def timed_benchmark(
    benchmark: str, engines: list[str], n: int, rounds: int, steps: int, timeout: float
) -> Timings:
    """Alternate engines round by round (each round starts one engine later)."""
    times: dict[str, list[float]] = {e: [] for e in engines}
    errors: dict[str, str] = {}
    facts: dict[str, dict[str, Any]] = {}
    for r in range(rounds):
        print(f"  {benchmark}: round {r + 1}/{rounds}", file=sys.stderr, flush=True)
        shift = r % len(engines)
        for engine in engines[shift:] + engines[:shift]:
            if engine in errors:
                continue
            result = spawn(benchmark, engine, n, steps, timeout)
            if "error" in result:
                errors[engine] = result["error"]
                continue
            times[engine].append(result["seconds"])
            facts[engine] = result
    return Timings(times, errors, facts)


def round_ratio(times: dict[str, list[float]], top: str, bottom: str) -> float:
    """top / bottom: the median over rounds of the ratio within each round."""
    pairs = zip(times[top], times[bottom], strict=False)
    return statistics.median(a / b for a, b in pairs)


def timing_table(
    benchmark: str,
    engines: list[str],
    n: int,
    rounds: int,
    steps: int,
    timings: Timings,
) -> list[str]:
    times, errors, facts = timings.times, timings.errors, timings.facts
    lines = [
        DESCRIPTIONS[benchmark].format(n=n),
        f"  (median of {rounds} rounds, each a fresh process timing {steps} run(s) after one "
        "warm-up)",
        f"  {'engine':<10} {'median':>10} {'fastest':>10} {'slowest':>10}   ratio to the row above",
    ]
    previous = None
    for engine in engines:
        if engine in errors:
            lines.append(f"  {engine:<10} failed: {errors[engine]}")
            continue
        runs = times[engine]
        ratio = (
            f"{engine} / {previous} = {round_ratio(times, engine, previous):.2f}x"
            if previous
            else ""
        )
        lines.append(
            f"  {engine:<10} {format_seconds(statistics.median(runs)):>10} "
            f"{format_seconds(min(runs)):>10} {format_seconds(max(runs)):>10}   {ratio}"
        )
        previous = engine
    lines += key_ratios(engines, times, errors)
    if "compiled" in facts and "compile_seconds" in facts["compiled"]:
        seconds = facts["compiled"]["compile_seconds"]
        lines.append(f"  compiled: tracing + compiling took {format_seconds(seconds)} (once)")
    if "tokens" in next(iter(facts.values()), {}):
        speeds = [f"{e} {facts[e]['tokens'] / statistics.median(times[e]):,.0f}" for e in facts]
        lines.append(f"  tokens per second: {', '.join(speeds)}")
    lines.append(agreement(facts))
    return lines


def key_ratios(
    engines: list[str], times: dict[str, list[float]], errors: dict[str, str]
) -> list[str]:
    wanted = [
        ("ours", "plain"),
        ("compiled", "plain"),
        ("minimal", "plain"),
        ("minimal", "ours"),
        ("minimal", "compiled"),
        ("minimal", "ours-gpt"),
        ("micrograd", "ours"),
        ("torch", "ours"),
        ("ours-sum", "ours"),
        ("ours", "ours-nograd"),
    ]
    found = [
        f"{top} / {bottom} = {round_ratio(times, top, bottom):.2f}x"
        for top, bottom in wanted
        if top in engines and bottom in engines and top not in errors and bottom not in errors
    ]
    return ["  ratios: " + ", ".join(found)] if found else []


def agreement(facts: dict[str, dict[str, Any]]) -> str:
    """Whether the engines computed the same number (they should: same data, same weights)."""
    checks = {engine: result["check"] for engine, result in facts.items()}
    if len(checks) < 2:
        return "  check: fewer than two engines ran"
    spread = max(checks.values()) - min(checks.values())
    scale = max(1.0, *(abs(c) for c in checks.values()))
    verdict = "agree" if spread <= 1e-9 * scale else "DISAGREE"
    return f"  check: the engines {verdict} on the result (spread {spread:.1e})"


def memory_results(engines: list[str], n: int, timeout: float) -> dict[str, dict[str, Any]]:
    """Each engine's bytes per node (or its error), each measured in a fresh process."""
    return {engine: spawn("memory", engine, n, timeout=timeout) for engine in engines}


def memory_table(results: dict[str, dict[str, Any]], n: int) -> list[str]:
    lines = [
        f"memory after the forward pass of the {n}-op random expression",
        f"  {'engine':<10} {'traced B/node':>14} {'RSS B/node':>12}   (tracemalloc misses "
        "torch's C++ memory; RSS sees it)",
    ]
    for engine, result in results.items():
        if "error" in result:
            lines.append(f"  {engine:<10} failed: {result['error']}")
            continue
        lines.append(
            f"  {engine:<10} {result['traced_per_node']:>14.0f} {result['rss_per_node']:>12.0f}"
        )
    return lines


def depth_table(engines: list[str], depths: Sequence[int], timeout: float) -> list[str]:
    lines = [f"deepest chain that backpropagates (tried {', '.join(map(str, depths))} ops)"]
    for engine in engines:
        deepest, failure = 0, ""
        for depth in depths:
            result = spawn("depth", engine, depth, timeout=timeout)
            if not result.get("ok"):
                failure = f"fails at {depth}: {result.get('error', 'no result')}"
                break
            deepest = depth
        reached = str(deepest) if deepest else "none"
        lines.append(f"  {engine:<10} {reached:>8}   {failure}")
    return lines


@dataclass(frozen=True)
class Goal:
    """A key number of the run and the value we aim for: a time ratio, or bytes per node."""

    benchmark: str
    top: str  # the engine measured
    bottom: str  # the engine it is divided by; "" for memory, where the number is bytes per node
    limit: float
    at_least: bool = False  # the number should be >= limit (else <=)

    def name(self, top: str) -> str:
        return f"{top} / {self.bottom}" if self.bottom else f"{top} traced B/node"

    def show(self, number: float | str) -> str:
        """A number in its unit (x for a ratio, B for bytes), or the reason there is none."""
        if isinstance(number, str):
            return number
        return f"{self.shown(number):.2f}x" if self.bottom else f"{self.shown(number):.0f} B"

    def shown(self, number: float) -> float:
        """The number as the summary prints it, which is also the one judged: no hidden digits."""
        return round(number, 2 if self.bottom else 0)

    def wanted(self) -> str:
        unit = "x" if self.bottom else " B"
        return f"{'>=' if self.at_least else '<='} {self.limit:g}{unit}"

    def met(self, number: float) -> bool:
        shown = self.shown(number)
        return shown >= self.limit if self.at_least else shown <= self.limit


GOALS = (
    Goal("mgnn", "minimal", "ours", 1.5, at_least=True),  # ours 1.5x faster than the floor
    Goal("moons", "ours", "plain", 3.0),
    Goal("chain", "ours", "plain", 15.0),
    Goal("wide", "ours", "plain", 15.0),
    Goal("memory", "ours", "", 180.0),  # tracemalloc's bytes per node after the forward
    Goal("moons", "compiled", "plain", 0.5),
    Goal("gpt", "minimal", "ours", 1.5, at_least=True),  # issue 19: eager 1.5x the floor
    Goal("gpt", "minimal", "ours-gpt", 1.5, at_least=True),  # the same, with micrograd_like.gpt
    Goal("gpt", "minimal", "compiled", 20.0, at_least=True),  # and compiled 20x
)


def goal_number(
    goal: Goal, top: str, timings: dict[str, Timings], memory: dict[str, dict[str, Any]]
) -> float | str:
    """The goal's number for engine ``top`` in this run, or why there is none."""
    if goal.benchmark == "memory":
        result = memory.get(top)
        if result is None:
            return f"{top} not run"
        if "error" in result:
            return f"{top} failed"
        return float(result["traced_per_node"])
    runs = timings[goal.benchmark]
    for engine in (top, goal.bottom):
        if engine in runs.errors:
            return f"{engine} failed"
        if not runs.times.get(engine):
            return f"{engine} not run"
    return round_ratio(runs.times, top, goal.bottom)


def summary(timings: dict[str, Timings], memory: dict[str, dict[str, Any]]) -> list[str]:
    """The key numbers of the run, each beside its goal, and the minimal engine's beside ours.

    Only benchmarks that ran have a line; a time ratio is the median of same-round ratios.
    """
    lines = []
    for goal in GOALS:
        ran = bool(memory) if goal.benchmark == "memory" else goal.benchmark in timings
        if not ran:
            continue
        number = goal_number(goal, goal.top, timings, memory)
        verdict = ("met" if goal.met(number) else "NOT met") if isinstance(number, float) else ""
        floor = ""
        if goal.top == "ours":  # the same number for the floor, the minimal engine
            floor_number = goal_number(goal, "minimal", timings, memory)
            floor = f"{goal.name('minimal')} {goal.show(floor_number)}"
        lines.append(
            f"  {goal.benchmark:<8} {goal.name(goal.top):<22} {goal.show(number):>16}   "
            f"{goal.wanted():<9} {verdict:<8} {floor}".rstrip()
        )
    if not lines:
        return []
    return [
        "summary: the key numbers of this run beside their goals",
        f"  {'workload':<8} {'number':<22} {'this run':>16}   {'goal':<9} {'':<8} "
        "the floor: the minimal engine",
        *lines,
    ]


def missing_package(benchmark: str) -> str | None:
    """The package a benchmark needs whatever the engine (mgnn: micrograd's nn), if missing."""
    package = NEEDS.get(benchmark)
    return package if package and importlib.util.find_spec(package) is None else None


def available_engines(requested: str | None) -> tuple[list[str], list[str]]:
    """Engines to run, and notes on those skipped because their package is missing."""
    wanted = ENGINES if requested is None else tuple(e.strip() for e in requested.split(","))
    unknown = [e for e in wanted if e not in ENGINES]
    if unknown:
        raise ValueError(f"bench: unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    chosen, notes = [], []
    for engine in wanted:
        package = OPTIONAL.get(engine)
        if package and importlib.util.find_spec(package) is None:
            notes.append(f"{engine}: not installed (pip install {package}), skipped")
        else:
            chosen.append(engine)
    return chosen, notes


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m micrograd_like bench",
        description="Time micrograd_like against micrograd, PyTorch, a minimal engine and plain "
        "Python; each measurement in a fresh process, engines alternating, ratios from the same "
        "run, and a summary of the key numbers beside their goals.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per benchmark (default 5)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument(
        "--only",
        help=f"comma-separated benchmarks to run, of: {', '.join(BENCHMARKS)} (default all)",
    )
    parser.add_argument(
        "--engines", help=f"comma-separated subset of: {', '.join(ENGINES)} (default all)"
    )
    parser.add_argument("--worker", choices=BENCHMARKS, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.only is not None:
        args.only = [b.strip() for b in args.only.split(",")]
        unknown = [b for b in args.only if b not in BENCHMARKS]
        if unknown:
            parser.error(
                f"--only: unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}"
            )
    return args


def main(argv: Sequence[str]) -> int:
    """Run the benchmarks and print the tables; returns the exit status."""
    args = parse(argv)
    if args.worker:
        return worker(args)
    try:
        engines, notes = available_engines(args.engines)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    steps = 1 if args.quick else 3
    timeout = 120.0 if args.quick else 900.0
    print(
        f"micrograd_like bench: Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, gc enabled{', quick sizes' if args.quick else ''}"
    )
    for note in notes:
        print(f"  {note}")
    timings: dict[str, Timings] = {}
    memory: dict[str, dict[str, Any]] = {}
    for benchmark in [b for b in BENCHMARKS if args.only is None or b in args.only]:
        chosen = [e for e in ENGINES_OF[benchmark] if e in engines]
        if not chosen:
            continue
        print()
        package = missing_package(benchmark)
        if package:
            print(f"{benchmark}: needs {package} (pip install {package}), skipped")
            continue
        if benchmark in TIMED:
            n = sizes[benchmark]
            timings[benchmark] = timed_benchmark(benchmark, chosen, n, args.rounds, steps, timeout)
            table = timing_table(benchmark, chosen, n, args.rounds, steps, timings[benchmark])
        elif benchmark == "memory":
            memory = memory_results(chosen, sizes["memory"], timeout)
            table = memory_table(memory, sizes["memory"])
        else:
            table = depth_table(chosen, QUICK_DEPTHS if args.quick else FULL_DEPTHS, timeout)
        print("\n".join(table), flush=True)
    closing = summary(timings, memory)
    if closing:
        print()
        print("\n".join(closing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
