"""The checks: what each one draws, runs on the engine, and concludes.

Each op is checked on its own (``op:mul`` ... ``op:rpow``, ``op:tanh`` ...), then whether it adds
(``+=``) into an operand used twice (``reuse:<op>``), then the graph-shaped checks. A check only
uses ops that passed their own checks, so one defect fails one check: an op the engine lacks is
skipped as "not provided", and an op built from a failing one (``a / b`` as ``a * b**-1``) is
not scored while it gives exactly that one's numbers.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from micrograd_like.kit.hints import (
    op_hint,
    right_when_split,
    rpow_as_pow_value,
    same_defect_as,
)
from micrograd_like.kit.process import Engine, Trial
from micrograd_like.kit.reference import (
    EXPONENTS,
    UNARY,
    UNARY_OPS,
    Formula,
    Ref,
    Step,
    reference,
)
from micrograd_like.kit.search import Draw, smallest_failure

T = TypeVar("T")
# Ops in the order they are checked: those others are built from come first.
OP_LABELS = (
    "mul", "add", "neg", "pow", "sub", "div", "pow-value",
    "radd", "rsub", "rmul", "rdiv", "rpow", *(op.name for op in UNARY_OPS),
)  # fmt: skip
REUSE_LABELS = ("mul", "add", "neg", "pow", "sub", "div", "pow-value", *UNARY)
STEP_OP = {"radd": "add", "rsub": "sub", "rmul": "mul", "rdiv": "div", "rpow": "pow"}
STEP_OP["pow-value"] = "pow"
CONSTANTS = (2.0, 3.0, -1.5, 0.5, 2.5)  # the number beside a Value in 2.0 - a (never 0 or 1)
BASES = (2.0, 3.0, 0.5, 1.5)  # the number in 2.0 ** a
SHOWN = {"pow-value": "a ** b", "rpow": "2.0 ** a", "radd": "2.0 + a", "rsub": "2.0 - a"}
SHOWN |= {"rmul": "2.0 * a", "rdiv": "2.0 / a"}


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | skip
    detail: str
    example: dict[str, Any] | None = None


@dataclass
class Context:
    """What a check knows: the engine, the budget, and the results of the checks before it."""

    engine: Engine
    examples: int
    seed: int
    results: dict[str, str] = field(default_factory=dict)  # check name: status
    progress: Callable[[str], None] = lambda text: None

    def seed_for(self, check: str) -> int:
        return zlib.crc32(f"{self.seed}:{check}".encode())

    def missing(self, label: str) -> str | None:
        """Why the engine counts as lacking an op, or None when it has it."""
        return self.engine.provides.get(label, f"the kit does not know {label!r}")

    def passed(self, label: str) -> bool:
        """The engine has the op and it passed its own check."""
        return self.missing(label) is None and self.results.get(f"op:{label}") == "pass"

    def usable(self, label: str) -> bool:
        """The op passed its own check and, where there is one, its reuse check."""
        return self.passed(label) and self.results.get(f"reuse:{label}", "pass") == "pass"

    def failing(self, prefix: str) -> set[str]:
        """The ops whose ``op:`` or ``reuse:`` check failed."""
        return {
            n[len(prefix) :]
            for n, s in self.results.items()
            if n.startswith(prefix) and s == "fail"
        }


def choice(draw: Draw, options: Sequence[T]) -> T:
    return options[draw.integer(0, len(options) - 1)]


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

    def renumber(arg: Ref | float) -> Ref | float:
        if not isinstance(arg, Ref):
            return arg
        return Ref(new_index[arg.index]) if arg.index < n else Ref(arg.index - shift)

    steps = tuple(Step(s.op, tuple(map(renumber, s.args))) for s in formula.steps)
    return Formula(tuple(formula.inputs[i] for i in used), steps)


def valid(draw: Draw, formula: Formula) -> Formula:
    formula = _trim(formula)
    if reference(formula) is None:
        draw.reject()
    return formula


def search(ctx: Context, check: str, build: Callable[[Draw], Formula]) -> Trial | None:
    """The simplest formula from ``build`` on which the engine fails, run again for the
    example shown (so what is shown is what a rerun gives)."""

    def fails(formula: Formula) -> bool:
        return not ctx.engine.run(formula).ok

    found = smallest_failure(build, fails, examples=ctx.examples, seed=ctx.seed_for(check))
    return None if found is None else ctx.engine.run(found, fresh=True)


# --- the op checks -----------------------------------------------------------------------------


def _operands(draw: Draw, label: str) -> tuple[tuple[float, ...], tuple[Ref | float, ...]]:
    """Inputs and the step's operands for one op: ``a * b``, ``2.0 - a``, ``a ** 3.0`` ..."""
    if label in UNARY:
        return (draw.number(UNARY[label].low, UNARY[label].high),), (Ref(0),)
    if label == "neg":
        return (draw.number(-3.0, 3.0),), (Ref(0),)
    if label == "pow":
        return (draw.number(-3.0, 3.0),), (Ref(0), choice(draw, EXPONENTS))
    if label == "pow-value":
        return (draw.number(0.2, 3.0), draw.number(-2.0, 2.0)), (Ref(0), Ref(1))
    if label == "rpow":
        return (draw.number(-2.0, 2.0),), (choice(draw, BASES), Ref(0))
    if label in STEP_OP:
        return (draw.number(-3.0, 3.0),), (choice(draw, CONSTANTS), Ref(0))
    return (draw.number(-3.0, 3.0), draw.number(-3.0, 3.0)), (Ref(0), Ref(1))


def _op_builder(label: str, chain: str | None) -> Callable[[Draw], Formula]:
    """The op alone, or followed by ``* c`` (so an upstream gradient other than 1 flows in)."""

    def build(draw: Draw) -> Formula:
        inputs, args = _operands(draw, label)
        inner = Step(STEP_OP.get(label, label), args)
        if chain is None or draw.integer(0, 1) == 0:
            return valid(draw, Formula(inputs, (inner,)))
        n = len(inputs)
        after = Step(chain, (Ref(n + 1), Ref(n)))
        return valid(draw, Formula((*inputs, draw.number(-3.0, 3.0)), (inner, after)))

    return build


def check_op(ctx: Context, label: str) -> Outcome:
    """One op's forward value and local derivative, alone and with an upstream gradient."""
    missing = ctx.missing(label)
    if missing is not None:
        return Outcome("skip", f"not provided: {missing}")
    chain = "mul" if label == "mul" or ctx.usable("mul") else None
    trial = search(ctx, f"op:{label}", _op_builder(label, chain))
    if trial is None:
        return Outcome("pass", f"{SHOWN.get(label, label)}: {ctx.examples} examples agree")
    if trial.ok:
        return _not_repeatable(trial)
    hint = op_hint(ctx.engine, trial, trial.formula.steps[0])
    same = _same_defect(ctx, trial, label, "op:")
    if same is not None:
        return Outcome("skip", same, example(trial, hint))
    return Outcome("fail", failure_detail(trial, hint), example(trial, hint))


def _same_defect(ctx: Context, trial: Trial, label: str, kind: str) -> str | None:
    """``not scored: ...`` when the failure is one another check of ``kind`` already names."""
    if label == "rpow" and "pow-value" in ctx.failing(kind):
        found = rpow_as_pow_value(ctx.engine, trial)
    else:
        found = same_defect_as(ctx.engine, trial, label, ctx.failing(kind))
    if found is None:
        return None
    shown, failing = found
    names = ", ".join(kind + op for op in failing)
    this = trial.formula.text().replace("\n", "; ")
    return (
        f"not scored: {this!r} gives exactly the numbers of {shown!r}, "
        f"so this is the defect {names} names (fix that first)"
    )


def _not_repeatable(trial: Trial) -> Outcome:
    detail = (
        f"{', '.join(trial.formula.ops())}: the engine gave different numbers for the same "
        "formula on two runs (does it keep state between calls, or draw random numbers?)"
    )
    return Outcome("fail", detail, example(trial, "run the formula twice and compare"))


def failure_detail(trial: Trial, hint: str = "") -> str:
    """One line: the ops, and what the engine got wrong."""
    ops = ", ".join(trial.formula.ops())
    if "returned" in hint:  # the forward value matched another expression
        return f"{ops}: {hint.split(': ', 1)[1]}"
    if trial.error is not None:
        said = trial.error if trial.error.startswith("the engine") else f"raised {trial.error}"
        return f"{ops}: {said}"
    if not trial.forward_ok:
        return f"{ops}: forward value {trial.output!r}, should be {trial.expected_output!r}"
    names = ", ".join(trial.formula.name(i) for i in trial.wrong)
    what = "gradients of" if len(trial.wrong) > 1 else "gradient of"
    agree = "are wrong" if len(trial.wrong) > 1 else "is wrong"
    return f"{ops}: the {what} {names} {agree}"


def shown(x: float) -> float:
    """An engine's number as an example shows it: 12 significant digits, so that an engine
    whose sums run in another order from run to run (its parents in a set) still shows the
    same example for the same seed. Inputs are never rounded: they must reproduce."""
    return float(f"{x:.12g}") if math.isfinite(x) else x


def example(trial: Trial, hint: str) -> dict[str, Any]:
    """The shown example: formula, inputs, output, and each gradient beside its right value."""
    names = [trial.formula.name(i) for i in range(len(trial.formula.inputs))]
    wrong = set(trial.wrong) if trial.error is None else set()
    rows = zip(names, trial.analytic, trial.numeric, trial.expected, strict=False)
    return {
        "op": ", ".join(trial.formula.ops()),
        "formula": trial.formula.text(),
        "steps": trial.formula.to_json(),
        "inputs": dict(zip(names, trial.formula.inputs, strict=True)),
        "output": None if trial.output is None else shown(trial.output),
        "expected_output": trial.expected_output,
        "error": trial.error,
        "gradients": [
            {
                "input": n,
                "analytic": shown(a),
                "numeric": shown(d),
                "expected": e,
                "ok": i not in wrong,
            }
            for i, (n, a, d, e) in enumerate(rows)
        ],
        "expected_from": "the exact derivative; numeric: central differences of its forward",
        "hint": hint,
    }


# --- reuse: an operand used twice gets both contributions (+=) ---------------------------------


def _reuse_templates(label: str, first: str) -> list[tuple[Step, ...]]:
    """Formulas over a, b where ``label`` adds into ``a`` after ``first`` (an op that passed)
    already has: only ``label``'s own += is on trial."""
    op = STEP_OP.get(label, label)
    after = Step(first, (Ref(2), Ref(0)))
    if label in ("add", "sub", "mul", "div", "pow-value"):
        return [
            (Step(op, (Ref(0), Ref(0))),),
            (Step(op, (Ref(0), Ref(1))), after),
            (Step(op, (Ref(1), Ref(0))), after),
        ]
    if label == "pow":
        return [(Step("pow", (Ref(0), 2.0)), after), (Step("pow", (Ref(0), 3.0)), after)]
    return [(Step(op, (Ref(0),)), after)]


def check_reuse(ctx: Context, label: str) -> Outcome:
    """A value used twice, ``a * a``, ``tanh(a) * a``: each use adds its part to a.grad."""
    missing = ctx.missing(label)
    if missing is not None:
        return Outcome("skip", f"not provided: {missing}")
    if not ctx.passed(label):
        return Outcome("skip", f"not run: op:{label} does not pass (fix that first)")
    first = next((op for op in ("mul", "add") if ctx.passed(op)), None)
    if first is None:
        return Outcome("skip", "not run: needs + or * that pass their own checks")
    templates = _reuse_templates(label, first)

    def build(draw: Draw) -> Formula:
        steps = choice(draw, templates)
        if label in UNARY:
            a = draw.number(UNARY[label].low, UNARY[label].high)
        else:
            a = draw.number(0.2, 3.0) if label == "pow-value" else draw.number(-3.0, 3.0)
        b = draw.number(0.2, 2.0) if label == "pow-value" else draw.number(-2.0, 2.0)
        return valid(draw, Formula((a, b), steps))

    trial = search(ctx, f"reuse:{label}", build)
    if trial is None:
        return Outcome("pass", f"{ctx.examples} formulas that use a value twice agree")
    if trial.ok:
        return _not_repeatable(trial)
    same = _same_defect(ctx, trial, label, "reuse:")
    if right_when_split(ctx.engine, trial):
        same = same or _shared_loop(ctx, label)
        hint = (
            f"right when each use is a separate Value, wrong when one Value is used twice: "
            f"`=` where `+=` belongs in {label}'s backward (its contribution to the operand's "
            ".grad overwrites what was there)"
        )
    else:
        hint = "a value used twice gets the wrong gradient: every use must add (+=) its part"
    if same is not None:
        return Outcome("skip", same, example(trial, hint))
    return Outcome("fail", failure_detail(trial), example(trial, hint))


def _shared_loop(ctx: Context, label: str) -> str | None:
    """``not scored`` when every reuse check so far failed too: one `=` in code all ops share
    (microgpt's backward loop) rather than one per op."""
    ran = [n for n, s in ctx.results.items() if n.startswith("reuse:") and s != "skip"]
    if not ran or any(ctx.results[n] != "fail" for n in ran):
        return None
    return (
        f"not scored: every op so far loses a value used twice ({', '.join(ran)} failed), so "
        "the `=` is likely in code they share, such as backward()'s loop: fix it there"
    )
