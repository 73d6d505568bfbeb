"""Hypothesis strategies for gradient property tests: operands on an op's domain, random graphs.

``domain(op)`` and ``operands(op)`` draw numbers where an op is defined and smooth, with sane
magnitudes so finite differences mean something (``log``: positive and away from 0, ``relu``: away
from its kink). ``expressions(ops)`` draws random expression graphs over any ops, built-in names or
``ops.CustomOp`` objects: DAGs that reuse nodes, built step by step so every op's operands lie in
its domain. An ``Expression`` rebuilds its graph at any point, so it is the ``f`` of
``gradcheck(expr, expr.inputs)``, and its repr is the formula, one step per line. This is the only
module of the package that imports hypothesis, a test dependency.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    from hypothesis import reject
    from hypothesis import strategies as st
except ImportError as error:  # hypothesis is a test dependency, not a runtime one
    raise ImportError(
        "micrograd_like.strategies needs hypothesis, which is a test dependency: "
        "pip install 'micrograd_like[test]' (or pip install hypothesis)"
    ) from error

from micrograd_like.arguments import checked_real
from micrograd_like.engine import Value, grad, linear, sum_of
from micrograd_like.optable import VARIADIC, Op, all_ops

OpName = str | Op

# Guards that keep finite differences meaningful: bounded values and local slopes, a margin
# around domain edges and kinks, and a bound on how strongly any node depends on any input.
VALUE_LIMIT = 100.0
SLOPE_LIMIT = 20.0
MARGIN = 0.01
SENSITIVITY_LIMIT = 1000.0
EXPONENTS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
_TRIES = 8


@dataclass(frozen=True)
class Slot:
    """An operand that is an earlier node of the expression (inputs first, then steps)."""

    index: int


@dataclass(frozen=True)
class Step:
    """One op of an expression: its name and its operands (Slots, or plain-number constants)."""

    op: str
    args: tuple[Slot | float, ...]


@dataclass(frozen=True)
class _Spec:
    """How to apply, show and draw operands for one op."""

    name: str
    kind: str  # unary | binary | n-ary | pow | linear | sum
    apply: Callable[..., Value]
    arity: int = 1  # ignored by the variadic kinds linear and sum
    kinks: tuple[float, ...] = ()


def _sum(*terms: Value) -> Value:
    return sum_of(terms)


def _linear(*operands: Value | float) -> Value:
    """linear() over flat operands: n weights, n inputs, then the bias."""
    n = (len(operands) - 1) // 2
    weights, bias = operands[:n], operands[-1]
    if not isinstance(bias, Value) or not all(isinstance(w, Value) for w in weights):
        raise TypeError(f"linear: weights and bias must be nodes, got {operands!r}")
    return linear([w for w in weights if isinstance(w, Value)], operands[n : 2 * n], bias)


# The n-ary ops have operand layouts of their own; linear() makes a linear_const node itself
# when every input it is given is a constant, so one "linear" spec draws both.
_VARIADIC_SPECS = {"linear": _Spec("linear", "linear", _linear), "sum": _Spec("sum", "sum", _sum)}
_MADE_BY = {"linear_const": "linear"}
_SUB = _Spec("sub", "binary", operator.sub, 2)
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "pow_value": "**"}


def _entry_spec(entry: Op) -> _Spec:
    """What the op table says of an op, as the strategies use it."""
    if entry.arity == VARIADIC:
        return _VARIADIC_SPECS[_MADE_BY.get(entry.name, entry.name)]
    if entry.constants:
        return _Spec(entry.name, "pow", operator.pow, 2, entry.kinks)
    kind = {1: "unary", 2: "binary"}.get(entry.arity, "n-ary")
    return _Spec(entry.name, kind, entry, entry.arity, entry.kinks)


def _builtin_specs() -> dict[str, _Spec]:
    specs: dict[str, _Spec] = {}
    for entry in all_ops():
        if entry.builtin and entry.name not in _MADE_BY:
            specs[entry.name] = _entry_spec(entry)
            if entry.name == "add":  # a - b, derived from + and unary -, beside it
                specs[_SUB.name] = _SUB
    return specs


_BUILTIN = _builtin_specs()
BUILTIN_OPS: tuple[str, ...] = tuple(_BUILTIN)


def _spec(op: OpName) -> _Spec:
    if isinstance(op, Op):
        if op.builtin:
            return _BUILTIN[_MADE_BY.get(op.name, op.name)]
        return _entry_spec(op)
    if op not in _BUILTIN:
        raise ValueError(f"strategies: unknown op {op!r}; known: {', '.join(BUILTIN_OPS)}")
    return _BUILTIN[op]


# --- the expression ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Expression:
    """A random expression graph: call it with one Value per input to rebuild it anywhere."""

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]
    _specs: Mapping[str, _Spec] = field(compare=False)

    @classmethod
    def from_steps(
        cls, inputs: Sequence[float], steps: Sequence[Step], ops: Sequence[Op] = ()
    ) -> Expression:
        """An expression written by hand (say, a shrunk failure kept as a regression test)."""
        catalogue = {**_BUILTIN, **{spec.name: spec for spec in map(_spec, ops)}}
        unknown = sorted({step.op for step in steps} - catalogue.keys())
        if unknown:
            raise ValueError(f"Expression: unknown ops {unknown}; pass custom ops as ops=[...]")
        return cls(tuple(map(float, inputs)), tuple(steps), catalogue)

    def __call__(self, values: Sequence[Value | float]) -> Value:
        """The graph's output, built on ``values`` (numbers become constant leaves)."""
        if len(values) != len(self.inputs):
            raise ValueError(f"Expression takes {len(self.inputs)} inputs, got {len(values)}")
        nodes = [v if isinstance(v, Value) else Value(v, f"x{i}") for i, v in enumerate(values)]
        for step in self.steps:
            args = [nodes[a.index] if isinstance(a, Slot) else a for a in step.args]
            nodes.append(self._specs[step.op].apply(*args))
        return nodes[-1]

    @property
    def size(self) -> int:
        """How many ops the expression applies."""
        return len(self.steps)

    @property
    def formula(self) -> str:
        """One line per step, ``t3 = tanh(t1)``, ending with the output."""
        lines = [
            f"{self._name(len(self.inputs) + i)} = {self._show(step)}"
            for i, step in enumerate(self.steps)
        ]
        output = self._name(len(self.inputs) + len(self.steps) - 1)
        return "\n".join([*lines, f"out = {output}"])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Show the formula in hypothesis' failure output, which pretty-prints dataclasses."""
        printer.text(repr(self))

    def __repr__(self) -> str:
        body = "\n".join(f"    {line}" for line in self.formula.splitlines())
        return f"Expression(inputs={list(self.inputs)!r}):\n{body}"

    def _name(self, index: int) -> str:
        n = len(self.inputs)
        return f"x{index}" if index < n else f"t{index - n}"

    def _show(self, step: Step) -> str:
        args = [self._name(a.index) if isinstance(a, Slot) else repr(a) for a in step.args]
        kind = self._specs[step.op].kind
        if step.op in _SYMBOLS:
            return f"{args[0]} {_SYMBOLS[step.op]} {args[1]}"
        if step.op == "neg":
            return f"-{args[0]}"
        if kind == "linear":
            n = (len(args) - 1) // 2
            return f"linear([{', '.join(args[:n])}], [{', '.join(args[n : 2 * n])}], {args[-1]})"
        if kind == "sum":
            return f"sum_of([{', '.join(args)}])"
        return f"{step.op}({', '.join(args)})"


# --- checking a candidate op ------------------------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    value: float
    slopes: dict[int, float]  # d(result)/d(slot) for each slot the op reads


def _probe(spec: _Spec, args: Sequence[Slot | float], data: Sequence[float]) -> _Probe | None:
    """The op's value and slopes at ``data`` if it is defined, smooth and tame there, else None.

    Slopes are bounded per operand position, not per node: ``t / t`` has slope 0 along ``t`` but
    1/t along each position, and backward() adds those, so a tiny t would cancel catastrophically.
    """
    if any(abs(data[a.index] - k) < MARGIN for a in _slots(args) for k in spec.kinks):
        return None
    smooth = spec.apply.smooth if isinstance(spec.apply, Op) else None
    first = data[args[0].index] if isinstance(args[0], Slot) else args[0]
    if smooth is not None and first - MARGIN not in smooth:  # a**b's log(a) needs a > 0
        return None
    here = _evaluate(spec, args, data, 0.0)
    if here is None or abs(here[0]) > VALUE_LIMIT or any(abs(d) > SLOPE_LIMIT for d in here[1]):
        return None
    if _evaluate(spec, args, data, MARGIN) is None or _evaluate(spec, args, data, -MARGIN) is None:
        return None
    slopes: dict[int, float] = {}
    for slot, slope in zip(_slots(args), here[1], strict=True):
        slopes[slot.index] = slopes.get(slot.index, 0.0) + slope
    return _Probe(here[0], slopes)


def _slots(args: Sequence[Slot | float]) -> list[Slot]:
    return [a for a in args if isinstance(a, Slot)]


def _evaluate(
    spec: _Spec, args: Sequence[Slot | float], data: Sequence[float], shift: float
) -> tuple[float, list[float]] | None:
    """The op's value and its slope along each operand position, with every node operand
    moved by ``shift``; None where either is undefined."""
    leaves = [Value(data[a.index] + shift) if isinstance(a, Slot) else a for a in args]
    try:
        out = spec.apply(*leaves)
        slopes = [d.data for d in grad(out, [v for v in leaves if isinstance(v, Value)])]
    except (ArithmeticError, ValueError):
        return None
    if not all(map(math.isfinite, (out.data, *slopes))):
        return None
    return out.data, slopes


# --- operands on an op's domain ---------------------------------------------------------------


def _raw_operand(spec: _Spec, position: int, magnitude: float) -> st.SearchStrategy[float]:
    """Numbers for one operand, inside the op's domain as its table entry states it."""
    if spec.kind == "pow" and position == 1:
        return st.sampled_from(EXPONENTS)
    if position == 0 and isinstance(spec.apply, Op):
        within = spec.apply.smooth or spec.apply.domain
        low, high = max(within.low, -magnitude), min(within.high, magnitude)
        if low > -magnitude:  # keep finite differences away from the edge of the domain
            low += 1 / SLOPE_LIMIT
        return st.floats(low, high)
    return st.floats(-magnitude, magnitude)


def _operand_count(spec: _Spec) -> st.SearchStrategy[int]:
    if spec.kind == "linear":
        return st.integers(1, 3).map(lambda n: 2 * n + 1)
    if spec.kind == "sum":
        return st.integers(1, 5)
    return st.just(spec.arity)


def operands(op: OpName, *, magnitude: float = 4.0) -> st.SearchStrategy[tuple[float, ...]]:
    """Tuples of numbers, one per operand of ``op``, where it is defined, smooth and tame.

    ``pow`` (Value ** number) gives (base, exponent), ``linear`` gives 2n+1 numbers (n weights,
    n inputs, the bias), ``sum`` gives 1 to 5 terms.
    """
    spec = _spec(op)
    _check_magnitude(magnitude, "operands")

    @st.composite
    def draw_operands(draw: st.DrawFn) -> tuple[float, ...]:
        count = draw(_operand_count(spec))
        data = tuple(draw(_raw_operand(spec, i, magnitude)) for i in range(count))
        args: list[Slot | float] = [Slot(i) for i in range(count)]
        if spec.kind == "pow":
            args[1] = data[1]
        if _probe(spec, args, data) is None:
            reject()
        return data

    return draw_operands()


def domain(op: OpName, *, magnitude: float = 4.0) -> st.SearchStrategy[float]:
    """Numbers where the one-operand op ``op`` is defined, smooth and tame (``log``: x > 0.05)."""
    spec = _spec(op)
    if spec.kind != "unary":
        raise ValueError(f"domain({spec.name!r}): the op takes several operands; use operands()")
    return operands(op, magnitude=magnitude).map(operator.itemgetter(0))


# --- random expression graphs -----------------------------------------------------------------


def expressions(
    ops: Sequence[OpName] = BUILTIN_OPS,
    *,
    min_inputs: int = 1,
    max_inputs: int = 3,
    min_ops: int = 1,
    max_ops: int = 12,
    magnitude: float = 2.0,
) -> st.SearchStrategy[Expression]:
    """Random expression graphs over ``ops`` (names from BUILTIN_OPS or CustomOp objects).

    Operands are earlier nodes, often reused, or sometimes constants; a drawn op whose operands
    fall outside its domain, near a kink, or make values or slopes blow up is replaced by another
    draw. Nodes nothing else consumes are added up by a final ``sum_of``, so every op counts.
    """
    if isinstance(ops, str):  # would be read one letter at a time
        raise TypeError(f"expressions: ops must be a list of op names, got {ops!r}; try [{ops!r}]")
    _check_magnitude(magnitude, "expressions")
    specs = [_spec(op) for op in ops]
    if not specs:
        raise ValueError("expressions: give at least one op")
    if not 1 <= min_inputs <= max_inputs or not 1 <= min_ops <= max_ops:
        raise ValueError("expressions: need 1 <= min_inputs <= max_inputs, 1 <= min_ops <= max_ops")
    catalogue = {spec.name: spec for spec in (*specs, _BUILTIN["sum"])}

    @st.composite
    def draw_expression(draw: st.DrawFn) -> Expression:
        n_inputs = draw(st.integers(min_inputs, max_inputs))
        inputs = tuple(draw(st.floats(-magnitude, magnitude)) for _ in range(n_inputs))
        builder = _Builder(inputs)
        for _ in range(draw(st.integers(min_ops, max_ops))):
            if not any(builder.try_add(draw, draw(st.sampled_from(specs))) for _ in range(_TRIES)):
                builder.add_fallback(specs)
        builder.close()
        return Expression(inputs, tuple(builder.steps), catalogue)

    return draw_expression()


def _check_magnitude(magnitude: float, where: str) -> None:
    """A positive finite bound: nan or a negative one fails only later, inside hypothesis."""
    if checked_real(magnitude, where, "magnitude") <= 0:
        raise ValueError(f"{where}: magnitude must be a positive number, got {magnitude!r}")


class _Builder:
    """Grows an expression one checked step at a time, tracking each node's value and slopes."""

    def __init__(self, inputs: tuple[float, ...]) -> None:
        n = len(inputs)
        self.data = list(inputs)
        self.sensitivity = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
        self.steps: list[Step] = []

    def try_add(self, draw: st.DrawFn, spec: _Spec) -> bool:
        return self._accept(spec, _draw_args(draw, spec, len(self.data)))

    def add_fallback(self, specs: Sequence[_Spec]) -> None:
        """Every drawn candidate failed: take the first op that works on a recent node."""
        for spec in specs:
            for slot in reversed(range(len(self.data))):
                if self._accept(spec, _repeated_args(spec, slot)):
                    return
        reject()

    def close(self) -> None:
        """Sum the nodes no step consumes, so the output depends on every step."""
        used = {a.index for step in self.steps for a in step.args if isinstance(a, Slot)}
        first = len(self.data) - len(self.steps)
        sinks = [Slot(i) for i in range(first, len(self.data)) if i not in used]
        if len(sinks) > 1:
            self.steps.append(Step("sum", tuple(sinks)))

    def _accept(self, spec: _Spec, args: tuple[Slot | float, ...]) -> bool:
        probe = _probe(spec, args, self.data)
        if probe is None:
            return False
        sensitivity = [
            sum(abs(slope) * self.sensitivity[s][j] for s, slope in probe.slopes.items())
            for j in range(len(self.sensitivity[0]))
        ]
        if max(sensitivity) > SENSITIVITY_LIMIT:
            return False
        self.data.append(probe.value)
        self.sensitivity.append(sensitivity)
        self.steps.append(Step(spec.name, args))
        return True


def _draw_slot(draw: st.DrawFn, count: int) -> Slot:
    """An earlier node, half the time one of the last few (deep graphs), else any (reuse)."""
    if draw(st.booleans()):
        return Slot(count - 1 - draw(st.integers(0, min(3, count - 1))))
    return Slot(draw(st.integers(0, count - 1)))


def _draw_slot_or_constant(draw: st.DrawFn, count: int) -> Slot | float:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from((-1.5, -0.5, 0.5, 2.0, 3.0)))
    return _draw_slot(draw, count)


def _draw_args(draw: st.DrawFn, spec: _Spec, count: int) -> tuple[Slot | float, ...]:
    if spec.kind == "binary":
        left, right = _draw_slot(draw, count), _draw_slot_or_constant(draw, count)
        constant_first = not isinstance(right, Slot) and draw(st.booleans())
        return (right, left) if constant_first else (left, right)
    if spec.kind == "pow":
        return (_draw_slot(draw, count), draw(st.sampled_from(EXPONENTS)))
    if spec.kind == "linear":
        n = draw(st.integers(1, 3))
        weights = [_draw_slot(draw, count) for _ in range(n)]
        xs = [_draw_slot_or_constant(draw, count) for _ in range(n)]
        return (*weights, *xs, _draw_slot(draw, count))
    if spec.kind == "sum":
        return tuple(_draw_slot(draw, count) for _ in range(draw(st.integers(2, 4))))
    return tuple(_draw_slot(draw, count) for _ in range(spec.arity))


def _repeated_args(spec: _Spec, slot: int) -> tuple[Slot | float, ...]:
    """The simplest operands for a fallback: the same node everywhere (pow squares it)."""
    if spec.kind == "pow":
        return (Slot(slot), 2.0)
    count = 3 if spec.kind == "linear" else 2 if spec.kind == "sum" else spec.arity
    return (Slot(slot),) * count
