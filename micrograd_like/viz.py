"""Pictures of computation graphs through Graphviz; the only module that imports graphviz.

``draw_dot(root)`` draws each value as a record (name | data | grad) and each operation as its own
small node, as in Karpathy's micrograd lecture pictures, coloured by role, with optional local
derivatives on the edges. Edges into a neuron's fused ``linear`` node say which operand is a weight,
an input or the bias (``w1``, ``x1``, ``b``); ``expand_neurons=True`` draws that node as micrograd's
chain of ``*`` and ``+`` nodes instead. ``render_steps(root, folder)`` draws backward() one edge at
a time: SVG frames and a self-contained HTML page to step through them. Nodes are numbered by their
position in ``topological_order(root)``, never by ``id()``, so the same graph always gives the same
DOT source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz  # type: ignore[import-untyped]

from micrograd_like.debug import (
    StepRow,
    added_up,
    format_number,
    named_steps,
    node_names,
    step_rows,
)
from micrograd_like.engine import BackwardStep, Value, topological_order
from micrograd_like.model_files import replace_atomically

INSTALL_HINT = (
    "Graphviz's dot program renders the pictures: install it with 'apt-get install graphviz' "
    "(Debian, Ubuntu), 'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz' "
    "or from https://graphviz.org/download/ (the DOT text, graph.source, needs no dot)"
)
# Okabe and Ito's palette: its colours stay distinct for the common colour-vision deficiencies.
ROLE_COLOURS = {"input": "#56B4E9", "parameter": "#E69F00", "output": "#009E73"}
HIGHLIGHT_COLOUR = "#D55E00"
RANKDIRS = ("LR", "TB", "RL", "BT")
FORMATS = ("svg", "png", "pdf", "dot", "gv")
BIG_GRAPH = 100  # value nodes; larger graphs get a cheaper layout
LINEAR_OPS = ("linear", "linear_const")  # a neuron's weighted sum, one node
SHOWN_CONSTANTS = 4  # a linear_const label lists this many inputs; its tooltip lists them all

Edge = tuple[Value, int]  # (the node, the index of one of its parents)


class GraphTooLargeError(ValueError):
    """The graph has more nodes than a picture can show usefully."""

    def __init__(self, message: str, count: int, limit: int) -> None:
        super().__init__(message)
        self.count = count
        self.limit = limit


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's dot executable, and it is not on PATH."""


@contextmanager
def _dot_install_hint() -> Iterator[None]:
    try:
        yield
    except graphviz.ExecutableNotFound as missing:
        raise GraphvizNotFoundError(f"{missing}. {INSTALL_HINT}") from missing


class GraphPicture(graphviz.Digraph):  # type: ignore[misc]
    """A graphviz.Digraph whose rendering (also in Jupyter) says how to install dot if missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        with _dot_install_hint():
            return super().pipe(*args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:
        with _dot_install_hint():
            return super().render(*args, **kwargs)


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
        max_nodes: refuse larger pictures with GraphTooLargeError rather than hand them to dot.
        expand_neurons: draw each ``linear`` node as micrograd builds a neuron,
            ``((b + w1*x1) + w2*x2) + ...``: a ``*`` and a ``+`` node per weight, with the data
            and grad each would hold (every product and partial sum has the neuron's grad).
            Only the picture changes; the graph keeps its one node.
    """
    order = _order_within(root, max_nodes, "draw_dot", expand_neurons)
    positions = {node: k for k, node in enumerate(order)}
    marked = {}
    for node in highlight:
        if node not in positions:
            raise ValueError(f"draw_dot: highlight {node!r} is not in the graph of {root!r}")
        marked[node] = "highlight"
    style = _Style(
        rankdir=_checked_rankdir(rankdir),
        grads={node: node.grad for node in order},
        roles=_roles(order, parameters) if roles else {},
        edge_labels=_local_labels(order) if show_local else None,
        marked_nodes=marked,
        legend=legend,
        expand_neurons=expand_neurons,
    )
    return _picture(order, style, "computation_graph")


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


def _local_labels(order: Sequence[Value]) -> dict[Edge, str]:
    labels = {}
    for node in order:
        try:
            texts = [format_number(d) for d in node.local_grads()]
        except (ArithmeticError, ValueError):  # e.g. sqrt's slope at 0: the derivative is undefined
            texts = ["undefined"] * len(node.parents)
        labels.update({(node, i): f"local {text}" for i, text in enumerate(texts)})
    return labels


def _picture(order: Sequence[Value], style: _Style, name: str) -> GraphPicture:
    graph_attr = {"rankdir": style.rankdir}
    if len(order) > BIG_GRAPH:
        # Caps dot's network-simplex iterations: a 300-node chain whose leaf feeds every other
        # node took dot over 5 minutes to place, and 4 s with this limit.
        graph_attr["nslimit"] = "0.2"
    if style.id_prefix:
        graph_attr["id"] = f"{style.id_prefix}graph"
    picture = GraphPicture(
        name,
        graph_attr=graph_attr,
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )
    names = node_names(order)
    positions = {node: k for k, node in enumerate(order)}
    present = set(style.roles.values())
    for k, node in enumerate(order):
        picture.node(f"n{k}", _record(names[node], node, style), **_value_attrs(k, node, style))
        if style.expand_neurons and _expansion_size(node):
            _add_expanded_linear(picture, k, node, positions, style)
            if node.op == "linear_const":
                present.add("input")  # its constant inputs become input leaves
        elif node.op:
            _add_operation(picture, k, node, positions, style)
    if style.legend and style.roles:
        _add_legend(picture, style, present)
    return picture


def _record(name: str, node: Value, style: _Style) -> str:
    return _record_text(name, node.data, style.grads[node])


def _record_text(name: str, data: float, grad: float) -> str:
    shown = f"data {format_number(data)} | grad {format_number(grad)}"
    return f"{{ {_escape_record(name)} | {shown} }}"


def _escape_record(text: str) -> str:
    """Keep a label's own braces, bars and angle brackets from splitting the record."""
    for special in "\\{}|<>":
        text = text.replace(special, "\\" + special)
    return text


def _value_attrs(k: int, node: Value, style: _Style) -> dict[str, str]:
    attrs = {"shape": "record"}
    role = style.roles.get(node)
    if role:
        attrs.update(style="filled", fillcolor=ROLE_COLOURS[role])
    css_class = style.marked_nodes.get(node)
    if css_class == "receiving":  # dashed: the operand whose grad the current step changes
        attrs["style"] = ",".join(filter(None, (attrs.get("style"), "dashed")))
    return attrs | _mark(css_class, style.id_prefix, f"n{k}")


def _mark(css_class: str | None, id_prefix: str, name: str) -> dict[str, str]:
    attrs = {"id": id_prefix + name} if id_prefix else {}
    if css_class:
        attrs.update({"class": css_class, "color": HIGHLIGHT_COLOUR, "penwidth": "3"})
    return attrs


def _add_operation(
    picture: GraphPicture, k: int, node: Value, positions: Mapping[Value, int], style: _Style
) -> None:
    """The op's own node, an edge from each operand into it and one from it to the result."""
    op_name = f"n{k}_op"
    op_class = "current_op" if style.marked_nodes.get(node) == "current" else None
    picture.node(
        op_name,
        _op_label(node),
        shape="ellipse",
        margin="0.02",
        **_op_tooltip(node),
        **_mark(op_class, style.id_prefix, op_name),
    )
    picture.edge(op_name, f"n{k}", **_mark(op_class, style.id_prefix, f"{op_name}_out"))
    operands = _operand_names(node)
    for i, parent in enumerate(node.parents):
        attrs = _mark(style.marked_edges.get((node, i)), style.id_prefix, f"{op_name}_in{i}")
        texts = [operands[i]] if operands else []
        if style.edge_labels is not None:
            texts.append(style.edge_labels[(node, i)])
        if texts:
            attrs["label"] = "\\n".join(texts)  # dot's line break: "w1" above "local 2"
        picture.edge(f"n{positions[parent]}", op_name, **attrs)


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


def _op_label(node: Value) -> str:
    label = node.op_entry.label(node.constants)
    if node.op != "linear_const":
        return label
    shown = [format_number(x) for x in node.constants[:SHOWN_CONSTANTS]]
    if len(node.constants) > SHOWN_CONSTANTS:
        shown.append(f"... {len(node.constants)} in all")
    return f"{label}\\nx = ({', '.join(shown)})"  # the constant inputs are no nodes of their own


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
    picture: GraphPicture, k: int, node: Value, positions: Mapping[Value, int], style: _Style
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
            picture.node(x_name, _record_text(f"x{i}", x, weight.data * grad), **x_attrs)
            x_edge = _inner_edge(weight.data, style)
        else:
            x_node = node.parents[n + i - 1]
            x_name, x = f"n{positions[x_node]}", x_node.data
            x_edge = _operand_edge(node, n + i - 1, style)
        product_name, product = f"n{k}_p{i}", weight.data * x
        picture.node(product_name, _record_text(f"w{i}*x{i}", product, grad), shape="record")
        _expanded_op(picture, product_name, "*")
        w_edge = _operand_edge(node, i - 1, style)
        picture.edge(f"n{positions[weight]}", f"{product_name}_op", **w_edge)
        picture.edge(x_name, f"{product_name}_op", **x_edge)
        total = running + product  # micrograd's order: the bias first, then each product
        sum_name = f"n{k}" if i == n else f"n{k}_s{i}"  # the last sum is node itself
        if i < n:
            picture.node(sum_name, _record_text(_partial_sum(i), total, grad), shape="record")
        _expanded_op(picture, sum_name, "+")
        picture.edge(running_name, f"{sum_name}_op", **running_edge)
        picture.edge(product_name, f"{sum_name}_op", **_inner_edge(1.0, style))
        running_name, running, running_edge = sum_name, total, _inner_edge(1.0, style)


def _partial_sum(i: int) -> str:
    """The name of the i-th partial sum: b + w1*x1 + w2*x2, or b + w1*x1 + ... + w5*x5."""
    terms = [f"w{j}*x{j}" for j in range(1, i + 1)]
    if len(terms) > 3:
        terms = [terms[0], "...", terms[-1]]
    return " + ".join(["b", *terms])


def _expanded_op(picture: GraphPicture, value_name: str, symbol: str) -> None:
    picture.node(f"{value_name}_op", symbol, shape="ellipse", margin="0.02")
    picture.edge(f"{value_name}_op", value_name)


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


# --- rendering ----------------------------------------------------------------------------------


def svg_text(picture: GraphPicture) -> str:
    """The picture as SVG markup, without the XML prolog (ready to inline in HTML)."""
    with _dot_install_hint():
        svg: str = picture.pipe(format="svg", encoding="utf-8")
    return svg[svg.index("<svg") :]


def render(picture: GraphPicture, path: str | Path) -> Path:
    """Write the picture to path; the suffix picks the format (.svg, .png, .pdf, .dot or .gv)."""
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
            target.write_bytes(picture.pipe(format=fmt))
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


if TYPE_CHECKING:
    _PlatformPath = Path
else:
    _PlatformPath = type(
        Path()
    )  # PosixPath or WindowsPath: Path itself cannot be subclassed before 3.12


class StepPage(_PlatformPath):
    """The path of render_steps' index.html, which Jupyter shows inline as the step viewer."""

    VIEWER_HEIGHT = 640  # pixels of notebook the inline viewer takes; its pictures scale to fit

    def with_segments(self, *segments: str | PathLike[str]) -> Path:
        """Paths made from this one (its parent, say) are plain paths (Python 3.12+)."""
        return Path(*segments)

    def _repr_html_(self) -> str | None:
        """The page in a sandboxed iframe: its script and styles stay apart from the notebook's."""
        if self.name != "index.html" or not self.is_file():
            return None  # a path derived from this one on Python 3.10 and 3.11: shown as text
        page = html.escape(self.read_text(encoding="utf-8"), quote=True)
        return (
            f'<iframe srcdoc="{page}" sandbox="allow-scripts" title="backward, one edge at a '
            f'time" style="width: 100%; height: {self.VIEWER_HEIGHT}px; border: 1px solid #ccc; '
            'resize: vertical"></iframe>'
        )


STEP_FILE = re.compile(r"step-\d{3,}\.svg")


def render_steps(
    root: Value,
    folder: str | Path,
    *,
    seed: float = 1.0,
    parameters: Iterable[Value] = (),
    rankdir: str = "LR",
    max_nodes: int = 60,
    max_steps: int = 300,
) -> StepPage:
    """Write backward from root as step-000.svg, step-001.svg, ... and index.html to folder.

    A view, not a pass: every ``.grad`` is left as it was; the frames show this pass's gradients.
    Frames of an earlier run in the same folder are removed, so the folder holds this run only.

    index.html inlines every frame and needs nothing else: Previous/Next or the arrow keys step
    through backward, with each step's numbers beside the picture. Returns the page's path, which
    Jupyter displays inline as the viewer itself.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"render_steps: folder {str(folder)!r} is a file, not a folder")
    frames = backward_frames(
        root,
        seed=seed,
        parameters=parameters,
        rankdir=rankdir,
        max_nodes=max_nodes,
        max_steps=max_steps,
    )
    target.mkdir(parents=True, exist_ok=True)
    sections = []
    svgs = {f"step-{frame.number:03d}.svg": svg_text(frame.picture) for frame in frames}
    for stale in target.iterdir():  # only once every picture is drawn: a failure keeps the old run
        if STEP_FILE.fullmatch(stale.name) and stale.name not in svgs:
            stale.unlink()
    rows = step_rows(root, seed)
    for frame, (name, svg) in zip(frames, svgs.items(), strict=True):
        replace_atomically(target / name, svg.encode("utf-8"))
        row = rows[frame.number - 1] if frame.number else None
        sections.append(_frame_section(frame, svg, seed, row))
    page = StepPage(target / "index.html")
    text = _PAGE.format(count=len(frames) - 1, sections="\n".join(sections))
    replace_atomically(page, text.encode("utf-8"))
    return page


def _frame_section(frame: Frame, svg: str, seed: float, row: StepRow | None) -> str:
    step = frame.step
    hidden = " hidden" if frame.number else ""
    if step is None or row is None:
        node_id, parent_id = f"n{frame.positions[frame.root]}", ""
        caption = _start_caption(frame, seed)
        numbers = ""
    else:
        node_id, parent_id = f"n{frame.positions[step.node]}", f"n{frame.positions[step.parent]}"
        caption = (
            f"Step {frame.number}: {html.escape(frame.names[step.node])} ({html.escape(step.op)}) "
            f"passes gradient to operand {step.parent_index}, "
            f"{html.escape(frame.names[step.parent])}."
        )
        numbers = _numbers_table(frame, step, row)
    return (
        f'<section class="frame" data-step="{frame.number}" data-node="{node_id}" '
        f'data-parent="{parent_id}"{hidden}>\n<p class="caption">{caption}</p>\n{numbers}\n'
        f'<div class="picture">{svg}</div>\n</section>'
    )


def _start_caption(frame: Frame, seed: float) -> str:
    """What frame 0 shows: the seeded output, and every other gradient at 0 for this pass."""
    caption = (
        f"Start: the output {html.escape(frame.names[frame.root])} gets grad "
        f"{format_number(seed)}; every other grad starts at 0 in this pass."
    )
    earlier = [node for node in frame.positions if node is not frame.root and node.grad != 0]
    if earlier:
        held = ", ".join(
            f"{html.escape(frame.names[node])} {format_number(node.grad)}" for node in earlier
        )
        caption += (
            f" Not shown: the .grad left by an earlier backward() ({held}); backward() adds "
            "this pass's gradient to a leaf's at the end, and an intermediate's is replaced."
        )
    return caption


def _numbers_table(frame: Frame, step: BackwardStep, row: StepRow) -> str:
    parent = html.escape(frame.names[step.parent])
    rows = [
        (
            "node",
            f"{html.escape(frame.names[step.node])} ({html.escape(step.op)}), "
            f"data {format_number(step.node.data)}",
        ),
        ("operand", f"#{step.parent_index}: {parent}"),
        ("upstream grad", format_number(step.upstream)),
        ("local derivative", html.escape(row.formula)),
        ("contribution = local &times; upstream", format_number(step.contribution)),
        (
            f"grad of {parent}",
            f"{format_number(step.grad_before)} &rarr; {format_number(step.grad_after)}",
        ),
        (
            f"grad of {parent} = sum of its uses so far",
            html.escape(added_up(row.uses, row.grad_after)),
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
