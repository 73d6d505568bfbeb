"""The conformance kit: the engines it must pass, the bugs it must name (each once), the engines
it must survive, its formats, its command line and its Python API.

Engines run in processes of their own, so each costs a Python start-up: the module-scoped
fixtures check every engine of a kind once, two at a time, with few examples, and the tests
read the reports. The many-seed false-alarm test asks engines in this process instead (they are
our own), which keeps it fast.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from micrograd.engine import Value as MicrogradValue

from micrograd_like.conformance import check_engine as old_address_check_engine
from micrograd_like.kit import (
    CHECKS,
    CheckResult,
    EngineLoadError,
    Report,
    assert_engine_correct,
    check_engine,
    check_engines,
    render_summary,
)
from micrograd_like.kit.checks import Context
from micrograd_like.kit.hints import diagnose
from micrograd_like.kit.process import LocalEngine
from micrograd_like.kit.reference import UNARY_OPS, Formula, Mistake, Ref, Step, reference
from micrograd_like.kit.run import run_check
from micrograd_like.kit.search import smallest_failure

# The kit starts processes for every engine (about 20 s in all).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ROOT / "tests" / "engines"
EXAMPLES = 20
OUR_ENGINE = "micrograd_like.engine:Value"
MICROGRAD = "micrograd.engine:Value"
SAFETY_TIMEOUT = 2.0


def engine(name: str) -> str:
    return f"{ENGINES / name}.py:Value"


def engine_class(name: str) -> type:
    sys.path.insert(0, str(ENGINES))
    try:
        module = __import__(name)
    finally:
        sys.path.remove(str(ENGINES))
    cls: type = module.Value
    return cls


class MicrogradCopy(MicrogradValue):  # type: ignore[misc]  # micrograd ships no types
    """A class defined in a test module, as a learner's own test would pass it."""


# file in tests/engines: (exactly the checks that fail, words the first one's hint contains)
BUGS: dict[str, tuple[tuple[str, ...], str]] = {
    "bug_tanh": (("op:tanh",), "1 - x**2 from the input x"),
    "bug_assign": (("reuse:mul",), "`=` where `+=` belongs in mul's backward"),
    "bug_sub_sign": (("op:sub",), "d/db: the sign is flipped"),
    "bug_pow": (("op:pow",), "the power rule lost its factor n"),
    "bug_relu": (("op:relu",), "for negative inputs too"),
    "bug_order": (("diamond",), "not go in topological order"),
    "bug_exp": (("op:exp",), "multiplies by the input x"),
    "bug_div": (("op:div",), "the square is missing"),
    "bug_upstream": (("op:tanh",), "multiplied by out.grad"),
    "bug_pow_exponent": (("op:pow-value",), "d/db: no gradient arrives"),
    "bug_rpow": (("op:rpow",), "2.0 ** a returned a ** 2.0"),
    "bug_rdiv_swapped": (("op:rdiv",), "2.0 / a returned a / 2.0"),
    "bug_two_ops": (("op:tanh", "op:exp"), "1 - x**2 from the input x"),
    "bug_two_assign": (("reuse:tanh", "reuse:exp"), "`=` where `+=` belongs in tanh's"),
    "microgpt_bug_log": (("op:log",), "multiplies by x where it should divide"),
    "microgpt_bug_mul": (("op:mul",), "the *other* operand"),
    "microgpt_bug_assign": (("reuse:mul",), "`=` where `+=` belongs"),
}
WELL_BEHAVED = [*BUGS, "correct", "microgpt_style", "no_div", "no_reflected"]
MISBEHAVING = ["loops_forever", "hangs_on_import", "crashes_on_import", "exits_on_import"]
MISBEHAVING += ["exits_in_check", "patches_kit", "forges_results", "escape_codes", "floods_output"]


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """Every well-behaved engine checked once: ours, micrograd, the correct ones, the buggy ones
    (these without the deep chain, the slowest check, which only the correct ones need)."""
    complete = ["correct", "microgpt_style"]
    targets = [engine(name) for name in complete] + [OUR_ENGINE, MICROGRAD]
    results = check_engines(targets, examples=EXAMPLES, seed=0, timeout=30, jobs=2)
    found = dict(zip([*complete, "ours", "micrograd"], results, strict=True))
    rest = [name for name in WELL_BEHAVED if name not in complete]
    results = check_engines(
        [engine(name) for name in rest], examples=EXAMPLES, timeout=30, leave_out=["deep-chain"]
    )
    return found | dict(zip(rest, results, strict=True))


@pytest.fixture(scope="module")
def misbehaving() -> tuple[dict[str, Report], float]:
    """Engines that loop, hang, crash, exit or attack the kit, with a short time limit; and how
    long the batch took."""
    start = time.monotonic()
    results = check_engines(
        [engine(name) for name in MISBEHAVING],
        examples=10,
        timeout=SAFETY_TIMEOUT,
        jobs=2,
        leave_out=["deep-chain"],
    )
    return dict(zip(MISBEHAVING, results, strict=True)), time.monotonic() - start


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
    assert {"op:pow-value", "op:rpow", "op:sqrt", "reuse:abs"} <= set(statuses(report))
    assert report.score == 1.0


def test_the_correct_learner_engine_passes_everything(reports: dict[str, Report]) -> None:
    report = reports["correct"]
    assert report.passed, report.render()
    assert set(statuses(report).values()) == {"pass"}
    assert report.result("deep-chain").detail == "a chain 100,000 deep backpropagates"


def test_a_microgpt_style_engine_passes_with_the_ops_it_lacks_skipped(
    reports: dict[str, Report],
) -> None:
    report = reports["microgpt_style"]
    assert report.passed, report.render()
    skipped = {c.name for c in report.checks if c.status == "skip"}
    lacking = {"pow-value", "rpow", "tanh", "sigmoid", "sin", "cos", "sqrt", "abs"}
    assert skipped == {f"op:{op}" for op in lacking} | {f"reuse:{op}" for op in lacking - {"rpow"}}
    assert all(report.result(n).detail.startswith("not provided") for n in skipped)
    assert "ops give Values with data" in report.result("basics").detail


def test_micrograd_fails_exactly_the_deep_chain_and_backward_twice(
    reports: dict[str, Report],
) -> None:
    report = reports["micrograd"]
    assert report.failed == ["backward-twice", "deep-chain"], report.render()
    assert report.result("op:tanh").detail == "not provided: the class has no tanh() method"
    assert (
        "AssertionError: only supporting int/float powers" in report.result("op:pow-value").detail
    )
    deep = report.result("deep-chain").detail
    assert deep.startswith("breaks at depth 1,000: RecursionError"), deep
    assert deep.endswith("depth 100 works"), deep
    assert "3 times one call" in report.result("backward-twice").detail
    assert "pile up" in hint(report, "backward-twice")
    scored = [c for c in report.checks if c.status != "skip"]
    assert report.score == pytest.approx((len(scored) - 2) / len(scored))


# --- planted bugs: each named once, by the right check, with an example that reproduces ---------


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_planted_bug_fails_exactly_its_checks(reports: dict[str, Report], name: str) -> None:
    must_fail, words = BUGS[name]
    report = reports[name]
    assert report.failed == list(must_fail), report.render()
    assert words in hint(report, must_fail[0]), report.render()


@pytest.mark.parametrize("name", sorted(BUGS))
def test_every_shown_example_reproduces_when_run_again(
    reports: dict[str, Report], name: str
) -> None:
    local = LocalEngine(engine_class(name))
    for check in reports[name].checks:
        if check.status != "fail" or not check.example or "steps" not in check.example:
            continue
        example = check.example
        steps = tuple(
            Step(op, tuple(Ref(a[1]) if isinstance(a, list) else float(a) for a in args))
            for op, args in example["steps"]
        )
        again = local.run(Formula(tuple(example["inputs"].values()), steps), fresh=True)
        assert not again.ok, (name, check.name)
        shown = tuple(row["analytic"] for row in example["gradients"])
        assert again.analytic == pytest.approx(shown, rel=1e-11, abs=1e-300)


def test_two_wrong_ops_of_one_kind_are_two_named_failures(reports: dict[str, Report]) -> None:
    assert "exp: it multiplies by the input x" in hint(reports["bug_two_ops"], "op:exp")
    assert "belongs in exp's backward" in hint(reports["bug_two_assign"], "reuse:exp")


def test_a_missing_op_is_skipped_as_not_provided_with_no_cascade(
    reports: dict[str, Report],
) -> None:
    report = reports["no_div"]
    assert report.passed and not report.failed, report.render()
    for name in ("op:div", "reuse:div"):
        assert report.result(name).detail == "not provided: the class has no __truediv__"
    assert report.result("op:rdiv").detail == "not provided: the class has no __rtruediv__"
    reflected = reports["no_reflected"]
    assert reflected.passed, reflected.render()
    assert "not provided: 2.0 - Value raised TypeError" in reflected.result("op:rsub").detail


def test_an_op_built_from_a_failing_op_is_not_scored_twice(reports: dict[str, Report]) -> None:
    report = reports["microgpt_bug_mul"]
    div = report.result("op:div")
    assert div.status == "skip" and "op:mul names" in div.detail, div.detail
    assert "a * t1" in div.detail  # the same numbers as a * b**-1
    pow_div = reports["bug_pow"].result("op:div")
    assert pow_div.status == "skip" and "op:pow names" in pow_div.detail, pow_div.detail
    shared = reports["microgpt_bug_assign"].result("reuse:add")
    assert shared.status == "skip" and "backward()'s loop" in shared.detail


def test_a_wrong_forward_names_what_the_engine_computed(reports: dict[str, Report]) -> None:
    detail = reports["bug_rdiv_swapped"].result("op:rdiv").detail
    assert detail == "rdiv: 2.0 / a returned a / 2.0"
    card = reports["bug_rdiv_swapped"].render()
    assert "formula:  out = 2.0 / a" in card and "ZeroDivisionError" not in card


def test_a_failure_shows_the_formula_inputs_and_the_gradients(
    reports: dict[str, Report],
) -> None:
    example = reports["bug_tanh"].result("op:tanh").example
    assert example is not None
    assert example["formula"] == "out = tanh(a)"  # shrunk to the op alone
    (row,) = example["gradients"]
    a = example["inputs"]["a"]
    assert row["expected"] == pytest.approx(1 - math.tanh(a) ** 2)
    assert row["analytic"] == pytest.approx(1 - a * a) and row["ok"] is False
    card = reports["bug_tanh"].render()
    assert "FAIL  op:tanh" in card and "formula:  out = tanh(a)" in card
    assert "analytic" in card and "expected" in card and "hint:" in card


# --- engines that misbehave -----------------------------------------------------------------------


def test_an_endless_loop_is_a_timed_out_check_and_the_rest_are_skipped(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    from micrograd_like.kit.reference import DEFAULT_TIMEOUT

    assert DEFAULT_TIMEOUT == 10.0  # the README's number
    report = misbehaving[0]["loops_forever"]
    assert report.result("basics").status == "pass"  # no backward() there
    timed_out = [c for c in report.checks if c.status == "fail"]
    assert [c.name for c in timed_out] == ["op:mul", "op:add", "op:neg"]
    assert all(f"no result within {SAFETY_TIMEOUT:g} s" in c.detail for c in timed_out)
    assert "3 checks already timed out" in report.result("random-graphs").detail


def test_an_engine_that_cannot_import_is_a_failed_load_row(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    hangs, crashes, exits = (misbehaving[0][n] for n in MISBEHAVING[1:4])
    for report in (hangs, crashes, exits):
        assert report.failed == ["load"] and report.score == 0.0
        assert {c.status for c in report.checks[1:]} == {"skip"}
    assert "did not finish within 2 s" in hangs.result("load").detail
    assert "killed by SIGSEGV while importing the engine" in crashes.result("load").detail
    assert "sys.exit(1)" in exits.result("load").detail
    assert "main guard" in hint(exits, "load")


def test_exits_during_checks_fail_those_checks_and_the_rest_still_run(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["exits_in_check"]
    assert "sys.exit('relu: not implemented yet')" in report.result("op:relu").detail
    assert "exited with status 3" in report.result("op:tanh").detail  # os._exit: a new process
    for name in ("op:exp", "diamond", "backward-twice", "random-graphs"):
        assert report.result(name).status == "pass"


def test_an_engine_cannot_rewrite_or_forge_the_verdict(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    for name in ("patches_kit", "forges_results"):
        report = misbehaving[0][name]
        assert report.failed == ["op:tanh"], report.render()


def test_terminal_escape_codes_from_an_engine_are_shown_as_text(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    report = misbehaving[0]["escape_codes"]
    assert report.failed == ["op:exp"]
    text = report.render() + json.dumps(report.to_json())
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred alert" in report.result("op:exp").detail


def test_an_engine_that_floods_its_output_is_capped(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    from micrograd_like.kit.process import FILE_CAP

    report = misbehaving[0]["floods_output"]
    assert report.failed == ["op:relu"]
    assert "File too large" in report.result("op:relu").detail
    assert FILE_CAP == 16 << 20  # the README's number


def test_an_answer_longer_than_the_cap_is_cut_and_refused() -> None:
    import io
    import queue

    from micrograd_like.kit.process import ANSWER_CAP, _read_answers

    answers: queue.Queue[bytes | None] = queue.Queue()
    stream = io.BytesIO(b"x" * (3 * ANSWER_CAP) + b"\n" + b'{"id": "1"}\n')
    _read_answers(stream, answers)
    first, second, end = answers.get(), answers.get(), answers.get()
    assert len(first or b"") == ANSWER_CAP + 1  # read no further than the cap, then dropped
    assert second == b'{"id": "1"}\n' and end is None


def test_an_op_refused_with_not_implemented_error_counts_as_not_provided() -> None:
    from micrograd_like.kit.engine_side import provided

    class Refusing(engine_class("correct")):  # type: ignore[misc]
        def __rpow__(self, base: float) -> Any:
            raise NotImplementedError("2 ** Value: not yet")

    missing = provided(Refusing, ["tanh"])
    assert missing["rpow"] == "2.0 ** Value raised NotImplementedError: 2 ** Value: not yet"
    assert missing["pow"] is None


def test_misbehaving_engines_are_done_within_their_time_limits(
    misbehaving: tuple[dict[str, Report], float],
) -> None:
    # two lanes; the slowest holds the endless loop: three time limits and restarts
    assert misbehaving[1] < 3 * SAFETY_TIMEOUT + 25


SPAWNER = """
import json, os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
seen = {{"pid": child.pid, "cwd": os.listdir("."), "isolated": sys.flags.isolated}}
open({pid_file!r}, "w").write(json.dumps(seen))
sys.path.insert(0, {engines!r})
from correct import Value
"""


def gone(pid: int, within: float = 5.0) -> bool:
    """Whether the process has ended (or is a zombie) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_an_engine_runs_isolated_and_what_it_starts_is_killed_after(tmp_path: Path) -> None:
    script = tmp_path / "spawner.py"
    pid_file = tmp_path / "seen.json"
    script.write_text(SPAWNER.format(pid_file=str(pid_file), engines=str(ENGINES)), "utf-8")
    check_engine(f"{script}:Value", examples=5, leave_out=["deep-chain"])
    seen = json.loads(pid_file.read_text("utf-8"))
    assert seen["cwd"] == [] and seen["isolated"] == 1  # an empty folder, python -I
    assert gone(int(seen["pid"]))


def engine_processes(kit_pid: int) -> list[int]:
    """The engine processes a kit process started (their command line names its pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(w.endswith(b"kit_engine_side.py") for w in words) and str(kit_pid).encode() in (
                words
            ):
                found.append(int(entry.name))
    return found


def start_looping_kit() -> tuple[subprocess.Popen[str], list[int]]:
    kit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "micrograd_like",
            "check-engine",
            engine("loops_forever"),
            engine("correct"),
            "--timeout",
            "60",
            "--jobs",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not (running := engine_processes(kit.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # into the checks, where the loop is
    return kit, running or engine_processes(kit.pid)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_ctrl_c_stops_at_once_and_kills_every_engine_process() -> None:
    kit, running = start_looping_kit()
    assert running
    start = time.monotonic()
    kit.send_signal(signal.SIGINT)
    _, stderr = kit.communicate(timeout=20)
    assert kit.returncode == 130 and time.monotonic() - start < 5
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert all(gone(pid) for pid in running)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_engine_processes_end_when_the_kit_is_killed_outright() -> None:
    kit, running = start_looping_kit()
    assert running
    folders = [private_folder(pid) for pid in running]
    kit.kill()
    kit.communicate(timeout=20)
    assert all(gone(pid) for pid in running)
    assert not any(folder.exists() for folder in folders)  # and they removed their folders


def private_folder(pid: int) -> Path:
    words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    script = next(w for w in words if w.endswith(b"kit_engine_side.py"))
    return Path(script.decode()).parent


# --- the same seed, the same run; nothing left behind ---------------------------------------------


def test_the_correct_engine_raises_no_false_alarm_over_ten_seeds() -> None:
    local = LocalEngine(engine_class("correct"))
    for seed in range(10):
        ctx = Context(local, 15, seed)
        for name in CHECKS[1:-1]:  # load is no check here, deep-chain draws nothing
            outcome = run_check(ctx, name)
            assert outcome.status == "pass", (seed, name, outcome)


def command(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "micrograd_like", "check-engine", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_one_seed_gives_byte_identical_json_and_nothing_is_written(tmp_path: Path) -> None:
    args = [engine("bug_two_ops"), MICROGRAD, "--json", "--examples", "10", "--leave-out", "deep*"]
    runs = [command(*args, "--seed", "5", cwd=tmp_path) for _ in range(2)]
    assert runs[0].returncode == 1, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert list(tmp_path.iterdir()) == []  # no .hypothesis/, no __pycache__


def test_an_error_of_the_kit_itself_is_never_blamed_on_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from micrograd_like.kit import run

    def broken(ctx: Context) -> Any:
        raise RuntimeError("a bug in the kit")

    monkeypatch.setitem(run.GRAPH_CHECKS, "diamond", broken)
    report = check_engine(engine("correct"), examples=5, leave_out=["deep-chain"])
    assert report.passed, report.render()
    diamond = report.result("diamond")
    assert diamond.status == "skip"
    assert diamond.detail == "not scored: the kit's own error (RuntimeError: a bug in the kit)"


def test_the_search_shrinks_and_repeats_for_a_seed() -> None:
    def build(draw: Any) -> float:
        return float(draw.number(0.0, 10.0))

    found = [smallest_failure(build, lambda x: x > 3.5, examples=50, seed=1) for _ in "ab"]
    assert found[0] is not None and 3.5 < found[0] <= 4.0  # shrunk to a simple number
    assert found[0] == found[1]
    assert smallest_failure(build, lambda x: x > 11, examples=20, seed=1) is None

    def unshrinkable(x: float) -> bool:  # no simpler number fails: the draw itself is shown
        return x > 3.5 and x != round(x, 2)

    drawn = [smallest_failure(build, unshrinkable, examples=50, seed=s) for s in (1, 1, 2)]
    assert drawn[0] == drawn[1] != drawn[2]


# --- graders' formats -----------------------------------------------------------------------------

# Each validator is written from the format's documentation: Gradescope's autograder
# specification (results.json), PrairieLearn's external grading results, JUnit XML as GitHub
# Classroom and Jenkins read it.
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format"}
GRADESCOPE_TOP |= {"test_name_format", "visibility", "stdout_visibility", "extra_data", "tests"}
GRADESCOPE_TOP |= {"leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output"}
GRADESCOPE_TEST |= {"output_format", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_gradescope(data: dict[str, Any]) -> None:
    assert set(data) <= GRADESCOPE_TOP, set(data) - GRADESCOPE_TOP
    tests = data.get("tests", [])
    assert "score" in data or all("score" in t for t in tests)
    for test in tests:
        assert set(test) <= GRADESCOPE_TEST, set(test) - GRADESCOPE_TEST
        assert isinstance(test["name"], str) and test["name"]
        assert is_number(test["score"]) and is_number(test["max_score"])
        assert 0 <= test["score"] <= test["max_score"]
        assert test.get("status", "passed") in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITIES
        assert isinstance(test.get("output", ""), str)
    assert is_number(data["score"])
    assert data["score"] == pytest.approx(sum(t["score"] for t in tests))


PRAIRIELEARN_TOP = {"gradable", "succeeded", "score", "message", "output", "images", "tests"}
PRAIRIELEARN_TEST = {"name", "description", "points", "max_points", "message", "output"}
PRAIRIELEARN_TEST |= {"images"}


def validate_prairielearn(data: dict[str, Any]) -> None:
    assert len(json.dumps(data).encode()) < 1_000_000
    assert set(data) <= PRAIRIELEARN_TOP, set(data) - PRAIRIELEARN_TOP
    assert is_number(data["score"]) and 0 <= data["score"] <= 1
    assert isinstance(data.get("gradable", True), bool)
    for test in data.get("tests", []):
        assert set(test) <= PRAIRIELEARN_TEST, set(test) - PRAIRIELEARN_TEST
        assert isinstance(test["name"], str) and test["name"]
        assert is_number(test["points"]) and is_number(test["max_points"])
        assert 0 <= test["points"] <= test["max_points"]
        assert isinstance(test.get("message", ""), str)
    possible = sum(t["max_points"] for t in data["tests"])
    if possible:
        earned = sum(t["points"] for t in data["tests"])
        assert data["score"] == pytest.approx(earned / possible)


def validate_junit(text: str) -> Any:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.encode())
    suites = [root] if root.tag == "testsuite" else list(root)
    assert root.tag in ("testsuites", "testsuite")
    for suite in suites:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = suite.findall("testcase")
        counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert case.get("name") and case.get("classname")
            outcome = [child.tag for child in case if child.tag != "system-out"]
            assert len(outcome) <= 1 and set(outcome) <= {"failure", "error", "skipped"}
            for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                counted[key] += tag in outcome
            failure = case.find("failure")
            assert failure is None or failure.get("message")
        for key, value in counted.items():
            assert int(suite.get(key, "0")) == value, key
    return root


def test_gradescope_results_follow_their_documented_format(reports: dict[str, Report]) -> None:
    from micrograd_like.kit.formats import Points, gradescope

    for name in ("bug_tanh", "micrograd", "correct"):
        data = gradescope(reports[name], Points())
        validate_gradescope(data)
    failing = gradescope(reports["bug_tanh"], Points())
    tanh = next(t for t in failing["tests"] if t["name"] == "op:tanh")
    assert tanh["status"] == "failed" and tanh["score"] == 0 and "hint:" in tanh["output"]
    skipped = next(t for t in failing["tests"] if t["name"] == "reuse:tanh")
    assert skipped["max_score"] == 0  # not scored
    validate_gradescope(gradescope(Report("gone.py:Value", (), "no such file"), Points()))


def test_prairielearn_results_follow_their_documented_format(reports: dict[str, Report]) -> None:
    from micrograd_like.kit.formats import Points, prairielearn

    for name in ("bug_tanh", "micrograd", "correct"):
        validate_prairielearn(prairielearn(reports[name], Points()))
    assert prairielearn(reports["correct"], Points())["score"] == 1.0
    huge = Report("x", (CheckResult("op:exp", "fail", "x" * 10_000, {"hint": "y" * 900_000}),))
    validate_prairielearn(prairielearn(huge, Points()))


def test_junit_xml_follows_the_format_ci_reads(reports: dict[str, Report]) -> None:
    from micrograd_like.kit.formats import Points, junit

    chosen = [reports["bug_two_ops"], reports["micrograd"], Report("gone:V", (), "\x1bno")]
    root = validate_junit(junit(chosen, Points()))
    first = root[0]
    assert first.get("failures") == "2" and root.get("errors") == "1"
    assert "\x1b" not in junit(chosen, Points())


POINTS_TOML = """
[default]
points = 2

[checks."op:*"]
points = 3

[checks."op:tanh"]
required = true
visibility = "hidden"
"""


def test_points_files_give_points_visibility_and_required_ops(
    reports: dict[str, Report], tmp_path: Path
) -> None:
    from micrograd_like.kit.formats import gradescope, load_points

    (tmp_path / "points.toml").write_text(POINTS_TOML, "utf-8")
    checks: dict[str, Any] = {"op:*": {"points": 3}}
    checks["op:tanh"] = {"required": True, "visibility": "hidden"}
    as_json = {"default": {"points": 2}, "checks": checks}
    (tmp_path / "points.json").write_text(json.dumps(as_json), "utf-8")
    for file in ("points.toml", "points.json"):
        data = gradescope(reports["micrograd"], load_points(tmp_path / file))
        validate_gradescope(data)
        tests = {t["name"]: t for t in data["tests"]}
        assert tests["basics"]["max_score"] == 2 and tests["op:mul"]["max_score"] == 3
        tanh = tests["op:tanh"]  # micrograd lacks it, and the course requires it
        assert (tanh["score"], tanh["max_score"], tanh["visibility"]) == (0, 3, "hidden")
        assert tests["op:exp"]["max_score"] == 0  # lacking it costs nothing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[checks."op:tan"]\npoints = 1', "matches no check"),
        ("[default]\npoints = -1", "points is -1; use a finite number >= 0"),
        ('[default]\nvisibility = "secret"', "visibility is 'secret'"),
        ("[defaults]\npoints = 1", "unknown key 'defaults'"),
        ("[default]\npoints = 'many'", "points is 'many', not a number"),
        ("[default\n", "points.toml:"),
    ],
)
def test_a_wrong_points_file_is_refused_naming_key_and_value(
    tmp_path: Path, text: str, message: str
) -> None:
    from micrograd_like.kit.formats import PointsError, load_points

    (tmp_path / "points.toml").write_text(text, "utf-8")
    with pytest.raises(PointsError, match=r"points\.toml") as refused:
        load_points(tmp_path / "points.toml")
    assert message in str(refused.value)


def test_toml_on_python_3_10_without_tomli_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from micrograd_like.kit import formats

    monkeypatch.setitem(sys.modules, "tomli", None)  # as if not installed
    with pytest.raises(formats.PointsError, match=r"pip install 'micrograd_like\[kit\]'"):
        formats.toml_module(tmp_path / "points.toml", (3, 10))
    original = formats.toml_module
    monkeypatch.setattr(formats, "toml_module", lambda path: original(path, (3, 10)))
    (tmp_path / "points.toml").write_text("[default]\npoints = 2\n", "utf-8")
    with pytest.raises(formats.PointsError) as refused:
        formats.load_points(tmp_path / "points.toml")
    assert str(refused.value).count("points.toml") == 1  # the file named once


def test_the_kit_runs_without_hypothesis_installed(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['hypothesis'] = None; "
    run = "from micrograd_like.__main__ import main; sys.exit(main(sys.argv[1:]))"
    args = [
        "check-engine",
        engine("bug_tanh"),
        "--json",
        "--examples",
        "3",
        "--leave-out",
        "*deep*",
    ]
    done = subprocess.run(
        [sys.executable, "-c", hide + run, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["checks"][15]["name"] == "op:tanh"


# --- the command line -----------------------------------------------------------------------------


def test_cli_report_cards_and_summary_exit_1_when_a_check_fails() -> None:
    done = command(engine("bug_tanh"), engine("correct"), "--examples", "5", "--jobs", "2")
    assert done.returncode == 1, done.stderr
    assert "FAIL  op:tanh" in done.stdout and "hint:" in done.stdout
    summary = done.stdout.rsplit("\n\n", 1)[1].splitlines()
    assert summary[0].split() == ["engine", "score", "pass", "fail", "skip", "failing"]
    assert summary[1].split()[-1] == "op:tanh" and summary[2].split()[-1] == "-"


def test_cli_writes_one_grader_file_per_engine_into_a_folder(tmp_path: Path) -> None:
    students = tmp_path / "submissions"
    for student, bug in (("alice", "bug_relu"), ("bob", "correct")):
        (students / student).mkdir(parents=True)
        for name, file in (("correct", "correct.py"), (bug, "engine.py")):  # with its import
            (students / student / file).write_text((ENGINES / f"{name}.py").read_text("utf-8"))
    out = tmp_path / "results"
    targets = [str(p) for p in sorted(students.glob("*/engine.py"))]
    done = command(
        *targets, "--class", "Value", "--format", "gradescope", "--output", str(out), "--jobs", "2"
    )  # the deep chain included: a teacher's run is the whole of it
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["alice_engine.json", "bob_engine.json"]
    for written in out.iterdir():
        validate_gradescope(json.loads(written.read_text("utf-8")))
    bob = json.loads((out / "bob_engine.json").read_text("utf-8"))
    assert all(t["status"] == "passed" for t in bob["tests"])


def test_cli_json_for_one_engine_is_an_object_and_exit_0_when_all_pass() -> None:
    done = command(engine("correct"), "--json", "--examples", "5", "--leave-out", "deep-chain")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"engine", "passed", "score", "checks"}
    assert data["passed"] is True and data["score"] == 1.0
    assert [c["name"] for c in data["checks"]] == list(CHECKS)
    assert data["checks"][-1]["detail"] == "not run: left out on request"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/engine.py:Value"], "no such file no/such/engine.py"),
        (["no_such_module_here:Value"], "no module named 'no_such_module_here'"),
        (["micrograd.engine:NoSuchClass"], "the module has no 'NoSuchClass'"),
        (["micrograd.engine"], "give the engine as package.module:ClassName"),
        ([MICROGRAD, "--examples", "0"], "must be greater than 0"),
        ([MICROGRAD, "--timeout", "soon"], "'soon' is not a number"),
        ([MICROGRAD, "--format", "xml"], "invalid choice: 'xml'"),
        ([MICROGRAD, "--points", "no_points.toml"], "no_points.toml: cannot be read"),
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


def test_cli_lists_the_checks_a_points_file_can_name() -> None:
    done = command("--list-checks")
    assert done.returncode == 0 and done.stdout.split() == list(CHECKS)


# --- the Python API -------------------------------------------------------------------------------


def test_assert_engine_correct_raises_with_the_report_card_for_a_class_from_a_test() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_engine_correct(MicrogradCopy, examples=5)
    card = str(failure.value)
    assert "tests.test_conformance:MicrogradCopy: FAILED" in card
    assert "FAIL  backward-twice" in card and "FAIL  deep-chain" in card


def test_the_first_address_still_works_and_a_lost_class_is_refused() -> None:
    report = old_address_check_engine(engine("correct"), examples=5, leave_out=["deep-chain"])
    assert report.passed and report.score == 1.0

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
    call = "report = check_engine(Value, examples=5, leave_out=['deep-chain'])\n"
    call += "print(report.passed, report.failed)"
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
    else:  # the engine's process imports the script, whose call is refused there
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


def test_reference_gives_the_exact_gradient_of_a_formula_with_reuse_and_a_value_exponent() -> None:
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
    power = reference(Formula((1.5, 0.5), (Step("pow", (Ref(0), Ref(1))),)))
    assert power is not None and power[0] == pytest.approx(1.5**0.5)
    assert power[1] == pytest.approx((0.5 * 1.5**-0.5, 1.5**0.5 * math.log(1.5)))
    assert reference(Formula((-1.5, 2.0), (Step("pow", (Ref(0), Ref(1))),))) is None


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


def test_reports_count_skips_out_of_the_score_and_summarise_one_row_each() -> None:
    rows = (
        CheckResult("load", "pass", "imported"),
        CheckResult("basics", "fail", "no"),
        CheckResult("op:tanh", "skip", "not provided: the class has no tanh() method"),
    )
    report = Report("mine.py:Value", rows)
    assert report.score == 0.5 and not report.passed and report.failed == ["basics"]
    unloadable = Report("gone.py:Value", (), "no such file gone.py")
    assert unloadable.to_json()["error"] == "no such file gone.py"
    table = render_summary([report, unloadable]).splitlines()
    assert table[1].split() == ["mine.py:Value", "0.50", "1", "1", "1", "basics"]
    assert table[2].split()[:2] == ["gone.py:Value", "-"]
    nan_row = CheckResult("op:exp", "fail", "x", {"gradients": [{"analytic": math.nan}]})
    assert json.dumps(nan_row.to_json(), allow_nan=False)  # strict JSON
    nothing_checked = Report("empty", (CheckResult("load", "pass", ""),))
    assert not nothing_checked.passed  # loading alone proves nothing


def test_the_kits_reference_math_is_the_op_tables() -> None:
    # The kit keeps learner slips per op; its value, derivative and kinks must be the table's.
    import micrograd_like.engine  # noqa: F401  # fills the op table
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
    import micrograd_like.engine  # noqa: F401  # fills the op table
    from micrograd_like.optable import all_ops

    table = {e.name for e in all_ops() if e.builtin and e.arity == 1 and not e.constants}
    assert table - {"neg"} == {op.name for op in UNARY_OPS}  # neg is part of every engine


def test_every_kit_module_is_readable_on_its_own_and_none_needs_hypothesis() -> None:
    folder = ROOT / "micrograd_like" / "kit"
    for path in folder.glob("*.py"):
        text = path.read_text("utf-8")
        lines = text.splitlines()
        assert len(lines) <= 600, f"{path.name} has {len(lines)} lines"
        assert lines[0].startswith('"""'), f"{path.name} opens without saying what it is"
        assert "hypothesis" not in imported_roots(path), path.name


def imported_roots(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text("utf-8"))
    plain = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    plain |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return {name.split(".")[0] for name in plain}


def test_output_files_are_written_atomically(
    reports: dict[str, Report], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from micrograd_like.commands import check_engine as command_module
    from micrograd_like.kit.formats import Points

    written: list[Path] = []
    monkeypatch.setattr(command_module, "replace_atomically", lambda p, d: written.append(p))
    command_module._write([reports["correct"]], "junit", Points(), tmp_path / "r.xml")
    assert written == [tmp_path / "r.xml"]


def test_the_engine_side_imports_nothing_but_the_standard_library() -> None:
    import ast

    from micrograd_like.kit import engine_side

    tree = ast.parse(Path(engine_side.__file__).read_text("utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
