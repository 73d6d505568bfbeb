"""Tests for the backward stepper built on backward_steps: the table, the frames, the page."""

from __future__ import annotations

import html
import math
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_like.debug import explain, node_names, step_rows, steps_table, tooltips
from micrograd_like.engine import Value, backward_steps, sum_of, topological_order
from micrograd_like.names import MAX_NAME, as_operand, local_formula
from micrograd_like.nn import MLP
from micrograd_like.ops import custom_op
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
        "data",
        "op",
        "->",
        "operand",
        "upstream",
        "local",
        "contribution",
        "grad",
        "grad",
        "=",
        "sum",
        "of",
        "uses",
    ]
    assert len(lines) == 5
    # p = x*y = 6 passes 2 * 3 to x, whose grad goes 2 -> 8: its two uses, 2 (from z) and 6
    assert lines[3].split() == [
        *("3", "p", "6", "*", "x", "(#0)", "2", "3", "6", "2", "->", "8"),
        *("2", "+", "6", "=", "8"),
    ]
    # every cell starts where its header starts, on every line (cells are 2+ spaces apart)
    header_starts = cell_starts(lines[0])
    assert header_starts == [0, 6, 12, 18, 22, 34, 44, 51, 65, 73]  # each width + 2, by hand
    assert [cell_starts(line)[:9] for line in lines[1:]] == [header_starts[:9]] * 4
    assert [cell_starts(line)[9] for line in lines[1:]] == [73] * 4


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


def test_render_steps_in_a_reused_folder_keeps_only_this_runs_frames(tmp_path: Path) -> None:
    require_dot()
    folder = tmp_path / "steps"
    render_steps(reused_x()[2], folder)  # 4 steps: step-000 .. step-004
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    x = Value(2.0, label="x")
    render_steps(x * 3.0, folder)  # 2 steps
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["index.html", "notes.txt", "step-000.svg", "step-001.svg", "step-002.svg"]
    with pytest.raises(NotADirectoryError, match=r"render_steps: folder '.*notes\.txt' is a file"):
        render_steps(x * 3.0, folder / "notes.txt")


def test_render_steps_first_caption_says_what_its_frame_shows(tmp_path: Path) -> None:
    require_dot()
    _, _, z = reused_x()
    z.backward()  # x.grad is 4 now; frame 0 shows this pass, where x starts at 0
    page = render_steps(z, tmp_path / "steps")
    first = re.search(
        r'data-step="0".*?<p class="caption">(.*?)</p>', page.read_text("utf-8"), re.S
    )
    assert first is not None
    caption = first.group(1)
    assert "Start: the output z gets grad 1; every other grad starts at 0 in this pass." in caption
    assert "(x 4, y 2, p 1)" in caption  # what the frame leaves out, named with its numbers
    assert "leaves keep" not in caption
    assert "<title>n0</title>" in page.read_text("utf-8")
    frame = backward_frames(z)[0].picture.source
    assert 'label="{ x | data 2 | grad 0 }"' in frame  # the frame: 0, as the caption says


def test_render_steps_page_shows_itself_inline_in_jupyter(tmp_path: Path) -> None:
    require_dot()
    page = render_steps(reused_x()[2], tmp_path / "steps")
    assert isinstance(page, Path) and page.name == "index.html"
    shown = page._repr_html_()
    assert shown is not None and shown.startswith("<iframe srcdoc=")
    srcdoc = re.search(r'srcdoc="([^"]*)"', shown)
    assert srcdoc is not None
    assert html.unescape(srcdoc.group(1)) == page.read_text(encoding="utf-8")  # self-contained
    assert 'sandbox="allow-scripts"' in shown
    assert getattr(page.parent, "_repr_html_", lambda: None)() is None  # a folder: shown as text


def test_render_steps_page_shows_each_steps_formula_data_and_sum_of_uses(tmp_path: Path) -> None:
    require_dot()
    n = Value(0.8814, label="n")
    o = n.tanh() * n  # n is used twice: by tanh and by the product
    text = render_steps(o, tmp_path / "steps").read_text(encoding="utf-8")
    assert "<th>local derivative</th><td>1 - 0.7071**2 = 0.5</td>" in text
    assert "<td>tanh(n) (tanh), data 0.7071</td>" in text
    # dn = tanh(n) + n * (1 - tanh(n)**2) = 0.7071 + 0.8814 * 0.5, by hand
    assert "<th>grad of n = sum of its uses so far</th><td>0.7071 + 0.4407 = 1.148</td>" in text


# --- names, formulas and explain ----------------------------------------------------------------


def names_of(root: Value) -> list[str]:
    return list(node_names(topological_order(root)).values())


def test_node_names_write_intermediates_as_their_expression() -> None:
    x1, w1, x2, w2 = (Value(v, label=k) for v, k in [(2, "x1"), (-3, "w1"), (0, "x2"), (1, "w2")])
    b = Value(6.88, label="b")
    product = x1 * w1
    n = product + x2 * w2 + b
    names = node_names(topological_order(n))
    assert (names[product], names[n.parents[0]], names[n]) == (
        "x1*w1",
        "x1*w1 + x2*w2",
        "x1*w1 + x2*w2 + b",
    )
    assert names_of(n.tanh())[-1] == "tanh(x1*w1 + x2*w2 + b)"  # 23 characters: kept
    y = Value(0.5, label="y")
    assert names_of((n + y).tanh())[-2:] == ["x1*w1 + x2*w2 + b + y", "tanh(…)"]  # 27: shortened
    assert names_of(y - 1)[-2:] == ["-1", "y - 1"]  # the constant is named by its number
    assert names_of((y - 1) ** 2)[-1] == "(y - 1)**2"
    assert names_of((y + x1) * (y - w1))[-1] == "(y + x1)*(y - w1)"
    assert names_of(y / (x1 * w1))[-1] == "y / (x1*w1)"
    assert names_of(-(y + 1))[-1] == "-(y + 1)"
    assert names_of(y.relu() + y.exp())[-1] == "ReLU(y) + exp(y)"  # ops as pictures show them
    assert as_operand("ReLU(y) + exp(y)") == "(ReLU(y) + exp(y))"  # as in (ReLU(y) + exp(y)).grad
    assert as_operand("tanh(x*w + b)") == "tanh(x*w + b)"


def test_node_names_shorten_long_expressions_to_the_ops_shape() -> None:
    terms = [Value(float(k), label=f"term{k}") for k in range(6)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    names = names_of(total.tanh())
    assert names[-2:] == ["… + term5", "tanh(… + term5)"]  # the long operand becomes …
    assert names_of(sum_of(terms))[-1] == "sum(…)"
    model = MLP(3, [4, 4, 1], rng=random.Random(0))
    score = model([0.5, -1.0, 2.0])
    assert isinstance(score, Value)
    loss = (score - 1.0) ** 2
    assert all(len(name) <= MAX_NAME for name in names_of(loss))


def test_node_names_are_unique_and_keep_labels() -> None:
    x, w = Value(2.0, label="x"), Value(-1.0, label="x")  # two leaves, one label
    twice = x * w + x * w  # the same expression, two nodes
    assert names_of(twice) == ["x", "x #2", "x*(x #2)", "x*(x #2) #2", "x*(x #2) + (x*(x #2) #2)"]
    y = Value(3.0, label="y")
    # the second constant 2 is "2 #2" as a node, but still 2 inside y*2
    assert names_of(x * 2 + y * 2) == ["x", "2", "y", "2 #2", "x*2", "y*2", "x*2 + y*2"]
    assert names_of(x * 1.0001)[-1] == "x*1.0001"  # a short constant in full, not 4 digits
    model = MLP(2, [3, 1], rng=random.Random(0))
    score = model([0.5, -1.2])
    assert isinstance(score, Value)
    names = names_of(score)
    assert len(set(names)) == len(names)
    assert "L1.N3.w2" in names  # parameters keep where they live
    assert names[-4:] == ["ReLU(L1.N1)", "ReLU(L1.N2)", "ReLU(L1.N3)", "L2.N1"]
    assert names_of(score) == names  # deterministic


def test_local_formula_is_the_ops_own_derivative_with_its_numbers() -> None:
    def formulas(node: Value) -> list[str]:
        slopes = node.local_grads()
        return [local_formula(node, i, slope) for i, slope in enumerate(slopes)]

    assert formulas(Value(0.8814).tanh()) == ["1 - 0.7071**2 = 0.5"]
    assert formulas(Value(0.0).sigmoid()) == ["0.5 * (1 - 0.5) = 0.25"]
    assert formulas(Value(2.0) / Value(4.0)) == ["1 / 4 = 0.25", "-0.5 / 4 = -0.125"]
    assert formulas(Value(2.0) ** 3) == ["3 * 4 = 12"]
    assert formulas(Value(2.0) * Value(3.0)) == ["3", "2"]  # nothing to write out
    assert formulas(Value(2.0).relu()) == ["1"]  # relu compares: only the number shows
    assert formulas(Value(6.0).tanh())[0].startswith("1 - 0.999988**2")  # not 1 - 1**2

    def cube_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (3 * x * x,)

    cube = custom_op(cube_local, name="stepper_cube")(lambda x: x**3)
    assert formulas(cube(Value(2.0))) == ["3 * 2 * 2 = 12"]  # written from the entry's local


def test_explain_adds_up_every_use_with_the_graphs_numbers() -> None:
    x, y, z = reused_x()
    explained = explain(x, z)
    assert str(explained).splitlines()[:4] == [
        "x.grad = 4: x is used 2 times on the way to z",
        "  in z = p + x, as operand 1: d(z)/d(x) * z.grad = 1 * 1 = 1",
        "  in p = x*y, as operand 0: d(p)/d(x) * p.grad = 3 * 1 = 3",
        "  sum: 1 + 3 = 4",
    ]
    assert "why backward() does `grad += local * upstream`" in str(explained)
    assert [use.share for use in explained.uses] == [1.0, 3.0]
    assert repr(explained) == str(explained)
    assert (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)  # a view: no gradient changes
    assert "backward() has not run on this graph" in str(explained)
    z.backward()
    z.backward()  # x.grad is 8 now: a leaf adds across calls
    explained = explain(x, z)
    assert explained.grad == 4.0 and x.grad == 8.0
    assert "(x.grad holds 8 now: a leaf keeps adding across backward() calls" in str(explained)


def test_explain_shows_the_local_formula_and_a_single_use() -> None:
    n = Value(0.8814, label="n")
    o = n.tanh()
    lines = str(explain(n, o)).splitlines()
    assert lines[1] == (
        "  in tanh(n), as operand 0: d(tanh(n))/d(n) * tanh(n).grad = 0.5 * 1 = 0.5"
        "   (d(tanh(n))/d(n) = 1 - 0.7071**2 = 0.5)"
    )
    assert lines[2] == "One use, so its share is all of n's gradient."
    a = Value(3.0, label="a")
    assert "  sum: 1 + 1 = 2" in str(explain(a, a + a))  # a + a: two uses by one node


def test_explain_of_the_root_and_of_a_stranger() -> None:
    x, _, z = reused_x()
    assert str(explain(z)).startswith("z.grad = 1: z is the output")
    assert str(explain(x)).endswith(
        "(no root given, so x is taken as the output: explain(node, "
        "root) tells how node's gradient comes from root)"
    )
    assert str(explain(z, seed=2.0)).startswith("z.grad = 2:")
    with pytest.raises(ValueError, match="not in the graph of 'z'"):
        explain(Value(1.0), z)
    with pytest.raises(TypeError, match="explain: expected a Value, got float"):
        explain(1.0, z)  # type: ignore[arg-type]
    tooltip = tooltips(z)
    assert tooltip(x) == str(explain(x, z))
