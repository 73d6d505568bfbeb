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
    first_failing_step,
    op_hint,
    right_at_generic_points,
    right_when_split,
    same_defect_as,
)
from micrograd_like.kit.process import Engine, Trial
from micrograd_like.kit.reference import (
    DEPTHS,
    EXPONENTS,
    UNARY,
    UNARY_OPS,
    Formula,
    Ref,
    Step,
    close,
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


def _choice(draw: Draw, options: Sequence[T]) -> T:
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


def _valid(draw: Draw, formula: Formula) -> Formula:
    formula = _trim(formula)
    if reference(formula) is None:
        draw.reject()
    return formula


def _search(ctx: Context, check: str, build: Callable[[Draw], Formula]) -> Trial | None:
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
        return (draw.number(-3.0, 3.0),), (Ref(0), _choice(draw, EXPONENTS))
    if label == "pow-value":
        return (draw.number(0.2, 3.0), draw.number(-2.0, 2.0)), (Ref(0), Ref(1))
    if label == "rpow":
        return (draw.number(-2.0, 2.0),), (_choice(draw, BASES), Ref(0))
    if label in STEP_OP:
        return (draw.number(-3.0, 3.0),), (_choice(draw, CONSTANTS), Ref(0))
    return (draw.number(-3.0, 3.0), draw.number(-3.0, 3.0)), (Ref(0), Ref(1))


def _op_builder(label: str, chain: str | None) -> Callable[[Draw], Formula]:
    """The op alone, or followed by ``* c`` (so an upstream gradient other than 1 flows in)."""

    def build(draw: Draw) -> Formula:
        inputs, args = _operands(draw, label)
        inner = Step(STEP_OP.get(label, label), args)
        if chain is None or draw.integer(0, 1) == 0:
            return _valid(draw, Formula(inputs, (inner,)))
        n = len(inputs)
        after = Step(chain, (Ref(n + 1), Ref(n)))
        return _valid(draw, Formula((*inputs, draw.number(-3.0, 3.0)), (inner, after)))

    return build


def check_op(ctx: Context, label: str) -> Outcome:
    """One op's forward value and local derivative, alone and with an upstream gradient."""
    missing = ctx.missing(label)
    if missing is not None:
        return Outcome("skip", f"not provided: {missing}")
    chain = "mul" if label == "mul" or ctx.usable("mul") else None
    trial = _search(ctx, f"op:{label}", _op_builder(label, chain))
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
    found = same_defect_as(ctx.engine, trial, label, ctx.failing(kind))
    if found is None:
        return None
    shown, failing = found
    names = ", ".join(kind + op for op in failing)
    return (
        f"not scored: {trial.formula.text()!r} gives exactly the numbers of {shown!r}, "
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


def example(trial: Trial, hint: str) -> dict[str, Any]:
    """The shown example: formula, inputs, output, and each gradient beside its right value."""
    names = [trial.formula.name(i) for i in range(len(trial.formula.inputs))]
    wrong = set(trial.wrong) if trial.error is None else set()
    rows = zip(names, trial.analytic, trial.numeric, trial.expected, strict=False)
    return {
        "op": ", ".join(trial.formula.ops()),
        "formula": trial.formula.text(),
        "inputs": dict(zip(names, trial.formula.inputs, strict=True)),
        "output": trial.output,
        "expected_output": trial.expected_output,
        "error": trial.error,
        "gradients": [
            {"input": n, "analytic": a, "numeric": d, "expected": e, "ok": i not in wrong}
            for i, (n, a, d, e) in enumerate(rows)
        ],
        "expected_from": "the chain rule (numeric: central differences of the engine's forward)",
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
        steps = _choice(draw, templates)
        if label in UNARY:
            a = draw.number(UNARY[label].low, UNARY[label].high)
        else:
            a = draw.number(0.2, 3.0) if label == "pow-value" else draw.number(-3.0, 3.0)
        b = draw.number(0.2, 2.0) if label == "pow-value" else draw.number(-2.0, 2.0)
        return _valid(draw, Formula((a, b), steps))

    trial = _search(ctx, f"reuse:{label}", build)
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


# --- the shape of the graph ---------------------------------------------------------------------


def _needs(ctx: Context, *labels: str) -> Outcome | None:
    lacking = [label for label in labels if not ctx.usable(label)]
    if not lacking:
        return None
    return Outcome("skip", f"not run: needs {', '.join(lacking)} passing their own checks")


def check_basics(ctx: Context) -> Outcome:
    """Value(x) keeps x as data, starts with grad 0, and an op's result has data."""
    got = ctx.engine.ask({"do": "basics"})
    if "error" in got:
        return Outcome("fail", f"the engine raised {got['error']}")
    if got["data"] != 2.5:
        return Outcome("fail", f"Value(2.5).data is {got['data']!r}")
    if got["grad"] != 0.0:
        return Outcome("fail", f"Value(2.5).grad starts at {got['grad']!r}, not 0")
    if got["sum"] != 5.0:
        return Outcome("fail", f"(Value(2.0) + Value(3.0)).data is {got['sum']!r}, not 5.0")
    return Outcome("pass", "Value(x).data is x, .grad starts at 0, ops give Values with data")


def check_diamond(ctx: Context) -> Outcome:
    """A node reached by two paths of different length: ``t1 = a * b`` feeds ``out`` directly
    and through a chain of ``* c``."""
    lacking = _needs(ctx, "mul", "add")
    if lacking:
        return lacking

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
    if right_at_generic_points(ctx.engine, even) and not right_at_generic_points(
        ctx.engine, trial.formula
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
    return Outcome("fail", failure_detail(trial), example(trial, hint))


def check_off_path(ctx: Context) -> Outcome:
    """Values that do not lead to the output keep grad 0; the ones that do are unaffected."""
    lacking = _needs(ctx, "mul", "add")
    if lacking:
        return lacking
    got = ctx.engine.ask({"do": "off-path"})
    if "error" in got:
        return Outcome("fail", f"the engine raised {got['error']}")
    right = {"a": -2.0, "b": 1.5, "c": 0.0, "aside": 0.0, "also": 0.0}
    wrong = [name for name, value in right.items() if not close(got[name], value)]
    if not wrong:
        return Outcome("pass", "values off the output's path keep grad 0")
    example = {
        "op": "mul, add",
        "formula": "out = a * b\naside = a * c\nalso = c + 1.0\nout.backward()",
        "inputs": {"a": 1.5, "b": -2.0, "c": 0.75},
        "gradients": [
            {"input": name, "analytic": got[name], "expected": value, "ok": name not in wrong}
            for name, value in right.items()
        ],
        "expected_from": "the chain rule: values off the path get 0",
        "hint": "backward() touches values that do not lead to the output (does it walk a list "
        "of every Value ever made, or the operands' other uses?)",
    }
    return Outcome("fail", f"wrong grad for {', '.join(wrong)} after out.backward()", example)


TWICE_FORMULAS = ("out = a * b", "c = a * b\nout = c + c", "c = a * b\nd = c * a\nout = d + c")


def check_backward_twice(ctx: Context) -> Outcome:
    """Calling backward() twice gives the leaves exactly twice one call's gradient (PyTorch's
    rule): intermediate gradients must start fresh on each call, or they pile up."""
    lacking = _needs(ctx, "mul", "add")
    if lacking:
        return lacking
    for case, formula in enumerate(TWICE_FORMULAS):
        got = ctx.engine.ask({"do": "twice", "case": case})
        if "error" in got:
            return Outcome("fail", f"the engine raised {got['error']}")
        once, twice = got["once"], got["twice"]
        if all(close(t, 2 * o, 1e-9, 1e-12) for t, o in zip(twice, once, strict=True)):
            continue
        ratio = twice[0] / once[0] if once[0] else math.nan
        example = {
            "op": "mul, add",
            "formula": f"{formula}\nout.backward(); out.backward()",
            "inputs": {"a": 1.5, "b": -2.0},
            "gradients": [
                {"input": name, "analytic": t, "expected": 2 * o, "ok": close(t, 2 * o)}
                for name, t, o in zip("ab", twice, once, strict=True)
            ],
            "expected_from": "twice the gradient of one call on a fresh graph",
            "hint": _twice_hint(ratio),
        }
        detail = (
            f"after two calls a.grad = {twice[0]:g}, {ratio:g} times one call ({once[0]:g}); "
            f"expected exactly twice ({2 * once[0]:g})"
        )
        return Outcome("fail", detail, example)
    return Outcome("pass", "two backward() calls give exactly twice the leaf gradients")


def _twice_hint(ratio: float) -> str:
    if close(ratio, 1.0, 1e-9, 1e-12):
        return (
            "the second call gave the same gradient as one call: the leaves' grads are "
            "set (`=`, or reset to 0 at the start of backward()) where PyTorch adds to them "
            "(`+=`; reset only the intermediate nodes)"
        )
    if ratio > 2:
        return (
            "intermediate gradients pile up across calls: the second call starts from the "
            "first call's intermediate grads; set every non-leaf grad to 0 at the start of "
            "backward() (micrograd has this bug)"
        )
    return "backward() gives a different gradient when called again on the same graph"


def check_random_graphs(ctx: Context) -> Outcome:
    """Random DAGs over every op that passed its own checks, reusing nodes, with constants."""
    ops = [label for label in ("add", "mul", "sub", "div", "neg", "pow") if ctx.usable(label)]
    ops += [label for label in UNARY if ctx.usable(label)]
    if not ops:
        return Outcome("skip", "not run: no op passes its own checks")
    constant_first = {op for op in ("add", "sub", "mul", "div") if ctx.passed("r" + op)}

    def draw_step(draw: Draw, count: int) -> Step:
        def ref() -> Ref:
            back = draw.integer(0, min(3, count - 1))
            if draw.integer(0, 1) == 0:
                return Ref(count - 1 - back)
            return Ref(draw.integer(0, count - 1))

        op = _choice(draw, ops)
        if op in ("add", "sub", "mul", "div"):
            left, right = ref(), ref()
            if draw.integer(0, 3) == 0:
                constant = draw.number(-2.0, 2.0)
                if op in constant_first and draw.integer(0, 1):
                    return Step(op, (constant, right))
                return Step(op, (left, constant))
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
        return _valid(draw, _sum_sinks(formula))

    trial = _search(ctx, "random-graphs", build)
    if trial is None:
        return Outcome("pass", f"{ctx.examples} random graphs agree with central differences")
    failing = first_failing_step(ctx.engine, trial)
    if failing is not None:
        step, alone = failing
        hint = f"an op is wrong on its own here: {op_hint(ctx.engine, alone, step)}"
    elif right_when_split(ctx.engine, trial):
        hint = (
            "right when each use of an input is a separate Value, wrong when one Value is used "
            "twice: `=` where `+=` belongs (the second contribution to .grad overwrites the first)"
        )
    else:
        hint = (
            "every op of the graph is right on its own, so the graph's shape is the trouble: "
            "a node used twice needs `+=`, and backward() must go in topological order"
        )
    return Outcome("fail", failure_detail(trial), example(trial, hint))


def _sum_sinks(formula: Formula) -> Formula:
    """Add up the nodes nothing uses, so every step counts towards the output."""
    used = {a.index for s in formula.steps for a in s.args if isinstance(a, Ref)}
    n = len(formula.inputs)
    sinks = [n + k for k in range(len(formula.steps)) if n + k not in used]
    for k in range(1, len(sinks)):
        last = n + len(formula.steps) - 1 if k > 1 else sinks[0]
        formula = Formula(formula.inputs, (*formula.steps, Step("add", (Ref(last), Ref(sinks[k])))))
    return formula


def check_deep_chain(ctx: Context) -> Outcome:
    """The deepest chain ``a + 1.0 + 1.0 + ...`` that backpropagates: each of DEPTHS in turn."""
    lacking = _needs(ctx, "add")
    if lacking:
        return lacking
    works = 0
    for depth in DEPTHS:
        got = ctx.engine.ask({"do": "deep", "depth": depth})
        if "error" in got:
            return deep_failure(depth, works, str(got["error"]))
        if not close(got["grad"], 1.0):
            return deep_failure(depth, works, f"a.grad is {got['grad']!r}, should be 1.0")
        works = depth
        ctx.progress(f"depth {depth} works")
    return Outcome("pass", f"a chain {DEPTHS[-1]:,} deep backpropagates")


def deep_failure(depth: int, works: int, reason: str) -> Outcome:
    """The deep-chain row when ``depth`` breaks (``works``: the deepest that worked)."""
    if "RecursionError" in reason:
        hint = (
            "backward() recurses once per node (a recursive topological sort): build the order "
            "with an explicit stack instead"
        )
    elif "should be" in reason:
        hint = "the gradient at the start of a long chain of additions is wrong"
    else:
        hint = "backward() breaks on long chains"
    works_text = f"depth {works:,} works" if works else "no depth works"
    example = {
        "op": "add",
        "formula": f"out = a + 1.0 + 1.0 + ... ({depth:,} additions)\nout.backward()",
        "inputs": {"a": 0.5},
        "gradients": [],
        "hint": hint,
    }
    return Outcome("fail", f"breaks at depth {depth:,}: {reason}; {works_text}", example)


OTHER_CHECKS: dict[str, Callable[[Context], Outcome]] = {
    "diamond": check_diamond,
    "off-path": check_off_path,
    "backward-twice": check_backward_twice,
    "random-graphs": check_random_graphs,
    "deep-chain": check_deep_chain,  # last: it is the slowest
}
CHECKS: tuple[str, ...] = (
    "load",
    "basics",
    *(f"op:{label}" for label in OP_LABELS),
    *(f"reuse:{label}" for label in REUSE_LABELS),
    *OTHER_CHECKS,
)


def run_check(ctx: Context, name: str) -> Outcome:
    """One check on an engine already loaded; its status is remembered for the checks after."""
    if name == "load":
        outcome = Outcome("pass", "imported the engine")
    elif name == "basics":
        outcome = check_basics(ctx)
    elif name.startswith("op:"):
        outcome = check_op(ctx, name[3:])
    elif name.startswith("reuse:"):
        outcome = check_reuse(ctx, name[6:])
    else:
        outcome = OTHER_CHECKS[name](ctx)
    ctx.results[name] = outcome.status
    return outcome
