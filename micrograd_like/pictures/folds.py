"""What a picture can box or fold in a graph: neurons, layers, sums of products and constants.

Pictures (``viz.draw_dot``) ask this module which nodes belong together, so a network's neuron
can be drawn in a box or as one node, and a dot product ``q.k`` over 16 dimensions as one node
instead of 31. It only reads the graph; nothing here changes a number or imports graphviz.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from micrograd_like.engine import Value

ACTIVATION_OPS = ("relu", "tanh", "sigmoid")  # what nn's neurons apply after their weighted sum
LINEAR_OPS = ("linear", "linear_const")  # a neuron's weighted sum, one node
SUM_OPS = ("add", "sum")
FOLDS = ("sums", "neurons", "layers")
SHOWS = ("both", "data", "grad")  # what a picture's values show besides their names
MIN_VECTOR = 3  # a folded dot product of this many terms draws each leaf factor list as one node


@dataclass(frozen=True)
class NeuronGroup:
    """One neuron of a network: its weighted sum, its activation and the parameters only it uses."""

    name: str  # "L1.N3" from its parameters' labels, else "neuron 3"
    layer: str  # "L1", or "" when the labels do not say
    linear: Value
    output: Value  # the activation's result, or the weighted sum for a linear neuron
    parameters: tuple[Value, ...]
    inputs: tuple[Value, ...]  # the operands that are neither weights nor the bias
    shared: tuple[Value, ...] = ()  # weights or bias that other nodes use too: drawn outside

    @property
    def members(self) -> tuple[Value, ...]:
        """Every node the neuron's box holds."""
        inner = (self.linear,) if self.output is self.linear else (self.linear, self.output)
        return (*self.parameters, *inner)


@dataclass(frozen=True)
class LayerGroup:
    """Neurons that see the same inputs: one layer of a network."""

    name: str
    neurons: tuple[NeuronGroup, ...]

    @property
    def inputs(self) -> tuple[Value, ...]:
        return self.neurons[0].inputs


@dataclass(frozen=True)
class SumGroup:
    """A sum of products folded into one node: ``root`` and the nodes it hides.

    ``terms`` are the operands that stay visible, each with its local derivative d(root)/d(term)
    summed over its uses and how many uses that is (``sum_of([x] * 3)`` has one term, used 3 times).
    """

    root: Value
    hidden: tuple[Value, ...]
    terms: tuple[tuple[Value, float, int], ...]
    pairs: tuple[tuple[Value, Value], ...]  # the factors of each hidden product

    @property
    def products(self) -> int:
        return len(self.pairs)

    def vectors(self) -> list[tuple[Value, ...]]:
        """The factor sequences (``q``, ``k`` of ``q.k``) made of distinct leaves only, which a
        picture may draw as one node each; none when there are fewer than MIN_VECTOR products."""
        if len(self.pairs) < MIN_VECTOR:
            return []
        sides = [tuple(a for a, _ in self.pairs), tuple(b for _, b in self.pairs)]
        if set(sides[0]) & set(sides[1]):
            return []  # x . x: one leaf on both sides
        return [s for s in sides if len(set(s)) == len(s) and not any(v.parents for v in s)]


def consumers(order: Sequence[Value]) -> dict[Value, int]:
    """How many operand slots each node fills (``a + a`` counts a twice)."""
    counts = dict.fromkeys(order, 0)
    for node in order:
        for parent in node.parents:
            counts[parent] += 1
    return counts


def constant_leaves(order: Sequence[Value], kept: Iterable[Value]) -> frozenset[Value]:
    """The leaves drawn as plain numbers: those the engine made from a number in an expression
    (the 1 of ``y - 1``, ``Value.is_constant``), unless labelled or listed in ``kept``."""
    keep = set(kept)
    return frozenset(n for n in order if n.is_constant and not n.label and n not in keep)


def find_neurons(order: Sequence[Value]) -> list[NeuronGroup]:
    """Each weighted-sum node with its activation and its own parameters, in topological order."""
    uses = consumers(order)
    users: dict[Value, Value] = {}
    for node in order:
        for parent in node.parents:
            users[parent] = node
    neurons: list[NeuronGroup] = []
    for node in order:
        if node.op not in LINEAR_OPS:
            continue
        user = users.get(node)
        single = uses[node] == 1 and user is not None and user.op in ACTIVATION_OPS
        output = user if single and user is not None else node
        weights, inputs, bias = _operands(node)
        own = tuple(p for p in (*weights, bias) if not p.parents and uses[p] == 1)
        shared = tuple(p for p in (*weights, bias) if p not in own)
        name = _neuron_name(bias, weights, len(neurons) + 1)
        layer = name.split(".")[0] if name.count(".") == 1 else ""
        neurons.append(NeuronGroup(name, layer, node, output, own, inputs, shared))
    return neurons


def _operands(node: Value) -> tuple[tuple[Value, ...], tuple[Value, ...], Value]:
    """A weighted-sum node's weights, inputs and bias (linear_const's inputs are constants)."""
    parents = node.parents
    if node.op == "linear_const":
        n = len(node.constants)
        return parents[:n], (), parents[n]
    n = (len(parents) - 1) // 2
    return parents[:n], parents[n : 2 * n], parents[-1]


def _neuron_name(bias: Value, weights: Sequence[Value], number: int) -> str:
    """``L1.N3`` when the bias is labelled ``L1.N3.b`` (as nn labels it), else ``neuron 3``."""
    for label in (bias.label, *(w.label for w in weights[:1])):
        prefix, dot, _ = label.rpartition(".")
        if dot and prefix:
            return prefix
    return f"neuron {number}"


def find_layers(neurons: Sequence[NeuronGroup]) -> list[LayerGroup]:
    """Neurons grouped by the inputs they share (and their labels' layer, when they have one)."""
    groups: dict[tuple[object, ...], list[NeuronGroup]] = {}
    for neuron in neurons:
        seen = neuron.inputs or neuron.linear.constants
        key = (neuron.layer, *(id(x) if isinstance(x, Value) else x for x in seen))
        groups.setdefault(key, []).append(neuron)
    return [
        LayerGroup(members[0].layer or f"layer {k}", tuple(members))
        for k, members in enumerate(groups.values(), start=1)
    ]


def find_sums(order: Sequence[Value], keep: Iterable[Value] = ()) -> dict[Value, SumGroup]:
    """Each sum of products worth folding, by its root: the ``+``/``Σ`` and ``*`` nodes that only
    feed the sum are hidden, and so are repeated edges from one operand (merged, with a count).

    A node in ``keep`` (the output, a highlighted node) is never hidden.
    """
    uses = consumers(order)
    kept = set(keep)
    groups: dict[Value, SumGroup] = {}
    hidden: set[Value] = set()
    for root in reversed(order):
        if root.op not in SUM_OPS or root in hidden:
            continue
        group = _sum_group(root, uses, kept)
        if group.hidden or len(group.terms) < len(root.parents):
            groups[root] = group
            hidden.update(group.hidden)
    return groups


def _sum_group(root: Value, uses: Mapping[Value, int], kept: set[Value]) -> SumGroup:
    """Walk the sum's operands left to right (``q0*k0`` first, as written), absorbing the inner
    sums and products that feed only it."""
    hidden: list[Value] = []
    locals_: dict[Value, float] = {}
    counts: dict[Value, int] = {}
    pairs: list[tuple[Value, Value]] = []
    stack = list(reversed(root.parents))
    while stack:
        parent = stack.pop()
        inner = uses[parent] == 1 and parent not in kept
        if inner and parent.op in SUM_OPS:
            hidden.append(parent)
            stack.extend(reversed(parent.parents))
        elif inner and parent.op == "mul":
            hidden.append(parent)
            a, b = parent.parents
            pairs.append((a, b))
            _add_term(locals_, counts, a, b.data)
            _add_term(locals_, counts, b, a.data)
        else:
            _add_term(locals_, counts, parent, 1.0)
    terms = tuple((term, locals_[term], counts[term]) for term in counts)
    return SumGroup(root, tuple(hidden), terms, tuple(pairs))


def vector_name(values: Sequence[Value]) -> str:
    """``q0 … q15`` for labelled values, else ``16 values``."""
    first, last = values[0].label, values[-1].label
    return f"{first} … {last}" if first and last else f"{len(values)} values"


def _add_term(locals_: dict[Value, float], counts: dict[Value, int], term: Value, d: float) -> None:
    """One more use of ``term``: sums pass gradients through unchanged, a product multiplies."""
    locals_[term] = locals_.get(term, 0.0) + d
    counts[term] = counts.get(term, 0) + 1
