"""The shipped benchmark: it runs end to end, and its plain-Python references agree with the engine.

The minimal engine, the bench's floor, is checked here too: its gradients are ours. No timing is
asserted: speed is measured by running the benchmark, never by a test.
"""

from __future__ import annotations

import importlib.util
import math
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import micrograd.engine
import micrograd.nn
import pytest

from micrograd_like.commands import bench
from micrograd_like.commands.minimal_engine import Value as MinimalValue
from micrograd_like.engine import Value, sum_of
from micrograd_like.nn import MLP

ROOT = Path(__file__).resolve().parent.parent


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def section(output: str, title_start: str) -> list[str]:
    """The lines of one table: from its title to the next blank line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title_start))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def row_engines(table: list[str]) -> set[str]:
    return {line.split()[0] for line in table[1:] if line.startswith("  ") and line.split()}


def run_bench(*options: str) -> str:
    """The output of ``python -m micrograd_like bench --quick --rounds 1 OPTIONS``."""
    done = subprocess.run(
        [sys.executable, "-m", "micrograd_like", "bench", "--quick", "--rounds", "1", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def summary_rows(output: str) -> dict[str, str]:
    """The summary's lines by workload and number (``moons ours / plain``), in their order."""
    rows = section(output, "summary:")[2:]  # under the title and the column heads
    return {" ".join(line[:33].split()): line for line in rows}


@pytest.mark.slow
def test_bench_quick_run_prints_a_row_for_every_installed_engine() -> None:
    output = run_bench()
    optional = {e for e in ("micrograd", "torch") if installed(e)}
    expected = {
        "moons step": {"plain", "compiled", "ours", "minimal"} | optional,
        "micrograd's nn": {"ours", "minimal", "micrograd"},
        "random expression": {"plain", "ours", "minimal"} | optional,
        "deep chain": {"plain", "ours", "minimal"} | optional,
        "wide sum": {"plain", "ours", "ours-sum", "minimal"} | optional,
        "memory after": {"plain", "ours", "minimal"} | optional,
        "deepest chain": {"plain", "ours", "minimal"} | optional,
        "gpt step": {"compiled", "ours-gpt", "ours", "minimal"},
    }
    for title, engines in expected.items():
        table = section(output, title)
        assert engines <= row_engines(table), f"{title}: rows {row_engines(table)}\n{output}"
    titles = ("moons step", "micrograd's nn", "random expression", "deep chain", "wide sum", "gpt")
    for title in titles:
        assert any("engines agree" in line for line in section(output, title)), title
    assert "ours / plain = " in output
    assert "minimal / ours = " in section(output, "micrograd's nn")[-2]  # the ratios line
    for engine in ("micrograd", "torch"):
        if not installed(engine):
            assert f"{engine}: not installed" in output
    rows = summary_rows(output)
    goals = {
        "mgnn minimal / ours": ">= 1.5x",
        "moons ours / plain": "<= 3x",
        "chain ours / plain": "<= 15x",
        "wide ours / plain": "<= 15x",
        "memory ours traced B/node": "<= 180 B",
        "moons compiled / plain": "<= 0.5x",
        "gpt minimal / ours": ">= 1.5x",
        "gpt minimal / ours-gpt": ">= 1.5x",
        "gpt minimal / compiled": ">= 20x",
    }
    assert list(rows) == list(goals), output
    for name, goal in goals.items():
        assert f"   {goal} " in rows[name] and " met" in rows[name], rows[name]
    for name in ("moons ours / plain", "chain ours / plain", "wide ours / plain"):
        assert "minimal / plain " in rows[name], rows[name]
    assert "minimal traced B/node " in rows["memory ours traced B/node"]


@pytest.mark.slow
def test_bench_only_runs_the_benchmarks_it_names_and_sums_up_those() -> None:
    output = run_bench("--only", "mgnn,memory")
    titles = [line for line in output.splitlines() if line and not line.startswith(" ")]
    assert [title.split(":")[0] for title in titles[1:]] == [
        "micrograd's nn",
        "memory after the forward pass of the 2000-op random expression",
        "summary",
    ], output
    assert list(summary_rows(output)) == ["mgnn minimal / ours", "memory ours traced B/node"]


def test_bench_refuses_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--only", "mgnn,gpu"])
    assert exit_.value.code == 2
    assert "gpu" in capsys.readouterr().err


def test_bench_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--rounds", "--quick", "--only", "--engines"):
        assert option in shown


def test_bench_refuses_an_unknown_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--engines", "ours,tensorflow"]) == 2
    assert "tensorflow" in capsys.readouterr().err


def test_bench_plain_moons_step_matches_the_engine() -> None:
    # The hand-written reference must compute exactly what the engines compute.
    points, labels, weights = bench.moons_problem(10)
    model = MLP(2, [*bench.HIDDEN, 1], rng=random.Random(0))
    params = model.parameters()
    assert [p.data for p in params] == weights
    scores = [model(x) for x in points]
    losses = [
        (1 + -y * s).relu() for s, y in zip(scores, labels, strict=True) if isinstance(s, Value)
    ]
    assert len(losses) == len(points)
    total = sum_of(losses) * (1.0 / len(losses)) + bench.ALPHA * sum_of([p * p for p in params])
    total.backward()

    loss, grads = bench.plain_moons_step(bench.plain_layers(weights), points, labels)
    flat = [g for grad_w, grad_b in grads for row, b in zip(grad_w, grad_b, strict=True)
            for g in (*row, b)]  # fmt: skip
    assert math.isclose(loss, total.data, rel_tol=1e-12)
    for index, (plain, engine) in enumerate(zip(flat, (p.grad for p in params), strict=True)):
        assert math.isclose(plain, engine, rel_tol=1e-9, abs_tol=1e-15), index


def test_bench_plain_expression_matches_the_engine() -> None:
    program = bench.expression_program(3_000, seed=5)
    out, leaves = bench.build_expression(program, Value)
    out.backward()
    value, grads = bench.plain_expression(program)
    assert value == out.data
    for plain, leaf in zip(grads, leaves, strict=True):
        assert math.isclose(plain, leaf.grad, rel_tol=1e-9, abs_tol=1e-12)


def test_bench_expression_is_shallow_enough_for_micrograd() -> None:
    # micrograd's recursive topological sort fails near depth 1000; the benchmark must not.
    program = bench.expression_program(100_000)
    depth = [0] * len(program.leaves)
    for kind, target, other, _ in program.ops:
        below = max(depth[target], depth[other]) if kind in ("add", "mul") else depth[target]
        depth[target] = below + 1
    assert max(depth) + math.ceil(math.log2(len(depth))) < 500


# --- the minimal engine: the floor must compute what ours computes ----------------------------

Expression = Callable[[Any, Any], Any]
CASES: dict[str, Expression] = {  # every op of the minimal engine, and the classic traps
    "add": lambda a, b: a + b,
    "radd": lambda a, b: 2.5 + a,
    "sub": lambda a, b: a - b,
    "rsub": lambda a, b: 2.5 - b,
    "mul": lambda a, b: a * b,
    "rmul": lambda a, b: 2.5 * b,
    "truediv": lambda a, b: a / b,
    "rtruediv": lambda a, b: 2.5 / b,
    "pow": lambda a, b: a**3 + b**-2 + a**0.5,
    "neg": lambda a, b: -a * b,
    "log": lambda a, b: (a * 3).log(),
    "exp": lambda a, b: (a * b).exp(),
    "relu": lambda a, b: a.relu() * 3 + b.relu() * 5,  # a > 0, b < 0
    "tanh": lambda a, b: (a * b).tanh(),
    "a + a": lambda a, b: a + a,
    "a * a": lambda a, b: a * a,
    "diamond": lambda a, b: (c := a * b) * c.exp() + c,
}


@pytest.mark.parametrize("case", CASES)
def test_minimal_engine_gives_our_values_and_gradients(case: str) -> None:
    results = []
    for engine in (Value, MinimalValue):
        a, b = engine(1.3), engine(-0.7)
        out = CASES[case](a, b)
        out.backward()
        results.append((float(out.data), float(a.grad), float(b.grad)))
    ours, minimal = results
    for name, expected, got in zip(("value", "a.grad", "b.grad"), ours, minimal, strict=True):
        assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-15), (name, expected, got)


def test_minimal_engine_backpropagates_a_chain_far_deeper_than_the_recursion_limit() -> None:
    n = 50 * sys.getrecursionlimit()
    out, start = bench.build_chain(n, MinimalValue)
    out.backward()
    assert start.grad == bench.CHAIN_FACTOR ** ((n + 1) // 2)


def test_bench_minimal_engine_agrees_with_ours_on_the_expression_and_the_chain() -> None:
    program = bench.expression_program(3_000, seed=7)
    (ours, our_leaves), (minimal, minimal_leaves) = (
        bench.build_expression(program, engine) for engine in (Value, MinimalValue)
    )
    ours.backward()
    minimal.backward()
    assert math.isclose(minimal.data, ours.data, rel_tol=1e-12)
    for index, (mine, theirs) in enumerate(zip(our_leaves, minimal_leaves, strict=True)):
        assert math.isclose(theirs.grad, mine.grad, rel_tol=1e-9, abs_tol=1e-12), index
    assert any(leaf.grad not in (0.0, 1.0) for leaf in our_leaves)  # products reached the leaves

    (ours, our_start), (minimal, minimal_start) = (
        bench.build_chain(1_001, engine) for engine in (Value, MinimalValue)
    )
    ours.backward()
    minimal.backward()
    assert (minimal.data, minimal_start.grad) == (ours.data, our_start.grad)


def test_bench_expression_check_is_the_output_and_every_leaf_gradient() -> None:
    # The engines' agreement on `expr` compares these checks: all of them, the same number.
    value, grads = bench.plain_expression(bench.expression_program(2_000))
    expected = value + bench.gradient_digest(grads)
    for engine in ("plain", "ours", "minimal", "micrograd"):
        run, _ = bench.prepare("expr", engine, 2_000)
        assert math.isclose(run(), expected, rel_tol=1e-12), engine


def test_bench_gradient_digest_moves_with_any_gradient() -> None:
    grads = [0.5, -1.0, 2.0]
    digest = bench.gradient_digest(grads)
    for index in range(len(grads)):
        wrong = list(grads)
        wrong[index] += 1e-6
        assert bench.gradient_digest(wrong) != digest
    swapped = [grads[1], grads[0], grads[2]]
    assert bench.gradient_digest(swapped) != digest


# --- mgnn: micrograd's own nn on each engine ----------------------------------------------------


def test_bench_micrograd_nn_copy_makes_weights_of_the_given_engine_and_leaves_micrograd_alone() -> (
    None
):
    for engine in (Value, MinimalValue):
        nn = bench.micrograd_nn(engine)
        assert nn is not micrograd.nn
        model = nn.MLP(2, [3, 1])
        assert all(type(p) is engine for p in model.parameters())
    assert micrograd.nn.Value is micrograd.engine.Value
    assert all(type(p) is micrograd.engine.Value for p in micrograd.nn.MLP(2, [1]).parameters())


def test_bench_mgnn_steps_agree_across_engines_and_with_the_moons_benchmark() -> None:
    problem = bench.moons_problem(6)
    steps = {
        engine: bench.micrograd_nn_moons(engine, *problem) for engine in bench.ENGINES_OF["mgnn"]
    }
    moons, _ = bench.prepare_moons("ours", 6)  # the same problem: same points, same weights
    for _ in range(3):  # the SGD updates must agree too
        expected = moons()
        for engine, step in steps.items():
            assert math.isclose(step(), expected, rel_tol=1e-12), engine


def test_bench_mgnn_passes_the_points_as_values_as_micrograds_demo_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[float] = []

    class Recorded(MinimalValue):
        """A minimal Value that notes each one made under this name: leaves, not op results."""

        __slots__ = ()

        def __init__(self, data: float) -> None:
            super().__init__(data)
            made.append(data)

    monkeypatch.setattr(bench, "value_class", lambda engine: Recorded)
    points, labels, weights = bench.moons_problem(4)
    step = bench.micrograd_nn_moons("minimal", points, labels, weights)
    made.clear()  # the weights, made by micrograd's Neuron
    step()
    assert made == [x for point in points for x in point]


# --- the summary ------------------------------------------------------------------------------


def test_bench_summary_puts_each_number_beside_its_goal_and_verdict() -> None:
    timings = {
        "mgnn": bench.Timings({"ours": [1.0, 1.0, 1.0], "minimal": [2.0, 1.5, 1.0]}, {}, {}),
        "moons": bench.Timings(
            {"plain": [1.0], "compiled": [0.6], "ours": [2.0], "minimal": [5.0]}, {}, {}
        ),
        "chain": bench.Timings(
            {"plain": [1.0], "ours": [], "minimal": [9.0]}, {"ours": "boom"}, {}
        ),
    }
    memory: dict[str, dict[str, Any]] = {
        "ours": {"traced_per_node": 180.4},  # shown as 180 B, and judged as shown: met
        "minimal": {"error": "MemoryError"},
    }
    lines = bench.summary(timings, memory)
    rows = {" ".join(line[:33].split()): " ".join(line[33:].split()) for line in lines[2:]}
    assert rows == {
        "mgnn minimal / ours": "1.50x >= 1.5x met",  # the median of same-round ratios
        "moons ours / plain": "2.00x <= 3x met minimal / plain 5.00x",
        "chain ours / plain": "ours failed <= 15x minimal / plain 9.00x",
        "memory ours traced B/node": "180 B <= 180 B met minimal traced B/node minimal failed",
        "moons compiled / plain": "0.60x <= 0.5x NOT met",
    }


@pytest.mark.parametrize(
    ("minimal", "verdict"), [(1.49, "1.49x >= 1.5x NOT met"), (1.6, "1.60x >= 1.5x met")]
)
def test_bench_summary_wants_ours_at_least_one_and_a_half_times_faster_than_minimal(
    minimal: float, verdict: str
) -> None:
    timings = {"mgnn": bench.Timings({"ours": [1.0], "minimal": [minimal]}, {}, {})}
    (_, _, row) = bench.summary(timings, {})
    assert " ".join(row.split()) == f"mgnn minimal / ours {verdict}"


def test_bench_summary_is_empty_when_no_benchmark_with_a_goal_ran() -> None:
    assert bench.summary({"eval": bench.Timings({"ours": [1.0]}, {}, {})}, {}) == []
