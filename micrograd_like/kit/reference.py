"""The kit's reference math: the ops it checks, their exact values and derivatives, the classic
slips learners make in each, and formulas (numbered inputs and steps) with their exact gradient.

Nothing here touches an engine: this is what the engine's numbers are compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

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
INPUT_NAMES = "abcdefgh"

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
    "pow": ("n * a**(n-1)", "a**n * log(a)"),
}
REFLECTED = {
    "add": "__radd__",
    "sub": "__rsub__",
    "mul": "__rmul__",
    "div": "__rtruediv__",
    "pow": "__rpow__",
}
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
        (Mistake(lambda a, n: a**n, "the factor log(a) is missing: d(a**b)/db = a**b * log(a)"),
         Mistake(lambda a, n: n * a ** (n - 1), "it uses the power rule, which is d/da: "
                 "d(a**b)/db = a**b * log(a)")),
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
    """One op: a name from BINARY, "pow", "neg" or UNARY_OPS, and its operands (a constant on
    the left is a reflected op: ``2.0 - a``; a node as exponent is ``a ** b``)."""

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
        names = [op_label(step) for step in self.steps]
        return list(dict.fromkeys(names))

    def with_inputs(self, inputs: Sequence[float]) -> Formula:
        return replace(self, inputs=tuple(inputs))

    def to_json(self) -> list[tuple[str, list[Any]]]:
        """The steps as the engine's side reads them: a node operand is ``["r", index]``."""
        return [
            (s.op, [["r", a.index] if isinstance(a, Ref) else a for a in s.args])
            for s in self.steps
        ]


def op_label(step: Step) -> str:
    """The op as a check names it: ``rsub`` for ``2.0 - a``, ``pow-value`` for ``a ** b``."""
    if step.op in REFLECTED and not isinstance(step.args[0], Ref):
        return "r" + step.op
    if step.op == "pow" and isinstance(step.args[1], Ref):
        return "pow-value"
    return step.op


# --- reference math: value and exact gradient, or None where a formula leaves safe ground ---------

Local = tuple[float, tuple[float, ...]]


def local(op: str, x: Sequence[float], exponent_varies: bool = False) -> Local | None:
    """An op's value and local derivatives at ``x`` (operand values), or None off its domain
    (``exponent_varies``: the exponent of ``**`` is a node, so the base must be positive)."""
    if op in BINARY:
        if op == "div" and abs(x[1]) < 0.2:
            return None
        return BINARY[op][1](x[0], x[1]), BINARY_SLOPES[op](x[0], x[1])
    if op == "pow":
        base, n = x
        if (not n.is_integer() and base < 0.2) or (n < 1 and abs(base) < 0.2):
            return None
        if exponent_varies and base < 0.2:
            return None
        by_exponent = base**n * math.log(base) if base > 0 else 0.0
        return base**n, (n * base ** (n - 1) if n else 0.0, by_exponent)
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
            found = local(step.op, operands, _exponent_varies(step))
        except (ArithmeticError, ValueError):
            return None
        if found is None:
            return None
        value, derivatives = found
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


def _exponent_varies(step: Step) -> bool:
    return step.op == "pow" and isinstance(step.args[1], Ref)


def operand_values(formula: Formula) -> list[list[float]] | None:
    """Each step's operand values (None when a step leaves its domain)."""
    values = list(formula.inputs)
    operands: list[list[float]] = []
    for step in formula.steps:
        these = [values[a.index] if isinstance(a, Ref) else a for a in step.args]
        found = local(step.op, these, _exponent_varies(step))
        if found is None:
            return None
        operands.append(these)
        values.append(found[0])
    return operands


def close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Whether two numbers agree within the kit's tolerance."""
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
