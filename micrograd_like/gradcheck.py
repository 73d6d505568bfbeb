"""Gradient checking: compare the engine's derivatives with central finite differences.

``f`` takes a list of Values (one per input) and returns a Value; the checker calls it with fresh
leaves built from ``inputs``, so ``f`` can be any function, a closure over parameters or a
``strategies.Expression``. ``gradcheck`` compares backward() with central differences,
``gradgradcheck`` compares second derivatives (grad with create_graph=True) with central
differences of first derivatives. On disagreement both raise ``GradcheckError`` with a table of
analytic and numeric values side by side, or ``KinkError`` when the difference straddles a point
where ``f`` is not differentiable (a relu at 0). The checker as a library module follows tinygrad;
the side-by-side report follows HIPS autograd's tests.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from micrograd_like.checks import short_number
from micrograd_like.engine import Value, grad, topological_order
from micrograd_like.names import format_number, node_names
from micrograd_like.optable import Op

Function = Callable[[list[Value]], Value]
Inputs = Sequence[float | Value]
Measure = Callable[[list[Value]], tuple[Value, list[float]]]


class GradcheckError(AssertionError):
    """Analytic and numeric derivatives disagree; the message is a table of both.

    ``culprits`` lists the ops of f's graph whose own local derivative disagrees with central
    differences of their own forward, at that node's operands (gradcheck only).
    """

    culprits: tuple[LocalMismatch, ...] = ()


@dataclass(frozen=True)
class LocalMismatch:
    """One node whose op's local derivative is wrong at its operands: the likely culprit."""

    node: str  # the node's name in f's graph: softplus(x*y)
    op: str
    local: str  # the local derivative's function name: softplus_local
    operand: int
    operands: tuple[float, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        at = ", ".join(format_number(x) for x in self.operands)
        return (
            f"{self.node}: {self.local} gives d/d(operand {self.operand}) = {self.analytic:.8g} "
            f"at ({at}); central differences of {self.op}'s forward give {self.numeric:.8g}"
        )


class KinkError(GradcheckError):
    """The finite difference straddles a point where f has no derivative, so it proves nothing."""


@dataclass(frozen=True)
class _Point:
    """Where derivatives are taken: one number (and a label for the report) per input."""

    data: tuple[float, ...]
    labels: tuple[str, ...]

    def leaves(self) -> list[Value]:
        return [Value(x, label) for x, label in zip(self.data, self.labels, strict=True)]

    def moved(self, index: int, step: float) -> _Point:
        data = list(self.data)
        data[index] += step
        return _Point(tuple(data), self.labels)

    def name(self, index: int) -> str:
        return self.labels[index] or f"x{index}"


@dataclass(frozen=True)
class _Kink:
    """A kinked op in f's graph: which node, its operand, and the kink the operand sits near."""

    op: str
    node_index: int
    operand: float
    kink: float


@dataclass(frozen=True)
class _Estimate:
    """A central difference, the one-sided differences beside it, and the kinks it straddles."""

    central: float
    right: float
    left: float
    straddled: tuple[_Kink, ...]


@dataclass(frozen=True)
class _Row:
    name: str
    value: float
    analytic: float
    estimate: _Estimate
    ok: bool


def numerical_grad(f: Function, inputs: Inputs, eps: float = 1e-6) -> list[float]:
    """df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every input, as floats.

    ``eps`` must be a real number with 0 < eps < 1; anything else is refused (TypeError for a
    non-number, ValueError for nan, inf, zero, negative or too large), naming the value.
    """
    eps = _step(eps, "numerical_grad")
    point = _point(f, inputs, "numerical_grad")
    columns = _central_differences(_value_of(f), point, eps)
    return [column[0].central for column in columns]


def gradcheck(
    f: Function, inputs: Inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """Raise GradcheckError unless backward() agrees with central differences for every input.

    An input passes when both are finite and ``|analytic - numeric| <= atol + rtol * |numeric|``.
    Inputs that are Values lend their data and label only: f gets fresh leaves, so their
    ``.grad`` is untouched (Values that f closes over do accumulate gradient, as in any
    backward()).

    ``eps`` must satisfy 0 < eps < 1, and ``atol`` and ``rtol`` must be finite real numbers
    >= 0: a TypeError or ValueError names the argument and its value otherwise. Infinite
    tolerances are refused rather than honoured: with ``atol=inf`` every finite derivative,
    however wrong, would pass, so the call would look like a check and check nothing (nan is
    refused too, as it would fail every row for no reason the table could show). To skip a
    check, do not call it; to loosen it, give a large finite tolerance.
    """
    __tracebackhide__ = True  # pytest shows the caller's line and the table, not this function
    eps, atol, rtol = _settings("gradcheck", eps, atol, rtol)
    point = _point(f, inputs, "gradcheck")
    leaves = point.leaves()
    out = _call(f, leaves, "gradcheck")
    out.backward()
    columns = _central_differences(_value_of(f), point, eps)
    rows = [
        _row(point.name(i), point.data[i], leaf.grad, column[0], atol, rtol)
        for i, (leaf, column) in enumerate(zip(leaves, columns, strict=True))
    ]
    if not all(row.ok for row in rows):
        named = {leaf: point.name(i) for i, leaf in enumerate(leaves)}  # x0, x1 when unlabelled
        culprits = local_mismatches(out, eps=eps, atol=atol, rtol=rtol, inputs=named)
        _raise_on_failure("gradcheck", "input", rows, eps, atol, rtol, culprits)


def gradgradcheck(
    f: Function, inputs: Inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """Raise GradcheckError unless every second derivative d2f/dx_i dx_j, from grad() with
    create_graph=True, agrees with central differences of the first derivatives.

    ``eps``, ``atol`` and ``rtol`` are checked as in ``gradcheck`` (no infinite tolerances).
    """
    __tracebackhide__ = True
    eps, atol, rtol = _settings("gradgradcheck", eps, atol, rtol)
    point = _point(f, inputs, "gradgradcheck")
    leaves = point.leaves()
    firsts = grad(_call(f, leaves, "gradgradcheck"), leaves, create_graph=True)
    hessian = [[d.data for d in grad(first, leaves)] for first in firsts]
    columns = _central_differences(_first_derivatives_of(f), point, eps)
    rows = [
        _row(
            f"d2f/d{point.name(i)} d{point.name(j)}",
            point.data[j],
            hessian[i][j],
            columns[j][i],
            atol,
            rtol,
        )
        for i in range(len(leaves))
        for j in range(len(leaves))
    ]
    _raise_on_failure("gradgradcheck", "second derivative", rows, eps, atol, rtol)


# --- evaluating f -----------------------------------------------------------------------------


def _real(value: object, name: str, where: str) -> float:
    """``value`` as a float if it is a real number (not a bool), else a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}: {name} must be a real number, got {value!r} of type {type(value).__name__}"
        )
    try:
        return float(value)
    except OverflowError:
        raise OverflowError(
            f"{where}: {name} is {short_number(value)}, too large for a float"
        ) from None


def _step(eps: object, where: str) -> float:
    """The finite-difference step: a real number with 0 < eps < 1 (so not nan, not inf)."""
    step = _real(eps, "eps", where)
    if not 0 < step < 1:
        raise ValueError(f"{where}: eps must be a small positive number (0 < eps < 1), got {eps!r}")
    return step


def _tolerance(value: object, name: str, where: str) -> float:
    """A tolerance: a finite real number >= 0. Infinity would let any wrong derivative pass."""
    tolerance = _real(value, name, where)
    if math.isnan(tolerance) or tolerance < 0:
        raise ValueError(f"{where}: {name} must be a number >= 0, got {value!r}")
    if math.isinf(tolerance):
        raise ValueError(
            f"{where}: {name} must be finite, got {value!r}: an infinite tolerance lets every "
            "derivative pass, however wrong; give a large finite number to loosen the check"
        )
    return tolerance


def _settings(where: str, eps: object, atol: object, rtol: object) -> tuple[float, float, float]:
    """The checked step and tolerances of one check, as floats."""
    return _step(eps, where), _tolerance(atol, "atol", where), _tolerance(rtol, "rtol", where)


def _point(f: Function, inputs: Inputs, where: str) -> _Point:
    """Check f and the inputs, and keep each input's number and label."""
    if not callable(f):
        raise TypeError(f"{where}: f must be a function of a list of Values, got {f!r}")
    if isinstance(inputs, (Value, str)) or not isinstance(inputs, Iterable):
        raise TypeError(f"{where}: inputs must be a list of numbers or Values, got {inputs!r}")
    data: list[float] = []
    labels: list[str] = []
    for index, x in enumerate(inputs):
        if isinstance(x, Value):
            data.append(x.data)
            labels.append(x.label)
        elif isinstance(x, numbers.Real) and not isinstance(x, bool) and _finite(x):
            data.append(float(x))
            labels.append("")
        else:
            shown = short_number(x)
            raise TypeError(f"{where}: input {index} is {shown}; expected a finite number or Value")
    if not data:
        raise ValueError(f"{where}: no inputs to differentiate with respect to")
    return _Point(tuple(data), tuple(labels))


def _finite(x: numbers.Real) -> bool:
    """A finite number that fits a float (math.isfinite raises on an integer of 400 digits)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _call(f: Function, leaves: list[Value], where: str) -> Value:
    out = f(leaves)
    if not isinstance(out, Value):
        raise TypeError(f"{where}: f must return a Value, got {out!r} of type {type(out).__name__}")
    return out


def _value_of(f: Function) -> Measure:
    def value(leaves: list[Value]) -> tuple[Value, list[float]]:
        out = _call(f, leaves, "finite differences")
        return out, [out.data]

    return value


def _first_derivatives_of(f: Function) -> Measure:
    def first_derivatives(leaves: list[Value]) -> tuple[Value, list[float]]:
        out = _call(f, leaves, "gradgradcheck")
        return out, [d.data for d in grad(out, leaves)]

    return first_derivatives


def _central_differences(measure: Measure, point: _Point, eps: float) -> list[list[_Estimate]]:
    """For each input, an estimate of the derivative of every measured number along it."""
    base_graph, base = measure(point.leaves())
    base_kinks = _kink_sides(base_graph)
    columns = []
    for index in range(len(point.data)):
        plus_graph, plus = _measure_moved(measure, point, index, eps)
        minus_graph, minus = _measure_moved(measure, point, index, -eps)
        straddled = tuple(
            _straddled(base_kinks, _kink_sides(plus_graph))
            + _straddled(base_kinks, _kink_sides(minus_graph))
        )
        columns.append(
            [
                _Estimate((p - m) / (2 * eps), (p - b) / eps, (b - m) / eps, straddled)
                for b, p, m in zip(base, plus, minus, strict=True)
            ]
        )
    return columns


def _measure_moved(
    measure: Measure, point: _Point, index: int, step: float
) -> tuple[Value, list[float]]:
    """Measure f with one input moved, explaining a failure as a point too near a domain edge."""
    moved = point.moved(index, step)
    try:
        return measure(moved.leaves())
    except (ArithmeticError, ValueError) as error:
        raise ValueError(
            f"finite differences: f fails with input {point.name(index)} moved from "
            f"{point.data[index]!r} to {moved.data[index]!r} ({type(error).__name__}: {error}); "
            "the point is within eps of the edge of f's domain: move it or use a smaller eps"
        ) from error


def _kink_sides(root: Value) -> list[tuple[_Kink, bool]]:
    """Every operand of a kinked op in the graph, with the side of the kink it is on."""
    sides = []
    for index, node in enumerate(topological_order(root)):
        for kink in node.op_entry.kinks:  # the op table says where each op has kinks
            for parent in node.parents:
                sides.append((_Kink(node.op, index, parent.data, kink), parent.data > kink))
    return sides


def _straddled(base: list[tuple[_Kink, bool]], moved: list[tuple[_Kink, bool]]) -> list[_Kink]:
    """The kinks whose operand changed side when an input moved (same graph shape only)."""
    if len(base) != len(moved):
        return []
    pairs = zip(base, moved, strict=True)
    return [kink for (kink, side), (_, moved_side) in pairs if side != moved_side]


# --- the report -------------------------------------------------------------------------------


def _row(
    name: str, value: float, analytic: float, estimate: _Estimate, atol: float, rtol: float
) -> _Row:
    numeric = estimate.central
    both_finite = math.isfinite(analytic) and math.isfinite(numeric)  # inf - inf proves nothing
    ok = both_finite and abs(analytic - numeric) <= atol + rtol * abs(numeric)
    return _Row(name, value, analytic, estimate, ok)


def _relative_error(row: _Row) -> float:
    scale = max(abs(row.analytic), abs(row.estimate.central))
    return abs(row.analytic - row.estimate.central) / scale if scale else 0.0


def _raise_on_failure(
    check: str,
    what: str,
    rows: list[_Row],
    eps: float,
    atol: float,
    rtol: float,
    culprits: Sequence[LocalMismatch] = (),
) -> None:
    __tracebackhide__ = True
    failed = [row for row in rows if not row.ok]
    if not failed:
        return
    explanations = [_kink_explanation(row, eps) for row in failed]
    lines = [
        f"{check}: {len(failed)} of {len(rows)} derivatives disagree with central differences "
        f"(eps={eps:g}, atol={atol:g}, rtol={rtol:g})",
        *_table(what, rows),
        "a row passes when |analytic - numeric| <= atol + rtol * |numeric|",
        *(note for note in explanations if note),
    ]
    error = KinkError if all(explanations) else GradcheckError
    if error is GradcheckError:
        lines += _culprit_lines(check, culprits)
    raised = error("\n".join(lines))
    raised.culprits = tuple(culprits)
    raise raised


def _culprit_lines(check: str, culprits: Sequence[LocalMismatch]) -> list[str]:
    if check != "gradcheck":
        return []
    if not culprits:
        return [
            "every op's local derivative agrees with central differences of its own forward at "
            "its operands, so look at how f combines them (a Value read as a plain number, say)"
        ]
    shown = [f"  {culprit}" for culprit in culprits[:MAX_CULPRITS]]
    more = len(culprits) - MAX_CULPRITS
    return [
        f"the {'culprit' if len(culprits) == 1 else 'culprits'}: each op's local derivative "
        "checked on its own, at its node's operands, against its own forward:",
        *shown,
        *([f"  ... and {more} more"] if more > 0 else []),
    ]


# --- each op on its own: which local derivative is wrong --------------------------------------

MAX_CULPRITS = 3  # nodes named in a failure; the error's culprits attribute has them all


def local_mismatches(
    root: Value,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    inputs: Mapping[Value, str] | None = None,
) -> list[LocalMismatch]:
    """Every node of root's graph whose op's local derivative disagrees with central differences
    of the op's own forward at that node's operands, operands first (topological order).

    Operands within eps of a kink or where the forward is undefined nearby are not checked, nor
    are ops with no forward of their own (``Value.from_op``). ``inputs`` names leaves that have no
    label of their own, as gradcheck's table does.
    """
    if not isinstance(root, Value):
        raise TypeError(f"local_mismatches: root must be a Value, got {root!r}")
    order = topological_order(root)
    names = node_names(order, inputs)
    found = []
    for node in order:
        if not node.parents:
            continue
        try:
            slopes = node.local_grads()
        except (ArithmeticError, ValueError):  # undefined here (sqrt at 0): nothing to compare
            continue
        numbers = [parent.data for parent in node.parents]
        for index, slope in enumerate(slopes):
            numeric = _op_difference(node.op_entry, numbers, node.constants, index, eps)
            if numeric is None or _agree(float(slope), numeric, atol, rtol):
                continue
            local = getattr(node.op_entry.local, "__name__", "its local derivative")
            found.append(LocalMismatch(names[node], node.op, local, index, tuple(numbers),
                                       float(slope), numeric))  # fmt: skip
    return found


def _op_difference(
    entry: Op, numbers: list[float], constants: tuple[float, ...], index: int, eps: float
) -> float | None:
    """d(op)/d(operand index) by central differences of the op's forward, or None if unknown."""
    x = numbers[index]
    if any(abs(x - kink) <= eps for kink in entry.kinks):
        return None
    sides = []
    for step in (eps, -eps):
        moved = list(numbers)
        moved[index] = x + step
        try:
            sides.append(float(entry.forward(*moved, *constants)))
        except (ArithmeticError, ValueError, TypeError):  # the domain's edge, or no forward
            return None
    return (sides[0] - sides[1]) / (2 * eps)


def _agree(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    if not (math.isfinite(analytic) and math.isfinite(numeric)):
        return analytic == numeric or (math.isnan(analytic) and math.isnan(numeric))
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def _table(what: str, rows: list[_Row]) -> list[str]:
    width = max(len(what), *(len(row.name) for row in rows))
    header = ("value", "analytic", "numeric", "abs error", "rel error")
    lines = [f"  {what:<{width}} " + " ".join(f"{h:>15}" for h in header)]
    for row in rows:
        cells = (
            row.value,
            row.analytic,
            row.estimate.central,
            abs(row.analytic - row.estimate.central),
            _relative_error(row),
        )
        mark = "" if row.ok else "   <-- FAIL"
        lines.append(f"  {row.name:<{width}} " + " ".join(f"{c:>15.8g}" for c in cells) + mark)
    return lines


def _kink_explanation(row: _Row, eps: float) -> str:
    """Why a failing row's difference proves nothing, if it straddles a kink; else ''."""
    estimate = row.estimate
    if estimate.straddled:
        kink = estimate.straddled[0]
        return (
            f"{row.name}: {kink.op} input {kink.operand:.3g} (graph node {kink.node_index}) is "
            f"within the step eps={eps:g} of its kink at {kink.kink:g}, so the difference "
            "straddles it; move the point or use a smaller eps"
        )
    gap = abs(estimate.right - estimate.left)
    if gap > 1e-3 * max(1.0, abs(estimate.right), abs(estimate.left)):
        return (
            f"{row.name}: the one-sided differences disagree ({estimate.left:.6g} from the left, "
            f"{estimate.right:.6g} from the right): f looks non-differentiable within eps={eps:g} "
            "of this point (a kink like relu or abs at 0); move the point"
        )
    return ""
