"""The shipped benchmark: it runs end to end, and its plain-Python references agree with the engine.

No timing is asserted: speed is measured by running the benchmark, never by a test.
"""

from __future__ import annotations

import importlib.util
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd_like.commands import bench
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


@pytest.mark.slow
def test_bench_quick_run_prints_a_row_for_every_installed_engine() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "micrograd_like", "bench", "--quick", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    optional = {e for e in ("micrograd", "torch") if installed(e)}
    expected = {
        "moons step": {"plain", "compiled", "ours"} | optional,
        "random expression": {"plain", "ours"} | optional,
        "deep chain": {"plain", "ours"} | optional,
        "wide sum": {"plain", "ours", "ours-sum"} | optional,
        "memory after": {"plain", "ours"} | optional,
        "deepest chain": {"plain", "ours"} | optional,
    }
    for title, engines in expected.items():
        table = section(done.stdout, title)
        assert engines <= row_engines(table), f"{title}: rows {row_engines(table)}\n{done.stdout}"
    for title in ("moons step", "random expression", "deep chain", "wide sum"):
        assert any("engines agree" in line for line in section(done.stdout, title)), title
    assert "ours / plain = " in done.stdout
    for engine in ("micrograd", "torch"):
        if not installed(engine):
            assert f"{engine}: not installed" in done.stdout


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
