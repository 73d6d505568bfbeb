"""Hints: from an engine's wrong numbers to the kind of bug that fits them.

A failing op is run alone at spread-out points, and its slopes are matched against the classic
slips (``UnaryOp.mistakes``), a flipped sign, a constant factor, a missing gradient; a wrong
forward value is matched against what the op would give with its operands swapped or with
another operator (``2.0 / a returned a / 2.0``); a failure that disappears once each use of a
value is a separate leaf is a missing ``+=``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

from micrograd_like.kit.process import Engine, Trial
from micrograd_like.kit.reference import (
    BINARY,
    BINARY_MISTAKES,
    BINARY_SLOPE_TEXT,
    FORWARD_RTOL,
    MARGIN,
    REFLECTED,
    UNARY,
    Arg,
    Formula,
    Mistake,
    Ref,
    Step,
    close,
    op_label,
    operand_values,
    reference,
)

GENERIC_POINTS = ((1.3, -0.7, 0.9), (0.6, 1.1, -1.4), (-1.2, 0.8, 1.7))  # no zeros, no ones
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def diagnose(
    points: Sequence[tuple[Sequence[float], float, float]], mistakes: Sequence[Mistake] = ()
) -> str | None:
    """What is wrong with one derivative, from (operands, engine's value, right value) at several
    points: a classic mistake, no gradient at all, a flipped sign, a constant factor, or wrong
    only for some inputs. None when every point is right."""
    bad = [(x, got, right) for x, got, right in points if not close(got, right)]
    if not bad:
        return None
    for mistake in mistakes:
        with contextlib.suppress(ArithmeticError, ValueError):
            if all(close(got, mistake.slope(*x)) for x, got, _ in points):
                return mistake.explains
    if all(close(got, 0.0) for _, got, _ in bad):
        return "no gradient arrives: backward() never adds this op's contribution into the operand"
    if all(close(got, -right) for _, got, right in points):
        return "the sign is flipped"
    ratios = [got / right for _, got, right in points if abs(right) > 1e-3]
    if ratios and all(close(r, ratios[0], 1e-6, 1e-9) for r in ratios) and abs(ratios[0]) > 1e-6:
        return f"off by a constant factor: {ratios[0]:.6g} times the right value"
    if len(bad) < len(points):
        good = next(x for x, got, right in points if close(got, right))
        return (
            f"right at {_args_text(good)} but wrong at {_args_text(bad[0][0])}: "
            "a case distinction (a sign, a branch) in the derivative is off"
        )
    return "the derivative formula is wrong"


def _args_text(x: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in x)


def alone(step: Step, operands: Sequence[float]) -> Formula:
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


def _alone_runs(engine: Engine, step: Step) -> list[tuple[list[float], Trial]]:
    """The step alone at each probe point that lies inside its domain, run on the engine."""
    runs = []
    for point in _probe_points(step):
        operands = _operands(step, point)
        formula = alone(step, operands)
        if reference(formula) is not None:
            runs.append((operands, engine.run(formula)))
    return runs


def shown_operands(step: Step) -> list[str]:
    """The step's operands as its check shows them: nodes a, b in order, constants as numbers."""
    names = iter("ab")
    return [next(names) if isinstance(arg, Ref) else repr(arg) for arg in step.args]


def _candidates(step: Step) -> list[tuple[str, Callable[[float, float], float]]]:
    """What a two-operand op may compute instead: the other operators, either way round."""
    x, y = shown_operands(step)
    found: list[tuple[str, Callable[[float, float], float]]] = []
    for op, symbol in SYMBOLS.items():
        for text, order in ((f"{x} {symbol} {y}", False), (f"{y} {symbol} {x}", True)):
            found.append((text, _binary_value(op, order)))
    return found


def _binary_value(op: str, swapped: bool) -> Callable[[float, float], float]:
    def value(p: float, q: float) -> float:
        p, q = (q, p) if swapped else (p, q)
        return float(p**q) if op == "pow" else BINARY[op][1](p, q)

    return value


def computed_instead(engine: Engine, step: Step) -> str | None:
    """``2.0 / a returned a / 2.0``: the expression a wrong two-operand forward matches at
    every probe point, or None."""
    if step.op not in SYMBOLS:
        return None
    runs = [(x, t) for x, t in _alone_runs(engine, step) if t.output is not None]
    if not runs:
        return None
    x, y = shown_operands(step)
    right = f"{x} {SYMBOLS[step.op]} {y}"
    for text, value in _candidates(step):
        if text == right:
            continue
        with contextlib.suppress(ArithmeticError, ValueError, TypeError):
            if all(_same(t.output, value(x[0], x[1])) for x, t in runs):
                return f"{right} returned {text}"
    return None


def _same(got: float | None, value: float) -> bool:
    return got is not None and isinstance(value, float) and close(got, value, FORWARD_RTOL, 1e-9)


def op_hint(engine: Engine, trial: Trial, step: Step) -> str:
    """Evidence for a failing op: its slope alone at several points beside the right one, matched
    against the classic mistakes, a flipped sign, a constant factor ..."""
    label = op_label(step)
    if trial.error is not None or not trial.forward_ok:
        instead = computed_instead(engine, step)
        if instead is not None:
            return f"the forward value is wrong: {instead}"
    if trial.error is not None:
        return _error_hint(label, step, trial.error)
    if not trial.forward_ok:
        return f"the forward value of {label} is wrong: compare with {label}'s definition"
    positions = [i for i, arg in enumerate(step.args) if isinstance(arg, Ref)]
    runs = _alone_runs(engine, step)
    hints: list[str] = []
    for k, position in enumerate(positions):
        evidence = [
            (operands, run.analytic[k], run.expected[k])
            for operands, run in runs
            if run.error is None and len(run.analytic) > k
        ]
        hint = diagnose(evidence, _mistakes(step.op, position))
        if hint is not None:
            where = ""
            if step.op in SYMBOLS:
                x, y = shown_operands(step)
                where = f"in {x} {SYMBOLS[step.op]} {y}, d/d{'ab'[k]}: "
            hints.append(f"{label}: {where}{hint} (right: {slope_text(label, position)})")
    if not hints:
        return (
            f"{label} is right on its own but wrong inside a formula: is its local derivative "
            "multiplied by out.grad, and added (+=) into the operand's grad?"
        )
    return "; ".join(hints)


def _error_hint(label: str, step: Step, error: str) -> str:
    if "TypeError" in error and label.startswith("r") and step.op in REFLECTED:
        return (
            f"define {REFLECTED[step.op]}: for {label[1:]} with a number on the left, such "
            f"as 2.0 {SYMBOLS[step.op]} a, Python calls a.{REFLECTED[step.op]}(2.0)"
        )
    if error.startswith("the engine called sys.exit"):
        return (
            f"{label} calls sys.exit(), which ends the whole program: raise an exception "
            "(such as NotImplementedError) instead"
        )
    return f"{label} raised {error.split(':')[0]} on operands inside its domain"


def _mistakes(op: str, position: int) -> Sequence[Mistake]:
    if op in UNARY:
        return UNARY[op].mistakes
    return BINARY_MISTAKES[op][position] if op in BINARY_MISTAKES else ()


def slope_text(label: str, position: int) -> str:
    """The right local derivative of the op a check names, as a learner writes it."""
    if label in UNARY:
        return f"d {label}(x)/dx = {UNARY[label].derivative_text}"
    if label == "neg":
        return "d(-a)/da = -1"
    if label == "pow-value":
        return ("d(a**b)/da = b * a**(b-1)", "d(a**b)/db = a**b * log(a)")[position]
    if label == "rpow":
        return "d(c**a)/da = c**a * log(c)"
    if label.startswith("r") and label[1:] in BINARY:
        return f"d(c {BINARY[label[1:]][0]} a)/da = {REFLECTED_SLOPE_TEXT[label[1:]]}"
    return f"d/d{'ab'[position]} = {BINARY_SLOPE_TEXT[label][position]}"


REFLECTED_SLOPE_TEXT = {"add": "1", "sub": "-1", "mul": "c", "div": "-c/a**2"}


def first_failing_step(engine: Engine, trial: Trial) -> tuple[Step, Trial] | None:
    """The first step of a formula that fails on its own, at the operands it receives there."""
    operands = operand_values(trial.formula)
    if operands is None:
        return None
    for step, these in zip(trial.formula.steps, operands, strict=True):
        formula = alone(step, these)
        if reference(formula) is not None:
            run = engine.run(formula)
            if not run.ok:
                return step, run
    return None


# --- `=` where `+=` belongs: a formula right once each use of an input is a leaf of its own ------


def split_reuse(formula: Formula) -> tuple[Formula, list[int]]:
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


def right_when_split(engine: Engine, trial: Trial) -> bool:
    """Whether the engine gets the failing formula right once each reuse of an input is a
    separate leaf, at the failing inputs and at generic points (gradients summed over copies)."""
    if trial.error is not None:
        return False
    points = [trial.formula.inputs]
    points += [p[: len(trial.formula.inputs)] for p in GENERIC_POINTS]
    checked = False
    for point in points:
        formula = trial.formula.with_inputs(point)
        split, origin = split_reuse(formula)
        if len(origin) == len(formula.inputs) or reference(split) is None:
            continue
        whole, parts = engine.run(formula), engine.run(split)
        if not parts.ok:
            return False
        summed = [0.0] * len(formula.inputs)
        for i, g in enumerate(parts.analytic):
            summed[origin[i]] += g
        if not all(close(g, num) for g, num in zip(summed, whole.expected, strict=True)):
            return False
        checked = True
    return checked


def right_at_generic_points(engine: Engine, formula: Formula) -> bool:
    """Whether the engine gets ``formula`` right at a few points with no zeros and no ones
    (a shrunk example's 0.0 and 1.0 can make a wrong gradient look right by accident)."""
    n = len(formula.inputs)
    trials = [formula.with_inputs(point[:n]) for point in GENERIC_POINTS]
    return all(engine.run(t).ok for t in trials if reference(t) is not None)


# --- the same defect as another op: an op built from others gives exactly their numbers ---------

# How an op may be built from others (micrograd: a - b = a + (-b), -a = a * -1, a / b =
# a * b**-1, 2.0 - a = (-a) + 2.0): each rewrite gets the op's step and the index its first new
# step will have, and returns the steps that compute the same with the other ops.
Rewrite = Callable[[Step, int], tuple[Step, ...]]


def _negated(x: Arg) -> Step:
    return Step("mul", (x, -1.0))


def _sub_with_neg(s: Step, n: int) -> tuple[Step, ...]:  # a - b = a + (-b)
    return Step("neg", (s.args[1],)), Step("add", (s.args[0], Ref(n)))


def _sub_with_mul(s: Step, n: int) -> tuple[Step, ...]:  # a - b = a + b * -1
    return _negated(s.args[1]), Step("add", (s.args[0], Ref(n)))


def _neg_with_mul(s: Step, n: int) -> tuple[Step, ...]:  # -a = a * -1
    return (_negated(s.args[0]),)


def _div_with_pow(s: Step, n: int) -> tuple[Step, ...]:  # a / b = a * b**-1
    return Step("pow", (s.args[1], -1.0)), Step("mul", (s.args[0], Ref(n)))


def _swapped(s: Step, n: int) -> tuple[Step, ...]:  # 2.0 + a = a + 2.0, 2.0 * a = a * 2.0
    return (Step(s.op, (s.args[1], s.args[0])),)


def _rsub_with_neg(s: Step, n: int) -> tuple[Step, ...]:  # 2.0 - a = (-a) + 2.0
    return Step("neg", (s.args[1],)), Step("add", (Ref(n), s.args[0]))


def _rsub_with_mul(s: Step, n: int) -> tuple[Step, ...]:  # 2.0 - a = a * -1 + 2.0
    return _negated(s.args[1]), Step("add", (Ref(n), s.args[0]))


def _rdiv_with_pow(s: Step, n: int) -> tuple[Step, ...]:  # 2.0 / a = a**-1 * 2.0
    return Step("pow", (s.args[1], -1.0)), Step("mul", (Ref(n), s.args[0]))


BUILT_FROM: dict[str, tuple[tuple[tuple[str, ...], Rewrite], ...]] = {
    "sub": ((("add", "neg"), _sub_with_neg), (("add", "mul"), _sub_with_mul)),
    "neg": ((("mul",), _neg_with_mul),),
    "div": ((("mul", "pow"), _div_with_pow),),
    "radd": ((("add",), _swapped),),
    "rmul": ((("mul",), _swapped),),
    "rsub": ((("neg", "add"), _rsub_with_neg), (("mul", "add"), _rsub_with_mul)),
    "rdiv": ((("pow", "mul"), _rdiv_with_pow),),
}


def rewritten(formula: Formula, label: str, rewrite: Rewrite) -> Formula:
    """The formula with every step of op ``label`` written out with other ops."""
    n = len(formula.inputs)
    index = list(range(n))  # where each old node is in the new formula
    steps: list[Step] = []

    def moved(arg: Arg) -> Arg:
        return Ref(index[arg.index]) if isinstance(arg, Ref) else arg

    for step in formula.steps:
        step = Step(step.op, tuple(map(moved, step.args)))
        if op_label(step) == label:
            steps.extend(rewrite(step, n + len(steps)))
        else:
            steps.append(step)
        index.append(n + len(steps) - 1)
    return Formula(formula.inputs, tuple(steps))


def same_defect_as(
    engine: Engine, trial: Trial, label: str, broken: set[str]
) -> tuple[str, list[str]] | None:
    """When a failing formula gives exactly the numbers of the same formula with op ``label``
    written with other ops, some of which already fail (``broken``): that formula and those."""
    for uses, rewrite in BUILT_FROM.get(label, ()):
        failing = [op for op in uses if op in broken]
        if not failing:
            continue
        other = rewritten(trial.formula, label, rewrite)
        if reference(other) is None:
            continue
        if _same_numbers(trial, engine.run(other)):
            return other.text().replace("\n", "; "), failing
    return None


def rpow_as_pow_value(engine: Engine, trial: Trial) -> tuple[str, list[str]] | None:
    """``2.0 ** a`` giving exactly the numbers of ``c ** a`` with ``c = Value(2.0)`` (an engine
    whose __rpow__ wraps the number and calls its Value ** Value): that formula, and pow-value."""
    step = trial.formula.steps[0]
    if len(trial.formula.steps) != 1 or isinstance(step.args[0], Ref):
        return None
    base = Formula((*trial.formula.inputs, step.args[0]), (Step("pow", (Ref(1), Ref(0))),))
    if reference(base) is None:
        return None
    run = engine.run(base)
    if run.error is None and trial.error is None and trial.output is not None:
        same = run.output is not None and close(run.output, trial.output)
        if same and close(run.analytic[0], trial.analytic[0]):
            return f"{base.text()} with b = Value({step.args[0]!r})", ["pow-value"]
    return None


def _same_numbers(a: Trial, b: Trial) -> bool:
    if a.error is not None or b.error is not None:
        return a.error == b.error and a.error is not None
    if a.output is None or b.output is None or not close(a.output, b.output):
        return False
    pairs = zip(a.analytic, b.analytic, strict=True)
    return all(close(x, y) or (math.isnan(x) and math.isnan(y)) for x, y in pairs)
