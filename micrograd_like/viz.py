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
import re
import signal
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz  # type: ignore[import-untyped]

from micrograd_like.arguments import checked_count, checked_value_iterable
from micrograd_like.debug import (
    StepRow,
    added_up,
    format_number,
    named_steps,
    step_rows,
    tooltips,
)
from micrograd_like.engine import BackwardStep, Value, topological_order
from micrograd_like.model_files import checked_path, replace_atomically
from micrograd_like.pictures import folds
from micrograd_like.pictures.marks import (
    HIGHLIGHT_COLOUR,
    QUIET_COLOUR,
    ROLE_COLOURS,
    SIGN_COLOURS,
    Tooltip,
    constant_attrs,
    flow_scale,
    flows,
    local_labels,
    path_from,
)
from micrograd_like.pictures.marks import Style as _Style
from micrograd_like.pictures.plan import Box, Plan, expansion_size, layout_cost, plan_picture

__all__ = [  # the colours stay importable from here, where pictures are made
    "HIGHLIGHT_COLOUR",
    "QUIET_COLOUR",
    "ROLE_COLOURS",
    "SIGN_COLOURS",
    "GraphPicture",
    "GraphTooLargeError",
    "GraphvizNotFoundError",
    "RenderError",
    "backward_frames",
    "draw_dot",
    "graph_summary",
    "render",
    "render_steps",
    "svg_text",
]

INSTALL_HINT = (
    "Graphviz's dot program renders the pictures: install it with 'apt-get install graphviz' "
    "(Debian, Ubuntu), 'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz' "
    "or from https://graphviz.org/download/ (the DOT text, graph.source, needs no dot)"
)
RANKDIRS = ("LR", "TB", "RL", "BT")
FORMATS = ("svg", "png", "pdf", "dot", "gv")
SHOWS = folds.SHOWS
BIG_GRAPH = 100  # value nodes; larger graphs get a cheaper layout
# Layout cost (see layout_cost) decides how dot lays a picture out, and whether it may at all.
# With both cheaper settings, dot took 0.25 s at cost 5,181, 2.2 s at 34,641 and 6.8 s at 68,017.
CHEAP_LAYOUT = 600  # above: bounded network simplex (nslimit)
CURVED_LAYOUT = 2500  # above: straight edges; routing curves around virtual nodes took most time
MAX_LAYOUT = 30000  # draw_dot's default max_cost: a few seconds of dot


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
    tooltip: Tooltip | str | None = None,
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
        constants: draw the numbers of an expression (leaves the engine made, ``is_constant``)
            as bare numbers, without a gradient; a labelled leaf is drawn as an input.
        show: what each value shows besides its name: "both", "data" or "grad".
        precision: significant digits of every number (4 by default).
        font_size: of the values' text, in points; edge labels are two points smaller.
        colour_edges: colour each edge by the sign of the gradient it carries back, wider for
            larger ones.
        dim_dead: grey out ReLUs whose output is 0 (no gradient passes them).
        tooltip: a function node -> str, shown when the pointer rests on a value (SVG);
            "explain" shows ``explain(node, root)``: how each value's grad came to be.
        max_cost: refuse pictures whose layout costs dot more (see ``layout_cost``); the error
            names the fold that would fit, when one does.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: expected a Value to draw, got {type(root).__name__}")
    order = topological_order(root)
    _check_options(show, precision, font_size, fold, expand_neurons)
    if tooltip == "explain":
        tooltip = tooltips(root)
    elif isinstance(tooltip, str):
        raise ValueError(f"draw_dot: tooltip must be a function or 'explain', got {tooltip!r}")
    elif tooltip is not None and not callable(tooltip):
        raise TypeError(f"draw_dot: tooltip must be a function or 'explain', got {tooltip!r}")
    limits = _Limits(
        checked_count(max_nodes, "draw_dot", "max_nodes"),
        checked_count(max_cost, "draw_dot", "max_cost"),
    )
    positions = {node: k for k, node in enumerate(order)}
    marked = {}
    for node in checked_value_iterable(highlight, "draw_dot", "highlight", "highlighted node"):
        _check_in_graph(node, positions, root, "highlight")
        marked[node] = "highlight"
    path: frozenset[Value] = frozenset()
    if highlight_path is not None:
        _check_in_graph(highlight_path, positions, root, "highlight_path")
        path = path_from(highlight_path, order)
    parameter_list = checked_value_iterable(parameters, "draw_dot", "parameters")
    kept = [*parameter_list, *marked, *([highlight_path] if highlight_path is not None else [])]
    shown_constants = folds.constant_leaves(order, kept) if constants else frozenset()
    carried = flows(order, shown_constants) if colour_edges or path else None
    style = _Style(
        rankdir=_checked_rankdir(rankdir),
        grads={node: node.grad for node in order},
        roles=_roles(order, parameter_list) if roles else {},
        edge_labels=local_labels(order, precision, shown_constants) if show_local else None,
        marked_nodes=marked,
        legend=legend,
        expand_neurons=expand_neurons,
        constants=shown_constants,
        show=show,
        digits=precision,
        font_size=float(font_size),
        flows=carried,
        flow_scale=flow_scale(carried or {}),
        dim_dead=dim_dead,
        path=path,
        tooltip=tooltip,
        boxes=boxes,
        fold=fold,
    )
    plan = plan_picture(order, style)
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


def _order_within(root: Value, max_nodes: int, what: str, expanded: bool = False) -> list[Value]:
    if not isinstance(root, Value):
        raise TypeError(f"{what}: expected a Value to draw, got {type(root).__name__}")
    order = topological_order(root)
    count = len(order) + (sum(expansion_size(node) for node in order) if expanded else 0)
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

    def exceeded(self, plan: Plan) -> bool:
        return plan.drawn_values() > self.max_nodes or layout_cost(plan) > self.max_cost

    def refusal(self, plan: Plan, order: Sequence[Value], style: _Style) -> GraphTooLargeError:
        """The error, naming the first fold whose picture would fit, if one does."""
        fits = None
        if not style.expand_neurons:
            for fold in folds.FOLDS[folds.FOLDS.index(style.fold) + 1 if style.fold else 0 :]:
                if not self.exceeded(plan_picture(order, replace(style, fold=fold))):
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
    if not isinstance(root, Value):
        raise TypeError(f"graph_summary: expected a Value, got {type(root).__name__}")
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


def _picture(order: Sequence[Value], style: _Style, name: str) -> GraphPicture:
    return _emit(plan_picture(order, style), style, name)


def _emit(plan: Plan, style: _Style, name: str) -> GraphPicture:
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
            picture.node(first, graphviz.nohtml(second), **_as_text(attrs))
        else:
            picture.edge(first, second, **_as_text(attrs))
    if style.legend and plan.present:
        _add_legend(picture, style, plan.present)
    for box in plan.boxes:
        _add_box(picture, box, size)
    return picture


def _as_text(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Labels and tooltips as text, never HTML: the plan escaped them, "<b>" stays "<b>"."""
    texts = ("label", "tooltip")
    return {key: graphviz.nohtml(v) if key in texts else v for key, v in attrs.items()}


def _add_box(parent: graphviz.Digraph, box: Box, size: str) -> None:
    with parent.subgraph(name=box.name) as cluster:
        cluster.attr(
            label=graphviz.nohtml(box.label), fontname="Helvetica", fontsize=size, color="grey"
        )
        cluster.attr(style="rounded")
        for inner in box.inner:
            _add_box(cluster, inner, size)
        for member in box.members:
            cluster.node(member)


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
            legend.node("legend_constant", "constant", fontsize="9", **constant_attrs(-1, style))


def svg_text(picture: GraphPicture) -> str:
    """The picture as SVG markup, without the XML prolog (ready to inline in HTML)."""
    with _dot_install_hint():
        svg: str = picture.pipe(format="svg", encoding="utf-8", quiet=True)
    return svg[svg.index("<svg") :]


def render(picture: GraphPicture, path: str | Path) -> Path:
    """Write the picture to path; the suffix picks the format (.svg, .png, .pdf, .dot or .gv).

    A dot that fails or is killed raises RenderError with a one-line message.
    """
    if not isinstance(picture, graphviz.Digraph):
        raise TypeError(f"render: expected a picture from draw_dot, got {type(picture).__name__}")
    target = Path(checked_path(path, "render"))
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"render: cannot tell the format from {target.name!r}; "
            f"use one of the suffixes {', '.join('.' + f for f in FORMATS)}"
        )
    if fmt in ("dot", "gv"):
        replace_atomically(target, picture.source.encode("utf-8"))
    else:
        with _dot_install_hint():
            drawn = picture.pipe(format=fmt, quiet=True)  # errors: RenderError
        replace_atomically(target, drawn)  # readers never see half a picture
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
    checked_count(max_steps, "backward_frames", "max_steps")
    order = _order_within(
        root, checked_count(max_nodes, "backward_frames", "max_nodes"), "backward_frames"
    )
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
