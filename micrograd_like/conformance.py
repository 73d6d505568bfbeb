"""The conformance kit: check any micrograd-style engine's gradients, and say what is wrong.

An engine is a class with micrograd's contract: ``Value(data)``, ``.data``, ``.grad``,
``.backward()``, ``+ - * / **`` (a number exponent), unary ``-`` and the reflected forms
(``2 + v``, ``2 - v``, ``2 * v``, ``2 / v``); the methods in UNARY_OPS are optional, and a check
for one the class lacks is skipped, saying so. Only that public surface is used (never ``_prev``
or ``_op``), so any engine written after micrograd can be checked, ours, micrograd itself or a
learner's.

Each check compares ``backward()`` with central differences of the engine's own forward pass,
on formulas that hypothesis draws and shrinks, so a failure comes with the smallest formula and
inputs found and a hint at the kind of bug that fits the evidence. The engine runs in a child
process (``python -m micrograd_like.conformance --worker``) with a time limit per check, so an
infinite loop, a crash or ``sys.exit`` in it is a failed check, never a hung or crashed kit.

Python API: ``check_engine(target)`` returns a Report; ``assert_engine_correct(target)`` raises
AssertionError with the report card. A target is ``"package.module:ClassName"``,
``"path/to/engine.py:ClassName"`` or a class object, which the child imports again by its module
and qualified name (a class defined in a script run as ``__main__`` by that script's file; a
class defined inside a function or in a notebook cannot be re-imported and is refused).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import math
import os
import queue
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol, TypeVar

# --- numbers the checks agree on ------------------------------------------------------------------

STEP = 1e-6  # central differences: (f(x + STEP) - f(x - STEP)) / (2 STEP)
ATOL, RTOL = 1e-5, 1e-4  # a gradient passes when |analytic - numeric| <= ATOL + RTOL * scale
FORWARD_RTOL = 1e-7  # a forward value passes when it is this close to the reference math
MARGIN = 0.01  # kept between drawn numbers and kinks or domain edges
VALUE_LIMIT = 50.0  # intermediate values stay this small, so differences mean something
SLOPE_LIMIT = 20.0  # and so do local derivatives
SENSITIVITY_LIMIT = 200.0  # and the output's sensitivity to any input
DEPTHS = (10, 100, 1000, 10_000, 100_000)  # deep-chain tries these; the last one must work
DEFAULT_EXAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT = 100, 0, 10.0
MAX_TIMEOUTS = 3  # after this many checks time out, the rest of a target is skipped
IN_WORKER = "MICROGRAD_LIKE_CONFORMANCE_WORKER"  # set in the child, where the kit must not start
INPUT_NAMES = "abcdefgh"
CARD_WIDTH = 100  # the report card wraps hints to fit this many columns

# --- the contract: the optional unary ops and their reference math (the one table) ----------------


@dataclass(frozen=True)
class Mistake:
    """A classic wrong local derivative and what it tells about the code that made it."""

    slope: Callable[..., float]  # the wrong derivative at the operands
    explains: str


@dataclass(frozen=True)
class UnaryOp:
    """An optional method ``v.name()``: its math, where it is defined, and its classic slips."""

    name: str
    value: Callable[[float], float]
    derivative: Callable[[float], float]
    derivative_text: str
    low: float  # the range single-op checks draw from
    high: float
    domain_min: float = -math.inf  # smallest input a random graph may feed it
    kinks: tuple[float, ...] = ()
    mistakes: tuple[Mistake, ...] = ()


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0


UNARY_OPS: tuple[UnaryOp, ...] = (
    UnaryOp(
        "relu", lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0, "1 if x > 0 else 0",
        -3.0, 3.0, kinks=(0.0,),
        mistakes=(
            Mistake(lambda x: 1.0, "it passes the gradient through for negative inputs too: "
                    "the local derivative is (x > 0), not 1"),
            Mistake(lambda x: max(x, 0.0), "it multiplies by the output relu(x) where the step "
                    "(x > 0) belongs"),
        ),
    ),
    UnaryOp(
        "tanh", math.tanh, lambda x: 1 - math.tanh(x) ** 2, "1 - tanh(x)**2", -3.0, 3.0,
        mistakes=(
            Mistake(lambda x: 1 - x * x, "it computes 1 - x**2 from the input x; the output "
                    "t = tanh(x) belongs there: 1 - t**2"),
            Mistake(lambda x: 1 - math.tanh(x), "t = tanh(x) is not squared: 1 - t**2, not 1 - t"),
            Mistake(lambda x: math.tanh(x) ** 2, "it uses t**2 where 1 - t**2 belongs"),
        ),
    ),
    UnaryOp(
        "exp", math.exp, math.exp, "exp(x)", -3.0, 3.0,
        mistakes=(
            Mistake(lambda x: x, "it multiplies by the input x; d exp(x)/dx is the output exp(x)"),
            Mistake(lambda x: 1.0, "it passes the gradient through unchanged; it must be "
                    "multiplied by exp(x)"),
        ),
    ),
    UnaryOp(
        "log", math.log, lambda x: 1 / x, "1/x", 0.1, 5.0, domain_min=0.1,
        mistakes=(
            Mistake(lambda x: x, "it multiplies by x where it should divide: d log(x)/dx = 1/x"),
            Mistake(lambda x: 1 / math.log(x), "it divides by the output log(x) instead of x"),
        ),
    ),
    UnaryOp(
        "sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), "s * (1 - s), s = "
        "sigmoid(x)", -4.0, 4.0,
        mistakes=(
            Mistake(_sigmoid, "the factor (1 - s) is missing: s * (1 - s), s = sigmoid(x)"),
            Mistake(lambda x: x * (1 - x), "it computes x * (1 - x) from the input x; the output "
                    "s = sigmoid(x) belongs there"),
        ),
    ),
    UnaryOp(
        "sin", math.sin, math.cos, "cos(x)", -3.0, 3.0,
        mistakes=(Mistake(math.sin, "it uses sin(x) where cos(x) belongs"),),
    ),
    UnaryOp(
        "cos", math.cos, lambda x: -math.sin(x), "-sin(x)", -3.0, 3.0,
        mistakes=(Mistake(math.cos, "it uses cos(x) where -sin(x) belongs"),),
    ),
    UnaryOp(
        "sqrt", math.sqrt, lambda x: 0.5 / math.sqrt(x), "1 / (2 sqrt(x))", 0.1, 5.0,
        domain_min=0.1,
        mistakes=(Mistake(lambda x: 0.5 * math.sqrt(x), "it computes sqrt(x) / 2; "
                          "the derivative is 1 / (2 sqrt(x))"),),
    ),
    UnaryOp(
        "abs", abs, _sign, "1 if x > 0 else -1", -3.0, 3.0, kinks=(0.0,),
        mistakes=(Mistake(lambda x: 1.0, "it passes the gradient through unchanged for negative "
                          "x; there d|x|/dx = -1"),),
    ),
)  # fmt: skip
UNARY = {op.name: op for op in UNARY_OPS}

# The required ops: symbol, value, derivatives, derivative texts, reflected method, classic slips.
BINARY: dict[str, tuple[str, Callable[[float, float], float]]] = {
    "add": ("+", lambda a, b: a + b),
    "sub": ("-", lambda a, b: a - b),
    "mul": ("*", lambda a, b: a * b),
    "div": ("/", lambda a, b: a / b),
}
BINARY_SLOPES: dict[str, Callable[[float, float], tuple[float, float]]] = {
    "add": lambda a, b: (1.0, 1.0),
    "sub": lambda a, b: (1.0, -1.0),
    "mul": lambda a, b: (b, a),
    "div": lambda a, b: (1 / b, -a / (b * b)),
}
BINARY_SLOPE_TEXT = {
    "add": ("1", "1"),
    "sub": ("1", "-1"),
    "mul": ("b", "a"),
    "div": ("1/b", "-a/b**2"),
    "pow": ("n * a**(n-1)", ""),
}
REFLECTED = {"add": "__radd__", "sub": "__rsub__", "mul": "__rmul__", "div": "__rtruediv__"}
BINARY_MISTAKES: dict[str, tuple[tuple[Mistake, ...], tuple[Mistake, ...]]] = {
    "mul": (
        (Mistake(lambda a, b: a, "each operand's derivative is the *other* operand: "
                 "d(a*b)/da = b, not a"),),
        (Mistake(lambda a, b: b, "each operand's derivative is the *other* operand: "
                 "d(a*b)/db = a, not b"),),
    ),
    "div": (
        (Mistake(lambda a, b: b, "it multiplies by b where it should divide: d(a/b)/da = 1/b"),),
        (Mistake(lambda a, b: -a / b, "the square is missing: d(a/b)/db = -a/b**2, not -a/b"),
         Mistake(lambda a, b: -1 / (b * b), "the numerator a is missing: d(a/b)/db = -a/b**2")),
    ),
    "pow": (
        (Mistake(lambda a, n: a ** (n - 1), "the power rule lost its factor n: "
                 "d(a**n)/da = n * a**(n-1)"),
         Mistake(lambda a, n: n * a**n, "the exponent was not lowered by one: "
                 "d(a**n)/da = n * a**(n-1)")),
        (),
    ),
}  # fmt: skip
EXPONENTS = (2.0, 3.0, -1.0, 0.5, -2.0, 1.5, 1.0, 0.0)

# --- formulas -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """An operand that is an earlier node: inputs first (a, b, ...), then steps (t1, t2, ...)."""

    index: int


Arg = Ref | float


@dataclass(frozen=True)
class Step:
    """One op: a name from BINARY, "pow", "neg" or UNARY_OPS, and its operands."""

    op: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Formula:
    """Numbered inputs and a list of steps; the last step is the output."""

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]

    def name(self, index: int) -> str:
        n = len(self.inputs)
        if index < n:
            return INPUT_NAMES[index] if index < len(INPUT_NAMES) else f"x{index}"
        return "out" if index == n + len(self.steps) - 1 else f"t{index - n + 1}"

    def show(self, step: Step) -> str:
        args = [self.name(a.index) if isinstance(a, Ref) else repr(a) for a in step.args]
        if step.op in BINARY:
            return f"{args[0]} {BINARY[step.op][0]} {args[1]}"
        if step.op == "pow":
            return f"{args[0]} ** {args[1]}"
        if step.op == "neg":
            return f"-{args[0]}"
        return f"{step.op}({args[0]})"

    def text(self) -> str:
        """One line per step, ``t1 = a * b`` ... ``out = tanh(t1)``."""
        n = len(self.inputs)
        return "\n".join(f"{self.name(n + i)} = {self.show(s)}" for i, s in enumerate(self.steps))

    def ops(self) -> list[str]:
        """The ops used, in order of first use, as a reader names them (``rsub`` for ``2 - a``)."""
        names = [_op_label(step) for step in self.steps]
        return list(dict.fromkeys(names))

    def with_inputs(self, inputs: Sequence[float]) -> Formula:
        return replace(self, inputs=tuple(inputs))


def _op_label(step: Step) -> str:
    if step.op in REFLECTED and not isinstance(step.args[0], Ref):
        return "r" + step.op
    return step.op


# --- reference math: value and exact gradient, or None where a formula leaves safe ground ---------


def _local(op: str, x: Sequence[float]) -> tuple[float, tuple[float, ...]] | None:
    """An op's value and local derivatives at ``x`` (operand values), or None off its domain."""
    if op in BINARY:
        if op == "div" and abs(x[1]) < 0.2:
            return None
        return BINARY[op][1](x[0], x[1]), BINARY_SLOPES[op](x[0], x[1])
    if op == "pow":
        base, n = x
        if (not n.is_integer() and base < 0.2) or (n < 1 and abs(base) < 0.2):
            return None
        return base**n, (n * base ** (n - 1) if n else 0.0, 0.0)
    if op == "neg":
        return -x[0], (-1.0,)
    unary = UNARY[op]
    if x[0] < unary.domain_min or any(abs(x[0] - k) < MARGIN for k in unary.kinks):
        return None
    return unary.value(x[0]), (unary.derivative(x[0]),)


def reference(formula: Formula) -> tuple[float, tuple[float, ...]] | None:
    """The formula's output and its exact gradient with respect to each input (forward mode),
    or None if some step is off its op's domain, near a kink, or too large or too steep."""
    n = len(formula.inputs)
    values = list(formula.inputs)
    slopes = [tuple(1.0 if i == j else 0.0 for j in range(n)) for i in range(n)]
    for step in formula.steps:
        operands = [values[a.index] if isinstance(a, Ref) else a for a in step.args]
        try:
            local = _local(step.op, operands)
        except (ArithmeticError, ValueError):
            return None
        if local is None:
            return None
        value, derivatives = local
        if not math.isfinite(value) or abs(value) > VALUE_LIMIT:
            return None
        if any(not math.isfinite(d) or abs(d) > SLOPE_LIMIT for d in derivatives):
            return None
        total = [0.0] * n
        for arg, d in zip(step.args, derivatives, strict=True):
            if isinstance(arg, Ref):
                total = [t + d * s for t, s in zip(total, slopes[arg.index], strict=True)]
        if any(abs(t) > SENSITIVITY_LIMIT for t in total):
            return None
        values.append(value)
        slopes.append(tuple(total))
    return values[-1], slopes[-1]


# --- running a formula on the engine under test ---------------------------------------------------


def _apply(op: str, args: Sequence[Any]) -> Any:
    """One op on the engine's Values (and plain numbers), through its public operators only."""
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "div":
        return args[0] / args[1]
    if op == "pow":
        return args[0] ** args[1]
    if op == "neg":
        return -args[0]
    if op == "abs" and not hasattr(args[0], "abs"):
        return abs(args[0])  # a class may offer abs(v) through __abs__ instead
    return getattr(args[0], op)()


def _number(x: Any, what: str) -> float:
    """The engine's data or grad as a float (micrograd keeps ints; None counts as 0)."""
    if x is None:
        return 0.0
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{what} is {x!r}, not a number") from None


def _build(engine: type, formula: Formula, inputs: Sequence[float]) -> tuple[Any, list[Any]]:
    leaves = [engine(x) for x in inputs]
    nodes: list[Any] = list(leaves)
    for step in formula.steps:
        nodes.append(
            _apply(step.op, [nodes[a.index] if isinstance(a, Ref) else a for a in step.args])
        )
    return nodes[-1], leaves


def _forward(engine: type, formula: Formula, inputs: Sequence[float]) -> float:
    return _number(_build(engine, formula, inputs)[0].data, "out.data")


def _describe(error: BaseException) -> str:
    """An exception from the engine, on one line."""
    if isinstance(error, SystemExit):
        return f"the engine called sys.exit({error.code!r})"
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


@dataclass(frozen=True)
class Trial:
    """One formula run on the engine: its output and gradients beside the numbers they should be."""

    formula: Formula
    expected_output: float
    expected: tuple[float, ...]  # the exact gradient (reference math), for hints
    output: float | None = None
    analytic: tuple[float, ...] = ()
    numeric: tuple[float, ...] = ()
    error: str | None = None

    @property
    def forward_ok(self) -> bool:
        return self.output is not None and _close(
            self.output, self.expected_output, FORWARD_RTOL, 1e-9
        )

    @property
    def wrong(self) -> list[int]:
        """The inputs whose analytic gradient disagrees with the numeric one."""
        pairs = zip(self.analytic, self.numeric, strict=True)
        return [i for i, (a, n) in enumerate(pairs) if not _close(a, n)]

    @property
    def ok(self) -> bool:
        return self.error is None and self.forward_ok and not self.wrong


def run_formula(engine: type, formula: Formula) -> Trial:
    """Run ``formula`` on the engine: backward() beside central differences of its own forward."""
    ref = reference(formula)
    if ref is None:
        raise ValueError(f"the kit drew a formula off its domain:\n{formula.text()}")
    trial = Trial(formula, ref[0], ref[1])
    try:
        out, leaves = _build(engine, formula, formula.inputs)
        output = _number(out.data, "out.data")
        out.backward()
        analytic = tuple(_number(leaf.grad, "grad") for leaf in leaves)
        numeric = []
        for i, x in enumerate(formula.inputs):
            up, down = list(formula.inputs), list(formula.inputs)
            up[i], down[i] = x + STEP, x - STEP
            numeric.append(
                (_forward(engine, formula, up) - _forward(engine, formula, down)) / (2 * STEP)
            )
    except (Exception, SystemExit) as error:
        return replace(trial, error=_describe(error))
    return replace(trial, output=output, analytic=analytic, numeric=tuple(numeric))


# --- hints: what kind of bug fits the evidence ----------------------------------------------------


def diagnose(
    points: Sequence[tuple[Sequence[float], float, float]], mistakes: Sequence[Mistake] = ()
) -> str | None:
    """What is wrong with one derivative, from (operands, engine's value, right value) at several
    points: a classic mistake, no gradient at all, a flipped sign, a constant factor, or wrong
    only for some inputs. None when every point is right."""
    bad = [(x, got, right) for x, got, right in points if not _close(got, right)]
    if not bad:
        return None
    for mistake in mistakes:
        with contextlib.suppress(ArithmeticError, ValueError):
            if all(_close(got, mistake.slope(*x)) for x, got, _ in points):
                return mistake.explains
    if all(_close(got, 0.0) for _, got, _ in bad):
        return "no gradient arrives: backward() never adds this op's contribution into the operand"
    if all(_close(got, -right) for _, got, right in points):
        return "the sign is flipped"
    ratios = [got / right for _, got, right in points if abs(right) > 1e-3]
    if ratios and all(_close(r, ratios[0], 1e-6, 1e-9) for r in ratios) and abs(ratios[0]) > 1e-6:
        return f"off by a constant factor: {ratios[0]:.6g} times the right value"
    if len(bad) < len(points):
        good = next(x for x, got, right in points if _close(got, right))
        return (
            f"right at {_args_text(good)} but wrong at {_args_text(bad[0][0])}: "
            "a case distinction (a sign, a branch) in the derivative is off"
        )
    return "the derivative formula is wrong"


def _args_text(x: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in x)


# --- the checks -----------------------------------------------------------------------------------


class Draw(Protocol):
    """What a check draws from (micrograd_like.strategies.KitDraw runs it under hypothesis)."""

    def number(self, low: float, high: float) -> float: ...

    def integer(self, low: int, high: int) -> int: ...

    def reject(self) -> NoReturn: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | skip
    detail: str
    example: dict[str, Any] | None = None


@dataclass
class Context:
    """What a check knows: the engine, its optional ops, the budget, and a progress callback."""

    engine: type
    available: tuple[str, ...]
    examples: int
    seed: int
    progress: Callable[[str], None] = lambda text: None

    def seed_for(self, check: str) -> int:
        return zlib.crc32(f"{self.seed}:{check}".encode())


T = TypeVar("T")


def _choice(draw: Draw, options: Sequence[T]) -> T:
    return options[draw.integer(0, len(options) - 1)]


GENERIC_POINTS = ((1.3, -0.7, 0.9), (0.6, 1.1, -1.4), (-1.2, 0.8, 1.7))  # evidence, not search


def _right_at_generic_points(engine: type, formula: Formula) -> bool:
    """Whether the engine gets ``formula`` right at a few points with no zeros and no ones
    (a shrunk example's 0.0 and 1.0 can make a wrong gradient look right by accident)."""
    n = len(formula.inputs)
    trials = [formula.with_inputs(point[:n]) for point in GENERIC_POINTS]
    return all(run_formula(engine, t).ok for t in trials if reference(t) is not None)


def _trim(formula: Formula) -> Formula:
    """The formula without the inputs no step uses (templates declare a spare one)."""
    n = len(formula.inputs)
    used = sorted(
        {a.index for s in formula.steps for a in s.args if isinstance(a, Ref)} & set(range(n))
    )
    if len(used) == n:
        return formula
    new_index = {old: new for new, old in enumerate(used)}
    shift = n - len(used)

    def renumber(arg: Arg) -> Arg:
        if not isinstance(arg, Ref):
            return arg
        return Ref(new_index[arg.index]) if arg.index < n else Ref(arg.index - shift)

    steps = tuple(Step(s.op, tuple(map(renumber, s.args))) for s in formula.steps)
    return Formula(tuple(formula.inputs[i] for i in used), steps)


def _valid(draw: Draw, formula: Formula) -> Formula:
    formula = _trim(formula)
    if reference(formula) is None:
        draw.reject()
    return formula


def _search(ctx: Context, check: str, build: Callable[[Draw], Formula]) -> Trial | None:
    """The smallest formula from ``build`` on which the engine fails, run again for its numbers."""
    from micrograd_like.strategies import kit_smallest_failure

    def fails(formula: Formula) -> bool:
        return not run_formula(ctx.engine, formula).ok

    found = kit_smallest_failure(build, fails, examples=ctx.examples, seed=ctx.seed_for(check))
    return None if found is None else run_formula(ctx.engine, found)


def _alone(step: Step, operands: Sequence[float]) -> Formula:
    """``step`` on its own: its node operands become fresh inputs with the given values, its
    constants stay (``2.0 - t3`` becomes ``out = 2.0 - a``)."""
    refs = [i for i, arg in enumerate(step.args) if isinstance(arg, Ref)]
    args = tuple(Ref(refs.index(i)) if i in refs else arg for i, arg in enumerate(step.args))
    return Formula(tuple(operands[i] for i in refs), (Step(step.op, args),))


def _operands(step: Step, inputs: Sequence[float]) -> list[float]:
    """The step's operand values when its node operands take ``inputs`` in order."""
    given = iter(inputs)
    return [next(given) if isinstance(arg, Ref) else arg for arg in step.args]


def _probe_points(step: Step) -> list[tuple[float, ...]]:
    """Spread-out values for the step's node operands, to gather evidence at several points."""
    count = sum(isinstance(arg, Ref) for arg in step.args)
    if step.op in UNARY:
        u = UNARY[step.op]
        xs = [u.low + (u.high - u.low) * k / 7 for k in range(1, 7)]
        return [(x,) for x in xs if all(abs(x - k) >= MARGIN for k in u.kinks)]
    if count == 1:
        return [(-2.2,), (-0.7,), (0.6,), (1.9,)]
    return [(a, b) for a in (-1.7, 0.6, 2.3) for b in (-1.3, 0.8, 2.1)]


def _op_hint(ctx: Context, trial: Trial, step: Step) -> str:
    """Evidence for a failing op: its slope alone at several points beside the right one, matched
    against the classic mistakes, a flipped sign, a constant factor ..."""
    label = _op_label(step)
    if trial.error is not None:
        if "TypeError" in trial.error and label != step.op:
            return (
                f"define {REFLECTED[step.op]}: for {label[1:]} with a number on the left, such "
                f"as 2.0 {BINARY[step.op][0]} a, Python calls a.{REFLECTED[step.op]}(2.0)"
            )
        if trial.error.startswith("the engine called sys.exit"):
            return (
                f"{label} calls sys.exit(), which ends the whole program: raise an exception "
                "(such as NotImplementedError) instead"
            )
        return f"{label} raised {trial.error.split(':')[0]} on operands inside its domain"
    if not trial.forward_ok:
        return f"the forward value of {label} is wrong: compare with {label}'s definition"
    positions = [i for i, arg in enumerate(step.args) if isinstance(arg, Ref)]
    hints: list[str] = []
    for k, position in enumerate(positions):
        evidence: list[tuple[Sequence[float], float, float]] = []
        for point in _probe_points(step):
            operands = _operands(step, point)
            formula = _alone(step, operands)
            if reference(formula) is None:
                continue
            run = run_formula(ctx.engine, formula)
            if run.error is None and len(run.analytic) > k:
                evidence.append((operands, run.analytic[k], run.expected[k]))
        hint = diagnose(evidence, _mistakes(step.op, position))
        if hint is not None:
            where = ""
            if step.op in BINARY:
                where = f"in a {BINARY[step.op][0]} b, d/d{'ab'[position]}: "
            hints.append(f"{label}: {where}{hint} (right: {_slope_text(step.op, position)})")
    if not hints:
        return (
            f"{label} is right on its own but wrong inside a formula: is its local derivative "
            "multiplied by out.grad, and added (+=) into the operand's grad? (if another op "
            "of the formula fails its own check, fix that first)"
        )
    return "; ".join(hints)


def _mistakes(op: str, position: int) -> Sequence[Mistake]:
    if op in UNARY:
        return UNARY[op].mistakes
    return BINARY_MISTAKES[op][position] if op in BINARY_MISTAKES else ()


def _slope_text(op: str, position: int) -> str:
    if op in UNARY:
        return f"d {op}(x)/dx = {UNARY[op].derivative_text}"
    if op == "neg":
        return "d(-a)/da = -1"
    return f"d/d{'ab'[position]} = {BINARY_SLOPE_TEXT[op][position]}"


def _first_failing_step(ctx: Context, trial: Trial) -> tuple[Step, Trial] | None:
    """The first step of a formula that fails on its own, at the operands it receives there."""
    formula = trial.formula
    values = list(formula.inputs)
    for step in formula.steps:
        operands = [values[a.index] if isinstance(a, Ref) else a for a in step.args]
        local = _local(step.op, operands)
        if local is None:
            return None
        values.append(local[0])
        alone = _alone(step, operands)
        if reference(alone) is not None:
            run = run_formula(ctx.engine, alone)
            if not run.ok:
                return step, run
    return None


def _example(
    trial: Trial, hint: str, expected_from: str = "central differences of the engine's forward"
) -> dict[str, Any]:
    names = [trial.formula.name(i) for i in range(len(trial.formula.inputs))]
    return {
        "op": ", ".join(trial.formula.ops()),
        "formula": trial.formula.text(),
        "inputs": dict(zip(names, trial.formula.inputs, strict=True)),
        "output": trial.output,
        "expected_output": trial.expected_output,
        "error": trial.error,
        "gradients": []
        if trial.error is not None
        else [
            {"input": name, "analytic": a, "numeric": n, "ok": _close(a, n)}
            for name, a, n in zip(names, trial.analytic, trial.numeric, strict=True)
        ],
        "expected_from": expected_from,
        "hint": hint,
    }


def _failure_detail(check: str, trial: Trial) -> str:
    ops = ", ".join(trial.formula.ops())
    if trial.error is not None:
        said = trial.error if trial.error.startswith("the engine") else f"raised {trial.error}"
        return f"{ops}: {said}"
    if not trial.forward_ok:
        return f"{ops}: forward value {trial.output!r}, should be {trial.expected_output!r}"
    names = ", ".join(trial.formula.name(i) for i in trial.wrong)
    what = "gradients of" if len(trial.wrong) > 1 else "gradient of"
    agree = "disagree" if len(trial.wrong) > 1 else "disagrees"
    return f"{ops}: the {what} {names} {agree} with central differences"


def _op_check(ctx: Context, check: str, build: Callable[[Draw], Formula]) -> Outcome:
    trial = _search(ctx, check, build)
    if trial is None:
        return Outcome("pass", f"no disagreement in {ctx.examples} examples")
    step = trial.formula.steps[0]
    return Outcome(
        "fail", _failure_detail(check, trial), _example(trial, _op_hint(ctx, trial, step))
    )


def _binary_builder(op: str) -> Callable[[Draw], Formula]:
    def build(draw: Draw) -> Formula:
        a, b, c = (draw.number(-3.0, 3.0) for _ in range(3))
        inner = Step(op, (Ref(0), Ref(1)))
        if draw.integer(0, 1) == 0:
            return _valid(draw, Formula((a, b), (inner,)))
        return _valid(draw, Formula((a, b, c), (inner, Step("mul", (Ref(3), Ref(2))))))

    return build


def _pow_builder(draw: Draw) -> Formula:
    a, b = draw.number(-3.0, 3.0), draw.number(-3.0, 3.0)
    inner = Step("pow", (Ref(0), _choice(draw, EXPONENTS)))
    if draw.integer(0, 1) == 0:
        return _valid(draw, Formula((a,), (inner,)))
    return _valid(draw, Formula((a, b), (inner, Step("mul", (Ref(2), Ref(1))))))


def _unary_builder(op: str) -> Callable[[Draw], Formula]:
    def build(draw: Draw) -> Formula:
        a, b = draw.number(UNARY[op].low, UNARY[op].high), draw.number(-3.0, 3.0)
        inner = Step(op, (Ref(0),))
        if draw.integer(0, 1) == 0:
            return _valid(draw, Formula((a,), (inner,)))
        return _valid(draw, Formula((a, b), (inner, Step("mul", (Ref(1), Ref(2))))))

    return build


def _neg_builder(draw: Draw) -> Formula:
    a, b = draw.number(-3.0, 3.0), draw.number(-3.0, 3.0)
    if draw.integer(0, 1) == 0:
        return Formula((a,), (Step("neg", (Ref(0),)),))
    return Formula((a, b), (Step("neg", (Ref(0),)), Step("mul", (Ref(2), Ref(1)))))


def _reflected_builder(draw: Draw) -> Formula:
    """A constant on either side of + - * /: ``2.0 - a``, ``a / 2.0`` ... (``* b`` after, at
    times, so an upstream gradient other than 1 flows in)."""
    op = _choice(draw, tuple(REFLECTED))
    constant_first = draw.integer(0, 1) == 0
    c = draw.number(-3.0, 3.0)
    a, b = draw.number(-3.0, 3.0), draw.number(-3.0, 3.0)
    inner = Step(op, (c, Ref(0)) if constant_first else (Ref(0), c))
    if draw.integer(0, 1) == 0:
        return _valid(draw, Formula((a,), (inner,)))
    return _valid(draw, Formula((a, b), (inner, Step("mul", (Ref(2), Ref(1))))))


def check_load(ctx: Context) -> Outcome:  # the worker loads the engine; this row reports it
    return Outcome("pass", f"imported {ctx.engine.__module__}.{ctx.engine.__qualname__}")


def check_basics(ctx: Context) -> Outcome:
    """Value(x) keeps x as data, starts with grad 0, and an op's result has data."""
    v = ctx.engine(2.5)
    data, grad = _number(v.data, "Value(2.5).data"), _number(v.grad, "Value(2.5).grad")
    if data != 2.5:
        return Outcome("fail", f"Value(2.5).data is {v.data!r}", _plain("Value(2.5)", "keep data"))
    if grad != 0.0:
        return Outcome("fail", f"Value(2.5).grad starts at {v.grad!r}, not 0", None)
    total = _number((ctx.engine(2.0) + ctx.engine(3.0)).data, "(Value(2) + Value(3)).data")
    if total != 5.0:
        return Outcome("fail", f"(Value(2.0) + Value(3.0)).data is {total!r}, not 5.0", None)
    return Outcome("pass", "Value(x).data is x, .grad starts at 0, ops give Values with data")


def _plain(formula: str, hint: str) -> dict[str, Any]:
    return {"op": "", "formula": formula, "inputs": {}, "gradients": [], "hint": hint}


def check_reuse(ctx: Context) -> Outcome:
    """A value used twice: ``a + a``, ``a * a``, ``op(a) * a`` ... its gradient adds up."""
    templates: list[tuple[Step, ...]] = [
        (Step("add", (Ref(0), Ref(0))),),
        (Step("mul", (Ref(0), Ref(0))),),
        (Step("mul", (Ref(0), Ref(1))), Step("add", (Ref(2), Ref(0)))),
        (Step("mul", (Ref(0), Ref(1))), Step("mul", (Ref(2), Ref(0)))),
        (Step("sub", (Ref(0), Ref(0))),),
        (Step("mul", (Ref(0), Ref(1))), Step("sub", (Ref(0), Ref(2)))),
        (Step("add", (Ref(0), Ref(1))), Step("div", (Ref(0), Ref(2)))),
    ]
    for name in ctx.available:
        templates.append((Step(name, (Ref(0),)), Step("mul", (Ref(2), Ref(0)))))
        templates.append((Step(name, (Ref(0),)), Step("add", (Ref(2), Ref(0)))))

    def build(draw: Draw) -> Formula:
        steps = _choice(draw, templates)
        op = steps[0].op
        low, high = (UNARY[op].low, UNARY[op].high) if op in UNARY else (-3.0, 3.0)
        a, b = draw.number(low, high), draw.number(-3.0, 3.0)
        return _valid(draw, Formula((a, b), steps))

    trial = _search(ctx, "reuse", build)
    if trial is None:
        return Outcome("pass", f"{ctx.examples} formulas that use a value twice agree")
    if _right_when_split(ctx, trial):
        hint = (
            "right when each use is a separate Value, wrong when one Value is used twice: "
            "`=` where `+=` belongs (the second contribution to .grad overwrites the first)"
        )
    else:
        failing = _first_failing_step(ctx, trial)
        hint = (
            _op_hint(ctx, failing[1], failing[0])
            if failing
            else "a value used twice gets the wrong gradient: every use must add (+=) its part"
        )
    return Outcome("fail", _failure_detail("reuse", trial), _example(trial, hint))


def _split_reuse(formula: Formula) -> tuple[Formula, list[int]]:
    """The formula with every use of an input after the first made a fresh leaf of the same
    value, and for each input of the new formula the input it copies."""
    n = len(formula.inputs)
    copies: list[int] = []
    seen: set[int] = set()
    plans: list[list[Arg | int]] = []  # an int stands for the copy with that number
    for step in formula.steps:
        plan: list[Arg | int] = []
        for arg in step.args:
            if isinstance(arg, Ref) and arg.index < n and arg.index in seen:
                copies.append(arg.index)
                plan.append(len(copies) - 1)
                continue
            if isinstance(arg, Ref) and arg.index < n:
                seen.add(arg.index)
            plan.append(arg)
        plans.append(plan)

    def renumber(arg: Arg | int) -> Arg:
        if isinstance(arg, int):
            return Ref(n + arg)
        if isinstance(arg, Ref) and arg.index >= n:
            return Ref(arg.index + len(copies))
        return arg

    steps = tuple(
        Step(step.op, tuple(map(renumber, plan)))
        for step, plan in zip(formula.steps, plans, strict=True)
    )
    inputs = formula.inputs + tuple(formula.inputs[i] for i in copies)
    return Formula(inputs, steps), [*range(n), *copies]


def _right_when_split(ctx: Context, trial: Trial) -> bool:
    """Whether the engine gets the failing formula right once each reuse of an input is a
    separate leaf, at the failing inputs and at generic points (gradients summed over copies)."""
    if trial.error is not None:
        return False
    points = [trial.formula.inputs]
    points += [p[: len(trial.formula.inputs)] for p in GENERIC_POINTS]
    checked = False
    for point in points:
        formula = trial.formula.with_inputs(point)
        split, origin = _split_reuse(formula)
        if len(origin) == len(formula.inputs) or reference(split) is None:
            continue
        whole, parts = run_formula(ctx.engine, formula), run_formula(ctx.engine, split)
        if not parts.ok:
            return False
        summed = [0.0] * len(formula.inputs)
        for i, g in enumerate(parts.analytic):
            summed[origin[i]] += g
        if not all(_close(g, num) for g, num in zip(summed, whole.numeric, strict=True)):
            return False
        checked = True
    return checked


def check_diamond(ctx: Context) -> Outcome:
    """A node reached by two paths of different length: ``t1 = a * b`` feeds ``out`` directly
    and through a chain of ``* c``."""

    def build(draw: Draw) -> Formula:
        length = draw.integer(1, 3)
        a, b, c = (draw.number(-2.0, 2.0) for _ in range(3))
        steps = [Step("mul", (Ref(0), Ref(1)))]
        for k in range(length):
            steps.append(Step("mul", (Ref(3 + k), Ref(2))))
        steps.append(Step("add", (Ref(3), Ref(3 + length))))
        return _valid(draw, Formula((a, b, c), tuple(steps)))

    trial = _search(ctx, "diamond", build)
    if trial is None:
        return Outcome("pass", f"{ctx.examples} diamonds agree with central differences")
    even = Formula(
        trial.formula.inputs,
        (
            Step("mul", (Ref(0), Ref(1))),
            Step("mul", (Ref(3), Ref(2))),
            Step("mul", (Ref(3), Ref(2))),
            Step("add", (Ref(4), Ref(5))),
        ),
    )
    if (
        trial.error is None
        and _right_at_generic_points(ctx.engine, even)
        and not _right_at_generic_points(ctx.engine, trial.formula)
    ):
        hint = (
            "right when the two paths have the same length, wrong when one is longer: "
            "backward() does not go in topological order, so t1 passed its gradient on before "
            "the longer path had added its part (visit every consumer of a node before the node)"
        )
    else:
        hint = (
            "a node reached by two paths gets the wrong gradient: each path must add (+=) its "
            "part to the node's grad before the node passes it on"
        )
    return Outcome("fail", _failure_detail("diamond", trial), _example(trial, hint))


def check_off_path(ctx: Context) -> Outcome:
    """Values that do not lead to the output keep grad 0; the ones that do are unaffected."""
    engine = ctx.engine
    a, b, c = engine(1.5), engine(-2.0), engine(0.75)
    out = a * b
    aside = a * c  # uses a, but the output does not use it
    also = c + 1.0
    out.backward()
    grads = {
        "a": (_number(a.grad, "a.grad"), -2.0),
        "b": (_number(b.grad, "b.grad"), 1.5),
        "c": (_number(c.grad, "c.grad"), 0.0),
        "aside": (_number(aside.grad, "aside.grad"), 0.0),
        "also": (_number(also.grad, "also.grad"), 0.0),
    }
    wrong = [name for name, (got, right) in grads.items() if not _close(got, right)]
    if not wrong:
        return Outcome("pass", "values off the output's path keep grad 0")
    example = {
        "op": "mul, add",
        "formula": "out = a * b\naside = a * c\nalso = c + 1.0\nout.backward()",
        "inputs": {"a": 1.5, "b": -2.0, "c": 0.75},
        "gradients": [
            {"input": name, "analytic": got, "numeric": right, "ok": _close(got, right)}
            for name, (got, right) in grads.items()
        ],
        "expected_from": "the chain rule: values off the path get 0",
        "hint": "backward() touches values that do not lead to the output (does it walk a list "
        "of every Value ever made, or the operands' other uses?)",
    }
    return Outcome("fail", f"wrong grad for {', '.join(wrong)} after out.backward()", example)


def _product(a: Any, b: Any) -> Any:
    return a * b


def _product_twice(a: Any, b: Any) -> Any:
    c = a * b
    return c + c  # c is an intermediate node whose grad must start fresh on each call


def _product_reused(a: Any, b: Any) -> Any:
    c = a * b
    return c * a + c


def check_backward_twice(ctx: Context) -> Outcome:
    """Calling backward() twice gives the leaves exactly twice one call's gradient (PyTorch's
    rule): intermediate gradients must start fresh on each call, or they pile up."""
    engine = ctx.engine
    cases = [
        ("out = a * b", _product),
        ("c = a * b\nout = c + c", _product_twice),
        ("c = a * b\nd = c * a\nout = d + c", _product_reused),
    ]
    for formula, make in cases:
        a, b = engine(1.5), engine(-2.0)
        make(a, b).backward()
        once = (_number(a.grad, "a.grad"), _number(b.grad, "b.grad"))
        a, b = engine(1.5), engine(-2.0)
        out = make(a, b)
        out.backward()
        out.backward()
        twice = (_number(a.grad, "a.grad"), _number(b.grad, "b.grad"))
        if all(_close(t, 2 * o, 1e-9, 1e-12) for t, o in zip(twice, once, strict=True)):
            continue
        ratio = twice[0] / once[0] if once[0] else math.nan
        if _close(ratio, 1.0, 1e-9, 1e-12):
            hint = (
                "the second call gave the same gradient as one call: the leaves' grads are "
                "set (`=`, or reset to 0 at the start of backward()) where PyTorch adds to them "
                "(`+=`; reset only the intermediate nodes)"
            )
        elif ratio > 2:
            hint = (
                "intermediate gradients pile up across calls: the second call starts from the "
                "first call's intermediate grads; set every non-leaf grad to 0 at the start of "
                "backward() (micrograd has this bug)"
            )
        else:
            hint = "backward() gives a different gradient when called again on the same graph"
        example = {
            "op": "mul, add",
            "formula": f"{formula}\nout.backward(); out.backward()",
            "inputs": {"a": 1.5, "b": -2.0},
            "gradients": [
                {"input": name, "analytic": t, "numeric": 2 * o, "ok": _close(t, 2 * o)}
                for name, t, o in zip("ab", twice, once, strict=True)
            ],
            "expected_from": "twice the gradient of one call on a fresh graph",
            "hint": hint,
        }
        detail = (
            f"after two calls a.grad = {twice[0]:g}, {ratio:g} times one call ({once[0]:g}); "
            f"expected exactly twice ({2 * once[0]:g})"
        )
        return Outcome("fail", detail, example)
    return Outcome("pass", "two backward() calls give exactly twice the leaf gradients")


def check_random_graphs(ctx: Context) -> Outcome:
    """Random DAGs over every op the engine has, reusing nodes and mixing in constants."""
    ops = ("add", "mul", "sub", "div", "neg", "pow", *ctx.available)

    def draw_step(draw: Draw, count: int) -> Step:
        def ref() -> Ref:
            back = draw.integer(0, min(3, count - 1))
            return (
                Ref(count - 1 - back)
                if draw.integer(0, 1) == 0
                else Ref(draw.integer(0, count - 1))
            )

        op = _choice(draw, ops)
        if op in BINARY:
            left, right = ref(), ref()
            if draw.integer(0, 3) == 0:
                constant = draw.number(-2.0, 2.0)
                return Step(op, (constant, right) if draw.integer(0, 1) else (left, constant))
            return Step(op, (left, right))
        if op == "pow":
            return Step(op, (ref(), _choice(draw, EXPONENTS)))
        return Step(op, (ref(),))

    def build(draw: Draw) -> Formula:
        inputs = tuple(draw.number(-2.0, 2.0) for _ in range(draw.integer(1, 3)))
        formula = Formula(inputs, ())
        for _ in range(draw.integer(1, 6)):
            for _attempt in range(5):
                step = draw_step(draw, len(inputs) + len(formula.steps))
                longer = Formula(inputs, (*formula.steps, step))
                if reference(longer) is not None:
                    formula = longer
                    break
        if not formula.steps:
            draw.reject()
        used = {a.index for s in formula.steps for a in s.args if isinstance(a, Ref)}
        n = len(inputs)
        sinks = [n + k for k in range(len(formula.steps)) if n + k not in used]
        for k in range(1, len(sinks)):  # add up the nodes nothing uses, so every step counts
            last = n + len(formula.steps) - 1 if k > 1 else sinks[0]
            formula = Formula(inputs, (*formula.steps, Step("add", (Ref(last), Ref(sinks[k])))))
        return _valid(draw, formula)

    trial = _search(ctx, "random-graphs", build)
    if trial is None:
        return Outcome("pass", f"{ctx.examples} random graphs agree with central differences")
    failing = _first_failing_step(ctx, trial)
    if failing is None and _right_when_split(ctx, trial):
        hint = (
            "right when each use of an input is a separate Value, wrong when one Value is used "
            "twice: `=` where `+=` belongs (the second contribution to .grad overwrites the first)"
        )
    elif failing is not None:
        step, alone = failing
        hint = f"{_op_label(step)} is wrong even on its own here: {_op_hint(ctx, alone, step)}"
    else:
        hint = (
            "every op of the graph is right on its own, so the graph's shape is the trouble: "
            "a node used twice needs `+=`, and backward() must go in topological order "
            "(see the reuse and diamond checks)"
        )
    return Outcome("fail", _failure_detail("random-graphs", trial), _example(trial, hint))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cycle collector (micrograd-style nodes are cycles through their closures, and
    its scans of a growing chain take most of the time), then collect what is left."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def check_deep_chain(ctx: Context) -> Outcome:
    """The deepest chain ``a + 1.0 + 1.0 + ...`` that backpropagates: each of DEPTHS in turn.
    The check is about depth, not speed, so the cycle collector is paused meanwhile."""
    works = 0
    for depth in DEPTHS:
        try:
            with _collector_paused():
                a = ctx.engine(0.5)
                out = a
                for _ in range(depth):
                    out = out + 1.0
                out.backward()
                grad = _number(a.grad, "a.grad")
                del out, a
        except (Exception, SystemExit) as error:
            return _deep_failure(depth, works, _describe(error))
        if not _close(grad, 1.0):
            return _deep_failure(depth, works, f"a.grad is {grad!r}, should be 1.0")
        works = depth
        ctx.progress(f"depth {depth} works")
    return Outcome("pass", f"a chain {DEPTHS[-1]:,} deep backpropagates")


def _deep_failure(depth: int, works: int, reason: str) -> Outcome:
    if "RecursionError" in reason:
        hint = (
            "backward() recurses once per node (a recursive topological sort): build the order "
            "with an explicit stack instead"
        )
    elif "should be" in reason:
        hint = "the gradient at the start of a long chain of additions is wrong (see op:add)"
    else:
        hint = "backward() breaks on long chains"
    return Outcome("fail", deep_detail(depth, works, reason), _plain_deep(depth, hint))


def deep_detail(depth: int, works: int, reason: str) -> str:
    works_text = f"depth {works:,} works" if works else "no depth works"
    return f"breaks at depth {depth:,}: {reason}; {works_text}"


def _plain_deep(depth: int, hint: str) -> dict[str, Any]:
    return {
        "op": "add",
        "formula": f"out = a + 1.0 + 1.0 + ... ({depth:,} additions)\nout.backward()",
        "inputs": {"a": 0.5},
        "gradients": [],
        "hint": hint,
    }


# The checks in the order they run (deep-chain last: it is the slowest).
OP_CHECKS: dict[str, Callable[[Draw], Formula]] = {
    "op:add": _binary_builder("add"),
    "op:sub": _binary_builder("sub"),
    "op:mul": _binary_builder("mul"),
    "op:div": _binary_builder("div"),
    "op:neg": _neg_builder,
    "op:pow": _pow_builder,
    "reflected": _reflected_builder,
    **{f"op:{op.name}": _unary_builder(op.name) for op in UNARY_OPS},
}
OTHER_CHECKS: dict[str, Callable[[Context], Outcome]] = {
    "reuse": check_reuse,
    "diamond": check_diamond,
    "off-path": check_off_path,
    "backward-twice": check_backward_twice,
    "random-graphs": check_random_graphs,
    "deep-chain": check_deep_chain,
}
CHECKS: tuple[str, ...] = ("load", "basics", *OP_CHECKS, *OTHER_CHECKS)


def run_check(ctx: Context, name: str) -> Outcome:
    """One check on an engine already loaded (in the worker, the only place engine code runs)."""
    if name == "load":
        return check_load(ctx)
    if name == "basics":
        return check_basics(ctx)
    if name.startswith("op:") and name[3:] in UNARY and name[3:] not in ctx.available:
        return Outcome("skip", f"the class has no {name[3:]}() method")
    if name in OP_CHECKS:
        return _op_check(ctx, name, OP_CHECKS[name])
    return OTHER_CHECKS[name](ctx)


# --- reports --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One row of a report: a check's name, pass | fail | skip, what happened, and for a
    failure the smallest example found (formula, inputs, gradients side by side, hint)."""

    name: str
    status: str
    detail: str
    example: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON data: nan and infinities (an engine can produce them) become the
        strings "nan", "inf" and "-inf", so the output is strict JSON."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "example": _strict_json(self.example),
        }


def _strict_json(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {key: _strict_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_strict_json(value) for value in data]
    return data


@dataclass(frozen=True)
class Report:
    """Every check's result for one engine; ``error`` is set when it could not be loaded."""

    engine: str
    checks: tuple[CheckResult, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "fail"]

    @property
    def passed(self) -> bool:
        return (
            self.error is None and not self.failed and any(c.status == "pass" for c in self.checks)
        )

    @property
    def score(self) -> float:
        """Checks passed / checks run (skips left out)."""
        run = [c for c in self.checks if c.status != "skip"]
        return sum(c.status == "pass" for c in run) / len(run) if run else 0.0

    def result(self, name: str) -> CheckResult:
        """The row of the check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"{self.engine} has no result for {name!r}")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "engine": self.engine,
            "passed": self.passed,
            "score": round(self.score, 4),
            "checks": [c.to_json() for c in self.checks],
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    def render(self) -> str:
        """The report card: one line per check; under each failure its formula, inputs,
        analytic and numeric gradients side by side, and a hint."""
        if self.error is not None:
            return f"{self.engine}: cannot be loaded: {self.error}"
        run = [c for c in self.checks if c.status != "skip"]
        skipped = len(self.checks) - len(run)
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"{self.engine}: {verdict}, {sum(c.status == 'pass' for c in run)}/{len(run)} checks"
            f" pass (score {self.score:.2f})" + (f", {skipped} skipped" if skipped else "")
        ]
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        for check in self.checks:
            mark = {"pass": "pass", "fail": "FAIL", "skip": "skip"}[check.status]
            lines.append(f"  {mark}  {check.name:<{width}}  {check.detail}")
            if check.status == "fail" and check.example:
                indent = " " * (10 + width)
                hint_width = max(40, CARD_WIDTH - len(indent) - 10)
                lines.extend(indent + line for line in _render_example(check.example, hint_width))
        return "\n".join(lines)

    __str__ = render


def _render_example(example: dict[str, Any], hint_width: int) -> list[str]:
    lines: list[str] = []
    formula = str(example.get("formula", "")).splitlines()
    if formula:
        lines.append(f"formula:  {formula[0]}")
        lines.extend(f"          {line}" for line in formula[1:])
    inputs = example.get("inputs") or {}
    if inputs:
        lines.append("inputs:   " + ", ".join(f"{k} = {v!r}" for k, v in inputs.items()))
    if example.get("error"):
        lines.append(f"raised:   {example['error']}")
    elif example.get("output") is not None and not _close(
        example["output"], example.get("expected_output", example["output"]), FORWARD_RTOL, 1e-9
    ):
        lines.append(f"output:   {example['output']!r}, should be {example['expected_output']!r}")
    rows = example.get("gradients") or []
    if rows:
        source = example.get("expected_from", "")
        numeric = "numeric" if "central" in source else "expected"
        lines.append(f"{'grad':<10}{'analytic':>16}  {numeric:>16}")
        for row in rows:
            flag = "" if row.get("ok", True) else "   <-- wrong"
            lines.append(
                f"{row['input']:<10}{row['analytic']:>16.10g}  {row['numeric']:>16.10g}{flag}"
            )
        if numeric == "expected" and source:
            lines.append(f"(expected: {source})")
    if example.get("hint"):
        wrapped = textwrap.wrap(str(example["hint"]), width=hint_width)
        lines.append(f"hint:     {wrapped[0]}")
        lines.extend(f"          {line}" for line in wrapped[1:])
    return lines


def render_summary(reports: Sequence[Report]) -> str:
    """One row per engine, one column per check: pass, FAIL, skip (- where not loaded)."""
    names = list(CHECKS)
    short = [name.removeprefix("op:") for name in names]
    widths = [max(len(name), 4) for name in short]
    engine_width = max([len("engine"), *(len(r.engine) for r in reports)])
    header = f"{'engine':<{engine_width}}  score  " + " ".join(
        f"{name:<{w}}" for name, w in zip(short, widths, strict=True)
    )
    lines = [header]
    for report in reports:
        cells = []
        statuses = {c.name: c.status for c in report.checks}
        for name, width in zip(names, widths, strict=True):
            status = statuses.get(name, "-")
            text = {"pass": "pass", "fail": "FAIL", "skip": "skip"}.get(status, "-")
            cells.append(f"{text:<{width}}")
        score = "  -  " if report.error else f"{report.score:.2f} "
        lines.append(f"{report.engine:<{engine_width}}  {score}  " + " ".join(cells).rstrip())
    lines[0] = lines[0].rstrip()
    return "\n".join(lines)


# Ops a micrograd-style engine often builds from others (micrograd: a - b = a + (-b),
# -a = a * -1, a / b = a * b**-1): a bug in the block shows up in what is built from it.
BUILT_FROM = {"sub": ("add", "neg", "mul"), "neg": ("mul",), "div": ("mul", "pow")}
_REFLECTED_LABELS = {"r" + op for op in REFLECTED}


def _cross_reference(report: Report) -> Report:
    """Point a failure at the failing op checks of the ops it uses or may be built from."""
    failing = {c.name[3:] for c in report.checks if c.status == "fail" and c.name.startswith("op:")}
    checks = []
    for check in report.checks:
        example = check.example
        if check.status == "fail" and example and example.get("hint"):
            if check.name.startswith("op:"):
                own = check.name[3:]
                related, why = set(BUILT_FROM.get(own, ())) - {own}, f"{own} may be built from it"
            else:
                labels = (op.strip() for op in str(example.get("op", "")).split(","))
                related = {label[1:] if label in _REFLECTED_LABELS else label for label in labels}
                why = "the formula uses it"
            shared = sorted(related & failing)
            if shared:
                note = (
                    f" (op:{', op:'.join(shared)} also fails on its own and {why}: fix that first)"
                )
                check = replace(check, example={**example, "hint": f"{example['hint']}{note}"})
        checks.append(check)
    return replace(report, checks=tuple(checks))


# --- targets --------------------------------------------------------------------------------------


class EngineLoadError(ValueError):
    """The target cannot be found: no such file, module or class (nothing to check)."""


@dataclass(frozen=True)
class Target:
    """Where the child finds the engine: a module (with the parent's sys.path) or a file."""

    label: str
    attribute: str
    module: str | None = None
    path: str | None = None
    sys_path: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "attribute": self.attribute,
            "module": self.module,
            "path": self.path,
            "sys_path": list(self.sys_path),
        }


def parse_target(target: str | type) -> Target:
    """``pkg.module:Class``, ``path/to/file.py:Class`` or a class object (re-imported in the
    child by module and qualified name; a script's class by its file)."""
    if isinstance(target, type):
        return _class_target(target)
    module, sep, attribute = target.rpartition(":")
    if not sep or not module or not attribute:
        raise EngineLoadError(
            f"give the engine as package.module:ClassName or path/to/file.py:ClassName, "
            f"not {target!r}"
        )
    if not all(part.isidentifier() for part in attribute.split(".")):
        raise EngineLoadError(f"{attribute!r} is not a class name")
    if module.endswith(".py") or "/" in module or os.sep in module:
        path = Path(module)
        if not path.is_file():
            raise EngineLoadError(f"no such file {module}")
        return Target(target, attribute, path=str(path.resolve()))
    if not all(part.isidentifier() for part in module.split(".")):
        raise EngineLoadError(f"{module!r} is neither a module name nor a .py file")
    return Target(target, attribute, module=module, sys_path=tuple(sys.path))


def _class_target(cls: type) -> Target:
    label = f"{cls.__module__}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        raise EngineLoadError(
            f"{label}: the class is defined inside a function; the kit imports the engine again "
            "in a separate process by module and name, so define it at the top of a module"
        )
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if cls.__module__ == "__main__":
        if not file:
            raise EngineLoadError(
                f"{label}: a class defined in a notebook or an interactive session cannot be "
                "imported again in a separate process; write it to a .py file and pass "
                "'path/to/file.py:ClassName'"
            )
        return Target(label, cls.__qualname__, path=str(Path(file).resolve()))
    return Target(
        label,
        cls.__qualname__,
        module=cls.__module__,
        path=str(Path(file).resolve()) if file else None,
        sys_path=tuple(sys.path),
    )


# --- running targets in child processes -----------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    examples: int = DEFAULT_EXAMPLES
    seed: int = DEFAULT_SEED
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class _Run:
    """The state of one target across the children it takes (a crash or a timeout ends one)."""

    target: Target
    settings: Settings
    results: dict[str, CheckResult] = field(default_factory=dict)
    timeouts: int = 0
    error: str | None = None

    def pending(self) -> list[str]:
        return [name for name in CHECKS if name not in self.results]

    def skip_rest(self, reason: str) -> None:
        for name in self.pending():
            self.results[name] = CheckResult(name, "skip", reason)


def _child_command(run: _Run, checks: Sequence[str]) -> list[str]:
    job = {
        "target": run.target.to_json(),
        "checks": list(checks),
        "examples": run.settings.examples,
        "seed": run.settings.seed,
    }
    return [sys.executable, "-m", "micrograd_like.conformance", "--worker", json.dumps(job)]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in a learner's folder
    env["PYTHONHASHSEED"] = "0"
    env[IN_WORKER] = "1"
    return env


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us: the child is gone
        for line in stream:
            lines.put(line)
    lines.put(None)


def _how_it_ended(process: subprocess.Popen[str], stderr: IO[str]) -> str:
    code = process.returncode
    how = f"exited with status {code}"
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    return how + _last_words(stderr)


def _last_words(stderr: IO[str]) -> str:
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().splitlines() if line.strip()]
    return f" (its last words: {lines[-1][:200]!r})" if lines else ""


def _kill(process: subprocess.Popen[str]) -> None:
    if hasattr(os, "killpg"):  # the child leads its own process group: end all of it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


def _run_child(run: _Run) -> None:
    """Start a child on the pending checks and record what it reports, until it finishes,
    crashes or runs out of time on one check."""
    pending = run.pending()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        process = subprocess.Popen(
            _child_command(run, pending),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_child_env(),
            start_new_session=True,  # so a timeout kills whatever the engine started too
        )
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        current, progress = "load", ""
        deadline = time.monotonic() + run.settings.timeout
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    _kill(process)
                    run.timeouts += 1
                    _lost(run, current, _timeout_detail(current, progress, run.settings.timeout))
                    return
                if line is None:
                    try:
                        process.wait(timeout=run.settings.timeout)
                    except subprocess.TimeoutExpired:
                        _kill(process)
                    if current:
                        how = _how_it_ended(process, stderr)
                        when = (
                            "while importing the engine"
                            if current == "load"
                            else "during this check"
                        )
                        _lost(run, current, f"the engine's process {how} {when}")
                    return
                event = _parse_event(line)
                kind = event.get("event")
                if kind == "start":
                    current, progress = str(event["check"]), ""
                elif kind == "progress":
                    progress = str(event.get("detail", ""))
                elif kind == "result":
                    result = CheckResult(
                        str(event["check"]),
                        str(event["status"]),
                        str(event["detail"]),
                        event.get("example"),
                    )
                    if result.name not in run.results:
                        run.results[result.name] = result
                    current = ""
                elif kind == "not-found":
                    run.error = str(event.get("detail"))
                    current = ""
                deadline = time.monotonic() + run.settings.timeout
        finally:
            if process.poll() is None:
                _kill(process)
            reader.join(timeout=5)
            process.stdout.close()


def _parse_event(line: str) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        event = json.loads(line)
        if isinstance(event, dict):
            return event
    return {}


def _timeout_detail(check: str, progress: str, timeout: float) -> str:
    if check == "load":
        return f"importing the engine did not finish within {timeout:g} s (a loop at import?)"
    if check == "deep-chain":
        works = int(progress.split()[1].replace(",", "")) if progress else 0
        broken = next((d for d in DEPTHS if d > works), DEPTHS[-1])
        return deep_detail(broken, works, f"no result within {timeout:g} s")
    return f"no result within {timeout:g} s (an endless loop, or very slow)"


def _lost(run: _Run, check: str, detail: str) -> None:
    """A check killed its child (timeout or crash): record it; the rest wait for a new child,
    unless that is hopeless."""
    if check in run.results:  # loading again in a new child failed this time
        run.skip_rest(f"not run: loading the engine again failed: {detail}")
        return
    run.results[check] = CheckResult(check, "fail", detail)
    if check == "load":
        run.skip_rest("not run: the engine did not load")
    elif run.timeouts >= MAX_TIMEOUTS:
        run.skip_rest(f"not run: {run.timeouts} checks already timed out")


def _run_target(target: Target, settings: Settings) -> Report:
    run = _Run(target, settings)
    while run.pending() and run.error is None:
        before = len(run.results)
        _run_child(run)
        if len(run.results) == before and run.error is None:  # no progress: do not loop
            run.skip_rest("not run: the worker stopped without reporting")
    if run.error is not None:
        return Report(target.label, (), run.error)
    checks = tuple(run.results[name] for name in CHECKS)
    return _cross_reference(Report(target.label, checks))


def check_engines(
    targets: Sequence[str | type],
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int | None = None,
) -> list[Report]:
    """Check several engines, ``jobs`` at a time (default: one per CPU); a target that cannot
    be found gives a Report with ``error`` set rather than an exception."""
    if os.environ.get(IN_WORKER):
        raise RuntimeError(
            "check_engine was called while the engine was being imported for a check (a script "
            "that checks itself needs its call under if __name__ == '__main__':)"
        )
    if importlib.util.find_spec("hypothesis") is None:
        raise ImportError(
            "the conformance kit needs hypothesis, a test dependency: "
            "pip install 'micrograd_like[test]' (or pip install hypothesis)"
        )
    settings = Settings(examples, seed, timeout)

    def one(target: str | type) -> Report:
        try:
            parsed = parse_target(target)
        except EngineLoadError as error:
            label = (
                target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            )
            return Report(label, (), str(error))
        return _run_target(parsed, settings)

    workers = max(1, min(jobs or os.cpu_count() or 1, len(targets) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, targets))


def check_engine(
    engine: str | type,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
) -> Report:
    """Check one engine (a class or ``"module:Class"`` / ``"file.py:Class"``); raises
    EngineLoadError if it cannot be found."""
    (report,) = check_engines([engine], examples=examples, seed=seed, timeout=timeout, jobs=1)
    if report.error is not None:
        raise EngineLoadError(report.error)
    return report


def assert_engine_correct(
    engine: str | type,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
) -> Report:
    """check_engine, raising AssertionError with the report card if any check fails."""
    report = check_engine(engine, examples=examples, seed=seed, timeout=timeout)
    if not report.passed:
        raise AssertionError("\n" + report.render())
    return report


# --- the worker: the child process, the only place the engine's code runs -------------------------


def _load(target: dict[str, Any]) -> type:
    """Import the engine class. EngineLoadError when it is not there; anything the engine's own
    code raises while importing passes through."""
    module_name, path = target.get("module"), target.get("path")
    sys.path[:0] = [p for p in target.get("sys_path", []) if p not in sys.path]
    module: Any = None
    if module_name:
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            found = None
        if found is not None:
            module = importlib.import_module(module_name)
        elif not path:
            raise EngineLoadError(f"no module named {module_name!r}")
    if module is None:
        if not path or not Path(path).is_file():
            raise EngineLoadError(f"no such file {path}")
        folder = str(Path(path).parent)
        sys.path.insert(0, folder)  # so the engine's sibling modules import
        name = Path(path).stem
        name = (
            name
            if name.isidentifier() and name not in sys.modules
            else f"_engine_{abs(hash(path))}"
        )
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise EngineLoadError(f"{path} cannot be imported as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    engine: Any = module
    for part in str(target["attribute"]).split("."):
        if not hasattr(engine, part):
            raise EngineLoadError(f"the module has no {part!r}")
        engine = getattr(engine, part)
    if not isinstance(engine, type):
        raise EngineLoadError(f"{target['attribute']} is not a class")
    return engine


def _available(engine: type) -> tuple[str, ...]:
    names = []
    for op in UNARY_OPS:
        if callable(getattr(engine, op.name, None)) or (
            op.name == "abs" and hasattr(engine, "__abs__")
        ):
            names.append(op.name)
    return tuple(names)


@contextlib.contextmanager
def _protocol_channel() -> Iterator[Callable[..., None]]:
    """A private copy of stdout for the kit's messages; the engine's prints go to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)

    def emit(detail: str = "", **event: Any) -> None:
        event["detail"] = detail
        channel.write(json.dumps(event, default=repr, allow_nan=True) + "\n")
        channel.flush()

    try:
        yield emit
    finally:
        channel.close()


def _worker(job: dict[str, Any]) -> int:
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crashing engine leaves no core file
    # hypothesis is imported before the engine's folder goes on sys.path, which could shadow it
    import micrograd_like.strategies  # noqa: F401

    checks: list[str] = list(job["checks"])
    with _protocol_channel() as emit:
        emit(event="start", check="load")
        try:
            engine = _load(job["target"])
        except EngineLoadError as error:
            emit(event="not-found", detail=str(error))
            return 0
        except (Exception, SystemExit) as error:
            what = _describe(error)
            emit(
                event="result",
                check="load",
                status="fail",
                detail=f"importing the engine failed: {what}",
                example=_plain("", _load_hint(error)),
            )
            for name in checks:
                if name != "load":
                    emit(
                        event="result",
                        check=name,
                        status="skip",
                        detail="not run: the engine did not load",
                    )
            return 0
        ctx = Context(engine, _available(engine), int(job["examples"]), int(job["seed"]))
        for current in checks:
            ctx.progress = partial(emit, event="progress", check=current)
            emit(event="start", check=current)
            try:
                outcome = run_check(ctx, current)
            except (Exception, SystemExit) as error:
                said = _describe(error)
                said = said if said.startswith("the engine") else f"the engine raised {said}"
                outcome = Outcome("fail", said, None)
            emit(
                event="result",
                check=current,
                status=outcome.status,
                detail=outcome.detail,
                example=outcome.example,
            )
        emit(event="done")
    return 0


def _load_hint(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return "the module calls sys.exit() when imported: keep scripts under a main guard"
    if isinstance(error, ModuleNotFoundError):
        return f"the engine imports {error.name!r}, which is not installed or not beside it"
    return "the engine's module raises when imported; run `python your_engine.py` to see where"


def _worker_main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "--worker":
        print(
            "internal: python -m micrograd_like.conformance --worker JOB (started by the kit)",
            file=sys.stderr,
        )
        return 2
    return _worker(json.loads(argv[1]))


if __name__ == "__main__":
    from micrograd_like.conformance import _worker_main as main  # one copy of the classes

    sys.exit(main(sys.argv[1:]))
