"""Pictures of computation graphs through Graphviz; the only module that imports graphviz.

``draw_dot(root)`` draws each value as a record (name | data | grad) and each operation as its own
small node, as in Karpathy's micrograd lecture pictures, coloured by role, with optional local
derivatives on the edges. Numbers written in an expression (the 1 of ``y - 1``) are drawn as
constants, not inputs. Edges into a neuron's fused ``linear`` node say which operand is a weight,
an input or the bias (``w1``, ``x1``, ``b``); ``expand_neurons=True`` draws that node as micrograd's
chain of ``*`` and ``+`` nodes instead. For slides: neurons and layers in boxes, ``fold=`` to draw
a neuron, a layer or a sum of products as one node, ``highlight_path=`` for one gradient's way, edge
colours by gradient, font size, precision and data-only or grad-only records. ``render_steps(root,
folder)`` draws backward() one edge at a time: SVG frames and a self-contained HTML page to step
through them. Nodes are numbered by their position in ``topological_order(root)``, never by
``id()``, so the same graph always gives the same DOT source.
"""

from __future__ import annotations

import html
import signal
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import graphviz  # type: ignore[import-untyped]

from micrograd_like import folds
from micrograd_like.debug import format_number, named_steps, node_names
from micrograd_like.engine import BackwardStep, Value, topological_order

INSTALL_HINT = (
    "Graphviz's dot program renders the pictures: install it with 'apt-get install graphviz' "
    "(Debian, Ubuntu), 'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz' "
    "or from https://graphviz.org/download/ (the DOT text, graph.source, needs no dot)"
)
# Okabe and Ito's palette: its colours stay distinct for the common colour-vision deficiencies.
ROLE_COLOURS = {"input": "#56B4E9", "parameter": "#E69F00", "output": "#009E73"}
HIGHLIGHT_COLOUR = "#D55E00"
SIGN_COLOURS = {"positive": "#0072B2", "negative": "#CC79A7"}  # edges by gradient sign
QUIET_COLOUR = "#B0B0B0"  # constants, dead ReLUs, edges off a highlighted path, zero gradients
RANKDIRS = ("LR", "TB", "RL", "BT")
FORMATS = ("svg", "png", "pdf", "dot", "gv")
SHOWS = folds.SHOWS
BIG_GRAPH = 100  # value nodes; larger graphs get a cheaper layout
# Layout cost (see layout_cost) decides how dot lays a picture out, and whether it may at all.
# With both cheaper settings, dot took 0.25 s at cost 5,181, 2.2 s at 34,641 and 6.8 s at 68,017.
CHEAP_LAYOUT = 600  # above: bounded network simplex (nslimit)
CURVED_LAYOUT = 2500  # above: straight edges; routing curves around virtual nodes took most time
MAX_LAYOUT = 30000  # draw_dot's default max_cost: a few seconds of dot
LINEAR_OPS = folds.LINEAR_OPS
SHOWN_CONSTANTS = 4  # a linear_const label lists this many inputs; its tooltip lists them all

Edge = tuple[Value, int]  # (the node, the index of one of its parents)
Tooltip = Callable[[Value], str]


class GraphTooLargeError(ValueError):
    """The graph costs dot more layout work than a picture can show usefully.

    ``fold`` names the ``draw_dot(fold=...)`` that would make it fit, when one would.
    """

    def __init__(self, message: str, count: int, limit: int, fold: str | None = None) -> None:
        super().__init__(message)
        self.count = count
        self.limit = limit
        self.fold = fold


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's dot executable, and it is not on PATH."""


class RenderError(RuntimeError):
    """Graphviz's dot failed or was killed while rendering; the message says how, in one line."""


@contextmanager
def _dot_install_hint() -> Iterator[None]:
    try:
        yield
    except graphviz.ExecutableNotFound as missing:
        raise GraphvizNotFoundError(f"{missing}. {INSTALL_HINT}") from missing
    except subprocess.CalledProcessError as failed:
        raise RenderError(_dot_failure(failed)) from None


def _dot_failure(failed: subprocess.CalledProcessError) -> str:
    """One line on how dot ended: the signal that killed it, or its exit status and first words."""
    if failed.returncode < 0:
        try:
            how = f"was killed by {signal.Signals(-failed.returncode).name}"
        except ValueError:
            how = f"was killed by signal {-failed.returncode}"
    else:
        how = f"failed with exit status {failed.returncode}"
    said = failed.stderr.decode("utf-8", "replace") if isinstance(failed.stderr, bytes) else ""
    first = next((line.strip() for line in said.splitlines() if line.strip()), "")
    return f"Graphviz's dot {how}" + (f": {first[:200]}" if first else "")


class GraphPicture(graphviz.Digraph):  # type: ignore[misc]
    """A graphviz.Digraph whose rendering (also in Jupyter) says how to install dot if missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        with _dot_install_hint():
            return super().pipe(*args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:
        with _dot_install_hint():
            return super().render(*args, **kwargs)


# --- text that goes into DOT ------------------------------------------------------------------


def dot_text(text: str, record: bool = False) -> Any:
    """Text that dot shows as written: its backslashes, quotes, ``&``, control characters (as
    ``\\x00``), and in a record its braces, bars and angle brackets; a newline breaks the line."""
    lines = []
    for line in text.split("\n"):
        shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in line)
        shown = shown.replace("\\", "\\\\").replace("&", "&amp;")  # graphviz quotes the quotes
        if record:
            for special in "{}|<>":
                shown = shown.replace(special, "\\" + special)
        lines.append(shown)
    return graphviz.nohtml("\\n".join(lines))  # never read as an HTML label, even "<b>"


def _joined(*parts: str) -> Any:
    """Lines already made DOT-safe, one under the other."""
    return graphviz.nohtml("\\n".join(parts))


# --- drawing one graph ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """Everything a picture shows besides the graph itself."""

    rankdir: str
    grads: Mapping[Value, float]
    roles: Mapping[Value, str] = field(default_factory=dict)
    edge_labels: Mapping[Edge, str] | None = None
    marked_nodes: Mapping[Value, str] = field(default_factory=dict)  # node -> SVG class
    marked_edges: Mapping[Edge, str] = field(default_factory=dict)
    id_prefix: str = ""  # SVG ids <prefix>n<k>, unique when frames share one page
    legend: bool = True
    expand_neurons: bool = False
    constants: frozenset[Value] = frozenset()  # leaves drawn as bare numbers
    show: str = "both"  # what a record shows: "both", "data" or "grad"
    digits: int = 4
    font_size: float = 11.0
    flows: Mapping[Edge, float] | None = None  # each edge's gradient contribution, to colour it
    dim_dead: bool = False
    path: frozenset[Value] = frozenset()  # highlight_path: the nodes from the leaf to the root
    tooltip: Tooltip | None = None
    boxes: bool = False
    fold: str | None = None


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    show_local: bool = False,
    roles: bool = True,
    parameters: Iterable[Value] = (),
    highlight: Iterable[Value] = (),
    max_nodes: int = 300,
    legend: bool = True,
    expand_neurons: bool = False,
    highlight_path: Value | None = None,
    fold: str | None = None,
    boxes: bool = True,
    constants: bool = True,
    show: str = "both",
    precision: int = 4,
    font_size: float = 11,
    colour_edges: bool = False,
    dim_dead: bool = True,
    tooltip: Tooltip | None = None,
    max_cost: int = MAX_LAYOUT,
) -> GraphPicture:
    """The graph that computed root, as a Graphviz Digraph (render it, or show it in Jupyter).

    Edges into a ``linear`` node (a neuron's weighted sum) are labelled ``w1``.., ``x1``.. and
    ``b``; a ``linear_const`` node, whose inputs are numbers rather than nodes, lists them in its
    label (``x = (2, -1)``) and, in full, in its tooltip.

    Args:
        rankdir: "LR" (left to right, the default), "TB", "RL" or "BT".
        show_local: label each edge with its local derivative d(node)/d(operand).
        roles: fill inputs, parameters (the leaves listed in ``parameters``) and the output.
        highlight: values to outline in a strong colour.
        max_nodes: refuse pictures of more value nodes with GraphTooLargeError.
        expand_neurons: draw each ``linear`` node as micrograd builds a neuron,
            ``((b + w1*x1) + w2*x2) + ...``: a ``*`` and a ``+`` node per weight, with the data
            and grad each would hold (every product and partial sum has the neuron's grad).
            Only the picture changes; the graph keeps its one node.
        highlight_path: a value (a leaf, say): every edge from it to the root is drawn strong and
            labelled with the number flowing forward and the gradient flowing back; the rest greys.
        fold: "neurons" or "layers" draws each neuron (weighted sum, activation, own parameters)
            or each layer as one node; "sums" draws each sum of products (a dot product, a
            neuron written with ``*`` and ``+``) as one node and merges repeated operands.
        boxes: draw a box around each neuron and each layer (labels ``L1``, ``L1.N2``).
        constants: draw unlabelled leaves that are not parameters (the numbers of an
            expression) as bare numbers, without a gradient; label a leaf to draw it as an input.
        show: what each value shows besides its name: "both", "data" or "grad".
        precision: significant digits of every number (4 by default).
        font_size: of the values' text, in points; edge labels are two points smaller.
        colour_edges: colour each edge by the sign of the gradient it carries back, wider for
            larger ones.
        dim_dead: grey out ReLUs whose output is 0 (no gradient passes them).
        tooltip: a function node -> str, shown when the pointer rests on a value (SVG).
        max_cost: refuse pictures whose layout costs dot more (see ``layout_cost``); the error
            names the fold that would fit, when one does.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: expected a Value to draw, got {type(root).__name__}")
    order = topological_order(root)
    _check_options(show, precision, font_size, fold, expand_neurons)
    positions = {node: k for k, node in enumerate(order)}
    marked = {}
    for node in highlight:
        _check_in_graph(node, positions, root, "highlight")
        marked[node] = "highlight"
    path: frozenset[Value] = frozenset()
    if highlight_path is not None:
        _check_in_graph(highlight_path, positions, root, "highlight_path")
        path = _path_from(highlight_path, order)
    parameter_list = list(parameters)
    kept = [*parameter_list, *marked, *([highlight_path] if highlight_path is not None else [])]
    needs_flows = colour_edges or bool(path)
    style = _Style(
        rankdir=_checked_rankdir(rankdir),
        grads={node: node.grad for node in order},
        roles=_roles(order, parameter_list) if roles else {},
        edge_labels=_local_labels(order, precision) if show_local else None,
        marked_nodes=marked,
        legend=legend,
        expand_neurons=expand_neurons,
        constants=folds.constant_leaves(order, kept) if constants else frozenset(),
        show=show,
        digits=precision,
        font_size=float(font_size),
        flows=_flows(order) if needs_flows else None,
        dim_dead=dim_dead,
        path=path,
        tooltip=tooltip,
        boxes=boxes,
        fold=fold,
    )
    plan = _plan(order, style)
    limits = _Limits(max_nodes, max_cost)
    if limits.exceeded(plan):
        raise limits.refusal(plan, order, style)
    return _emit(plan, style, "computation_graph")


def _check_options(
    show: str, precision: int, font_size: float, fold: str | None, expand: bool
) -> None:
    if show not in SHOWS:
        raise ValueError(f"draw_dot: show={show!r} is not one of {', '.join(SHOWS)}")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 17:
        raise ValueError(f"draw_dot: precision={precision!r} must be a whole number from 1 to 17")
    if isinstance(font_size, bool) or not isinstance(font_size, (int, float)):
        raise ValueError(f"draw_dot: font_size={font_size!r} must be a number of points")
    if not 4 <= font_size <= 72:
        raise ValueError(f"draw_dot: font_size={font_size!r} must lie between 4 and 72 points")
    if fold is not None and fold not in folds.FOLDS:
        raise ValueError(f"draw_dot: fold={fold!r} is not one of {', '.join(folds.FOLDS)}")
    if fold is not None and expand:
        raise ValueError(f"draw_dot: fold={fold!r} and expand_neurons=True: choose one")


def _check_in_graph(node: Value, positions: Mapping[Value, int], root: Value, what: str) -> None:
    if node not in positions:
        raise ValueError(f"draw_dot: {what} {node!r} is not in the graph of {root!r}")


def _path_from(start: Value, order: Sequence[Value]) -> frozenset[Value]:
    """start and every node it flows into (all lie on a way from start to the root)."""
    on_path = {start}
    for node in order:
        if any(parent in on_path for parent in node.parents):
            on_path.add(node)
    return frozenset(on_path)


def _flows(order: Sequence[Value]) -> dict[Edge, float]:
    """What each edge carries back in backward(): local derivative times the node's grad."""
    flows = {}
    for node in order:
        try:
            locals_ = node.local_grads()
        except (ArithmeticError, ValueError):  # an undefined slope carries nothing drawable
            locals_ = (0.0,) * len(node.parents)
        flows.update({(node, i): d * node.grad for i, d in enumerate(locals_)})
    return flows


def _order_within(root: Value, max_nodes: int, what: str, expanded: bool = False) -> list[Value]:
    if not isinstance(root, Value):
        raise TypeError(f"{what}: expected a Value to draw, got {type(root).__name__}")
    order = topological_order(root)
    count = len(order) + (sum(_expansion_size(node) for node in order) if expanded else 0)
    if count > max_nodes:
        drawn = f"{count} value nodes"
        if expanded:
            drawn += f" ({len(order)} before expand_neurons)"
        raise GraphTooLargeError(
            f"{what}: the graph has {drawn}, more than max_nodes={max_nodes}; "
            "draw a smaller part of it (a sub-expression), print graph_summary(root) instead, "
            f"or pass max_nodes={count} if you really want dot to lay it out",
            count,
            max_nodes,
        )
    return order


@dataclass(frozen=True)
class _Limits:
    """draw_dot's size guard: value nodes drawn, and the layout work they cost dot."""

    max_nodes: int
    max_cost: int

    def exceeded(self, plan: _Plan) -> bool:
        return plan.drawn_values() > self.max_nodes or layout_cost(plan) > self.max_cost

    def refusal(self, plan: _Plan, order: Sequence[Value], style: _Style) -> GraphTooLargeError:
        """The error, naming the first fold whose picture would fit, if one does."""
        fits = None
        if not style.expand_neurons:
            for fold in folds.FOLDS[folds.FOLDS.index(style.fold) + 1 if style.fold else 0 :]:
                if not self.exceeded(_plan(order, replace(style, fold=fold))):
                    fits = fold
                    break
        offer = f"pass fold={fits!r}, which fits, or " if fits else ""
        count, cost = plan.drawn_values(), layout_cost(plan)
        if count > self.max_nodes:
            before = f" ({len(order)} before expand_neurons)" if style.expand_neurons else ""
            what = (
                f"the graph has {count} value nodes{before}, more than max_nodes={self.max_nodes}"
            )
            raise_to, number, limit = f"max_nodes={count}", count, self.max_nodes
        else:
            what = (
                f"laying this graph out costs dot {cost} (its edges and their lengths), more than "
                f"max_cost={self.max_cost}"
            )
            raise_to, number, limit = f"max_cost={cost}", cost, self.max_cost
        return GraphTooLargeError(
            f"draw_dot: {what}; {offer}draw a smaller part of it (a sub-expression), print "
            f"graph_summary(root) instead, or pass {raise_to} if you really want dot to lay it out",
            number,
            limit,
            fits,
        )


def graph_summary(root: Value) -> str:
    """A few lines about a graph too big to draw: node counts per op, leaves, edges and depth."""
    order = topological_order(root)
    depth: dict[Value, int] = {}
    per_op: dict[str, int] = {}
    for node in order:
        depth[node] = 1 + max((depth[p] for p in node.parents), default=0)
        per_op[node.op or "leaf"] = per_op.get(node.op or "leaf", 0) + 1
    edges = sum(len(node.parents) for node in order)
    counts = ", ".join(f"{op} {count}" for op, count in sorted(per_op.items()))
    return (
        f"{len(order)} value nodes, {edges} edges, longest path {depth[root]} nodes\n"
        f"nodes per op: {counts}"
    )


def _checked_rankdir(rankdir: str) -> str:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir {rankdir!r} is not one of {', '.join(RANKDIRS)}")
    return rankdir


def _roles(order: Sequence[Value], parameters: Iterable[Value]) -> dict[Value, str]:
    """input: a leaf that is not a parameter; parameter: a listed leaf; output: the root."""
    parameter_set = set(parameters)
    roles = {}
    for node in order:
        if not node.parents:
            roles[node] = "parameter" if node in parameter_set else "input"
    roles[order[-1]] = "output"
    return roles


def _local_labels(order: Sequence[Value], digits: int = 4) -> dict[Edge, str]:
    labels = {}
    for node in order:
        try:
            texts = [format_number(d, digits) for d in node.local_grads()]
        except (ArithmeticError, ValueError):  # e.g. sqrt's slope at 0: the derivative is undefined
            texts = ["undefined"] * len(node.parents)
        labels.update({(node, i): f"local {text}" for i, text in enumerate(texts)})
    return labels


# --- the plan: what dot will get, counted before dot gets it ----------------------------------


@dataclass(frozen=True)
class _Box:
    """A cluster: a neuron's box holds its nodes, a layer's box its neurons' boxes."""

    name: str
    label: Any
    members: list[str]
    inner: list[_Box] = field(default_factory=list)


@dataclass
class _Plan:
    """Nodes and edges in the order they go into DOT, which value each was drawn for, and boxes."""

    calls: list[tuple[str, str, Any, dict[str, Any]]] = field(default_factory=list)
    owners: dict[str, Value] = field(default_factory=dict)
    owner: Value | None = None
    present: set[str] = field(default_factory=set)  # legend entries the picture uses
    values: int = 0  # value nodes in the graph
    boxes: list[_Box] = field(default_factory=list)

    def node(self, name: str, label: Any, **attrs: Any) -> None:
        self.calls.append(("node", name, label, attrs))
        if self.owner is not None:
            self.owners[name] = self.owner

    def edge(self, tail: str, head: str, **attrs: Any) -> None:
        self.calls.append(("edge", tail, head, attrs))

    def drawn_values(self) -> int:
        """The value nodes (records and constants, not op nodes) the picture has."""
        return sum(1 for kind, name, _, _ in self.calls if kind == "node" and name[-3:] != "_op")


def layout_cost(plan: _Plan) -> int:
    """What dot's layout work grows with: one per node, and per edge one plus the ranks it spans
    (dot routes a long edge through a chain of virtual nodes), twice those for a labelled edge.

    Measured (2 shared cores): an 81-value chain whose leaf feeds every node, with show_local,
    costs 5,181 and took dot 17 s as drawn before, 6 s with nslimit and 1 s with straight edges.
    """
    heads: dict[str, list[tuple[str, bool]]] = {}
    waiting: dict[str, int] = {}
    for kind, first, second, attrs in plan.calls:
        if kind == "edge":
            tail, head = first.split(":")[0], second.split(":")[0]
            heads.setdefault(tail, []).append((head, "label" in attrs))
            waiting[head] = waiting.get(head, 0) + 1
            waiting.setdefault(tail, 0)
    rank = dict.fromkeys(waiting, 0)
    ready = [name for name, count in waiting.items() if count == 0]
    while ready:  # longest path from a source, in topological order (Kahn's algorithm)
        tail = ready.pop()
        for head, _ in heads.get(tail, ()):
            rank[head] = max(rank[head], rank[tail] + 1)
            waiting[head] -= 1
            if waiting[head] == 0:
                ready.append(head)
    for name, count in list(waiting.items()):  # dot pulls a leaf up to its first consumer
        if not count and name in heads:
            rank[name] = min(rank[head] for head, _ in heads[name]) - 1
    edges = sum(
        1 + (rank[head] - rank[tail]) * (2 if labelled else 1)
        for tail, out in heads.items()
        for head, labelled in out
    )
    return sum(1 for call in plan.calls if call[0] == "node") + edges


def _picture(order: Sequence[Value], style: _Style, name: str) -> GraphPicture:
    return _emit(_plan(order, style), style, name)


def _emit(plan: _Plan, style: _Style, name: str) -> GraphPicture:
    graph_attr = {"rankdir": style.rankdir}
    cost = layout_cost(plan)
    if plan.values > BIG_GRAPH or cost > CHEAP_LAYOUT:
        # Caps dot's network-simplex iterations: a 300-node chain whose leaf feeds every other
        # node took dot over 5 minutes to place, and 4 s with this limit.
        graph_attr["nslimit"] = "0.2"
    if cost > CURVED_LAYOUT:  # routing curves around thousands of virtual nodes takes most time
        graph_attr["splines"] = "line"
    if style.id_prefix:
        graph_attr["id"] = f"{style.id_prefix}graph"
    size = format_number(style.font_size)
    picture = GraphPicture(
        name,
        graph_attr=graph_attr,
        node_attr={"fontname": "Helvetica", "fontsize": size},
        edge_attr={"fontname": "Helvetica", "fontsize": format_number(style.font_size - 2)},
    )
    for kind, first, second, attrs in plan.calls:
        if kind == "node":
            picture.node(first, second, **attrs)
        else:
            picture.edge(first, second, **attrs)
    if style.legend and plan.present:
        _add_legend(picture, style, plan.present)
    for box in plan.boxes:
        _add_box(picture, box, size)
    return picture


def _add_box(parent: graphviz.Digraph, box: _Box, size: str) -> None:
    with parent.subgraph(name=box.name) as cluster:
        cluster.attr(label=box.label, fontname="Helvetica", fontsize=size, color="grey")
        cluster.attr(style="rounded")
        for inner in box.inner:
            _add_box(cluster, inner, size)
        for member in box.members:
            cluster.node(member)


def _plan(order: Sequence[Value], style: _Style) -> _Plan:
    plan = _Plan(values=len(order))
    view = _View.of(order, style)
    positions = {node: k for k, node in enumerate(order)}
    for k, node in enumerate(order):
        if node in view.hidden:
            continue
        plan.owner = node
        _add_value(plan, k, node, view, style)
        if style.expand_neurons and _expansion_size(node):
            _add_expanded_linear(plan, k, node, positions, style)
            if node.op == "linear_const":
                plan.present.add("input")  # its constant inputs become input leaves
        elif node in view.layers:
            _add_layer(plan, view.layers[node], view, style)
        elif node in view.neurons:
            _add_neuron(plan, k, view.neurons[node], view, style)
        elif node in view.sums:
            _add_sum(plan, k, view.sums[node], view, style)
        elif node.op:
            _add_operation(plan, k, node, view, style)
    plan.owner = None
    if style.constants & set(order) - view.hidden and style.roles:
        plan.present.add("constant")
    if style.boxes and not style.fold:
        plan.boxes = _boxes(order, plan)
    return plan


@dataclass(frozen=True)
class _View:
    """Where each value is drawn: hidden inside a fold, or at a node (``L1:o2`` in a layer)."""

    names: Mapping[Value, str]  # as node_names gives them
    endpoints: Mapping[Value, str]
    hidden: frozenset[Value]
    neurons: Mapping[Value, folds.NeuronGroup]  # by output
    layers: Mapping[Value, folds.LayerGroup]  # by the output of its first neuron
    sums: Mapping[Value, folds.SumGroup]
    vectors: Mapping[tuple[Value, ...], str] = field(default_factory=dict)  # leaf factor lists

    @staticmethod
    def of(order: Sequence[Value], style: _Style) -> _View:
        endpoints = {node: f"n{k}" for k, node in enumerate(order)}
        positions = {node: k for k, node in enumerate(order)}
        hidden: set[Value] = set()
        neurons: dict[Value, folds.NeuronGroup] = {}
        layers: dict[Value, folds.LayerGroup] = {}
        sums: dict[Value, folds.SumGroup] = {}
        kept = {order[-1], *style.marked_nodes, *style.path}
        vectors: dict[tuple[Value, ...], str] = {}
        if style.fold == "sums":
            sums = folds.find_sums(order, kept)
            hidden = {node for group in sums.values() for node in group.hidden}
            vectors = _vectors(order, sums, kept)
            hidden.update(v for side in vectors for v in side)
        elif style.fold in ("neurons", "layers"):
            found = folds.find_neurons(order)
            for neuron in found:
                hidden.update(n for n in neuron.members if n is not neuron.output)
                neurons[neuron.output] = neuron
            if style.fold == "layers":
                for number, layer in enumerate(folds.find_layers(found), start=1):
                    outputs = sorted((n.output for n in layer.neurons), key=positions.__getitem__)
                    layers[outputs[0]] = layer
                    hidden.update(outputs[1:])
                    for j, neuron in enumerate(layer.neurons, start=1):
                        endpoints[neuron.output] = f"layer{number}:o{j}"
        names = node_names(order)
        return _View(names, endpoints, frozenset(hidden), neurons, layers, sums, vectors)


def _vectors(
    order: Sequence[Value], sums: Mapping[Value, folds.SumGroup], kept: set[Value]
) -> dict[tuple[Value, ...], str]:
    """The leaf factor lists of folded dot products drawn as one node each: those whose every
    leaf is used only inside such lists (a leaf used elsewhere too keeps its own node)."""
    uses = folds.consumers(order)
    sides = [side for group in sums.values() for side in group.vectors()]
    in_sides: dict[Value, int] = {}
    for side in sides:
        for leaf in side:
            in_sides[leaf] = in_sides.get(leaf, 0) + 1
    vectors: dict[tuple[Value, ...], str] = {}
    for side in sides:
        if all(in_sides[v] == uses[v] and v not in kept for v in side):
            vectors.setdefault(side, f"vector{len(vectors) + 1}")
    return vectors


def _add_value(plan: _Plan, k: int, node: Value, view: _View, style: _Style) -> None:
    if node in view.layers:
        outputs = [neuron.output for neuron in view.layers[node].neurons]
        plan.present.update(style.roles[n] for n in outputs if n in style.roles)
        return  # the layer's record holds its neurons' values
    if node in style.constants:
        label = dot_text(format_number(node.data, style.digits), record=True)
        plan.node(f"n{k}", label, **_constant_attrs(k, style))
        return
    name = view.neurons[node].name if node in view.neurons else view.names[node]
    if node in style.roles:
        plan.present.add(style.roles[node])
    plan.node(f"n{k}", _record(name, node, style), **_value_attrs(k, node, style))


def _record(name: str, node: Value, style: _Style) -> Any:
    return _record_text(name, node.data, style.grads[node], style)


def _record_text(name: str, data: float, grad: float, style: _Style) -> Any:
    fields = [dot_text(name, record=True)]
    if style.show != "grad":
        fields.append(f"data {format_number(data, style.digits)}")
    if style.show != "data":
        fields.append(f"grad {format_number(grad, style.digits)}")
    return graphviz.nohtml(f"{{ {' | '.join(fields)} }}")


def _constant_attrs(k: int, style: _Style) -> dict[str, str]:
    attrs = {"shape": "box", "style": "rounded", "color": QUIET_COLOUR, "height": "0.3"}
    return attrs | _mark(None, style.id_prefix, f"n{k}")


def _value_attrs(k: int, node: Value, style: _Style) -> dict[str, str]:
    attrs = {"shape": "record"}
    role = style.roles.get(node)
    if role:
        attrs.update(style="filled", fillcolor=ROLE_COLOURS[role])
    css_class = style.marked_nodes.get(node)
    if css_class == "receiving":  # dashed: the operand whose grad the current step changes
        attrs["style"] = ",".join(filter(None, (attrs.get("style"), "dashed")))
    if _quiet(node, style):  # greyed out, and unfilled: grey text on a colour is hard to read
        attrs = {"shape": "record", "color": QUIET_COLOUR, "fontcolor": QUIET_COLOUR}
    if style.tooltip is not None:
        attrs["tooltip"] = dot_text(_tooltip_of(style.tooltip, node))
    return attrs | _mark(css_class, style.id_prefix, f"n{k}")


def _quiet(node: Value, style: _Style) -> bool:
    """Drawn grey: a dead ReLU (dim_dead), or a node off the highlighted path."""
    dead = style.dim_dead and node.op == "relu" and node.data == 0
    return dead or (bool(style.path) and node not in style.path)


def _tooltip_of(tooltip: Tooltip, node: Value) -> str:
    text = tooltip(node)
    if not isinstance(text, str):
        raise TypeError(
            f"draw_dot: tooltip({node!r}) returned {type(text).__name__}, not str; "
            "tooltip= takes a function node -> str"
        )
    return text


def _mark(css_class: str | None, id_prefix: str, name: str) -> dict[str, str]:
    attrs = {"id": id_prefix + name} if id_prefix else {}
    if css_class:
        attrs.update({"class": css_class, "color": HIGHLIGHT_COLOUR, "penwidth": "3"})
    return attrs


def _add_operation(plan: _Plan, k: int, node: Value, view: _View, style: _Style) -> None:
    """The op's own node, an edge from each operand into it and one from it to the result."""
    op_name = f"n{k}_op"
    op_class = "current_op" if style.marked_nodes.get(node) == "current" else None
    quiet = {"color": QUIET_COLOUR, "fontcolor": QUIET_COLOUR} if _quiet(node, style) else {}
    plan.node(
        op_name,
        _op_label(node),
        shape="ellipse",
        margin="0.02",
        **_op_tooltip(node),
        **quiet,
        **_mark(op_class, style.id_prefix, op_name),
    )
    out = _out_edge(node, style) | _mark(op_class, style.id_prefix, f"{op_name}_out")
    plan.edge(op_name, f"n{k}", **out)
    operands = _operand_names(node)
    for i, parent in enumerate(node.parents):
        attrs = _flow_edge(node, i, style)
        attrs |= _mark(style.marked_edges.get((node, i)), style.id_prefix, f"{op_name}_in{i}")
        texts = [dot_text(operands[i])] if operands else []
        if style.edge_labels is not None:
            texts.append(style.edge_labels[(node, i)])
        texts += _path_texts(node, i, style)
        if texts:
            attrs["label"] = _joined(*texts)  # "w1" above "local 2"
        plan.edge(view.endpoints[parent], op_name, **attrs)


def _out_edge(node: Value, style: _Style) -> dict[str, str]:
    """The edge from an op to its result: coloured by the result's grad, or on the path."""
    if style.path:
        return _path_attrs(node in style.path)
    if style.flows is None:
        return {}
    return _sign_attrs(style.grads[node], _largest(style))


def _flow_edge(node: Value, index: int, style: _Style) -> dict[str, str]:
    """An operand's edge: strong on the path, else coloured by what it carries back, if asked."""
    if style.path:
        return _path_attrs(node in style.path and node.parents[index] in style.path)
    if style.flows is None:
        return {}
    return _sign_attrs(style.flows[(node, index)], _largest(style))


def _path_attrs(on_path: bool) -> dict[str, str]:
    if on_path:
        return {"color": HIGHLIGHT_COLOUR, "penwidth": "2.5", "fontcolor": HIGHLIGHT_COLOUR}
    return {"color": QUIET_COLOUR}


def _largest(style: _Style) -> float:
    flows = style.flows or {}
    return max((abs(f) for f in flows.values() if abs(f) != float("inf")), default=0.0)


def _sign_attrs(flow: float, largest: float) -> dict[str, str]:
    """Blue for a positive gradient, purple for a negative one, wider the larger it is."""
    if not flow or flow != flow:  # zero or nan: no direction to show
        return {"color": QUIET_COLOUR}
    colour = SIGN_COLOURS["positive" if flow > 0 else "negative"]
    share = min(abs(flow) / largest, 1.0) if largest else 1.0
    return {"color": colour, "penwidth": format_number(1 + 3 * share, 2)}


def _path_texts(node: Value, index: int, style: _Style) -> list[str]:
    """On the highlighted path: the number flowing forward, then the gradient flowing back."""
    parent = node.parents[index]
    if not style.path or node not in style.path or parent not in style.path:
        return []
    flow = (style.flows or {}).get((node, index), 0.0)
    return [f"{format_number(parent.data, style.digits)} →", f"← {format_number(flow, 3)}"]


# --- folds: a neuron, a layer or a sum of products as one node ---------------------------------


def _add_neuron(plan: _Plan, k: int, neuron: folds.NeuronGroup, view: _View, style: _Style) -> None:
    """One op node for the whole neuron, fed by its inputs (its parameters are inside it)."""
    op_name = f"n{k}_op"
    plan.node(op_name, _neuron_formula(neuron), shape="ellipse", margin="0.02")
    plan.edge(op_name, f"n{k}", **_out_edge(neuron.output, style))
    for x in (*neuron.inputs, *neuron.shared):
        plan.edge(view.endpoints[x], op_name)


def _neuron_formula(neuron: folds.NeuronGroup) -> Any:
    inner = "w·x + b"
    if neuron.output is neuron.linear:
        return inner
    return dot_text(f"{neuron.output.op_entry.shown_as}({inner})")


def _add_layer(plan: _Plan, layer: folds.LayerGroup, view: _View, style: _Style) -> None:
    """The layer as one record, a row per neuron (a port each), and one op node for all."""
    name = view.endpoints[layer.neurons[0].output].split(":")[0]
    count = len(layer.neurons)
    rows = [dot_text(f"{layer.name} ({count} neuron{'s' if count > 1 else ''})", record=True)]
    for j, neuron in enumerate(layer.neurons, start=1):
        short = neuron.name.removeprefix(f"{layer.name}.")
        shown = str(_record_text(short, neuron.output.data, style.grads[neuron.output], style))
        head, _, last = shown.rpartition(" | ")
        rows.append(f"{head} | <o{j}> {last}")  # a row per neuron; edges leave from its end
    plan.node(name, graphviz.nohtml(" | ".join(rows)), shape="record")
    op_name = f"{name}_op"
    plan.node(op_name, _neuron_formula(layer.neurons[0]), shape="ellipse", margin="0.02")
    plan.edge(op_name, name)
    for x in layer.inputs:
        plan.edge(view.endpoints[x], op_name)


def _add_sum(plan: _Plan, k: int, group: folds.SumGroup, view: _View, style: _Style) -> None:
    """A sum of products as one Σ node: one edge per distinct operand, with its count of uses."""
    op_name = f"n{k}_op"
    products = f"\\n{group.products} products" if group.products else ""
    plan.node(op_name, graphviz.nohtml(f"Σ{products}"), shape="ellipse", margin="0.02")
    plan.edge(op_name, f"n{k}", **_out_edge(group.root, style))
    folded: set[Value] = set()
    for side in group.vectors():
        if side in view.vectors:
            _add_vector(plan, view.vectors[side], side, style)
            plan.edge(view.vectors[side], op_name, label=f"{len(side)} values")
            folded.update(side)
    for term, local, count in group.terms:
        if term in folded:
            continue
        texts = [f"\u00d7{count}"] if count > 1 else []  # a repeated operand, one edge
        if style.edge_labels is not None:
            texts.append(f"local {format_number(local, style.digits)}")
        attrs = {"label": _joined(*texts)} if texts else {}
        if style.flows is not None and not style.path:
            attrs |= _sign_attrs(local * style.grads[group.root], _largest(style))
        plan.edge(view.endpoints[term], op_name, **attrs)


def _add_vector(plan: _Plan, name: str, values: Sequence[Value], style: _Style) -> None:
    """Leaves that enter dot products together (``q0 … q15``) as one record, drawn once."""
    if name in plan.owners:
        return
    shown = [dot_text(folds.vector_name(values), record=True)]
    firsts = values[:SHOWN_CONSTANTS]
    more = ", …" if len(values) > SHOWN_CONSTANTS else ""
    data, grads = [v.data for v in firsts], [style.grads[v] for v in firsts]
    for what, numbers in (("data", data), ("grad", grads)):
        if style.show in ("both", what):
            listed = ", ".join(format_number(x, style.digits) for x in numbers)
            shown.append(f"{what} ({listed}{more})")
    attrs = {"shape": "record"}
    role = style.roles.get(values[0])
    if role:
        attrs.update(style="filled", fillcolor=ROLE_COLOURS[role])
    plan.node(name, graphviz.nohtml(f"{{ {' | '.join(shown)} }}"), **attrs)
    plan.owners[name] = values[0]
    plan.present.update(style.roles[v] for v in values[:1] if v in style.roles)


def _boxes(order: Sequence[Value], plan: _Plan) -> list[_Box]:
    """A box per neuron, inside a box per layer, holding the nodes drawn for its values."""
    drawn: dict[Value, list[str]] = {}
    for name, owner in plan.owners.items():
        drawn.setdefault(owner, []).append(name)
    boxes = []
    layers = folds.find_layers(folds.find_neurons(order))
    for number, layer in enumerate(layers, start=1):
        neurons = [
            _Box(
                f"cluster_layer{number}_neuron{j}",
                dot_text(neuron.name),
                [name for member in neuron.members for name in drawn.get(member, [])],
            )
            for j, neuron in enumerate(layer.neurons, start=1)
        ]
        if len(layers) == 1 and len(neurons) == 1:
            boxes += neurons  # a lone neuron needs no layer around it
        else:
            boxes.append(_Box(f"cluster_layer{number}", dot_text(layer.name), [], neurons))
    return boxes


# --- a neuron's weighted sum: which operand is which, or micrograd's picture of it ------------


def _weight_count(node: Value) -> int:
    """n for a linear node: its operands are w_1..w_n, x_1..x_n, bias (linear_const: w, bias)."""
    if node.op == "linear_const":
        return len(node.constants)
    return (len(node.parents) - 1) // 2 if node.op == "linear" else 0


def _operand_names(node: Value) -> tuple[str, ...]:
    """What each operand of a linear node is, in order: w1.., x1.. (not for linear_const), b."""
    if node.op not in LINEAR_OPS:
        return ()
    n = _weight_count(node)
    inputs = [f"x{i}" for i in range(1, n + 1)] if node.op == "linear" else []
    return (*(f"w{i}" for i in range(1, n + 1)), *inputs, "b")


def _op_label(node: Value) -> Any:
    label = dot_text(node.op_entry.label(node.constants))
    if node.op != "linear_const":
        return label
    shown = [format_number(x) for x in node.constants[:SHOWN_CONSTANTS]]
    if len(node.constants) > SHOWN_CONSTANTS:
        shown.append(f"... {len(node.constants)} in all")
    return _joined(label, f"x = ({', '.join(shown)})")  # the constant inputs are no nodes


def _op_tooltip(node: Value) -> dict[str, str]:
    if node.op != "linear_const":
        return {}
    return {"tooltip": f"x = ({', '.join(repr(x) for x in node.constants)})"}


def _expansion_size(node: Value) -> int:
    """The value nodes expand_neurons adds for node: products, partial sums, constant inputs."""
    n = _weight_count(node)
    if not n:
        return 0
    return 2 * n - 1 + (n if node.op == "linear_const" else 0)


def _add_expanded_linear(
    plan: _Plan, k: int, node: Value, positions: Mapping[Value, int], style: _Style
) -> None:
    """A linear node as micrograd's neuron builds it: ``sum((wi*xi ...), b)``, that is
    ``((b + w1*x1) + w2*x2) + ...``, one ``*`` and one ``+`` node per weight; drawn only.

    Each product and partial sum holds the number micrograd's node would (float arithmetic in the
    same order, so the last sum is node's data), and node's grad: ``+`` passes its grad on to both
    operands unchanged. A constant input becomes a leaf of its own, as micrograd's ``Value(x)``.
    """
    n = _weight_count(node)
    grad = style.grads[node]
    constant = node.op == "linear_const"
    bias = node.parents[-1]
    running_name, running = f"n{positions[bias]}", bias.data
    running_edge = _operand_edge(node, len(node.parents) - 1, style)
    for i in range(1, n + 1):
        weight = node.parents[i - 1]
        if constant:
            x_name, x = f"n{k}_x{i}", node.constants[i - 1]
            x_attrs = {"shape": "record"}
            if style.roles:
                x_attrs.update(style="filled", fillcolor=ROLE_COLOURS["input"])
            plan.node(x_name, _record_text(f"x{i}", x, weight.data * grad, style), **x_attrs)
            x_edge = _inner_edge(weight.data, style)
        else:
            x_node = node.parents[n + i - 1]
            x_name, x = f"n{positions[x_node]}", x_node.data
            x_edge = _operand_edge(node, n + i - 1, style)
        product_name, product = f"n{k}_p{i}", weight.data * x
        label = _record_text(f"w{i}*x{i}", product, grad, style)
        plan.node(product_name, label, shape="record")
        _expanded_op(plan, product_name, "*")
        w_edge = _operand_edge(node, i - 1, style)
        plan.edge(f"n{positions[weight]}", f"{product_name}_op", **w_edge)
        plan.edge(x_name, f"{product_name}_op", **x_edge)
        total = running + product  # micrograd's order: the bias first, then each product
        sum_name = f"n{k}" if i == n else f"n{k}_s{i}"  # the last sum is node itself
        if i < n:
            plan.node(sum_name, _record_text(_partial_sum(i), total, grad, style), shape="record")
        _expanded_op(plan, sum_name, "+")
        plan.edge(running_name, f"{sum_name}_op", **running_edge)
        plan.edge(product_name, f"{sum_name}_op", **_inner_edge(1.0, style))
        running_name, running, running_edge = sum_name, total, _inner_edge(1.0, style)


def _partial_sum(i: int) -> str:
    """The name of the i-th partial sum: b + w1*x1 + w2*x2, or b + w1*x1 + ... + w5*x5."""
    terms = [f"w{j}*x{j}" for j in range(1, i + 1)]
    if len(terms) > 3:
        terms = [terms[0], "...", terms[-1]]
    return " + ".join(["b", *terms])


def _expanded_op(plan: _Plan, value_name: str, symbol: str) -> None:
    plan.node(f"{value_name}_op", symbol, shape="ellipse", margin="0.02")
    plan.edge(f"{value_name}_op", value_name)


def _operand_edge(node: Value, index: int, style: _Style) -> dict[str, str]:
    """The attributes of the edge from node's operand ``index``: its show_local label, if on."""
    return {} if style.edge_labels is None else {"label": style.edge_labels[(node, index)]}


def _inner_edge(local: float, style: _Style) -> dict[str, str]:
    """An edge inside an expanded neuron, whose local derivative is ``local``."""
    return {} if style.edge_labels is None else {"label": f"local {format_number(local)}"}


def _add_legend(picture: GraphPicture, style: _Style, present: set[str]) -> None:
    with picture.subgraph(name="cluster_legend") as legend:
        legend.attr(label="roles", fontname="Helvetica", fontsize="10", color="grey")
        if style.id_prefix:
            legend.attr(id=f"{style.id_prefix}legend")  # else it inherits the graph's id
        for role, colour in ROLE_COLOURS.items():
            if role in present:
                attrs = {"id": f"{style.id_prefix}legend_{role}"} if style.id_prefix else {}
                legend.node(
                    f"legend_{role}",
                    role,
                    shape="box",
                    style="filled",
                    fillcolor=colour,
                    fontsize="9",
                    height="0.3",
                    **attrs,
                )
        if "constant" in present:  # drawn as the constants themselves are
            legend.node("legend_constant", "constant", fontsize="9", **_constant_attrs(-1, style))


# --- rendering ----------------------------------------------------------------------------------


def svg_text(picture: GraphPicture) -> str:
    """The picture as SVG markup, without the XML prolog (ready to inline in HTML)."""
    with _dot_install_hint():
        svg: str = picture.pipe(format="svg", encoding="utf-8", quiet=True)
    return svg[svg.index("<svg") :]


def render(picture: GraphPicture, path: str | Path) -> Path:
    """Write the picture to path; the suffix picks the format (.svg, .png, .pdf, .dot or .gv).

    A dot that fails or is killed raises RenderError with a one-line message.
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"render: cannot tell the format from {target.name!r}; "
            f"use one of the suffixes {', '.join('.' + f for f in FORMATS)}"
        )
    if fmt in ("dot", "gv"):
        target.write_text(picture.source, encoding="utf-8")
    else:
        with _dot_install_hint():
            target.write_bytes(picture.pipe(format=fmt, quiet=True))  # errors: RenderError
    return target


# --- backward, one step per frame -------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """The graph after ``number`` backward steps; ``step`` is the edge just taken (None at 0)."""

    number: int
    step: BackwardStep | None
    root: Value
    names: Mapping[Value, str]
    positions: Mapping[Value, int]
    picture: GraphPicture


def backward_frames(
    root: Value,
    *,
    seed: float = 1.0,
    parameters: Iterable[Value] = (),
    rankdir: str = "LR",
    max_nodes: int = 60,
    max_steps: int = 300,
) -> list[Frame]:
    """Draw backward from root one edge at a time, a picture after each edge; no .grad changes.

    Frame 0 shows the gradients once the root is seeded; frame k the gradients after step k, with
    the node whose gradient flows, its operand and the edge between them highlighted.
    """
    order = _order_within(root, max_nodes, "backward_frames")
    edge_count = sum(len(node.parents) for node in order)
    if edge_count > max_steps:
        raise GraphTooLargeError(
            f"backward_frames: the graph has {edge_count} edges, so backward takes more than "
            f"max_steps={max_steps} steps (one frame each); step through a smaller graph "
            f"or pass max_steps={edge_count}",
            edge_count,
            max_steps,
        )
    names, steps = named_steps(root, seed)
    positions = {node: k for k, node in enumerate(order)}
    grads = _seeded_grads(root, steps, seed)
    base = _Style(
        rankdir=_checked_rankdir(rankdir),
        grads=dict(grads),
        roles=_roles(order, parameters),
        edge_labels={(s.node, s.parent_index): f"local {format_number(s.local)}" for s in steps},
        marked_nodes={root: "current"},
        id_prefix="s0_",
    )
    frames = [Frame(0, None, root, names, positions, _picture(order, base, "step_0"))]
    for number, step in enumerate(steps, start=1):
        grads[step.parent] = step.grad_after
        style = replace(
            base,
            grads=dict(grads),
            marked_nodes={step.node: "current", step.parent: "receiving"},
            marked_edges={(step.node, step.parent_index): "current"},
            id_prefix=f"s{number}_",
        )
        picture = _picture(order, style, f"step_{number}")
        frames.append(Frame(number, step, root, names, positions, picture))
    return frames


def _seeded_grads(root: Value, steps: Sequence[BackwardStep], seed: float) -> dict[Value, float]:
    """Every gradient as it was before the first step: each operand's grad_before on first use."""
    grads = {step.parent: step.grad_before for step in reversed(steps)}
    grads[root] = seed  # nothing flows into the root, so its seeded grad never changes
    return grads


def render_steps(
    root: Value,
    folder: str | Path,
    *,
    seed: float = 1.0,
    parameters: Iterable[Value] = (),
    rankdir: str = "LR",
    max_nodes: int = 60,
    max_steps: int = 300,
) -> Path:
    """Write backward from root as step-000.svg, step-001.svg, ... and index.html to folder.

    A view, not a pass: every ``.grad`` is left as it was; the frames show this pass's gradients.

    index.html inlines every frame and needs nothing else: Previous/Next or the arrow keys step
    through backward, with each step's numbers beside the picture. Returns the page's path.
    """
    frames = backward_frames(
        root,
        seed=seed,
        parameters=parameters,
        rankdir=rankdir,
        max_nodes=max_nodes,
        max_steps=max_steps,
    )
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    sections = []
    for frame in frames:
        svg = svg_text(frame.picture)
        (target / f"step-{frame.number:03d}.svg").write_text(svg, encoding="utf-8")
        sections.append(_frame_section(frame, svg, seed))
    page = target / "index.html"
    page.write_text(_PAGE.format(count=len(frames) - 1, sections="\n".join(sections)), "utf-8")
    return page


def _frame_section(frame: Frame, svg: str, seed: float) -> str:
    step = frame.step
    hidden = " hidden" if frame.number else ""
    if step is None:
        node_id, parent_id = f"n{frame.positions[frame.root]}", ""
        caption = (
            f"Start: the output {html.escape(frame.names[frame.root])} gets grad "
            f"{format_number(seed)}; "
            "intermediate grads start at 0, leaves keep what they had."
        )
        numbers = ""
    else:
        node_id, parent_id = f"n{frame.positions[step.node]}", f"n{frame.positions[step.parent]}"
        caption = (
            f"Step {frame.number}: {html.escape(frame.names[step.node])} ({html.escape(step.op)}) "
            f"passes gradient to operand {step.parent_index}, "
            f"{html.escape(frame.names[step.parent])}."
        )
        numbers = _numbers_table(frame, step)
    return (
        f'<section class="frame" data-step="{frame.number}" data-node="{node_id}" '
        f'data-parent="{parent_id}"{hidden}>\n<p class="caption">{caption}</p>\n{numbers}\n'
        f'<div class="picture">{svg}</div>\n</section>'
    )


def _numbers_table(frame: Frame, step: BackwardStep) -> str:
    parent = html.escape(frame.names[step.parent])
    rows = [
        ("node", f"{html.escape(frame.names[step.node])} ({html.escape(step.op)})"),
        ("operand", f"#{step.parent_index}: {parent}"),
        ("upstream grad", format_number(step.upstream)),
        ("local derivative", format_number(step.local)),
        ("contribution = local &times; upstream", format_number(step.contribution)),
        (
            f"grad of {parent}",
            f"{format_number(step.grad_before)} &rarr; {format_number(step.grad_after)}",
        ),
    ]
    cells = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="numbers">{cells}</table>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>backward(), one edge at a time</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }}
nav {{ margin-bottom: 1em; }}
button {{ font-size: 1em; padding: 0.3em 1em; }}
table.numbers {{ border-collapse: collapse; margin-bottom: 1em; }}
table.numbers th {{ text-align: left; font-weight: normal; color: #555; padding-right: 1em; }}
table.numbers td {{ font-family: monospace; }}
.picture svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>backward(), one edge at a time</h1>
<nav>
<button id="prev" type="button">Previous</button>
<span id="position" aria-live="polite">step 0 of {count}</span>
<button id="next" type="button">Next</button>
<span class="hint">(or the &larr; and &rarr; keys)</span>
</nav>
{sections}
<script>
(function () {{
  var frames = Array.prototype.slice.call(document.querySelectorAll("section.frame"));
  var current = 0;
  function show(k) {{
    current = Math.max(0, Math.min(frames.length - 1, k));
    frames.forEach(function (frame, i) {{ frame.hidden = i !== current; }});
    document.getElementById("position").textContent =
      "step " + current + " of " + (frames.length - 1);
    document.getElementById("prev").disabled = current === 0;
    document.getElementById("next").disabled = current === frames.length - 1;
    document.body.setAttribute("data-current", String(current));
  }}
  document.getElementById("prev").addEventListener("click", function () {{ show(current - 1); }});
  document.getElementById("next").addEventListener("click", function () {{ show(current + 1); }});
  document.addEventListener("keydown", function (event) {{
    if (event.key === "ArrowRight") {{ show(current + 1); }}
    if (event.key === "ArrowLeft") {{ show(current - 1); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""
