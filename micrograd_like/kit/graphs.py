"""The checks on the shape of the graph: a node reached by two paths, values off the output's
path, backward() twice, random graphs over the ops that passed their own checks, deep chains.

They use only ops that passed their own checks (``checks.py``), so they fail for the graph's
sake alone: topological order, where gradients are reset, recursion depth.
"""

from __future__ import annotations

import math

from micrograd_like.kit.checks import (
    Context,
    Outcome,
    choice,
    example,
    failure_detail,
    search,
    valid,
)
from micrograd_like.kit.hints import (
    first_failing_step,
    op_hint,
    right_at_generic_points,
    right_when_split,
)
from micrograd_like.kit.reference import (
    DEPTHS,
    EXPONENTS,
    UNARY,
    Formula,
    Ref,
    Step,
    close,
    reference,
)
from micrograd_like.kit.search import Draw

# --- the shape of the graph ---------------------------------------------------------------------


def _needs(ctx: Context, *labels: str, reuse: bool = True) -> Outcome | None:
    """A skip saying which ops this check needs and what keeps it from them, or None
    (``reuse``: the check uses a value twice, so the ops' reuse checks must pass too)."""
    usable = ctx.usable if reuse else ctx.passed
    unusable = [label for label in labels if not usable(label)]
    if not unusable:
        return None
    blockers = [_blocker(ctx, label) for label in unusable]
    verb = "does" if len(blockers) == 1 else "do"
    return Outcome(
        "skip",
        f"not run: it needs {' and '.join(unusable)}, but {' and '.join(blockers)} {verb} not "
        "pass (fix that first)",
    )


def _blocker(ctx: Context, label: str) -> str:
    """The check that keeps an op from use: its op check, its reuse check, or none (missing)."""
    if ctx.missing(label) is not None:
        return f"op:{label} (not provided)"
    kinds = ("op:", "reuse:")
    return next((k + label for k in kinds if ctx.results.get(k + label) != "pass"), "op:" + label)


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
        return valid(draw, Formula((a, b, c), tuple(steps)))

    trial = search(ctx, "diamond", build)
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
    lacking = _needs(ctx, "mul", "add", reuse=False)
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
        return Outcome("skip", "not run: no op passes its own and its reuse checks")
    constant_first = {op for op in ("add", "sub", "mul", "div") if ctx.passed("r" + op)}

    def draw_step(draw: Draw, count: int) -> Step:
        def ref() -> Ref:
            back = draw.integer(0, min(3, count - 1))
            if draw.integer(0, 1) == 0:
                return Ref(count - 1 - back)
            return Ref(draw.integer(0, count - 1))

        op = choice(draw, ops)
        if op in ("add", "sub", "mul", "div"):
            left, right = ref(), ref()
            if draw.integer(0, 3) == 0:
                constant = draw.number(-2.0, 2.0)
                if op in constant_first and draw.integer(0, 1):
                    return Step(op, (constant, right))
                return Step(op, (left, constant))
            return Step(op, (left, right))
        if op == "pow":
            return Step(op, (ref(), choice(draw, EXPONENTS)))
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
        return valid(draw, _sum_sinks(formula))

    trial = search(ctx, "random-graphs", build)
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
        if ctx.results.get("diamond") == "fail":
            detail = "not scored: every op is right on its own, so this is the defect diamond names"
            return Outcome("skip", detail, example(trial, hint))
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
    lacking = _needs(ctx, "add", reuse=False)
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
