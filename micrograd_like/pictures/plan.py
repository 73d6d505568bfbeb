"""The plan of a picture: its nodes and edges in the order dot gets them, and what they cost.

``plan_picture(order, style)`` draws every value and operation, or the fold that stands for them
(a neuron, a layer, a sum of products as one node), and the boxes around neurons and layers.
``layout_cost(plan)`` counts what dot's layout work grows with, before dot runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from micrograd_like.debug import format_number, node_names
from micrograd_like.engine import Value
from micrograd_like.pictures import folds
from micrograd_like.pictures.marks import (
    QUIET_COLOUR,
    ROLE_COLOURS,
    SHOWN_CONSTANTS,
    Style,
    constant_attrs,
    dot_text,
    flow_edge,
    is_quiet,
    joined,
    mark,
    op_label,
    op_tooltip,
    operand_names,
    out_edge,
    path_texts,
    record,
    record_text,
    sign_attrs,
    value_attrs,
    weight_count,
)


@dataclass(frozen=True)
class Box:
    """A cluster: a neuron's box holds its nodes, a layer's box its neurons' boxes."""

    name: str
    label: str
    members: list[str]
    inner: list[Box] = field(default_factory=list)


@dataclass
class Plan:
    """Nodes and edges in the order they go into DOT, which value each was drawn for, and boxes."""

    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    owners: dict[str, Value] = field(default_factory=dict)
    owner: Value | None = None
    present: set[str] = field(default_factory=set)  # legend entries the picture uses
    values: int = 0  # value nodes in the graph
    boxes: list[Box] = field(default_factory=list)

    def node(self, name: str, label: str, **attrs: Any) -> None:
        self.calls.append(("node", name, label, attrs))
        if self.owner is not None:
            self.owners[name] = self.owner

    def edge(self, tail: str, head: str, **attrs: Any) -> None:
        self.calls.append(("edge", tail, head, attrs))

    def drawn_values(self) -> int:
        """The value nodes (records and constants, not op nodes) the picture has."""
        return sum(1 for kind, name, _, _ in self.calls if kind == "node" and name[-3:] != "_op")


def layout_cost(plan: Plan) -> int:
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


def plan_picture(order: Sequence[Value], style: Style) -> Plan:
    plan = Plan(values=len(order))
    view = _View.of(order, style)
    positions = {node: k for k, node in enumerate(order)}
    for k, node in enumerate(order):
        if node in view.hidden:
            continue
        plan.owner = node
        _add_value(plan, k, node, view, style)
        if style.expand_neurons and expansion_size(node):
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
    def of(order: Sequence[Value], style: Style) -> _View:
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


def _add_value(plan: Plan, k: int, node: Value, view: _View, style: Style) -> None:
    if node in view.layers:
        outputs = [neuron.output for neuron in view.layers[node].neurons]
        plan.present.update(style.roles[n] for n in outputs if n in style.roles)
        return  # the layer's record holds its neurons' values
    if node in style.constants:
        label = dot_text(format_number(node.data, style.digits), record=True)
        plan.node(f"n{k}", label, **constant_attrs(k, style))
        return
    name = view.neurons[node].name if node in view.neurons else view.names[node]
    if node in style.roles:
        plan.present.add(style.roles[node])
    plan.node(f"n{k}", record(name, node, style), **value_attrs(k, node, style))


def _add_operation(plan: Plan, k: int, node: Value, view: _View, style: Style) -> None:
    """The op's own node, an edge from each operand into it and one from it to the result."""
    op_name = f"n{k}_op"
    op_class = "current_op" if style.marked_nodes.get(node) == "current" else None
    grey = {"color": QUIET_COLOUR, "fontcolor": QUIET_COLOUR} if is_quiet(node, style) else {}
    plan.node(
        op_name,
        op_label(node),
        shape="ellipse",
        margin="0.02",
        **op_tooltip(node),
        **grey,
        **mark(op_class, style.id_prefix, op_name),
    )
    out = out_edge(node, style) | mark(op_class, style.id_prefix, f"{op_name}_out")
    plan.edge(op_name, f"n{k}", **out)
    operands = operand_names(node)
    for i, parent in enumerate(node.parents):
        attrs = flow_edge(node, i, style)
        attrs |= mark(style.marked_edges.get((node, i)), style.id_prefix, f"{op_name}_in{i}")
        texts = [dot_text(operands[i])] if operands else []
        if style.edge_labels is not None and (node, i) in style.edge_labels:
            texts.append(style.edge_labels[(node, i)])
        texts += path_texts(node, i, style)
        if texts:
            attrs["label"] = joined(*texts)  # "w1" above "local 2"
        plan.edge(view.endpoints[parent], op_name, **attrs)


def _add_neuron(plan: Plan, k: int, neuron: folds.NeuronGroup, view: _View, style: Style) -> None:
    """One op node for the whole neuron, fed by its inputs (its parameters are inside it)."""
    op_name = f"n{k}_op"
    plan.node(op_name, _neuron_formula(neuron), shape="ellipse", margin="0.02")
    plan.edge(op_name, f"n{k}", **out_edge(neuron.output, style))
    for x in (*neuron.inputs, *neuron.shared):
        plan.edge(view.endpoints[x], op_name)


def _neuron_formula(neuron: folds.NeuronGroup) -> str:
    inner = "w·x + b"
    if neuron.output is neuron.linear:
        return inner
    return dot_text(f"{neuron.output.op_entry.shown_as}({inner})")


def _add_layer(plan: Plan, layer: folds.LayerGroup, view: _View, style: Style) -> None:
    """The layer as one record, a row per neuron (a port each), and one op node for all."""
    name = view.endpoints[layer.neurons[0].output].split(":")[0]
    count = len(layer.neurons)
    rows = [dot_text(f"{layer.name} ({count} neuron{'s' if count > 1 else ''})", record=True)]
    for j, neuron in enumerate(layer.neurons, start=1):
        short = neuron.name.removeprefix(f"{layer.name}.")
        shown = str(record_text(short, neuron.output.data, style.grads[neuron.output], style))
        head, _, last = shown.rpartition(" | ")
        rows.append(f"{head} | <o{j}> {last}")  # a row per neuron; edges leave from its end
    plan.node(name, " | ".join(rows), shape="record")
    op_name = f"{name}_op"
    plan.node(op_name, _neuron_formula(layer.neurons[0]), shape="ellipse", margin="0.02")
    plan.edge(op_name, name)
    for x in layer.inputs:
        plan.edge(view.endpoints[x], op_name)


def _add_sum(plan: Plan, k: int, group: folds.SumGroup, view: _View, style: Style) -> None:
    """A sum of products as one Σ node: one edge per distinct operand, with its count of uses."""
    op_name = f"n{k}_op"
    products = f"\\n{group.products} products" if group.products else ""
    plan.node(op_name, f"Σ{products}", shape="ellipse", margin="0.02")
    plan.edge(op_name, f"n{k}", **out_edge(group.root, style))
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
        constant = term in style.constants  # no gradient of its own to show
        if style.edge_labels is not None and not constant:
            texts.append(f"local {format_number(local, style.digits)}")
        attrs = {"label": joined(*texts)} if texts else {}
        if style.flows is not None and not style.path and not constant:
            attrs |= sign_attrs(local * style.grads[group.root], style.flow_scale)
        plan.edge(view.endpoints[term], op_name, **attrs)


def _add_vector(plan: Plan, name: str, values: Sequence[Value], style: Style) -> None:
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
    plan.node(name, f"{{ {' | '.join(shown)} }}", **attrs)
    plan.owners[name] = values[0]
    plan.present.update(style.roles[v] for v in values[:1] if v in style.roles)


def _boxes(order: Sequence[Value], plan: Plan) -> list[Box]:
    """A box per neuron, inside a box per layer, holding the nodes drawn for its values."""
    drawn: dict[Value, list[str]] = {}
    for name, owner in plan.owners.items():
        drawn.setdefault(owner, []).append(name)
    boxes = []
    layers = folds.find_layers(folds.find_neurons(order))
    for number, layer in enumerate(layers, start=1):
        neurons = [
            Box(
                f"cluster_layer{number}_neuron{j}",
                dot_text(neuron.name),
                [name for member in neuron.members for name in drawn.get(member, [])],
            )
            for j, neuron in enumerate(layer.neurons, start=1)
        ]
        if len(layers) == 1 and len(neurons) == 1:
            boxes += neurons  # a lone neuron needs no layer around it
        else:
            boxes.append(Box(f"cluster_layer{number}", dot_text(layer.name), [], neurons))
    return boxes


def expansion_size(node: Value) -> int:
    """The value nodes expand_neurons adds for node: products, partial sums, constant inputs."""
    n = weight_count(node)
    if not n:
        return 0
    return 2 * n - 1 + (n if node.op == "linear_const" else 0)


def _add_expanded_linear(
    plan: Plan, k: int, node: Value, positions: Mapping[Value, int], style: Style
) -> None:
    """A linear node as micrograd's neuron builds it: ``sum((wi*xi ...), b)``, that is
    ``((b + w1*x1) + w2*x2) + ...``, one ``*`` and one ``+`` node per weight; drawn only.

    Each product and partial sum holds the number micrograd's node would (float arithmetic in the
    same order, so the last sum is node's data), and node's grad: ``+`` passes its grad on to both
    operands unchanged. A constant input becomes a leaf of its own, as micrograd's ``Value(x)``.
    """
    n = weight_count(node)
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
            plan.node(x_name, record_text(f"x{i}", x, weight.data * grad, style), **x_attrs)
            x_edge = _inner_edge(weight.data, style)
        else:
            x_node = node.parents[n + i - 1]
            x_name, x = f"n{positions[x_node]}", x_node.data
            x_edge = _operand_edge(node, n + i - 1, style)
        product_name, product = f"n{k}_p{i}", weight.data * x
        label = record_text(f"w{i}*x{i}", product, grad, style)
        plan.node(product_name, label, shape="record")
        _expanded_op(plan, product_name, "*")
        w_edge = _operand_edge(node, i - 1, style)
        plan.edge(f"n{positions[weight]}", f"{product_name}_op", **w_edge)
        plan.edge(x_name, f"{product_name}_op", **x_edge)
        total = running + product  # micrograd's order: the bias first, then each product
        sum_name = f"n{k}" if i == n else f"n{k}_s{i}"  # the last sum is node itself
        if i < n:
            plan.node(sum_name, record_text(_partial_sum(i), total, grad, style), shape="record")
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


def _expanded_op(plan: Plan, value_name: str, symbol: str) -> None:
    plan.node(f"{value_name}_op", symbol, shape="ellipse", margin="0.02")
    plan.edge(f"{value_name}_op", value_name)


def _operand_edge(node: Value, index: int, style: Style) -> dict[str, str]:
    """The attributes of the edge from node's operand ``index``: its show_local label, if on."""
    label = (style.edge_labels or {}).get((node, index))
    return {} if label is None else {"label": label}


def _inner_edge(local: float, style: Style) -> dict[str, str]:
    """An edge inside an expanded neuron, whose local derivative is ``local``."""
    return {} if style.edge_labels is None else {"label": f"local {format_number(local)}"}
