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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from micrograd_like.engine import (
    LocalDerivative,
    Value,
    _check_power,
    _power,
    is_grad_enabled,
    linear,
    sum_of,
    topological_order,
)

__all__ = ["CompiledFunction", "TracingError", "compile_fn"]

LINE_TERMS = 32  # terms per line of a long sum, so the compiler never nests too deeply
_filenames = itertools.count(1)


class TracingError(ValueError):
    """f cannot be compiled: it branches on data, or uses an op the compiler does not know.

    An op is known by its name and local derivative together, and each traced node's value must
    equal what the compiled code computes: a custom op reusing a built-in's derivative is refused.
    """


# --- which operation made a node: its local derivative's code object AND its op name ----------
# The code alone is not enough: a custom op may reuse a built-in's derivative (a "twice_exp" whose
# derivative is exp's), and compiling it as the built-in would silently give the wrong numbers.


def _code_of(node: Value) -> object:
    return getattr(node._local, "__code__", None)  # None for callables that are not functions


def _known_operations() -> dict[tuple[object, str], str]:
    """Map each built-in op's (local-derivative code, op name) to a kind, by making one of each."""
    a, b = Value(2.0), Value(3.0)
    examples = {
        "add": a + b,
        "mul": a * b,
        "neg": -a,
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
    return {(_code_of(node), node.op): kind for kind, node in examples.items()}


_KINDS = _known_operations()
_POWER_CODE = _code_of(Value(2.0) ** 2)  # x ** k: its op name carries k ("**2"), so checked apart
_ARITY = {"add": 2, "mul": 2, "pow_values": 2, "neg": 1, "pow": 1}  # the rest: 1 unless below
_OP_NAMES = sorted({op for _, op in _KINDS} | {"**k"})


def _kind_of(node: Value) -> str | None:
    """The built-in kind that made ``node``, or None when its derivative or its name is not one."""
    code = _code_of(node)
    if code is not None and code is _POWER_CODE:
        return "pow" if _names_exponent(node.op, _exponent(node)) else None
    return _KINDS.get((code, node.op))


def _names_exponent(op: str, k: float) -> bool:
    """True when ``op`` is the engine's name for ``x ** k`` ("**2", "**0.5", "**-1")."""
    if not op.startswith("**"):
        return False
    try:
        return float(op[2:]) == k
    except ValueError:
        return False


def _has_right_arity(kind: str, step_parents: int, extra: tuple[float, ...]) -> bool:
    """Whether a node of this kind has as many parents as the template for it expects."""
    if kind == "linear":
        return step_parents == len(extra) + 1
    if kind == "linear_values":
        return step_parents % 2 == 1
    if kind == "sum":
        return True
    return step_parents == _ARITY.get(kind, 1)


# --- tracing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One node of a trace: its kind, its parents (positions in the trace) and what is baked in."""

    kind: str  # "input", "param", "const", or an operation kind from _KINDS
    parents: tuple[int, ...]
    extra: tuple[float, ...]  # input/param index, constant value, exponent, or linear's constants


@dataclass(frozen=True)
class _Trace:
    """The graph f built at one point: its steps (the shape) and each node's op name and data."""

    steps: list[_Step]
    ops: list[str]
    data: list[float]


def _trace(f: Callable[..., Value], inputs: Sequence[float], params: Sequence[Value]) -> _Trace:
    """Run f on fresh input leaves and describe every node of its graph, in topological order."""
    leaves = [Value(x, label=f"input {i}") for i, x in enumerate(inputs)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compile_fn: f must return a Value, got {type(out).__name__}")
    input_index = {leaf: i for i, leaf in enumerate(leaves)}
    param_index = {p: j for j, p in enumerate(params)}
    position: dict[Value, int] = {}
    steps: list[_Step] = []
    order = topological_order(out)
    for node in order:
        position[node] = len(steps)
        if not node.parents:
            steps.append(_leaf_step(node, input_index, param_index))
        else:
            parents = tuple(position[p] for p in node.parents)
            steps.append(_op_step(node, parents, len(steps)))
    return _Trace(steps, [node.op for node in order], [node.data for node in order])


def _leaf_step(node: Value, inputs: dict[Value, int], params: dict[Value, int]) -> _Step:
    if node in inputs:
        return _Step("input", (), (inputs[node],))
    if node in params:
        return _Step("param", (), (params[node],))
    return _Step("const", (), (node.data,))


def _op_step(node: Value, parents: tuple[int, ...], index: int) -> _Step:
    kind = _kind_of(node)
    if kind is None:
        raise TracingError(_unknown_op_message(node, index))
    extra: tuple[float, ...] = ()
    if kind == "pow":
        extra = (_exponent(node),)
    elif kind == "linear":  # inputs that were plain numbers live in the closure, not in the graph
        extra = node.local_grads()[:-1]
    if not _has_right_arity(kind, len(parents), extra):
        raise TracingError(
            f"compile_fn: node {index} (op {node.op!r}) has {len(parents)} parents, which the "
            f"built-in {kind} never makes; it is a custom op. Use the eager engine for this "
            "function"
        )
    return _Step(kind, parents, extra)


def _unknown_op_message(node: Value, index: int) -> str:
    name = getattr(node._local, "__qualname__", repr(node._local))
    return (
        f"compile_fn: node {index} was made by op {node.op!r} (local derivative {name}), which "
        f"the compiler does not know; it compiles only the built-in ops ({', '.join(_OP_NAMES)}), "
        "each recognised by its name and its local derivative together. Use the eager engine "
        "for this function, or write the op from built-in ones"
    )


def _exponent(node: Value) -> float:
    """The constant k of an ``x ** k`` node, read from its local derivative."""
    k = inspect.getclosurevars(node._local).nonlocals["k"]
    return float(k)


# --- checking that the compiled code computes what f computed ---------------------------------


def _same_float(a: float, b: float) -> bool:
    """Bit for bit the same number: -0.0 differs from 0.0, and nan matches nan."""
    if a != a:  # nan
        return b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


class _ForwardCheck:
    """The generated forward code, run at a traced point to compare every node with f's data.

    A node whose op only pretends to be a built-in (a custom op reusing a built-in's derivative
    and name) is caught here: its data differs from what the built-in's template computes.
    """

    def __init__(self, steps: list[_Step], n_inputs: int, n_params: int) -> None:
        writer = _Writer(steps, n_inputs, n_params)
        self.source = writer.forward_source("forward_check")
        self.node_at_line = writer.node_at_line
        self.filename = f"<micrograd_like forward check {next(_filenames)}>"
        namespace: dict[str, Any] = dict(_NAMESPACE)
        namespace.update(writer.helpers)
        exec(compile(self.source, self.filename, "exec"), namespace)
        self._function: Callable[[Sequence[float], Sequence[float]], list[float]]
        self._function = namespace["forward_check"]

    def verify(self, trace: _Trace, inputs: Sequence[float], weights: Sequence[float]) -> None:
        """Refuse f (TracingError) at the first node whose compiled value differs from f's."""
        try:
            computed = self._function(inputs, weights)
        except (ArithmeticError, ValueError) as error:
            index = self._failing_node(error)
            if index < 0:
                raise
            raise TracingError(
                f"compile_fn: node {index} (op {trace.ops[index]!r}) is {trace.data[index]!r} in "
                f"f, but the compiled {trace.steps[index].kind} code raised {error!r} computing "
                "it from its parents' data; it is a custom op posing as a built-in. Use the "
                "eager engine for this function"
            ) from error
        for index, (value, expected) in enumerate(zip(computed, trace.data, strict=True)):
            if not _same_float(value, expected):
                raise TracingError(
                    f"compile_fn: node {index} (op {trace.ops[index]!r}) is {expected!r} in f, "
                    f"but the compiled {trace.steps[index].kind} code computes {value!r} from its "
                    "parents' data; it is a custom op posing as a built-in (same name and local "
                    "derivative, different forward). Use the eager engine for this function"
                )

    def _failing_node(self, error: BaseException) -> int:
        """The node whose forward line raised ``error``, or -1 if none of ours did."""
        traceback, lineno = error.__traceback__, 0
        while traceback is not None:
            if traceback.tb_frame.f_code.co_filename == self.filename:
                lineno = traceback.tb_lineno
            traceback = traceback.tb_next
        return self.node_at_line.get(lineno, -1)


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
) -> _Trace:
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
    forward_check: _ForwardCheck,
) -> None:
    """Trace at each point and refuse f if any graph or node value differs from the compiled one.

    Optional points may fail to trace (they may lie outside f's domain).
    """
    for inputs, weights in points:
        try:
            trace = _trace_at(f, inputs, params, weights)
        except (ArithmeticError, ValueError):
            if optional:
                continue  # outside f's domain (log of a negative number, say): nothing to compare
            raise
        if trace.steps != reference:
            raise TracingError(
                "compile_fn: f branches on data: its graph at another point differs from the "
                f"graph at the example inputs ({_first_difference(reference, trace.steps)}). "
                "Compiled code would silently keep one branch; compile each branch separately, "
                "or use the eager engine"
            )
        forward_check.verify(trace, inputs, weights)


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
        self.node_at_line: dict[int, int] = {}  # line number -> the node its forward computes
        self.helpers: dict[str, LocalDerivative] = {}  # the engine's x ** k locals, by name
        self._helper_names: dict[float, str] = {}

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
        self._forward_all(name)
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

    def forward_source(self, name: str) -> str:
        """``def name(inputs, params)`` returning every node's value: the forward code alone."""
        self._forward_all(name)
        refs = [self.ref(index) for index in range(len(self.steps))]
        self.emit("return [")
        self.lines += [f"        {', '.join(refs[i : i + 12])}," for i in range(0, len(refs), 12)]
        self.emit("]")
        return "\n".join(self.lines) + "\n"

    def _forward_all(self, name: str) -> None:
        self.lines = [f"def {name}(inputs, params):"]
        self._unpack("input", "inputs")
        self._unpack("param", "params")
        for index, step in enumerate(self.steps):
            if step.parents:
                first = len(self.lines)
                self._forward(index, step)
                for line_number in range(first + 1, len(self.lines) + 1):
                    self.node_at_line[line_number] = index

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
        if k.is_integer() and k >= 0:  # no base is refused: plain Python is the engine's number
            return f"{base} ** {_literal(k)}"
        return f"real_pow({base}, {_literal(k)})"  # refuses 0 ** -1 and (-4) ** 0.5, as the engine

    @staticmethod
    def _terms(step: _Step, args: list[str]) -> list[str]:
        """The terms of a sum in the engine's order: bias first for linear, as micrograd."""
        if step.kind == "sum":  # the engine starts from 0.0, which turns a lone -0.0 into 0.0
            return ["0.0", *args]
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
            return [self._pow_contribution(args[0], step.extra[0], v)]
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

    def _pow_contribution(self, base: str, k: float, v: str) -> str:
        """d(x**k)/dx * g: inline for k = 0, 1, 2, ..., else the engine's own local derivative."""
        if k == 0:
            return "0.0 * {g}"
        if k.is_integer() and k > 0:
            return f"{_literal(k)} * {base} ** {_literal(k - 1)} * {{g}}"
        name = self._helper_names.get(k)
        if name is None:
            name = self._helper_names[k] = f"pow_local_{len(self._helper_names)}"
            self.helpers[name] = _engine_power_local(k)
        return f"{name}({v}, {base})[0] * {{g}}"

    def _accumulate(self, parent: int, contribution: str, kind: str) -> None:
        g = f"g{parent}"
        if parent in self.has_grad:
            self.emit(f"{g} += {contribution}  # {kind}_local")
        else:
            self.has_grad.add(parent)
            self.emit(f"{g} = {contribution}  # {kind}_local")


# --- helpers the generated code calls ---------------------------------------------------------


def real_pow(a: float, b: float) -> float:
    """a ** b by the engine's own rules: 0 ** -1 and (-4) ** 0.5 are refused, naming both."""
    _check_power(a, b)
    result: float = _power(a, b)
    return result


def _engine_power_local(k: float) -> LocalDerivative:
    """The engine's local derivative of ``x ** k``, taken from a node it makes (1 ** k is 1)."""
    return (Value(1.0) ** k)._local


def _engine_pow_values_local() -> LocalDerivative:
    """The engine's local derivative of ``a ** b`` for two Values, taken from a node it makes."""
    return (Value(2.0) ** Value(3.0))._local


_NAMESPACE = {
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "real_pow": real_pow,
    "pow_local": _engine_pow_values_local(),  # so a**b's derivatives are the engine's own
}


# --- the compiled function --------------------------------------------------------------------


class CompiledFunction:
    """f compiled for one graph shape: value and gradients for new inputs and parameter values.

    Calling it, ``cf(*inputs)``, returns f's value and adds the gradient to each parameter's
    ``.grad`` (parameters accumulate, as with ``backward()``); ``value_and_grad(*inputs)`` returns
    the value and a list of gradients, one per parameter, and touches no ``.grad``. The parameters'
    current ``.data`` is read on every call, so an optimizer can update them in place.
    """

    def __init__(
        self,
        source: str,
        name: str,
        params: Sequence[Value],
        n_inputs: int,
        helpers: Mapping[str, LocalDerivative] | None = None,
    ) -> None:
        self.source = source
        self.filename = f"<micrograd_like compiled {name.rsplit('_', 1)[-1]}>"
        self.params = list(params)
        self.n_inputs = n_inputs
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        weakref.finalize(self, linecache.cache.pop, self.filename, None)
        namespace: dict[str, Any] = {**_NAMESPACE, **(helpers or {})}
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
            most data-dependent branching, but it is a check, not a proof. At every traced point
            the generated forward code must reproduce each node's value bit for bit, or f is
            refused (a custom op that poses as a built-in).
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
    weights = [p.data for p in params]
    forward_check = _ForwardCheck(reference.steps, len(example_inputs), len(params))
    forward_check.verify(reference, example_inputs, weights)
    given = [(list(x), weights) for x in check_inputs]
    _check_same_structure(f, reference.steps, given, params, False, forward_check)
    others = _other_points(example_inputs, params, checks, rng or random.Random(0))
    _check_same_structure(f, reference.steps, others, params, True, forward_check)
    name = f"compiled_{next(_filenames)}"
    writer = _Writer(reference.steps, len(example_inputs), len(params))
    source = writer.source(name)
    return CompiledFunction(source, name, params, len(example_inputs), writer.helpers)
