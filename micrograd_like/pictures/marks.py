"""How one value, operation or edge of a picture looks: its record, colours and escaped text.

Every piece of text that goes into DOT passes ``dot_text``, so a label's backslash, ``&``,
braces or control characters show as written instead of breaking the picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from micrograd_like.debug import format_number
from micrograd_like.engine import Value
from micrograd_like.pictures.folds import LINEAR_OPS

# Okabe and Ito's palette: its colours stay distinct for the common colour-vision deficiencies.
ROLE_COLOURS = {"input": "#56B4E9", "parameter": "#E69F00", "output": "#009E73"}
HIGHLIGHT_COLOUR = "#D55E00"
SIGN_COLOURS = {"positive": "#0072B2", "negative": "#CC79A7"}  # edges by gradient sign
QUIET_COLOUR = "#B0B0B0"  # constants, dead ReLUs, edges off a highlighted path, zero gradients
SHOWN_CONSTANTS = 4  # a linear_const label lists this many inputs; its tooltip lists them all
Edge = tuple[Value, int]  # (the node, the index of one of its parents)
Tooltip = Callable[[Value], str]


def dot_text(text: str, record: bool = False) -> str:
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
    return "\\n".join(lines)


def joined(*parts: str) -> str:
    """Lines already made DOT-safe, one under the other."""
    return "\\n".join(parts)


@dataclass(frozen=True)
class Style:
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
    flow_scale: float = 0.0  # the largest of them: the widest edge
    dim_dead: bool = False
    path: frozenset[Value] = frozenset()  # highlight_path: the nodes from the leaf to the root
    tooltip: Tooltip | None = None
    boxes: bool = False
    fold: str | None = None


def path_from(start: Value, order: Sequence[Value]) -> frozenset[Value]:
    """start and every node it flows into (all lie on a way from start to the root)."""
    on_path = {start}
    for node in order:
        if any(parent in on_path for parent in node.parents):
            on_path.add(node)
    return frozenset(on_path)


def flows(order: Sequence[Value], constants: frozenset[Value] = frozenset()) -> dict[Edge, float]:
    """What each edge carries back in backward(): local derivative times the node's grad; none
    for an edge from a constant, whose gradient no one reads."""
    flows = {}
    for node in order:
        try:
            locals_ = node.local_grads()
        except (ArithmeticError, ValueError):  # an undefined slope carries nothing drawable
            locals_ = (0.0,) * len(node.parents)
        for i, d in enumerate(locals_):
            if node.parents[i] not in constants:
                flows[(node, i)] = d * node.grad
    return flows


def flow_scale(flows: Mapping[Edge, float]) -> float:
    """The largest finite gradient an edge carries: the widest edge's."""
    return max((abs(f) for f in flows.values() if abs(f) != math.inf), default=0.0)


def local_labels(
    order: Sequence[Value], digits: int = 4, constants: frozenset[Value] = frozenset()
) -> dict[Edge, str]:
    """Each edge's local derivative d(node)/d(operand), but an edge's from a constant."""
    labels = {}
    for node in order:
        try:
            texts = [format_number(d, digits) for d in node.local_grads()]
        except (ArithmeticError, ValueError):  # e.g. sqrt's slope at 0: the derivative is undefined
            texts = ["undefined"] * len(node.parents)
        for i, text in enumerate(texts):
            if node.parents[i] not in constants:
                labels[(node, i)] = f"local {text}"
    return labels


def record(name: str, node: Value, style: Style) -> str:
    return record_text(name, node.data, style.grads[node], style)


def record_text(name: str, data: float, grad: float, style: Style) -> str:
    fields = [dot_text(name, record=True)]
    if style.show != "grad":
        fields.append(f"data {format_number(data, style.digits)}")
    if style.show != "data":
        fields.append(f"grad {format_number(grad, style.digits)}")
    return f"{{ {' | '.join(fields)} }}"


def constant_attrs(k: int, style: Style) -> dict[str, str]:
    attrs = {"shape": "box", "style": "rounded", "color": QUIET_COLOUR, "height": "0.3"}
    return attrs | mark(None, style.id_prefix, f"n{k}")


def value_attrs(k: int, node: Value, style: Style) -> dict[str, str]:
    attrs = {"shape": "record"}
    role = style.roles.get(node)
    if role:
        attrs.update(style="filled", fillcolor=ROLE_COLOURS[role])
    css_class = style.marked_nodes.get(node)
    if css_class == "receiving":  # dashed: the operand whose grad the current step changes
        attrs["style"] = ",".join(filter(None, (attrs.get("style"), "dashed")))
    if is_quiet(node, style):  # greyed out, and unfilled: grey text on a colour is hard to read
        attrs = {"shape": "record", "color": QUIET_COLOUR, "fontcolor": QUIET_COLOUR}
    if style.tooltip is not None:
        attrs["tooltip"] = dot_text(_tooltip_of(style.tooltip, node))
    return attrs | mark(css_class, style.id_prefix, f"n{k}")


def is_quiet(node: Value, style: Style) -> bool:
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


def mark(css_class: str | None, id_prefix: str, name: str) -> dict[str, str]:
    attrs = {"id": id_prefix + name} if id_prefix else {}
    if css_class:
        attrs.update({"class": css_class, "color": HIGHLIGHT_COLOUR, "penwidth": "3"})
    return attrs


def out_edge(node: Value, style: Style) -> dict[str, str]:
    """The edge from an op to its result: coloured by the result's grad, or on the path."""
    if style.path:
        return _path_attrs(node in style.path)
    if style.flows is None:
        return {}
    return sign_attrs(style.grads[node], style.flow_scale)


def flow_edge(node: Value, index: int, style: Style) -> dict[str, str]:
    """An operand's edge: strong on the path, else coloured by what it carries back, if asked."""
    if style.path:
        return _path_attrs(node in style.path and node.parents[index] in style.path)
    if style.flows is None:
        return {}
    flow = style.flows.get((node, index))
    return {"color": QUIET_COLOUR} if flow is None else sign_attrs(flow, style.flow_scale)


def _path_attrs(on_path: bool) -> dict[str, str]:
    if on_path:
        return {"color": HIGHLIGHT_COLOUR, "penwidth": "2.5", "fontcolor": HIGHLIGHT_COLOUR}
    return {"color": QUIET_COLOUR}


def sign_attrs(flow: float, largest: float) -> dict[str, str]:
    """Blue for a positive gradient, purple for a negative one, wider the larger it is."""
    if not flow or flow != flow:  # zero or nan: no direction to show
        return {"color": QUIET_COLOUR}
    colour = SIGN_COLOURS["positive" if flow > 0 else "negative"]
    share = min(abs(flow) / largest, 1.0) if largest else 1.0
    return {"color": colour, "penwidth": format_number(1 + 3 * share, 2)}


def path_texts(node: Value, index: int, style: Style) -> list[str]:
    """On the highlighted path: the number flowing forward, then the gradient flowing back."""
    parent = node.parents[index]
    if not style.path or node not in style.path or parent not in style.path:
        return []
    flow = (style.flows or {}).get((node, index), 0.0)
    return [f"{format_number(parent.data, style.digits)} →", f"← {format_number(flow, 3)}"]


def weight_count(node: Value) -> int:
    """n for a linear node: its operands are w_1..w_n, x_1..x_n, bias (linear_const: w, bias)."""
    if node.op == "linear_const":
        return len(node.constants)
    return (len(node.parents) - 1) // 2 if node.op == "linear" else 0


def operand_names(node: Value) -> tuple[str, ...]:
    """What each operand of a linear node is, in order: w1.., x1.. (not for linear_const), b."""
    if node.op not in LINEAR_OPS:
        return ()
    n = weight_count(node)
    inputs = [f"x{i}" for i in range(1, n + 1)] if node.op == "linear" else []
    return (*(f"w{i}" for i in range(1, n + 1)), *inputs, "b")


def op_label(node: Value) -> str:
    label = dot_text(node.op_entry.label(node.constants))
    if node.op != "linear_const":
        return label
    shown = [format_number(x) for x in node.constants[:SHOWN_CONSTANTS]]
    if len(node.constants) > SHOWN_CONSTANTS:
        shown.append(f"... {len(node.constants)} in all")
    return joined(label, f"x = ({', '.join(shown)})")  # the constant inputs are no nodes


def op_tooltip(node: Value) -> dict[str, str]:
    if node.op != "linear_const":
        return {}
    return {"tooltip": f"x = ({', '.join(repr(x) for x in node.constants)})"}
