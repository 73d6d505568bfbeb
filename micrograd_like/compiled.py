"""Compile a fixed-shape computation of Values into straight-line Python for forward and backward.

``compile_fn(f, example_inputs, params)`` traces ``f`` once and writes one line of Python per
operation, taken from the op table: the forward is the entry's forward written out (``v3 = v1 *
v2``) or a call of it (``v3 = tanh_forward(v2)``), and the backward spells out the chain rule with
the entry's local derivative written out (``g2 = (1 - v3 * v3) * g3  # tanh_local``) or called
(``d = relu_local(v3, v2)``). Written out means read off the entry's own functions run on names
(see ``optable.local_source``), so any op of the table compiles, custom ones included, and the
numbers are the eager engine's. ``f`` may not read a Value's data while it is traced (that is the
only way a graph can depend on data), and retracing at other points checks it again.
``CompiledCache`` keeps one compiled function per shape (a sequence length, say). The source is
registered with ``linecache``, so tracebacks and pdb show it. Tracing a function into a flat
program follows JAX's jaxprs and PyTorch's ``torch.fx``; here the program is Python source.
"""

from __future__ import annotations

import itertools
import linecache
import math
import random
import re
import sys
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from micrograd_like.arguments import (
    checked_count,
    checked_rng,
    checked_sequence,
    checked_value_iterable,
)
from micrograd_like.checks import checked_float
from micrograd_like.engine import (
    Value,
    evaluate,
    is_grad_enabled,
    topological_order,
)
from micrograd_like.optable import REAL, Op, forward_source, local_source, no_forward
from micrograd_like.recording import watch_data_reads

__all__ = ["CompiledCache", "CompiledFunction", "TracingError", "compile_fn"]

WARM_UP_CALLS = 8  # Python 3.11 specializes a function's bytecode after its 8th call
LINE_ARGUMENTS = 12  # arguments per line of a long call, to keep the source readable
_filenames = itertools.count(1)
_PACKAGE_DIR = __file__.rsplit("/", 1)[0]


class TracingError(ValueError):
    """f cannot be compiled: it reads data while traced, branches on it, or uses a one-off op."""


# --- tracing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One node of a trace: its op (or leaf kind), its parents (trace positions), its numbers."""

    kind: str  # "input", "param", "const", or the name of an op of the table
    parents: tuple[int, ...]
    extra: tuple[float, ...]  # input/param index, a constant's value, or the op's constants


@dataclass(frozen=True)
class _Trace:
    steps: list[_Step]
    ops: dict[str, Op]
    data: list[float]


def _trace(f: Callable[..., Value], inputs: Sequence[float], params: Sequence[Value]) -> _Trace:
    """Run f on fresh input leaves, refusing any data read, and describe every node of its graph."""
    leaves = [Value(x, label=f"input {i}") for i, x in enumerate(inputs)]
    with _refusing_data_reads():
        out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compile_fn: f must return a Value, got {type(out).__name__}")
    input_index = {leaf: i for i, leaf in enumerate(leaves)}
    param_index = {p: j for j, p in enumerate(params)}
    position: dict[Value, int] = {}
    steps: list[_Step] = []
    ops: dict[str, Op] = {}
    order = topological_order(out)
    for node in order:
        position[node] = len(steps)
        if not node.parents:
            steps.append(_leaf_step(node, input_index, param_index))
            continue
        entry = node.op_entry
        if entry.forward is no_forward:
            raise TracingError(
                f"compile_fn: node {len(steps)} was made by {entry.name!r} through Value.from_op, "
                "which gives no forward to compile; declare the op with ops.custom_op instead"
            )
        if ops.setdefault(entry.name, entry) is not entry:  # generated code names ops by name
            raise TracingError(
                f"compile_fn: node {len(steps)} was made by a second op named {entry.name!r} "
                "(two custom ops declared under one name); give one of them another name"
            )
        steps.append(_Step(entry.name, tuple(position[p] for p in node.parents), node.constants))
    return _Trace(steps, ops, [node.data for node in order])


def _leaf_step(node: Value, inputs: dict[Value, int], params: dict[Value, int]) -> _Step:
    if node in inputs:
        return _Step("input", (), (inputs[node],))
    if node in params:
        return _Step("param", (), (params[node],))
    return _Step("const", (), (node.data,))


@contextmanager
def _refusing_data_reads() -> Iterator[None]:
    """Make every read of a Value's data during tracing a TracingError naming the source line."""

    def refuse(value: Value, how: str) -> None:
        raise TracingError(
            f"compile_fn: f reads a Value's data ({how} of {value!r}) at {_user_line()}; a "
            "graph that depends on data cannot be compiled into one program. Compute the "
            "number outside f, or use the eager engine"
        )

    with watch_data_reads(refuse):
        yield


def _user_line() -> str:
    """The innermost frame outside micrograd_like, as 'file:line: code'."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "an unknown line"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {code}"


# --- checking that the graph does not depend on the data (a second line of defence) ----------


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
) -> None:
    """Trace at each point and refuse f if its graph differs; optional points may fail to trace."""
    for inputs, weights in points:
        try:
            trace = _trace_at(f, inputs, params, weights)
        except (ArithmeticError, ValueError) as error:
            if optional and not isinstance(error, TracingError):
                continue  # outside f's domain (log of a negative number, say): nothing to compare
            raise
        if trace.steps != reference:
            raise TracingError(
                "compile_fn: f branches on data: its graph at another point differs from the "
                f"graph at the example inputs ({_first_difference(reference, trace.steps)}). "
                "Compiled code would silently keep one branch; compile each branch separately, "
                "or use the eager engine"
            )


# --- writing the source -----------------------------------------------------------------------


def _literal(x: float) -> str:
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


def _identifier(name: str) -> str:
    """A Python name for an op's functions in the generated code (custom names may be any text)."""
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned.isidentifier() and not cleaned[0].isdigit() else f"op_{cleaned}"


class _Writer:
    """Turns a trace into the source of ``def name(inputs, params)`` returning (value, grads)."""

    def __init__(self, trace: _Trace, n_inputs: int, n_params: int) -> None:
        self.steps = trace.steps
        self.ops = trace.ops
        self.n_params = n_params
        self.n_inputs = n_inputs
        self.needs_grad = self._depends_on_params()
        self.lines: list[str] = []
        self.has_grad: set[int] = set()
        self.base: dict[str, str] = {}  # op name -> a Python name no other op of f shares
        for name in self.ops:
            base = _identifier(name)
            while base in self.base.values():
                base += "_"
            self.base[name] = base

    def namespace(self) -> dict[str, Any]:
        """The names the generated code calls: each op's forward, checked forward and local."""
        names: dict[str, Any] = {}
        for name, entry in self.ops.items():
            base = self.base[name]
            plain = entry.domain is REAL and entry.builtin
            names[f"{base}_forward"] = entry.forward if plain else _checked_forward(entry)
            names[f"{base}_local"] = entry.local
        return names

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
                self.emit(f"v{index} = {self._forward(step)}  # {step.kind}")
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
        self.emit(f"return {self.ref(root)}, [")  # a literal when f returns a constant
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
        """All inputs (or parameters) in one unpacking; "_" for any that f does not use."""
        names = ["_"] * (self.n_params if kind == "param" else self.n_inputs)
        for index, step in enumerate(self.steps):
            if step.kind == kind:
                names[int(step.extra[0])] = f"v{index}"
        if not names:
            return
        self.emit(f"# {source}: {len(names)}")
        self.emit(f"({_wrapped(names)},) = {source}")

    def _arguments(self, step: _Step) -> list[str]:
        return [*(self.ref(p) for p in step.parents), *map(_literal, step.extra)]

    def _forward(self, step: _Step) -> str:
        """The entry's forward written out where it can be, else a call of its checked forward."""
        args = self._arguments(step)
        template = forward_source(self.ops[step.kind], len(args))
        if template:
            return template.format(*args)
        return f"{self.base[step.kind]}_forward({_wrapped(args)})"

    def _backward(self, index: int, step: _Step) -> None:
        """The chain rule per operand, ``g_parent += <d(node)/d(parent)> * g_node``, with the
        derivative written out from the entry's local, or taken from a call of it (``d[i]``)."""
        args, local = self._arguments(step), f"{self.base[step.kind]}_local"
        templates = local_source(self.ops[step.kind], len(args))
        if templates:
            derivatives = [t.format(*args, out=f"v{index}") for t in templates]
        else:
            self.emit(f"d = {local}(v{index}, {_wrapped(args)})  # {local}")
            derivatives = [f"d[{position}]" for position in range(len(step.parents))]
        for parent, derivative in zip(step.parents, derivatives, strict=True):
            if self.needs_grad[parent]:
                self._add(parent, _times(derivative, f"g{index}"), f"  # {local}" * bool(templates))

    def _add(self, parent: int, contribution: str, comment: str) -> None:
        """``g_parent += contribution``, or ``=`` for the first (``-=`` for a negated one)."""
        if parent not in self.has_grad:
            self.has_grad.add(parent)
            self.emit(f"g{parent} = {contribution}{comment}")
        elif contribution.startswith("-") and contribution[1:].isidentifier():
            self.emit(f"g{parent} -= {contribution[1:]}{comment}")
        else:
            self.emit(f"g{parent} += {contribution}{comment}")


def _times(derivative: str, upstream: str) -> str:
    """``derivative * upstream``, written shorter where that is exact in IEEE arithmetic."""
    if derivative == "1.0":
        return upstream
    if derivative == "-1.0":
        return f"-{upstream}"
    return f"{derivative} * {upstream}"


def _wrapped(args: list[str]) -> str:
    """Arguments of a call, LINE_ARGUMENTS to a line."""
    rows = [", ".join(args[i : i + LINE_ARGUMENTS]) for i in range(0, len(args), LINE_ARGUMENTS)]
    return ",\n        ".join(rows)


def _checked_forward(entry: Op) -> Callable[..., float]:
    """The entry's forward with the engine's domain check, as eager ops run it."""

    def forward(*numbers: float) -> float:
        split = len(numbers) - entry.constants
        return evaluate(entry, numbers[:split], numbers[split:])

    forward.__name__ = f"{entry.name}_forward"
    return forward


# --- the compiled function --------------------------------------------------------------------


class CompiledFunction:
    """f compiled for one graph shape: value and gradients for new inputs and parameter values.

    Calling it, ``cf(*inputs)``, returns f's value and adds the gradient to each parameter's
    ``.grad`` (parameters accumulate, as with ``backward()``); ``value_and_grad(*inputs)`` returns
    the value and a list of gradients, one per parameter, and touches no ``.grad``. The parameters'
    current ``.data`` is read on every call, so an optimizer can update them in place.
    """

    def __init__(
        self, source: str, name: str, params: Sequence[Value], n_inputs: int, names: dict[str, Any]
    ) -> None:
        self.source = source
        self.filename = f"<micrograd_like compiled {name.rsplit('_', 1)[-1]}>"
        self.params = list(params)
        self.n_inputs = n_inputs
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        weakref.finalize(self, linecache.cache.pop, self.filename, None)
        namespace: dict[str, Any] = dict(names)
        exec(compile(source, self.filename, "exec"), namespace)
        self._function: Callable[[Sequence[float], list[float]], tuple[float, list[float]]]
        self._function = namespace[name]

    def warm_up(self, inputs: Sequence[float], calls: int = WARM_UP_CALLS) -> None:
        """Call the generated code a few times at ``inputs``; it changes nothing (no ``.grad``).

        Python 3.11 specializes a function's bytecode only after its 8th call, and straight-line
        code has no loop to get there sooner: moons' compiled step ran 46.9 M instructions cold,
        33.9 M warm (callgrind). A training run makes thousands of calls; warming here makes
        the first ones as fast as the rest.
        """
        weights = [p.data for p in self.params]
        try:
            for _ in range(checked_count(calls, "CompiledFunction.warm_up", "calls", low=0)):
                self._function(list(inputs), weights)
        except (ArithmeticError, ValueError):
            return  # a derivative that fails at the example point fails at the call, by name

    def __repr__(self) -> str:
        lines = self.source.count("\n")
        return (
            f"CompiledFunction({self.filename}, {self.n_inputs} inputs, "
            f"{len(self.params)} parameters, {lines} lines)"
        )

    def value_and_grad(
        self, *inputs: float, weights: Sequence[float] | None = None
    ) -> tuple[float, list[float]]:
        """f's value at ``inputs`` and d(f)/d(param) for each parameter, in order.

        ``weights``, one float per parameter, replaces the parameters' ``.data`` for this call:
        a training loop that keeps its weights in a list (and updates them there) never pays
        for reading and writing thousands of Values.
        """
        if len(inputs) != self.n_inputs:
            raise TypeError(f"{self.filename}: expected {self.n_inputs} inputs, got {len(inputs)}")
        numbers = list(inputs)
        if not all(type(x) is float and x - x == 0 for x in numbers):  # else: finite floats
            numbers = [
                checked_float(x, f"{self.filename}: input {i}") for i, x in enumerate(inputs)
            ]
        now = [p.data for p in self.params] if weights is None else self._weights(weights)
        try:
            return self._function(numbers, now)
        except (ArithmeticError, ValueError) as error:
            raise _with_line(error, self.filename) from error

    def _weights(self, weights: Sequence[float]) -> list[float]:
        """``weights`` as finite floats, one per parameter (a nan would give a nan silently)."""
        given = checked_sequence(weights, f"{self.filename}", "weights")
        if len(given) != len(self.params):
            raise TypeError(
                f"{self.filename}: weights has {len(given)} numbers for {len(self.params)} "
                "parameters"
            )
        now = list(given)
        if not _finite_sum(now):  # one C-speed sum: 15 us for GPT's 4,192 weights, not 600
            now = [checked_float(w, f"{self.filename}: weight {i}") for i, w in enumerate(now)]
        return now

    def __call__(self, *inputs: float) -> float:
        value, grads = self.value_and_grad(*inputs)
        for p, g in zip(self.params, grads, strict=True):
            p.grad += g
        return value


def _finite_sum(numbers: list[float]) -> bool:
    """True when the numbers sum to a finite float: then none is nan, inf, a str or a Value.

    False may also mean the sum overflowed; the caller then checks each number by itself.
    """
    try:
        total = sum(numbers, 0.0)
    except (TypeError, OverflowError):
        return False
    return type(total) is float and math.isfinite(total)


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
            becomes a constant baked into the code. It may not read any Value's data (``.data``,
            ``float()``, comparisons): that is refused, naming the line, since the compiled code
            could not follow a branch taken on data.
        example_inputs: numbers to trace at; the compiled function takes as many.
        params: the leaves to differentiate with respect to (a model's ``parameters()``).
        check_inputs: more input points to trace at; f is refused (``TracingError``) if the graph
            at any of them differs.
        checks: how many perturbed points (inputs and parameters) to trace at as well, a second
            line of defence: the first flips every sign, the others are random; points where f
            raises are skipped. Must be 0 or more.
        rng: for the random points; ``random.Random(0)`` when None, so compiling is repeatable.

    Returns:
        A ``CompiledFunction``; print its ``.source`` to read the generated code.
    """
    if not is_grad_enabled():
        raise TracingError("compile_fn: called inside no_grad(), so f builds no graph to trace")
    if isinstance(checks, bool) or not isinstance(checks, int) or checks < 0:
        raise ValueError(f"compile_fn: checks must be a whole number >= 0, got {checks!r}")
    if not callable(f):
        raise TypeError(f"compile_fn: f must be a function that builds a Value, got {f!r}")
    inputs = [
        checked_float(x, f"compile_fn: example input {i}")
        for i, x in enumerate(checked_sequence(example_inputs, "compile_fn", "example_inputs"))
    ]
    params = checked_value_iterable(params, "compile_fn", "params")
    if len(set(params)) != len(params):
        raise TypeError("compile_fn: params must be distinct Values")
    made = [p for p in params if p.parents]
    if made:
        raise TypeError(
            f"compile_fn: params must be leaves, but {made[0]!r} was made by an op; "
            "differentiate with respect to the leaves it was made from"
        )
    reference = _trace(f, inputs, params)
    weights = [p.data for p in params]
    given = [(_check_point(point, len(inputs)), weights)
             for point in checked_sequence(check_inputs, "compile_fn", "check_inputs")]  # fmt: skip
    _check_same_structure(f, reference.steps, given, params, False)
    rng = random.Random(0) if rng is None else checked_rng(rng, "compile_fn")
    others = _other_points(inputs, params, checks, rng)
    _check_same_structure(f, reference.steps, others, params, True)
    name = f"compiled_{next(_filenames)}"
    writer = _Writer(reference, len(inputs), len(params))
    compiled = CompiledFunction(writer.source(name), name, params, len(inputs), writer.namespace())
    compiled.warm_up(inputs)
    return compiled


def _check_point(point: Sequence[float], n_inputs: int) -> list[float]:
    """One of compile_fn's check_inputs: as many finite numbers as the example has."""
    numbers = checked_sequence(point, "compile_fn", "each of check_inputs")
    if len(numbers) != n_inputs:
        raise ValueError(
            f"compile_fn: check input {list(numbers)!r} has {len(numbers)} numbers, but the "
            f"example inputs have {n_inputs}"
        )
    return [checked_float(x, "compile_fn: check input") for x in numbers]


class CompiledCache:
    """One compiled function per shape, compiled the first time the shape is asked for.

    ``build(key)`` returns ``(f, example_inputs)`` for a shape key (a GPT's sequence length,
    say); ``cache(key)`` gives the ``CompiledFunction`` for it, tracing and compiling only on
    the first request. All share ``params``, so a whole training run uses one cache.
    """

    def __init__(
        self,
        build: Callable[[Hashable], tuple[Callable[..., Value], Sequence[float]]],
        params: Sequence[Value],
        **options: Any,
    ) -> None:
        if not callable(build):
            raise TypeError(f"CompiledCache: build must be a function of a key, got {build!r}")
        self.build = build
        self.params = list(params)
        self.options = options  # passed on to compile_fn: checks, rng, check_inputs
        self.compiled: dict[Hashable, CompiledFunction] = {}

    def __call__(self, key: Hashable) -> CompiledFunction:
        found = self.compiled.get(key)
        if found is None:
            f, example = self.build(key)
            found = self.compiled[key] = compile_fn(f, example, self.params, **self.options)
        return found

    def __len__(self) -> int:
        return len(self.compiled)

    def __repr__(self) -> str:
        return f"CompiledCache({len(self)} shapes: {sorted(map(repr, self.compiled))})"
