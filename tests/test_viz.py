"""Tests for viz.draw_dot and rendering: what the DOT source says, determinism, roles, limits."""

from __future__ import annotations

import html
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd_like.debug import format_number
from micrograd_like.engine import Value, linear
from micrograd_like.nn import MLP, Neuron
from micrograd_like.viz import (
    HIGHLIGHT_COLOUR,
    ROLE_COLOURS,
    GraphTooLargeError,
    GraphvizNotFoundError,
    backward_frames,
    draw_dot,
    graph_summary,
    render,
    svg_text,
)
from tests.support import require_dot

ROOT = Path(__file__).resolve().parent.parent


def neuron() -> tuple[Value, list[Value]]:
    """micrograd's lecture neuron after backward(), and its parameters.

    By hand: n = x1*w1 + x2*w2 + b = 0.8814, o = tanh(n) = 0.7071, do/dn = 1 - o**2 = 0.5, so
    dx1 = w1 * 0.5 = -1.5, dw1 = x1 * 0.5 = 1, dx2 = w2 * 0.5 = 0.5, dw2 = x2 * 0.5 = 0.
    """
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, [w1, w2, b]


PRINT_NEURON_SOURCE = """
import sys
from micrograd_like.viz import draw_dot
from tests.test_viz import neuron
o, parameters = neuron()
sys.stdout.write(draw_dot(o, show_local=True, parameters=parameters).source)
"""


def node_line(source: str, label: str) -> str:
    """The DOT line of the value node whose record starts with label."""
    for line in source.splitlines():
        if f'label="{{ {label} |' in line:
            return line
    raise AssertionError(f"no node labelled {label!r} in\n{source}")


def test_draw_dot_records_show_label_data_and_grad() -> None:
    o, _ = neuron()
    source = draw_dot(o).source
    assert 'label="{ x1 | data 2 | grad -1.5 }"' in source
    assert 'label="{ w1 | data -3 | grad 1 }"' in source
    assert 'label="{ x2 | data 0 | grad 0.5 }"' in source
    assert 'label="{ w2 | data 1 | grad 0 }"' in source
    assert 'label="{ n | data 0.8814 | grad 0.5 }"' in source
    assert 'label="{ o | data 0.7071 | grad 1 }"' in source
    assert "shape=record" in node_line(source, "x1")


def test_draw_dot_names_unlabelled_nodes_by_their_expression() -> None:
    x = Value(3.0, label="x")
    y = x * 2.0  # order: x, the constant 2, the product
    source = draw_dot(y, constants=False).source
    assert 'n1 [label="{ 2 | data 2 | grad 0 }"' in source
    assert 'n2 [label="{ x*2 | data 6 | grad 0 }"' in source


def test_draw_dot_draws_the_numbers_of_an_expression_as_constants() -> None:
    y = Value(3.0, label="y")
    loss = (y - 1.0) * y**2  # the -1 is a leaf the engine made; the 2 is pow's constant
    loss.backward()
    source = draw_dot(loss).source
    assert re.search(r'n\d+ \[label=-1 color="#B0B0B0"[^\]]*shape=box style=rounded\]', source)
    assert "| data -1 |" not in source  # no record, so no gradient, for the constant
    assert '[label="**2"' in source
    assert "legend_constant" in source
    labelled = Value(-1.0, label="c")  # a labelled leaf is the user's input, drawn as one
    again = (Value(3.0, label="y") + labelled) * 3.0
    again.backward()
    assert 'label="{ c | data -1 | grad 3 }"' in draw_dot(again).source
    assert "legend_constant" not in draw_dot(again, constants=False).source


def test_draw_dot_draws_each_operation_as_its_own_node() -> None:
    o, _ = neuron()
    source = draw_dot(o).source
    op_nodes = re.findall(r"^\s*(n\d+_op) \[label=(\S+)", source, flags=re.MULTILINE)
    assert sorted(label.strip('"') for _, label in op_nodes) == ["*", "*", "+", "+", "tanh"]
    for op_name, _ in op_nodes:
        value_name = op_name.removesuffix("_op")
        assert f"{op_name} -> {value_name}" in source
    assert len(re.findall(r"-> n\d+_op", source)) == 9  # 2 + 2 + 2 + 2 operands + 1


def test_draw_dot_show_local_labels_edges_with_local_derivatives() -> None:
    o, _ = neuron()
    source = draw_dot(o, show_local=True).source
    # d(x1*w1)/dx1 = w1 = -3 and d(x1*w1)/dw1 = x1 = 2; d tanh(n)/dn = 1 - 0.7071**2 = 0.5
    assert '[label="local -3"]' in source
    assert '[label="local 2"]' in source
    assert '[label="local 0.5"]' in source
    assert "local" not in draw_dot(o).source


def test_draw_dot_a_plus_a_draws_two_edges() -> None:
    a = Value(1.5, label="a")
    doubled = a + a
    source = draw_dot(doubled, show_local=True).source
    assert source.count('n0 -> n1_op [label="local 1"]') == 2


def test_draw_dot_is_byte_identical_for_the_same_graph_built_twice() -> None:
    first, first_parameters = neuron()
    second, second_parameters = neuron()
    assert first is not second
    first_source = draw_dot(first, show_local=True, parameters=first_parameters).source
    assert first_source == draw_dot(second, show_local=True, parameters=second_parameters).source


def test_draw_dot_is_byte_identical_across_processes() -> None:
    program = PRINT_NEURON_SOURCE
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        outputs.append(done.stdout)
    o, parameters = neuron()
    assert outputs[0] == outputs[1] == draw_dot(o, show_local=True, parameters=parameters).source


def test_draw_dot_colours_inputs_parameters_and_output() -> None:
    o, parameters = neuron()
    source = draw_dot(o, parameters=parameters).source
    assert f'fillcolor="{ROLE_COLOURS["input"]}"' in node_line(source, "x1")
    assert f'fillcolor="{ROLE_COLOURS["parameter"]}"' in node_line(source, "w1")
    assert f'fillcolor="{ROLE_COLOURS["parameter"]}"' in node_line(source, "b")
    assert f'fillcolor="{ROLE_COLOURS["output"]}"' in node_line(source, "o")
    assert "fillcolor" not in node_line(source, "n")
    assert "subgraph cluster_legend" in source
    assert "legend_parameter" in source


def test_draw_dot_without_parameters_treats_every_leaf_as_input() -> None:
    o, _ = neuron()
    source = draw_dot(o).source
    assert f'fillcolor="{ROLE_COLOURS["input"]}"' in node_line(source, "w1")
    assert "legend_parameter" not in source


def test_draw_dot_roles_off_fills_nothing() -> None:
    o, _ = neuron()
    source = draw_dot(o, roles=False).source
    assert "fillcolor" not in source
    assert "cluster_legend" not in source


def test_draw_dot_highlight_outlines_the_chosen_nodes_only() -> None:
    x = Value(1.0, label="x")
    y = x.exp()
    y.label = "y"
    z = y * 3.0
    source = draw_dot(z, highlight=[y]).source
    assert f'color="{HIGHLIGHT_COLOUR}"' in node_line(source, "y")
    assert "class=highlight" in node_line(source, "y")
    assert source.count(HIGHLIGHT_COLOUR) == 1


def test_draw_dot_highlight_outside_the_graph_is_refused() -> None:
    x = Value(1.0, label="x")
    stranger = Value(2.0, label="stranger")
    with pytest.raises(ValueError, match=r"stranger.*not in the graph"):
        draw_dot(x * 2.0, highlight=[stranger])


def test_draw_dot_refuses_a_graph_over_max_nodes_naming_count_and_limit() -> None:
    node = Value(0.5)
    for _ in range(20):
        node = node.tanh()  # 21 value nodes
    with pytest.raises(GraphTooLargeError) as raised:
        draw_dot(node, max_nodes=20)
    message = str(raised.value)
    assert "21 value nodes" in message
    assert "max_nodes=20" in message
    assert "max_nodes=21" in message  # how to raise the limit
    assert "graph_summary(root)" in message
    assert isinstance(raised.value, ValueError)
    assert (raised.value.count, raised.value.limit) == (21, 20)
    assert "n20" in draw_dot(node, max_nodes=21).source


def test_graph_summary_counts_nodes_per_op_edges_and_depth() -> None:
    o, _ = neuron()  # leaves x1 w1 x2 w2 b, two *, two +, one tanh; longest: x1 * + + tanh
    assert graph_summary(o) == (
        "10 value nodes, 9 edges, longest path 5 nodes\nnodes per op: add 2, leaf 5, mul 2, tanh 1"
    )


def test_draw_dot_escapes_record_special_characters_in_labels() -> None:
    weird = Value(1.0, label="a|b{c}<d>")
    source = draw_dot(weird * 2.0).source
    assert r'label="{ a\|b\{c\}\<d\> | data 1 | grad 0 }"' in source


def test_draw_dot_rankdir_is_passed_and_checked() -> None:
    x = Value(1.0, label="x")
    assert "rankdir=TB" in draw_dot(x, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir 'UP'"):
        draw_dot(x, rankdir="UP")


def test_draw_dot_refuses_a_non_value_root() -> None:
    with pytest.raises(TypeError, match=r"expected a Value.*float"):
        draw_dot(2.0)  # type: ignore[arg-type]


def test_draw_dot_marks_an_undefined_local_derivative() -> None:
    x = Value(0.0, label="x")
    root = x**0.5  # the slope of sqrt at 0 is infinite: the engine refuses to compute it
    assert '[label="local undefined"]' in draw_dot(root, show_local=True).source


def test_format_number_is_short_and_deterministic() -> None:
    assert format_number(0.1 + 0.2) == "0.3"
    assert format_number(-0.0) == "0"
    assert format_number(123456.0) == "1.235e+05"
    assert format_number(-1.5) == "-1.5"
    assert format_number(float("inf")) == "inf"


def test_render_svg_contains_the_labels_and_numbers(tmp_path: Path) -> None:
    require_dot()
    o, parameters = neuron()
    written = render(draw_dot(o, parameters=parameters), tmp_path / "neuron.svg")
    svg = html.unescape(written.read_text(encoding="utf-8"))  # dot writes "-" as &#45;
    assert svg.lstrip().startswith("<?xml")
    for text in (">x1<", ">data 2<", ">grad -1.5<", ">tanh<", ">grad 0.5<", ">parameter<"):
        assert text in svg


def test_svg_text_starts_at_the_svg_element() -> None:
    require_dot()
    svg = svg_text(draw_dot(Value(1.0, label="lonely")))
    assert svg.startswith("<svg")
    assert ">lonely<" in svg


def test_render_dot_suffix_writes_the_source_without_graphviz(tmp_path: Path) -> None:
    o, _ = neuron()
    picture = draw_dot(o)
    written = render(picture, tmp_path / "neuron.dot")
    assert written.read_text(encoding="utf-8") == picture.source


def test_render_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"neuron\.jpeg.*\.svg"):
        render(draw_dot(Value(1.0)), tmp_path / "neuron.jpeg")


def test_rendering_without_dot_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = draw_dot(Value(1.0, label="x"))
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        svg_text(picture)
    with pytest.raises(GraphvizNotFoundError, match="brew install graphviz"):
        render(picture, tmp_path / "x.png")
    with pytest.raises(GraphvizNotFoundError, match="install"):
        picture._repr_mimebundle_()  # what Jupyter calls to show the picture


def test_draw_dot_handles_a_deep_chain() -> None:
    node = Value(0.1, label="start")
    for _ in range(299):
        node = node + 1.0
    source = draw_dot(node, max_nodes=600).source
    assert len(re.findall(r"shape=record", source)) == 300  # start and 299 sums
    assert len(re.findall(r"label=1 color", source)) == 299  # and the constant 1 of each
    assert "nslimit=0.2" in source  # big graphs get a bounded layout
    assert "nslimit" not in draw_dot(neuron()[0]).source


def test_svg_of_a_300_node_graph_with_long_edges_renders_quickly() -> None:
    require_dot()
    x = Value(0.3, label="x")
    node = x
    for i in range(149):  # x feeds every other node: long edges, dot's slowest case
        node = (node * 0.9).tanh() if i % 2 else node + x
    picture = draw_dot(node)
    assert picture.source.count("shape=record") == 1 + 74 * 2 + 75  # x; *, tanh; +
    assert picture.source.count("label=0.9 color") == 74  # the constants, in boxes
    svg = svg_text(picture)  # minutes without the layout limit; seconds with it
    shapes = sum(picture.source.count(f"shape={s}") for s in ("record", "ellipse", "box"))
    assert svg.count('class="node"') == shapes


# --- networks: named parameters, which operand is which, micrograd's expanded neuron -----------


def node_id(source: str, label: str) -> str:
    """The DOT name of the value node whose record starts with label."""
    found = re.findall(rf'^\s*(\S+) \[label="\{{ {re.escape(label)} \|', source, re.MULTILINE)
    assert len(found) == 1, f"{len(found)} nodes labelled {label!r} in\n{source}"
    return str(found[0])


def edge_labels_into(source: str, head: str) -> dict[str, str]:
    """Each edge into the node named head, as {tail: its label}, dot's quotes and \\n undone."""
    pattern = rf'^\s*(\S+) -> {re.escape(head)} \[label=("[^"]*"|\S+)\]'
    edges = re.findall(pattern, source, re.MULTILINE)
    return {tail: label.strip('"').replace("\\n", " / ") for tail, label in edges}


def op_labels(source: str) -> list[str]:
    return [label.strip('"') for label in re.findall(r"^\s*\S+_op \[label=(\S+)", source, re.M)]


def test_draw_dot_names_an_mlps_parameters_by_layer_neuron_and_weight() -> None:
    model = MLP(2, [2, 1], rng=random.Random(0))
    out = model([1.0, -2.0])
    assert isinstance(out, Value)
    source = draw_dot(out).source
    names = ["L1.N1.w1", "L1.N1.w2", "L1.N1.b", "L1.N2.w1", "L1.N2.w2", "L1.N2.b"]
    names += ["L2.N1.w1", "L2.N1.w2", "L2.N1.b"]
    for name in names:
        node_id(source, name)  # exactly one node so named
    assert "L0." not in source and "N0." not in source and "w0" not in source


def labelled_linear() -> tuple[Value, list[Value]]:
    """linear(w, x, b) on leaves whose labels say nothing of their role, after backward()."""
    w = [Value(-3.0, label="p"), Value(1.0, label="q")]
    x = [Value(2.0, label="r"), Value(0.5, label="s")]
    b = Value(0.25, label="t")
    out = linear(w, x, b)
    out.backward()
    return out, [*w, *x, b]


def test_draw_dot_edges_into_a_linear_node_say_weight_input_or_bias() -> None:
    out, _ = labelled_linear()
    source = draw_dot(out).source
    into = edge_labels_into(source, f"{node_id(source, 'p*r + q*s + t')}_op")
    ids = {name: node_id(source, name) for name in "pqrst"}
    assert into == {ids["p"]: "w1", ids["q"]: "w2", ids["r"]: "x1", ids["s"]: "x2", ids["t"]: "b"}


def test_draw_dot_show_local_adds_the_derivative_under_the_operand_name() -> None:
    out, _ = labelled_linear()
    source = draw_dot(out, show_local=True).source
    into = edge_labels_into(source, f"{node_id(source, 'p*r + q*s + t')}_op")
    # by hand: d/dw1 = x1 = 2, d/dw2 = x2 = 0.5, d/dx1 = w1 = -3, d/dx2 = w2 = 1, d/db = 1
    assert sorted(into.values()) == [
        "b / local 1",
        "w1 / local 2",
        "w2 / local 0.5",
        "x1 / local -3",
        "x2 / local 1",
    ]
    frame = backward_frames(out)[1].picture.source  # the stepper's pictures say it too
    assert "w1\\nlocal 2" in frame and "x1\\nlocal -3" in frame


def test_draw_dot_linear_const_shows_its_constant_inputs_in_the_op_node() -> None:
    w = [Value(-3.0, label="p"), Value(1.0, label="q")]
    out = linear(w, [0.5, -1.25], Value(0.0, label="t"))
    source = draw_dot(out).source
    op = f"{node_id(source, 'p*0.5 + q*-1.25 + t')}_op"
    assert f'{op} [label="linear\\nx = (0.5, -1.25)"' in source
    assert 'tooltip="x = (0.5, -1.25)"' in source
    ids = [node_id(source, name) for name in "pqt"]
    assert edge_labels_into(source, op) == {ids[0]: "w1", ids[1]: "w2", ids[2]: "b"}
    many = linear([Value(1.0)] * 6, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], Value(0.0))
    assert "x = (0.1, 0.2, 0.3, 0.4, ... 6 in all)" in draw_dot(many).source
    assert 'tooltip="x = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)"' in draw_dot(many).source


def hand_neuron() -> tuple[Value, Neuron]:
    """A linear neuron on constant inputs, w = (0.5, -2, 1.5), b = 0.25, x = (2, 0.75, -3).

    By hand: the products are 1, -1.5 and -4.5; micrograd sums b first: 0.25 + 1 = 1.25, then
    1.25 - 1.5 = -0.25, then -0.25 - 4.5 = -4.75. backward(4) gives every node of the sum grad 4
    and constant input x_i grad w_i * 4: 2, -8 and 6.
    """
    neuron = Neuron(3, activation="linear")
    for w, number in zip(neuron.w, [0.5, -2.0, 1.5], strict=True):
        w.data = number
    neuron.b.data = 0.25
    out = neuron([2.0, 0.75, -3.0])
    out.backward(4.0)
    return out, neuron


def test_expand_neurons_draws_micrograds_products_and_running_sums() -> None:
    out, _ = hand_neuron()
    source = draw_dot(out, expand_neurons=True).source
    assert sorted(op_labels(source)) == ["*", "*", "*", "+", "+", "+"]
    assert 'n4 [label="{ linear(…) | data -4.75 | grad 4 }"' in source  # the neuron's own node
    products = [node_id(source, f"w{i}*x{i}") for i in (1, 2, 3)]
    sums = [node_id(source, "b + w1*x1"), node_id(source, "b + w1*x1 + w2*x2"), "n4"]
    inputs = [node_id(source, f"x{i}") for i in (1, 2, 3)]
    for i, data in zip((1, 2, 3), ["1", "-1.5", "-4.5"], strict=True):
        assert f'label="{{ w{i}*x{i} | data {data} | grad 4 }}"' in source
    assert 'label="{ b + w1*x1 | data 1.25 | grad 4 }"' in source
    assert 'label="{ b + w1*x1 + w2*x2 | data -0.25 | grad 4 }"' in source
    assert 'label="{ x1 | data 2 | grad 2 }"' in source
    assert 'label="{ x2 | data 0.75 | grad -8 }"' in source
    assert 'label="{ x3 | data -3 | grad 6 }"' in source
    # the wiring: w_i and x_i into the i-th *, then ((b + p1) + p2) + p3
    weights = [node_id(source, f"w{i}") for i in (1, 2, 3)]
    for w, x, product in zip(weights, inputs, products, strict=True):
        assert f"{w} -> {product}_op" in source and f"{x} -> {product}_op" in source
        assert f"{product}_op -> {product}" in source
    running = [node_id(source, "b"), *sums[:2]]
    for before, product, total in zip(running, products, sums, strict=True):
        assert f"{before} -> {total}_op" in source and f"{product} -> {total}_op" in source
        assert f"{total}_op -> {total}" in source
    assert out.op == "linear_const" and len(out.parents) == 4  # the graph itself is unchanged


def test_expand_neurons_draws_n_products_and_n_sums_per_neuron_of_an_mlp() -> None:
    model = MLP(2, [2, 1], rng=random.Random(0))
    x = [Value(1.0, label="in1"), Value(-2.0, label="in2")]
    out = model(x)
    assert isinstance(out, Value)
    out.backward()
    plain = draw_dot(out, parameters=model.parameters()).source
    source = draw_dot(out, parameters=model.parameters(), expand_neurons=True).source
    assert sorted(op_labels(source)) == ["*"] * 6 + ["+"] * 6 + ["ReLU"] * 2
    assert sorted(op_labels(plain)) == ["ReLU"] * 2 + ["linear"] * 3
    assert draw_dot(out, parameters=model.parameters()).source == plain  # nothing was changed
    # the output neuron's inputs are the hidden ReLUs: its first product is L2.N1.w1 * relu 1
    w, h = model.layers[1].neurons[0].w[0], out.parents[2]
    assert f'"{{ w1*x1 | data {format_number(w.data * h.data)} | grad 1 }}"' in source


def test_expand_neurons_show_local_labels_every_edge_of_the_expansion() -> None:
    out, _ = hand_neuron()
    source = draw_dot(out, expand_neurons=True, show_local=True).source
    first = f"{node_id(source, 'w1*x1')}_op"
    # d(w1*x1)/dw1 = x1 = 2 and d(w1*x1)/dx1 = w1 = 0.5; every + passes 1
    into = edge_labels_into(source, first)
    assert into == {node_id(source, "w1"): "local 2", node_id(source, "x1"): "local 0.5"}
    assert set(edge_labels_into(source, "n4_op").values()) == {"local 1"}
    out, _ = labelled_linear()  # inputs that are Values: w = (-3, 1), x = (2, 0.5)
    source = draw_dot(out, expand_neurons=True, show_local=True).source
    second = f"{node_id(source, 'w2*x2')}_op"
    into = edge_labels_into(source, second)
    assert into == {node_id(source, "q"): "local 0.5", node_id(source, "s"): "local 1"}


def test_expand_neurons_colours_constant_inputs_and_counts_them_against_max_nodes() -> None:
    out, neuron = hand_neuron()
    source = draw_dot(out, parameters=neuron.parameters(), expand_neurons=True).source
    assert f'fillcolor="{ROLE_COLOURS["input"]}"' in node_line(source, "x2")
    assert "legend_input" in source
    # 5 value nodes (w1 w2 w3 b and the sum), expanded: + 3 products, 2 partial sums, 3 inputs
    with pytest.raises(GraphTooLargeError, match=r"13 value nodes \(5 before expand_neurons\)"):
        draw_dot(out, expand_neurons=True, max_nodes=12)
    assert "n4_op" in draw_dot(out, expand_neurons=True, max_nodes=13).source
