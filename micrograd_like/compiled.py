"""Compile a fixed-shape computation of Values into straight-line Python for forward and backward.

``compile_fn(f, example_inputs, params)`` traces ``f`` once, checks at other points that the graph
does not depend on the data, and writes one line of Python per operation: the forward on floats,
then the backward with the chain rule spelled out (``g10 += v11 * g12  # mul_local``). The source
is registered with ``linecache``, so tracebacks and pdb show it. A training loop over a fixed-shape
network then runs about as fast as hand-written backprop. The idea of tracing a function into a
flat program comes from JAX's jaxprs and PyTorch's ``torch.fx``; here the program is Python source.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import math
import random
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from micrograd_like.engine import Value, is_grad_enabled, linear, sum_of, topological_order

__all__ = ["CompiledFunction", "TracingError", "compile_fn"]

LINE_TERMS = 32  # terms per line of a long sum, so the compiler never nests too deeply
_filenames = itertools.count(1)


class TracingError(ValueError):
    """f cannot be compiled: it branches on data, or uses an op the compiler does not know."""


# --- which operation made a node: told by the code object of its local derivative ---------------


def _code_of(node: Value) -> object:
    return node._local.__code__


def _known_operations() -> dict[object, str]:
    """Map each built-in op's local-derivative code to a kind, by making one node of each."""
    a, b = Value(2.0), Value(3.0)
    examples = {
        "add": a + b,
        "mul": a * b,
        "neg": -a,
        "pow": a**2,
        "pow_values": a**b,
        "relu": a.relu(),
        "tanh": a.tanh(),
        "sigmoid": a.sigmoid(),
        "exp": a.exp(),
        "log": a.log(),
        "linear": linear([a], [1.0], b),
        "linear_values": linear([a], [b], b),
        "sum": sum_of([a, b]),
    }
    return {_code_of(node): kind for kind, node in examples.items()}


_KINDS = _known_operations()


# --- tracing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One node of a trace: its kind, its parents (positions in the trace) and what is baked in."""

    kind: str  # "input", "param", "const", or an operation kind from _KINDS
    parents: tuple[int, ...]
    extra: tuple[float, ...]  # input/param index, constant value, exponent, or linear's constants


def _trace(
    f: Callable[..., Value], inputs: Sequence[float], params: Sequence[Value]
) -> list[_Step]:
    """Run f on fresh input leaves and describe every node of its graph, in topological order."""
    leaves = [Value(x, label=f"input {i}") for i, x in enumerate(inputs)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compile_fn: f must return a Value, got {type(out).__name__}")
    input_index = {leaf: i for i, leaf in enumerate(leaves)}
    param_index = {p: j for j, p in enumerate(params)}
    position: dict[Value, int] = {}
    steps: list[_Step] = []
    for node in topological_order(out):
        position[node] = len(steps)
        if not node.parents:
            steps.append(_leaf_step(node, input_index, param_index))
        else:
            parents = tuple(position[p] for p in node.parents)
            steps.append(_op_step(node, parents, len(steps)))
    return steps


def _leaf_step(node: Value, inputs: dict[Value, int], params: dict[Value, int]) -> _Step:
    if node in inputs:
        return _Step("input", (), (inputs[node],))
    if node in params:
        return _Step("param", (), (params[node],))
    return _Step("const", (), (node.data,))


def _op_step(node: Value, parents: tuple[int, ...], index: int) -> _Step:
    kind = _KINDS.get(_code_of(node))
    if kind is None:
        name = getattr(node._local, "__qualname__", repr(node._local))
        raise TracingError(
            f"compile_fn: node {index} was made by op {node.op!r} (local derivative {name}), "
            f"which the compiler does not know; it compiles only the built-in ops "
            f"({', '.join(sorted(set(_KINDS.values())))}). Use the eager engine for this "
            "function, or write the op from built-in ones"
        )
    if kind == "pow":
        return _Step(kind, parents, (_exponent(node),))
    if kind == "linear":  # inputs that were plain numbers live in the closure, not in the graph
        return _Step(kind, parents, node.local_grads()[:-1])
    return _Step(kind, parents, ())


def _exponent(node: Value) -> float:
    """The constant k of an ``x ** k`` node, read from its local derivative."""
    k = inspect.getclosurevars(node._local).nonlocals["k"]
    return float(k)


# --- checking that the graph does not depend on the data --------------------------------------


def _other_points(
    inputs: Sequence[float], params: Sequence[Value], checks: int, rng: random.Random
) -> list[tuple[list[float], list[float]]]:
    """Points to trace again: every sign flipped, then random points of about the same scale."""
    if checks < 1:
        return []
    now = [p.data for p in params]
    points = [([-x for x in inputs], [-w for w in now])]
    for _ in range(checks - 1):
        points.append(
            (
                [x + rng.gauss(0.0, 1.0) * (abs(x) + 1.0) for x in inputs],
                [w + rng.gauss(0.0, 1.0) * (abs(w) + 1.0) for w in now],
            )
        )
    return points


def _trace_at(
    f: Callable[..., Value],
    inputs: Sequence[float],
    params: Sequence[Value],
    weights: Sequence[float],
) -> list[_Step]:
    """Trace with the parameters temporarily set to ``weights``."""
    saved = [p.data for p in params]
    try:
        for p, w in zip(params, weights, strict=True):
            p.data = w
        return _trace(f, inputs, params)
    finally:
        for p, w in zip(params, saved, strict=True):
            p.data = w


def _first_difference(one: list[_Step], other: list[_Step]) -> str:
    """Say in words where two traces part ways."""
    for index, (a, b) in enumerate(zip(one, other, strict=False)):
        if a != b:
            if a.kind == b.kind == "const":
                return (
                    f"node {index} is the constant {a.extra[0]!r} in one trace and "
                    f"{b.extra[0]!r} in the other: it was computed from data (such as "
                    "Value(x.data)); pass it as an input instead"
                )
            return f"node {index} is {_describe(a)} in one trace and {_describe(b)} in the other"
    return f"one trace has {len(one)} nodes and the other {len(other)}"


def _describe(step: _Step) -> str:
    return f"{step.kind}{list(step.parents) if step.parents else ''}{list(step.extra)}"


def _check_same_structure(
    f: Callable[..., Value],
    reference: list[_Step],
    points: Sequence[tuple[Sequence[float], Sequence[float]]],
    params: Sequence[Value],
    optional: bool,
) -> None:
    """Trace at each point and refuse f if any graph differs; optional points may fail to trace."""
    for inputs, weights in points:
        try:
            steps = _trace_at(f, inputs, params, weights)
        except (ArithmeticError, ValueError):
            if optional:
                continue  # outside f's domain (log of a negative number, say): nothing to compare
            raise
        if steps != reference:
            raise TracingError(
                "compile_fn: f branches on data: its graph at another point differs from the "
                f"graph at the example inputs ({_first_difference(reference, steps)}). Compiled "
                "code would silently keep one branch; compile each branch separately, or use the "
                "eager engine"
            )


# --- writing the source -----------------------------------------------------------------------


def _literal(x: float) -> str:
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


class _Writer:
    """Turns a trace into the source of ``def name(inputs, params)`` returning (value, grads)."""

    def __init__(self, steps: list[_Step], n_inputs: int, n_params: int) -> None:
        self.steps = steps
        self.n_inputs = n_inputs
        self.n_params = n_params
        self.needs_grad = self._depends_on_params()
        self.lines: list[str] = []
        self.has_grad: set[int] = set()

    def _depends_on_params(self) -> list[bool]:
        needs: list[bool] = []
        for step in self.steps:
            needs.append(step.kind == "param" or any(needs[p] for p in step.parents))
        return needs

    def ref(self, index: int) -> str:
        step = self.steps[index]
        return _literal(step.extra[0]) if step.kind == "const" else f"v{index}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def source(self, name: str) -> str:
        self.lines = [f"def {name}(inputs, params):"]
        self._unpack("input", "inputs")
        self._unpack("param", "params")
        for index, step in enumerate(self.steps):
            if step.parents:
                self._forward(index, step)
        root = len(self.steps) - 1
        if self.needs_grad[root]:
            self.emit(f"g{root} = 1.0  # seed")
            self.has_grad.add(root)
        for index in range(root, -1, -1):
            step = self.steps[index]
            if step.parents and self.needs_grad[index]:
                self._backward(index, step)
        grads = [f"g{i}" if i in self.has_grad else "0.0" for i in self._param_positions()]
        rows = [", ".join(grads[i : i + 12]) for i in range(0, len(grads), 12)]
        self.emit(f"return v{root}, [")
        self.lines += [f"        {row}," for row in rows]
        self.emit("]")
        return "\n".join(self.lines) + "\n"

    def _param_positions(self) -> list[int]:
        positions = [-1] * self.n_params
        for index, step in enumerate(self.steps):
            if step.kind == "param":
                positions[int(step.extra[0])] = index
        return positions

    def _unpack(self, kind: str, source: str) -> None:
        found = [(int(step.extra[0]), i) for i, step in enumerate(self.steps) if step.kind == kind]
        for position, index in sorted(found):
            self.emit(f"v{index} = {source}[{position}]  # {kind} {position}")

    # --- forward: one line per op (long sums are split into lines of LINE_TERMS terms) -----

    def _forward(self, index: int, step: _Step) -> None:
        v, args = f"v{index}", [self.ref(p) for p in step.parents]
        kind = step.kind
        if kind in ("linear", "linear_values", "sum"):
            self._sum_lines(v, self._terms(step, args), kind)
            return
        expression = {
            "add": lambda: f"{args[0]} + {args[1]}",
            "mul": lambda: f"{args[0]} * {args[1]}",
            "neg": lambda: f"-{args[0]}",
            "pow": lambda: self._pow_expression(args[0], step.extra[0]),
            "pow_values": lambda: f"real_pow({args[0]}, {args[1]})",
            "relu": lambda: f"{args[0]} if {args[0]} > 0 else 0.0",
            "tanh": lambda: f"tanh({args[0]})",
            "sigmoid": lambda: (
                f"1.0 / (1.0 + exp(-{args[0]})) if {args[0]} >= 0 "
                f"else exp({args[0]}) / (1.0 + exp({args[0]}))"
            ),
            "exp": lambda: f"exp({args[0]})",
            "log": lambda: f"log({args[0]})",
        }[kind]()
        self.emit(f"{v} = {expression}  # {kind}")

    @staticmethod
    def _pow_expression(base: str, k: float) -> str:
        if k.is_integer():
            return f"{base} ** {_literal(k)}"
        return f"real_pow({base}, {_literal(k)})"  # a negative base must raise, not go complex

    @staticmethod
    def _terms(step: _Step, args: list[str]) -> list[str]:
        """The terms of a sum in the engine's order: bias first for linear, as micrograd."""
        if step.kind == "sum":
            return args
        if step.kind == "linear":
            weights, bias = args[:-1], args[-1]
            products = zip(weights, step.extra, strict=True)
            return [bias, *(f"{w} * {_literal(x)}" for w, x in products)]
        n = (len(args) - 1) // 2
        weights, values, bias = args[:n], args[n : 2 * n], args[-1]
        return [bias, *(f"{w} * {x}" for w, x in zip(weights, values, strict=True))]

    def _sum_lines(self, v: str, terms: list[str], kind: str) -> None:
        if not terms:
            self.emit(f"{v} = 0.0  # {kind}")
            return
        first, rest = terms[:LINE_TERMS], terms[LINE_TERMS:]
        self.emit(f"{v} = {' + '.join(first)}  # {kind}")
        for start in range(0, len(rest), LINE_TERMS):
            self.emit(f"{v} = {v} + {' + '.join(rest[start : start + LINE_TERMS])}  # {kind}")

    # --- backward: one line per edge, parent.grad += local * upstream ----------------------

    def _backward(self, index: int, step: _Step) -> None:
        args = [self.ref(p) for p in step.parents]
        templates = self._contributions(index, step, args, f"v{index}")
        for parent, template in zip(step.parents, templates, strict=True):
            if self.needs_grad[parent]:
                self._accumulate(parent, template.format(g=f"g{index}"), step.kind)

    def _contributions(self, index: int, step: _Step, args: list[str], v: str) -> list[str]:
        """local * upstream for each parent, as templates in which {g} is the upstream gradient.

        Each is written as the engine computes it (local first, then times g), so the numbers
        match the eager engine's; a local of exactly 1 or -1 is left out, which changes nothing.
        """
        kind = step.kind
        if kind in ("add", "sum"):
            return ["{g}"] * len(args)
        if kind == "mul":
            return [f"{args[1]} * {{g}}", f"{args[0]} * {{g}}"]
        if kind == "neg":
            return ["-{g}"]
        if kind == "pow":
            k = step.extra[0]
            if k == 0:
                return ["0.0 * {g}"]
            return [f"{_literal(k)} * {args[0]} ** {_literal(k - 1)} * {{g}}"]
        if kind == "pow_values":
            self.emit(f"da{index}, db{index} = pow_local({v}, {args[0]}, {args[1]})  # pow_local")
            return [f"da{index} * {{g}}", f"db{index} * {{g}}"]
        if kind == "relu":
            return [f"({{g}} if {args[0]} > 0 else 0.0)"]
        if kind == "tanh":
            return [f"(1 - {v} * {v}) * {{g}}"]
        if kind == "sigmoid":
            return [f"{v} * (1 - {v}) * {{g}}"]
        if kind == "exp":
            return [f"{v} * {{g}}"]
        if kind == "log":
            return [f"1 / {args[0]} * {{g}}"]
        if kind == "linear":
            return [*(f"{_literal(x)} * {{g}}" for x in step.extra), "{g}"]
        n = (len(args) - 1) // 2  # linear_values: d/dw = x, d/dx = w, d/dbias = 1
        return [*(f"{a} * {{g}}" for a in (*args[n : 2 * n], *args[:n])), "{g}"]

    def _accumulate(self, parent: int, contribution: str, kind: str) -> None:
        g = f"g{parent}"
        if parent in self.has_grad:
            self.emit(f"{g} += {contribution}  # {kind}_local")
        else:
            self.has_grad.add(parent)
            self.emit(f"{g} = {contribution}  # {kind}_local")


# --- helpers the generated code calls ---------------------------------------------------------


def real_pow(a: float, b: float) -> float:
    """a ** b as the engine computes it: a negative base to a fractional power is refused."""
    if a < 0 and not float(b).is_integer():
        raise ValueError(
            f"**: {a!r} ** {b!r} is not a real number (a negative base needs an integer exponent)"
        )
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"**: {a!r} ** {b!r} divides by zero")
    return float(a**b)


def pow_local(out: float, a: float, b: float) -> tuple[float, float]:
    """d(a**b)/da and d(a**b)/db, with the engine's rules at a = 0 and b = 0."""
    if a > 0:
        d_exponent = out * math.log(a)
    elif a == 0 and b > 0:
        d_exponent = 0.0
    else:
        raise ValueError(f"**: d(a**b)/db needs log(a), which is undefined at a = {a!r}")
    if b == 0:
        return 0.0, d_exponent
    return b * a ** (b - 1), d_exponent


_NAMESPACE = {
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "real_pow": real_pow,
    "pow_local": pow_local,
}


# --- the compiled function --------------------------------------------------------------------


class CompiledFunction:
    """f compiled for one graph shape: value and gradients for new inputs and parameter values.

    Calling it, ``cf(*inputs)``, returns f's value and adds the gradient to each parameter's
    ``.grad`` (parameters accumulate, as with ``backward()``); ``value_and_grad(*inputs)`` returns
    the value and a list of gradients, one per parameter, and touches no ``.grad``. The parameters'
    current ``.data`` is read on every call, so an optimizer can update them in place.
    """

    def __init__(self, source: str, name: str, params: Sequence[Value], n_inputs: int) -> None:
        self.source = source
        self.filename = f"<micrograd_like compiled {name.rsplit('_', 1)[-1]}>"
        self.params = list(params)
        self.n_inputs = n_inputs
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        weakref.finalize(self, linecache.cache.pop, self.filename, None)
        namespace: dict[str, Any] = dict(_NAMESPACE)
        exec(compile(source, self.filename, "exec"), namespace)
        self._function: Callable[[Sequence[float], list[float]], tuple[float, list[float]]]
        self._function = namespace[name]

    def __repr__(self) -> str:
        lines = self.source.count("\n")
        return (
            f"CompiledFunction({self.filename}, {self.n_inputs} inputs, "
            f"{len(self.params)} parameters, {lines} lines)"
        )

    def value_and_grad(self, *inputs: float) -> tuple[float, list[float]]:
        """f's value at ``inputs`` and d(f)/d(param) for each parameter, in order."""
        if len(inputs) != self.n_inputs:
            raise TypeError(f"{self.filename}: expected {self.n_inputs} inputs, got {len(inputs)}")
        if not all(map(math.isfinite, inputs)):
            bad = next(x for x in inputs if not math.isfinite(x))
            raise ValueError(f"{self.filename}: input {bad!r} is not a finite number")
        try:
            return self._function(inputs, [p.data for p in self.params])
        except (ArithmeticError, ValueError) as error:
            raise _with_line(error, self.filename) from error

    def __call__(self, *inputs: float) -> float:
        value, grads = self.value_and_grad(*inputs)
        for p, g in zip(self.params, grads, strict=True):
            p.grad += g
        return value


def _with_line(error: Exception, filename: str) -> Exception:
    """The same kind of error, its message naming the generated line where it happened."""
    traceback, lineno = error.__traceback__, 0
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == filename:
            lineno = traceback.tb_lineno
        traceback = traceback.tb_next
    line = linecache.getline(filename, lineno).strip()
    try:
        return type(error)(f"{error} at {filename} line {lineno}: {line}")
    except TypeError:  # an error type whose constructor wants more than a message
        return error


def compile_fn(
    f: Callable[..., Value],
    example_inputs: Sequence[float],
    params: Sequence[Value] = (),
    *,
    check_inputs: Sequence[Sequence[float]] = (),
    checks: int = 3,
    rng: random.Random | None = None,
) -> CompiledFunction:
    """Trace ``f(*inputs)`` (inputs as Values) and compile its forward and backward to Python.

    Args:
        f: builds a Value from its input Values and from ``params``; every other leaf it uses
            becomes a constant baked into the code.
        example_inputs: numbers to trace at; the compiled function takes as many.
        params: the leaves to differentiate with respect to (a model's ``parameters()``).
        check_inputs: more input points to trace at; f is refused (``TracingError``) if the graph
            at any of them differs. Name points on both sides of every branch you suspect.
        checks: how many perturbed points (inputs and parameters) to trace at as well: the first
            flips every sign, the others are random; points where f raises are skipped. This finds
            most data-dependent branching, but it is a check, not a proof.
        rng: for the random points; ``random.Random(0)`` when None, so compiling is repeatable.

    Returns:
        A ``CompiledFunction``; print its ``.source`` to read the generated code.
    """
    if not is_grad_enabled():
        raise TracingError("compile_fn: called inside no_grad(), so f builds no graph to trace")
    params = list(params)
    if len(set(params)) != len(params) or not all(isinstance(p, Value) for p in params):
        raise TypeError("compile_fn: params must be distinct Values")
    made = [p for p in params if p.parents]
    if made:
        raise TypeError(
            f"compile_fn: params must be leaves, but {made[0]!r} was made by an op; "
            "differentiate with respect to the leaves it was made from"
        )
    reference = _trace(f, example_inputs, params)
    given = [(list(x), [p.data for p in params]) for x in check_inputs]
    _check_same_structure(f, reference, given, params, optional=False)
    others = _other_points(example_inputs, params, checks, rng or random.Random(0))
    _check_same_structure(f, reference, others, params, optional=True)
    name = f"compiled_{next(_filenames)}"
    source = _Writer(reference, len(example_inputs), len(params)).source(name)
    return CompiledFunction(source, name, params, len(example_inputs))
