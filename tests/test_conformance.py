"""The conformance kit: the engines it must pass, the bugs it must name, the engines it must
survive, its command line and its Python API.

Engines run in child processes, so each run costs a Python start-up; the module-scoped fixtures
check every engine of a kind once, two at a time, with few examples, and the tests read the
reports. The many-seed false-alarm test runs the checks in this process instead (the engines
there are our own), which is what keeps it fast.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from micrograd.engine import Value as MicrogradValue

from micrograd_like import conformance
from micrograd_like.conformance import (
    CHECKS,
    UNARY_OPS,
    CheckResult,
    Context,
    EngineLoadError,
    Formula,
    Mistake,
    Ref,
    Report,
    Step,
    assert_engine_correct,
    check_engine,
    check_engines,
    diagnose,
    reference,
    render_summary,
    run_check,
)
from micrograd_like.strategies import kit_smallest_failure

# The kit starts child processes for every engine (about a minute in all).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ROOT / "tests" / "engines"
EXAMPLES = 30
OUR_ENGINE = "micrograd_like.engine:Value"
MICROGRAD = "micrograd.engine:Value"


def engine(name: str) -> str:
    return f"{ENGINES / name}.py:Value"


class MicrogradCopy(MicrogradValue):  # type: ignore[misc]  # micrograd ships no types
    """A class defined in a test module, as a learner's own test would pass it."""


# file in tests/engines: (the check that must fail, the checks that may fail with it, and words
# the failing check's hint must contain)
BUGS: dict[str, tuple[str, set[str], str]] = {
    "bug_tanh": ("op:tanh", {"reuse", "random-graphs"}, "1 - x**2 from the input x"),
    "bug_assign": (
        "reuse",
        {"diamond", "random-graphs", "backward-twice"},
        "`=` where `+=` belongs",
    ),
    "bug_sub_sign": ("op:sub", {"reuse", "random-graphs"}, "d/db: the sign is flipped"),
    "bug_pow": (
        "op:pow",
        {"op:div", "reflected", "reuse", "random-graphs"},
        "the power rule lost its factor n",
    ),
    "bug_relu": ("op:relu", {"reuse", "random-graphs"}, "for negative inputs too"),
    "bug_order": ("diamond", {"random-graphs"}, "not go in topological order"),
    "bug_exp": ("op:exp", {"reuse", "random-graphs"}, "multiplies by the input x"),
    "bug_div": ("op:div", {"reflected", "reuse", "random-graphs"}, "the square is missing"),
    "bug_upstream": ("op:tanh", {"reuse", "random-graphs"}, "multiplied by out.grad"),
    "no_reflected": ("reflected", {"random-graphs"}, "define __rsub__"),
}
SAFETY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """Every well-behaved engine checked once: ours, micrograd, the correct one, the buggy ones."""
    names = [*BUGS, "correct"]
    targets = [engine(name) for name in names] + [OUR_ENGINE, MICROGRAD]
    results = check_engines(targets, examples=EXAMPLES, seed=0, timeout=30, jobs=2)
    return dict(zip([*names, "ours", "micrograd"], results, strict=True))


@pytest.fixture(scope="module")
def misbehaving() -> tuple[dict[str, Report], float]:
    """Engines that loop, hang, crash or exit, with a short time limit; and how long it took."""
    names = ["loops_forever", "hangs_on_import", "crashes_on_import", "exits_on_import"]
    names.append("exits_in_check")
    start = time.monotonic()
    results = check_engines(
        [engine(name) for name in names], examples=10, timeout=SAFETY_TIMEOUT, jobs=2
    )
    return dict(zip(names, results, strict=True)), time.monotonic() - start


def statuses(report: Report) -> dict[str, str]:
    return {check.name: check.status for check in report.checks}


def hint(report: Report, name: str) -> str:
    example = report.result(name).example
    assert example is not None, f"{name} failed without an example"
    return str(example["hint"])


# --- engines that must pass -----------------------------------------------------------------------


def test_our_engine_passes_every_check(reports: dict[str, Report]) -> None:
    report = reports["ours"]
    assert report.passed, report.render()
    assert set(statuses(report).values()) == {"pass"}  # it has every op the kit knows
    assert {"op:sin", "op:cos", "op:sqrt", "op:abs"} <= set(statuses(report))
    assert report.score == 1.0


def test_the_correct_learner_engine_passes_everything(reports: dict[str, Report]) -> None:
    report = reports["correct"]
    assert report.passed, report.render()
    assert set(statuses(report).values()) == {"pass"}
    assert report.result("deep-chain").detail == "a chain 100,000 deep backpropagates"


def test_micrograd_fails_exactly_the_deep_chain_and_backward_twice(
    reports: dict[str, Report],
) -> None:
    report = reports["micrograd"]
    assert report.failed == ["backward-twice", "deep-chain"], report.render()
    for name in ("op:add", "op:sub", "op:mul", "op:div", "op:neg", "op:pow", "reflected"):
        assert report.result(name).status == "pass"
    assert report.result("op:relu").status == "pass"
    assert report.result("op:tanh").status == "skip"
    assert "has no tanh()" in report.result("op:tanh").detail
    deep = report.result("deep-chain").detail
    assert deep.startswith("breaks at depth 1,000: RecursionError"), deep
    assert deep.endswith("depth 100 works"), deep
    twice = report.result("backward-twice").detail
    assert "3 times one call" in twice, twice
    assert "pile up" in hint(report, "backward-twice")
    assert report.score == pytest.approx(14 / 16)


# --- engines with one classic bug each ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_classic_bug_is_named_by_the_right_check(reports: dict[str, Report], name: str) -> None:
    must_fail, may_fail, words = BUGS[name]
    report = reports[name]
    failed = set(report.failed)
    assert must_fail in failed, report.render()
    assert failed - {must_fail} <= may_fail, report.render()
    assert words in hint(report, must_fail), report.render()
    example = report.result(must_fail).example
    assert example is not None and example["formula"] and example["inputs"]


def test_a_failure_shows_the_formula_inputs_and_both_gradients(
    reports: dict[str, Report],
) -> None:
    example = reports["bug_tanh"].result("op:tanh").example
    assert example is not None
    assert example["formula"] == "out = tanh(a)"  # shrunk to the op alone
    (row,) = example["gradients"]
    a = example["inputs"]["a"]
    assert row["numeric"] == pytest.approx(1 - math.tanh(a) ** 2, abs=1e-6)
    assert row["analytic"] == pytest.approx(1 - a * a)
    assert row["ok"] is False
    card = reports["bug_tanh"].render()
    assert "FAIL  op:tanh" in card and "formula:  out = tanh(a)" in card
    assert "analytic" in card and "numeric" in card and "hint:" in card


def test_a_node_shared_by_uneven_paths_is_told_apart_from_a_missing_plus_equals(
    reports: dict[str, Report],
) -> None:
    assert "topological" in hint(reports["bug_order"], "diamond")
    assert "topological" not in hint(reports["bug_assign"], "diamond")
    assert reports["bug_order"].result("reuse").status == "pass"


def test_failures_in_graphs_point_at_the_failing_op(reports: dict[str, Report]) -> None:
    report = reports["bug_div"]
    assert "op:div also fails on its own" in hint(report, "reuse")
    assert "op:pow also fails on its own" in hint(reports["bug_pow"], "op:div")


# --- engines that misbehave -----------------------------------------------------------------------


def test_an_endless_loop_is_a_timed_out_check_and_the_rest_are_skipped(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["loops_forever"]
    assert report.result("basics").status == "pass"  # no backward() there
    timed_out = [c for c in report.checks if c.status == "fail"]
    assert [c.name for c in timed_out] == ["op:add", "op:sub", "op:mul"]
    assert all(f"no result within {SAFETY_TIMEOUT:g} s" in c.detail for c in timed_out)
    assert report.result("deep-chain").status == "skip"
    assert "3 checks already timed out" in report.result("deep-chain").detail


def test_an_import_that_never_ends_is_a_failed_load_row(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["hangs_on_import"]
    assert report.failed == ["load"]
    assert "did not finish within 2 s" in report.result("load").detail
    assert report.score == 0.0


def test_a_crash_at_import_is_a_failed_load_row(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["crashes_on_import"]
    assert report.failed == ["load"]
    assert "killed by SIGSEGV while importing the engine" in report.result("load").detail
    assert {c.status for c in report.checks[1:]} == {"skip"}


def test_sys_exit_at_import_is_a_failed_load_row(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["exits_on_import"]
    assert report.failed == ["load"]
    assert "sys.exit(1)" in report.result("load").detail
    assert "main guard" in hint(report, "load")


def test_exits_during_checks_fail_those_checks_and_the_rest_still_run(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["exits_in_check"]
    assert "sys.exit('relu: not implemented yet')" in report.result("op:relu").detail
    assert "exited with status 3" in report.result("op:tanh").detail  # os._exit: a new child
    for name in ("op:exp", "diamond", "backward-twice", "deep-chain"):
        assert report.result(name).status == "pass"


def test_misbehaving_engines_are_done_within_their_time_limits(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    # two lanes; the slowest lane holds the endless loop: three time limits and restarts
    assert misbehaving[1] < 3 * SAFETY_TIMEOUT + 25


# --- no false alarms, and the same seed gives the same run ----------------------------------------


@pytest.fixture(scope="module")
def correct_engine() -> Iterator[type]:
    sys.path.insert(0, str(ENGINES))
    try:
        from correct import Value

        yield Value
    finally:
        sys.path.remove(str(ENGINES))


def test_the_correct_engine_raises_no_false_alarm_over_twenty_seeds(correct_engine: type) -> None:
    drawn = [name for name in CHECKS if name not in ("load", "deep-chain")]  # deep-chain draws none
    for seed in range(20):
        ctx = Context(correct_engine, conformance._available(correct_engine), 20, seed)
        for name in drawn:
            outcome = run_check(ctx, name)
            assert outcome.status == "pass", (seed, name, outcome)


def test_the_same_seed_gives_the_same_counterexample() -> None:
    sys.path.insert(0, str(ENGINES))
    try:
        from bug_sub_sign import Value
    finally:
        sys.path.remove(str(ENGINES))
    runs = [run_check(Context(Value, (), 25, seed), "random-graphs") for seed in (7, 7)]
    assert runs[0].status == "fail"
    assert runs[0] == runs[1]


# --- the command line -----------------------------------------------------------------------------


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "micrograd_like", "check-engine", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cli_report_cards_and_summary_exit_1_when_a_check_fails() -> None:
    done = command(engine("bug_tanh"), engine("correct"), "--examples", "10", "--jobs", "2")
    assert done.returncode == 1, done.stderr
    assert "FAIL  op:tanh" in done.stdout and "hint:" in done.stdout
    summary = done.stdout.rsplit("\n\n", 1)[1].splitlines()
    assert summary[0].split()[:4] == ["engine", "score", "load", "basics"]
    assert len(summary) == 3 and "FAIL" in summary[1] and "FAIL" not in summary[2]


def test_cli_json_for_one_engine_is_an_object_and_exit_0_when_all_pass() -> None:
    done = command(engine("correct"), "--json", "--examples", "10", "--seed", "3")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"engine", "passed", "score", "checks"}
    assert data["passed"] is True and data["score"] == 1.0
    assert [c["name"] for c in data["checks"]] == list(CHECKS)
    for check in data["checks"]:
        assert set(check) == {"name", "status", "detail", "example"}
        assert check["status"] in ("pass", "fail", "skip")


def test_cli_json_for_several_engines_is_a_list() -> None:
    done = command(engine("bug_relu"), MICROGRAD, "--json", "--examples", "10")
    assert done.returncode == 1, done.stderr
    first, second = json.loads(done.stdout)
    assert first["engine"].endswith("bug_relu.py:Value") and second["engine"] == MICROGRAD
    relu = next(c for c in first["checks"] if c["name"] == "op:relu")
    assert relu["status"] == "fail"
    assert set(relu["example"]) >= {"formula", "inputs", "gradients", "hint"}
    assert second["score"] == pytest.approx(14 / 16, abs=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/engine.py:Value"], "no such file no/such/engine.py"),
        (["no_such_module_here:Value"], "no module named 'no_such_module_here'"),
        (["micrograd.engine:NoSuchClass"], "the module has no 'NoSuchClass'"),
        (["micrograd.engine"], "give the engine as package.module:ClassName"),
        ([MICROGRAD, "--examples", "0"], "must be greater than 0"),
        ([MICROGRAD, "--timeout", "soon"], "'soon' is not a number"),
        ([], "the following arguments are required: TARGET"),
    ],
)
def test_cli_exit_2_with_one_line_when_a_target_or_argument_is_wrong(
    args: list[str], message: str
) -> None:
    done = command(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


# --- the Python API -------------------------------------------------------------------------------


def test_assert_engine_correct_raises_with_the_report_card_for_a_class_from_a_test() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_engine_correct(MicrogradCopy, examples=10)
    card = str(failure.value)
    assert "tests.test_conformance:MicrogradCopy: FAILED" in card
    assert "FAIL  backward-twice" in card and "FAIL  deep-chain" in card


def test_assert_engine_correct_returns_the_report_when_all_pass() -> None:
    report = assert_engine_correct(engine("correct"), examples=10)
    assert report.passed and report.score == 1.0


def test_a_class_that_cannot_be_imported_again_is_refused_before_any_process() -> None:
    class Local(MicrogradValue):  # type: ignore[misc]
        pass

    with pytest.raises(EngineLoadError, match="defined inside a function"):
        check_engine(Local)
    with pytest.raises(EngineLoadError, match="no such file"):
        check_engine("missing_engine.py:Value")


SCRIPT = """
import sys
sys.path.insert(0, {engines!r})
from correct import Value as Correct
from micrograd_like.conformance import check_engine


class Value(Correct):
    pass

{call}
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_a_script_can_check_a_class_of_its_own(tmp_path: Path, guarded: bool) -> None:
    call = "report = check_engine(Value, examples=5)\nprint(report.passed, report.failed)"
    if guarded:
        call = "if __name__ == '__main__':\n" + textwrap.indent(call, "    ")
    script = tmp_path / "my_engine.py"
    script.write_text(SCRIPT.format(engines=str(ENGINES), call=call), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    if guarded:
        assert done.stdout.strip() == "True []"
    else:  # the child imports the script, which calls the kit again: refused, not recursed
        assert done.stdout.strip() == "False ['load']"


# --- the parts, in this process -------------------------------------------------------------------


def test_the_op_table_derivatives_match_central_differences_of_its_values() -> None:
    for op in UNARY_OPS:
        for k in range(1, 8):
            x = op.low + (op.high - op.low) * k / 8
            if any(abs(x - kink) < 0.01 for kink in op.kinks):
                continue
            numeric = (op.value(x + 1e-6) - op.value(x - 1e-6)) / 2e-6
            assert op.derivative(x) == pytest.approx(numeric, rel=1e-5, abs=1e-6), (op.name, x)


def test_reference_gives_the_exact_gradient_of_a_formula_with_reuse() -> None:
    # t1 = a * b, out = tanh(t1) + a
    formula = Formula(
        (0.5, -1.5),
        (Step("mul", (Ref(0), Ref(1))), Step("tanh", (Ref(2),)), Step("add", (Ref(3), Ref(0)))),
    )
    ref = reference(formula)
    assert ref is not None
    value, (da, db) = ref
    slope = 1 - math.tanh(-0.75) ** 2
    assert value == pytest.approx(math.tanh(-0.75) + 0.5)
    assert (da, db) == pytest.approx((-1.5 * slope + 1, 0.5 * slope))
    assert formula.text() == "t1 = a * b\nt2 = tanh(t1)\nout = t2 + a"
    assert reference(Formula((-0.5,), (Step("log", (Ref(0),)),))) is None  # off the domain


def test_diagnose_tells_the_kinds_of_wrong_derivative_apart() -> None:
    points = [((x,), 2 * x) for x in (-1.5, 0.5, 2.0)]  # the right derivative is 2x

    def evidence(got: Any) -> list[tuple[tuple[float, ...], float, float]]:
        return [(x, got(x[0]), right) for x, right in points]

    assert diagnose(evidence(lambda x: 2 * x)) is None
    assert diagnose(evidence(lambda x: -2 * x)) == "the sign is flipped"
    assert "constant factor: 0.5" in str(diagnose(evidence(lambda x: x)))
    assert "no gradient arrives" in str(diagnose(evidence(lambda x: 0.0)))
    assert "right at" in str(diagnose(evidence(lambda x: abs(2 * x))))
    classic = Mistake(lambda x: x * x, "squared it")
    assert diagnose(evidence(lambda x: x * x), [classic]) == "squared it"


def test_reports_count_skips_out_of_the_score_and_render_a_summary_row_each() -> None:
    rows = (
        CheckResult("load", "pass", "imported"),
        CheckResult("basics", "fail", "no"),
        CheckResult("op:tanh", "skip", "the class has no tanh() method"),
    )
    report = Report("mine.py:Value", rows)
    assert report.score == 0.5 and not report.passed and report.failed == ["basics"]
    unloadable = Report("gone.py:Value", (), "no such file gone.py")
    assert unloadable.to_json()["error"] == "no such file gone.py"
    table = render_summary([report, unloadable]).splitlines()
    assert len(table) == 3
    assert table[1].split()[:5] == ["mine.py:Value", "0.50", "pass", "FAIL", "-"]
    assert table[2].split()[:3] == ["gone.py:Value", "-", "-"]
    nan_row = CheckResult("op:exp", "fail", "x", {"gradients": [{"analytic": math.nan}]})
    assert json.dumps(nan_row.to_json(), allow_nan=False)  # strict JSON


def test_kit_search_shrinks_and_repeats_for_a_seed() -> None:
    def build(draw: Any) -> float:
        return float(draw.number(0.0, 10.0))

    found = [kit_smallest_failure(build, lambda x: x > 3.5, examples=50, seed=1) for _ in "ab"]
    assert found[0] is not None and 3.5 < found[0] <= 4.0  # shrunk to a simple number
    assert found[0] == found[1]
    assert kit_smallest_failure(build, lambda x: x > 11, examples=20, seed=1) is None


def test_the_kits_reference_math_is_the_op_tables() -> None:
    # The kit keeps learner slips per op; its value, derivative and kinks must be the table's.
    from micrograd_like.conformance import UNARY_OPS
    from micrograd_like.optable import op_named

    for op in UNARY_OPS:
        entry = op_named(op.name)
        assert op.kinks == entry.kinks, op.name
        for x in (op.low, (op.low + op.high) / 2 + 0.123, op.high):
            if x in op.kinks:
                continue
            out = entry.forward(x)
            (slope,) = entry.local(out, x)
            assert op.value(x) == pytest.approx(out, rel=1e-12), op.name
            assert op.derivative(x) == pytest.approx(slope, rel=1e-12), op.name


def test_the_kit_knows_every_one_operand_op_of_the_table() -> None:
    from micrograd_like.conformance import UNARY_OPS
    from micrograd_like.optable import all_ops

    table = {e.name for e in all_ops() if e.builtin and e.arity == 1 and not e.constants}
    assert table - {"neg"} == {op.name for op in UNARY_OPS}  # neg is part of every engine
