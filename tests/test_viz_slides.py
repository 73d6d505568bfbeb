"""Tests for pictures for slides: paths, folds, boxes, colours, options, escaping, the guard."""

from __future__ import annotations

import math
import random
import re
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from micrograd_like.engine import Value, linear, sum_of
from micrograd_like.nn import MLP
from micrograd_like.viz import (
    CHEAP_LAYOUT,
    HIGHLIGHT_COLOUR,
    QUIET_COLOUR,
    SIGN_COLOURS,
    GraphTooLargeError,
    draw_dot,
    render,
    svg_text,
)
from tests.support import require_dot
from tests.test_viz import neuron, node_id

SVG = "{http://www.w3.org/2000/svg}"


def edge_attrs(source: str, tail: str, head: str) -> list[str]:
    """The attribute texts of every edge tail -> head in the DOT source."""
    pattern = rf"^\s*{re.escape(tail)} -> {re.escape(head)}(?: \[(.*)\])?$"
    return [m.group(1) or "" for m in re.finditer(pattern, source, flags=re.MULTILINE)]


def model_and_loss(rng_seed: int = 0) -> tuple[MLP, list[Value], Value]:
    model = MLP(2, [3, 1], rng=random.Random(rng_seed))
    inputs = [Value(0.5, label="x1"), Value(-1.5, label="x2")]
    loss = model(inputs)
    assert isinstance(loss, Value)
    loss.backward()
    return model, inputs, loss


# --- highlight_path -----------------------------------------------------------------------------


def test_highlight_path_draws_every_edge_from_the_leaf_to_the_root_with_its_numbers() -> None:
    o, _ = neuron()
    source = draw_dot(o, highlight_path=o.parents[0].parents[0].parents[0].parents[1])
    text = source.source
    w1, product = node_id(text, "w1"), node_id(text, "x1*w1")
    [into_product] = [a for a in edge_attrs(text, w1, f"{product}_op")]
    # w1 = -3 flows forward; back comes dL/dw1 = x1 * (1 - tanh(n)**2) = 2 * 0.5 = 1
    assert 'label="-3 →\\n← 1"' in into_product
    assert f'color="{HIGHLIGHT_COLOUR}"' in into_product
    n, tanh_op = node_id(text, "n"), f"{node_id(text, 'o')}_op"
    [into_tanh] = edge_attrs(text, n, tanh_op)
    assert 'label="0.8814 →\\n← 0.5"' in into_tanh  # n = 0.8814 forward, 1 - 0.7071**2 back
    x2 = node_id(text, "x2")
    off_path = [
        a for line in text.splitlines() if line.strip().startswith(f"{x2} ->") for a in [line]
    ]
    assert off_path and all(f'color="{QUIET_COLOUR}"' in line for line in off_path)
    assert f'fontcolor="{QUIET_COLOUR}"' in next(ln for ln in text.splitlines() if "{ x2 |" in ln)


def test_highlight_path_outside_the_graph_is_refused() -> None:
    o, _ = neuron()
    with pytest.raises(ValueError, match=r"highlight_path .*stranger.* not in the graph"):
        draw_dot(o, highlight_path=Value(1.0, label="stranger"))


# --- neurons and layers: boxes and folds ----------------------------------------------------------


def test_boxes_put_each_neuron_in_a_box_inside_its_layers_box() -> None:
    _, _, loss = model_and_loss()
    source = draw_dot(loss).source
    layer = source.split("subgraph cluster_layer1 {", 1)[1].split("\n\t}", 1)[0]
    assert layer.count("subgraph cluster_layer1_neuron") == 3  # nested: neurons inside L1
    neuron_box = layer.split("subgraph cluster_layer1_neuron2 {", 1)[1].split("}", 1)[0]
    assert 'label="L1.N2"' in neuron_box
    for name in ("L1.N2.w1", "L1.N2.w2", "L1.N2.b"):
        assert f"\t{node_id(source, name)}\n" in neuron_box
    assert "L2.N1" in source.split("subgraph cluster_layer2 {", 1)[1]
    assert "cluster_layer" not in draw_dot(loss, boxes=False).source


def test_fold_neurons_draws_each_neuron_as_one_node_fed_by_its_inputs() -> None:
    model, _, loss = model_and_loss()
    source = draw_dot(loss, parameters=model.parameters(), fold="neurons").source
    assert "L1.N1.w1" not in source  # the parameters are inside their neuron's node
    assert source.count('[label="ReLU(w·x + b)"') == 3
    assert source.count('[label="w·x + b"') == 1  # the output neuron is linear
    first = model.layers[0].neurons[0]
    by_hand = max(0.0, first.w[0].data * 0.5 + first.w[1].data * -1.5 + first.b.data)
    record = next(ln for ln in source.splitlines() if "{ L1.N1 |" in ln)
    assert f"data {by_hand:.4g}" in record
    n1 = record.split()[0]
    assert len(edge_attrs(source, node_id(source, "x1"), f"{n1}_op")) == 1
    output_op = f"{node_id(source, 'L2.N1')}_op"
    assert sum(len(edge_attrs(source, node_id(source, f"L1.N{j}"), output_op)) for j in (1, 2, 3))
    assert "legend_parameter" not in source  # no parameter is drawn, so the legend leaves it out


def test_fold_layers_draws_a_layer_as_one_record_with_a_port_per_neuron() -> None:
    _, _, loss = model_and_loss()
    source = draw_dot(loss, fold="layers").source
    assert re.search(r"layer1 \[label=\"L1 \(3 neurons\) \| \{ N1 \| data \S+ \| <o1> grad", source)
    assert "L2 (1 neuron)" in source
    assert len(re.findall(r"^\s*layer1:o\d -> layer2_op$", source, flags=re.MULTILINE)) == 3
    assert len(edge_attrs(source, node_id(source, "x1"), "layer1_op")) == 1


def test_the_guard_offers_fold_neurons_for_an_mlp_too_big_to_draw() -> None:
    model = MLP(4, [16, 16, 1], rng=random.Random(0))
    out = model([1.0, 2.0, 3.0, 4.0])
    assert isinstance(out, Value)
    with pytest.raises(GraphTooLargeError, match=r"434 value nodes.*fold='neurons'") as raised:
        draw_dot(out)
    assert raised.value.fold == "neurons"
    assert draw_dot(out, fold="neurons").source.count("w·x + b") == 16 + 16 + 1


# --- sums of products -----------------------------------------------------------------------------


def test_fold_sums_draws_a_dot_product_as_one_node_and_its_leaf_vectors_as_one_each() -> None:
    q = [Value(0.5 * i, label=f"q{i}") for i in range(4)]
    k = [Value(1.0 - i, label=f"k{i}") for i in range(4)]
    score = sum((qi * ki for qi, ki in zip(q, k, strict=True)), Value(0.0, label="zero"))
    score.label = "score"
    score.backward()
    source = draw_dot(score, fold="sums").source
    assert '[label="Σ\\n4 products"' in source
    # q.k = 0*1 + 0.5*0 + 1*-1 + 1.5*-2 = -4; d(score)/dq_i = k_i
    assert 'label="{ score | data -4 | grad 1 }"' in source
    assert 'label="{ q0 … q3 | data (0, 0.5, 1, 1.5) | grad (1, 0, -1, -2) }"' in source
    assert 'label="{ k0 … k3 | data (1, 0, -1, -2) | grad (0, 0.5, 1, 1.5) }"' in source
    assert source.count("->") == 4  # q, k and zero into Σ, Σ into score
    assert "q1" not in source.replace("q0 … q3", "")


def test_fold_sums_merges_a_repeated_operand_and_the_guard_refuses_fast() -> None:
    x = Value(1.5, label="x")
    total = sum_of([x] * 20000)
    total.backward()
    started = time.perf_counter()
    with pytest.raises(GraphTooLargeError, match=r"costs dot \d+.*fold='sums'") as raised:
        draw_dot(total)  # 20,000 edges: refused before any dot runs
    assert raised.value.fold == "sums" and raised.value.count > 20000
    assert time.perf_counter() - started < 5
    source = draw_dot(total, fold="sums", show_local=True).source
    [merged] = edge_attrs(source, node_id(source, "x"), f"{node_id(source, 'sum(…)')}_op")
    assert 'label="\u00d720000\\nlocal 2e+04"' in merged  # 20,000 uses of d/dx = 1


def test_fold_sums_keeps_a_node_used_elsewhere() -> None:
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    product = a * b
    product.label = "ab"
    out = (product + a) * product  # ab feeds the sum and the product: it stays drawn
    out.backward()
    source = draw_dot(out, fold="sums").source
    assert "{ ab | data 6 |" in source


# --- colours, dimming, options ------------------------------------------------------------------


def test_colour_edges_colour_by_the_sign_of_the_gradient_and_widen_the_largest() -> None:
    x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    out = x * y
    out.label = "out"
    out.backward()  # d/dx = y = -3 (negative, the largest), d/dy = x = 2
    source = draw_dot(out, colour_edges=True).source
    op = f"{node_id(source, 'out')}_op"
    [into_x] = edge_attrs(source, node_id(source, "x"), op)
    [into_y] = edge_attrs(source, node_id(source, "y"), op)
    assert f'color="{SIGN_COLOURS["negative"]}"' in into_x and "penwidth=4" in into_x
    assert f'color="{SIGN_COLOURS["positive"]}"' in into_y and "penwidth=3" in into_y  # 1+3*2/3
    assert "penwidth" not in draw_dot(out).source


def test_dead_relus_are_dimmed() -> None:
    x = Value(-2.0, label="x")
    dead, alive = x.relu(), (-x).relu()
    dead.label, alive.label = "dead", "alive"
    out = dead + alive
    out.backward()
    source = draw_dot(out).source
    assert f'fontcolor="{QUIET_COLOUR}"' in next(
        ln for ln in source.splitlines() if "{ dead |" in ln
    )
    assert "fontcolor" not in next(ln for ln in source.splitlines() if "{ alive |" in ln)
    assert "fontcolor" not in draw_dot(out, dim_dead=False).source


def test_show_precision_and_font_size() -> None:
    x = Value(math.pi, label="x")
    y = x * 2.0
    y.label = "y"
    y.backward()
    assert 'label="{ x | data 3.14 }"' in draw_dot(y, show="data", precision=3).source
    assert 'label="{ x | grad 2 }"' in draw_dot(y, show="grad").source
    big = draw_dot(y, font_size=20).source
    assert "node [fontname=Helvetica fontsize=20]" in big
    assert "edge [fontname=Helvetica fontsize=18]" in big
    for bad in ({"show": "both!"}, {"precision": 0}, {"font_size": 200}, {"fold": "heads"}):
        with pytest.raises(ValueError, match=re.escape(next(iter(bad)))):
            draw_dot(y, **bad)


def test_legend_off_and_the_legend_lists_only_what_is_drawn() -> None:
    o, parameters = neuron()
    assert "cluster_legend" not in draw_dot(o, parameters=parameters, legend=False).source
    assert "legend_constant" not in draw_dot(o).source  # the lecture neuron has no constant


def test_tooltip_takes_a_function_of_the_node() -> None:
    o, _ = neuron()
    source = draw_dot(o, tooltip=lambda node: f"{node.label} & more").source
    assert 'tooltip="o &amp; more"' in next(ln for ln in source.splitlines() if "{ o |" in ln)
    with pytest.raises(TypeError, match=r"tooltip\(.*returned int"):
        draw_dot(o, tooltip=lambda node: 3)  # type: ignore[arg-type,return-value]


# --- text that reaches dot ------------------------------------------------------------------------

NASTY = ["back\\", "&amp;", "<b>", 'say "hi"', 'end\\"', "{a|b}", "nul\x00end", "two\nlines"]
SHOWN = ["back\\", "&amp;", "<b>", 'say "hi"', 'end\\"', "{a|b}", "nul\\x00end", "two", "lines"]


def nasty_graph() -> Value:
    leaves = [Value(float(i), label=label) for i, label in enumerate(NASTY)]
    ones = lambda out, *xs: (1.0,) * len(xs)  # noqa: E731
    inner = Value.from_op(1.0, leaves[:2], "<b>", ones)  # a whole label that looks like HTML
    out = Value.from_op(1.0, [inner, *leaves[2:]], "<i>&amp;\\", ones)
    out.label = leaves[-1].label
    return out


def test_labels_and_op_names_are_escaped_in_the_dot_source() -> None:
    source = draw_dot(nasty_graph(), tooltip=lambda node: node.label).source
    assert "{ back\\\\ | data 0 |" in source  # a trailing backslash cannot eat the quote
    assert "{ &amp;amp; |" in source
    assert "{ \\<b\\> |" in source
    assert '{ say \\"hi\\" |' in source
    assert "{ \\{a\\|b\\} |" in source
    assert "\x00" not in source and "nul\\\\x00end" in source
    assert '[label="&lt;' not in source and "label=<" not in source  # never an HTML label
    assert 'label="<i>&amp;amp;\\\\"' in source
    assert '{ end\\\\\\" |' in source  # a backslash, then a quote: both kept
    assert re.search(r'n\d+_op \[label="<b>"', source)  # quoted: not read as HTML


def texts_of(svg: str) -> list[str]:
    return [t.text or "" for t in ElementTree.fromstring(svg).iter(f"{SVG}text")]


def test_dot_shows_every_label_as_it_was_written() -> None:
    require_dot()
    svg = svg_text(draw_dot(nasty_graph(), tooltip=lambda node: node.label))
    texts = texts_of(svg)
    for shown in SHOWN:
        assert shown in texts, (shown, texts)
    assert "<i>&amp;\\" in texts and texts.count("<b>") == 2  # a leaf's label, an op's name
    titles = {
        a.get("{http://www.w3.org/1999/xlink}title")
        for a in ElementTree.fromstring(svg).iter(f"{SVG}a")
    }
    assert 'say "hi"' in titles and "back\\" in titles and "&amp;" in titles


# --- dot's work -----------------------------------------------------------------------------------


def chain_reusing(steps: int) -> Value:
    """x feeds every other node: dot's slowest shape, long edges everywhere."""
    x = Value(0.5, label="x")
    node = x
    for i in range(steps):
        node = (node * x).tanh() if i % 2 else node + x
    node.backward()
    return node


def test_a_costly_layout_gets_bounded_settings_though_it_has_under_100_values() -> None:
    source = draw_dot(chain_reusing(49), show_local=True).source  # 74 values, long edges
    assert "nslimit=0.2" in source and "splines=line" in source
    small = draw_dot(chain_reusing(4), show_local=True).source
    assert "nslimit" not in small and "splines" not in small
    assert CHEAP_LAYOUT < 1000


def test_show_local_on_a_99_value_graph_renders_in_seconds(tmp_path: Path) -> None:
    require_dot()
    picture = draw_dot(chain_reusing(66), show_local=True)  # 99 values; took dot minutes
    started = time.perf_counter()
    render(picture, tmp_path / "chain.svg")
    assert time.perf_counter() - started < 15


def test_layout_cost_counts_nodes_edges_and_the_ranks_each_edge_spans() -> None:
    a, b, c = Value(2.0, label="a"), Value(3.0, label="b"), Value(4.0, label="c")
    out = a * b + c
    # 7 nodes (a b c, a*b and its op, out and its op), 6 edges; each spans one rank, as dot
    # places the leaf c next to its consumer, not beside a and b: 7 + 6 * (1 + 1) = 19
    with pytest.raises(GraphTooLargeError) as raised:
        draw_dot(out, max_cost=18)
    assert raised.value.count == 19
    # a label doubles the ranks an edge spans: the 4 operand edges cost 1 + 2 each, 7 + 12 + 4
    with pytest.raises(GraphTooLargeError) as raised:
        draw_dot(out, max_cost=18, show_local=True)
    assert raised.value.count == 23
    assert draw_dot(out, max_cost=19).source


def test_fold_neurons_keeps_the_edge_from_a_weight_two_neurons_share() -> None:
    shared = Value(0.5, label="shared")
    x = Value(2.0, label="x")
    first = linear([shared], [x], Value(0.0, label="b1")).tanh()
    second = linear([shared], [first], Value(0.0, label="b2"))
    second.backward()
    source = draw_dot(second, fold="neurons").source
    weight = node_id(source, "shared")
    assert sum(len(edge_attrs(source, weight, f"n{k}_op")) for k in range(20)) == 2


def test_edges_from_constants_carry_no_colour_and_no_local_derivative() -> None:
    y = Value(3.0, label="y")
    loss = (y - 1.0) * 0.5  # d/dy = 0.5: one coloured edge from y; the constants' stay grey
    loss.backward()
    source = draw_dot(loss, colour_edges=True, show_local=True).source
    into_ops = [ln for ln in source.splitlines() if re.match(r"\s*n\d+ -> n\d+_op", ln)]
    y_edge = next(ln for ln in into_ops if ln.split()[0] == node_id(source, "y"))
    assert f'color="{SIGN_COLOURS["positive"]}"' in y_edge and "local 1" in y_edge
    grey = [ln for ln in into_ops if f'color="{QUIET_COLOUR}"' in ln]
    assert len(grey) == 2 and all("local" not in ln for ln in grey)  # from -1 and from 0.5


def test_tooltip_explain_shows_how_each_grad_came_to_be_and_a_bad_one_is_refused() -> None:
    x = Value(3.0, label="x")
    y = x * x + x  # x used three times: its grad is 3 + 3 + 1 = 7
    y.backward()
    source = draw_dot(y, tooltip="explain").source
    x_line = next(line for line in source.splitlines() if "{ x |" in line)
    assert "tooltip=" in x_line and "= 7" in x_line, x_line
    with pytest.raises(ValueError, match="tooltip must be a function or 'explain', got 'why'"):
        draw_dot(y, tooltip="why")
