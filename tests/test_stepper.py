"""Tests for the backward stepper built on backward_steps: the table, the frames, the page."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_like.debug import step_rows, steps_table
from micrograd_like.engine import Value, backward_steps, topological_order
from micrograd_like.viz import GraphTooLargeError, backward_frames, render_steps
from tests.support import require_dot


def reused_x() -> tuple[Value, Value, Value]:
    """z = x*y + x at x = 2, y = 3: by hand dz/dx = y + 1 = 4 and dz/dy = x = 2."""
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    product = x * y
    product.label = "p"
    z = product + x
    z.label = "z"
    return x, y, z


def test_step_rows_follow_the_chain_rule_edge_by_edge() -> None:
    x, y, z = reused_x()
    rows = [
        (
            r.step,
            r.node,
            r.op,
            r.parent,
            r.operand,
            r.upstream,
            r.local,
            r.contribution,
            r.grad_before,
            r.grad_after,
        )
        for r in step_rows(z)
    ]
    assert rows == [
        (1, "z", "+", "p", 0, 1.0, 1.0, 1.0, 0.0, 1.0),
        (2, "z", "+", "x", 1, 1.0, 1.0, 1.0, 0.0, 1.0),
        (3, "p", "*", "x", 0, 1.0, 3.0, 3.0, 1.0, 4.0),  # d(x*y)/dx = y = 3, added to the 1
        (4, "p", "*", "y", 1, 1.0, 2.0, 2.0, 0.0, 2.0),  # d(x*y)/dy = x = 2
    ]
    assert (x.grad, y.grad) == (0.0, 0.0)  # the stepper watches; it changes no gradient


def test_steps_table_prints_one_aligned_line_per_edge() -> None:
    _, _, z = reused_x()
    lines = steps_table(z, seed=2.0).splitlines()
    assert lines[0].split() == [
        "step",
        "node",
        "op",
        "->",
        "operand",
        "upstream",
        "local",
        "contribution",
        "grad",
    ]
    assert len(lines) == 5
    assert lines[3].split() == ["3", "p", "*", "x", "(#0)", "2", "3", "6", "2", "->", "8"]
    # every cell starts where its header starts, on every line (cells are 2+ spaces apart)
    header_starts = cell_starts(lines[0])
    assert header_starts == [0, 6, 12, 16, 28, 38, 45, 59]  # each width + 2, by hand
    assert [cell_starts(line) for line in lines[1:]] == [header_starts] * 4


def cell_starts(line: str) -> list[int]:
    """Where each cell of a table line starts; a cell may hold single spaces ("0 -> 2")."""
    return [cell.start() for cell in re.finditer(r"\S+(?: \S+)*", line)]


# --- a property: stepping to the end is backward() -------------------------------------------

UNARY: dict[str, Callable[[Value], Value]] = {
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "neg": Value.__neg__,
    "square": lambda v: v**2,
}
BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": Value.__add__,
    "-": Value.__sub__,
    "*": Value.__mul__,
}


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[Value, list[Value]]:
    """A small DAG whose nodes may be reused any number of times (a + a, diamonds, ...)."""
    leaves = [
        Value(draw(st.floats(-1.5, 1.5, allow_nan=False)), label=f"x{i}")
        for i in range(draw(st.integers(1, 4)))
    ]
    pool = list(leaves)
    for _ in range(draw(st.integers(1, 8))):
        pick = st.integers(0, len(pool) - 1)
        name = draw(st.sampled_from(sorted(UNARY) + sorted(BINARY)))
        if name in UNARY:
            pool.append(UNARY[name](pool[draw(pick)]))
        else:
            pool.append(BINARY[name](pool[draw(pick)], pool[draw(pick)]))
    return pool[-1], leaves


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@settings(max_examples=80, deadline=None)
@given(random_graphs(), st.floats(-2.0, 2.0, allow_nan=False))
def test_backward_steps_to_the_end_equal_backward(
    graph: tuple[Value, list[Value]], seed: float
) -> None:
    root, _ = graph
    order = topological_order(root)
    before = [node.grad for node in order]
    final = {root: seed}
    for step in backward_steps(root, seed):
        assert same(step.contribution, step.local * step.upstream)
        assert same(step.grad_after, step.grad_before + step.contribution)
        assert step.parent is step.node.parents[step.parent_index]
        final[step.parent] = step.grad_after
    assert [node.grad for node in order] == before  # the stepper changes no gradient
    root.backward(seed)
    assert all(same(final[node], node.grad) for node in order)


# --- frames ------------------------------------------------------------------------------------


def test_backward_frames_show_grads_after_each_step_and_highlight_the_edge() -> None:
    x, y, z = reused_x()
    frames = backward_frames(z)
    assert [frame.number for frame in frames] == [0, 1, 2, 3, 4]
    # order: x (n0), y (n1), p (n2), z (n3)
    first = frames[0].picture.source
    assert 'label="{ z | data 8 | grad 1 }"' in first
    assert 'label="{ x | data 2 | grad 0 }"' in first
    assert re.search(r"n3 \[[^\]]*class=current", first)
    third = frames[3].picture.source  # p passes 1 * 3 to x, whose grad goes 1 -> 4
    assert 'label="{ x | data 2 | grad 4 }"' in third
    assert 'label="{ y | data 3 | grad 0 }"' in third
    assert re.search(r"n2 \[[^\]]*class=current", third)
    assert re.search(r"n0 \[[^\]]*class=receiving", third)
    assert 'n0 -> n2_op [label="local 3" class=current' in third
    assert 'label="{ y | data 3 | grad 2 }"' in frames[4].picture.source
    assert (x.grad, y.grad) == (0.0, 0.0)  # drawing backward is a view: no .grad changes


def test_backward_frames_after_backward_show_this_pass_and_leave_grads_alone() -> None:
    x, y, z = reused_x()
    z.backward()  # x.grad is now 4, y.grad 2
    frames = backward_frames(z)
    assert 'label="{ x | data 2 | grad 0 }"' in frames[0].picture.source
    assert 'label="{ x | data 2 | grad 4 }"' in frames[-1].picture.source
    assert (x.grad, y.grad) == (4.0, 2.0)  # drawing never doubles a gradient


def test_backward_frames_are_deterministic() -> None:
    first = [frame.picture.source for frame in backward_frames(reused_x()[2])]
    second = [frame.picture.source for frame in backward_frames(reused_x()[2])]
    assert first == second
    assert len(set(first)) == len(first)  # and every frame differs from the others


def test_backward_frames_refuse_too_many_steps() -> None:
    node = Value(0.3)
    for _ in range(10):
        node = node * node  # two edges per node: 20 steps
    try:
        backward_frames(node, max_steps=19)
    except GraphTooLargeError as error:
        assert "20 edges" in str(error)
        assert "max_steps=20" in str(error)
    else:
        raise AssertionError("backward_frames drew 20 steps with max_steps=19")
    assert node.grad == 0.0  # refused before running backward


def test_render_steps_writes_numbered_svgs_and_a_self_contained_page(tmp_path: Path) -> None:
    require_dot()
    _, _, z = reused_x()
    page = render_steps(z, tmp_path / "steps")
    names = sorted(p.name for p in (tmp_path / "steps").iterdir())
    assert names == ["index.html"] + [f"step-00{k}.svg" for k in range(5)]
    text = page.read_text(encoding="utf-8")
    assert re.findall(r'data-step="(\d+)"', text) == ["0", "1", "2", "3", "4"]
    assert text.count("<svg") == 5
    assert 'id="prev"' in text and 'id="next"' in text and "ArrowRight" in text
    for external in ("<link", " src=", "@import", "url(", 'href="http'):
        assert external not in text
    assert '<g id="s3_n2" class="node current">' in text  # p, the node of step 3
    assert "<th>local derivative</th><td>3</td>" in text
    assert "<td>1 &rarr; 4</td>" in text
    svg = (tmp_path / "steps" / "step-003.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "s3_n2" in svg
