"""micrograd's peers run on micrograd_like: their code, in our words, against micrograd's numbers.

Each test runs code equivalent to one peer's (the same API calls and patterns, written here, not
copied) on our ``Value`` and ``nn``, and on micrograd 0.1.0 from the same weights, then compares
the numbers (exactly, or to 1e-12 where micrograd's set of parents reorders a sum) and the
pictures (Graphviz source with node ids replaced by what each node shows). The peers:

- micrograd's ``trace_graph.ipynb`` and ``demo.ipynb`` (github.com/karpathy/micrograd);
- EurekaLabs' ``micrograd.py`` with the ``trace``/``draw_dot`` of its ``utils.py``
  (github.com/EurekaLabsAI/micrograd);
- the Zero-to-Hero lecture's notebooks, ``lectures/micrograd/*.ipynb``
  (github.com/karpathy/nn-zero-to-hero).

The lecture and EurekaLabs define their own Value with ``label``, ``tanh``, ``exp`` and ``log``,
which micrograd 0.1.0 lacks; the reference for them is micrograd's Value with those added, each
written as the peers write it (fixture ``reference``). Where we differ on purpose (``-``, ``/``, a
neuron's weighted sum, ``print(model)``, ``repr``, parents as a tuple), the test asserts the
difference the README's table lists.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pytest
from graphviz import Digraph  # type: ignore[import-untyped]

from micrograd_like.data import make_moons
from micrograd_like.engine import Value
from micrograd_like.nn import MLP, Neuron
from micrograd_like.optable import op_named
from tests.test_nn import no_cycle_collector, require_micrograd  # noqa: F401 (a fixture)

Make = Callable[..., Any]  # a Value constructor: ours, or micrograd's with label= (see below)

# --- the peers' drawing code, in our words -----------------------------------------------------


def trace(root: Any) -> tuple[set[Any], set[tuple[Any, Any]]]:
    """micrograd's and the lecture's trace: every node and edge reachable through ``_prev``."""
    nodes: set[Any] = set()
    edges: set[tuple[Any, Any]] = set()

    def build(v: Any) -> None:
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR", labels: bool = False) -> Any:
    """trace_graph.ipynb's draw_dot; ``labels=True`` is the lecture's, with ``n.label`` shown.

    A record per value, and for a value made by an op an op node named ``str(id(n)) + n._op``,
    drawn only ``if n._op:``; each parent points at its child's op node.
    """
    assert rankdir in ["LR", "TB"]
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        uid = str(id(n))
        shown = "data %.4f | grad %.4f" % (n.data, n.grad)  # noqa: UP031 (as the peers write it)
        label = "{ %s | %s }" % (n.label, shown) if labels else "{ %s }" % shown  # noqa: UP031
        dot.node(name=uid, label=label, shape="record")
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def picture(dot: Any, nodes: Iterable[Any]) -> Counter[str]:
    """The DOT body with each node's id replaced by what it shows: equal pictures, equal counts.

    Ids are addresses, so two engines' sources differ in them only; op-node names keep their op
    suffix (``<id>+`` becomes ``[{ data 1.0000 | grad 0.0000 }]+``).
    """
    shown = {str(id(n)): line_label(dot, n) for n in nodes}
    return Counter(re.sub(r"\d{6,}", lambda m: shown.get(m[0], m[0]), line) for line in dot.body)


def line_label(dot: Any, n: Any) -> str:
    """The attributes of ``n``'s own node in ``dot`` (its label, shape, colour), as drawn."""
    start = f"\t{id(n)} ["
    for line in dot.body:
        if line.startswith(start):
            return str(line[len(start) - 1 :]).rstrip()
    raise AssertionError(f"no node for {n!r}")


def op_counts(root: Any) -> Counter[str]:
    """How many op nodes of each op string the picture of ``root`` has."""
    nodes, _ = trace(root)
    return Counter(n._op for n in nodes if n._op)


def leaf_data(root: Any) -> list[float]:
    """The data of the picture's leaves, sorted."""
    nodes, _ = trace(root)
    return sorted(float(n.data) for n in nodes if not n._op)


# --- micrograd as the reference, with the lecture's and EurekaLabs' extra ops -----------------


def reference_unary(cls: Any, op: str, forward: Callable[[float], float], slope: Make) -> Make:
    """A micrograd-style method for ``op``: a node whose ``_backward`` closure applies ``slope``."""

    def method(self: Any) -> Any:
        out = cls(forward(self.data), (self,), op)

        def _backward() -> None:
            self.grad += slope(out.data, self.data) * out.grad

        out._backward = _backward
        return out

    return method


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """micrograd's Value plus label, tanh, exp and log (the lecture's and EurekaLabs' Value).

    Returned as a constructor taking ``label=`` as theirs does; micrograd is restored afterwards.
    """
    require_micrograd()
    import micrograd.engine

    cls = micrograd.engine.Value
    monkeypatch.setattr(cls, "label", "", raising=False)
    extra: list[tuple[str, Callable[[float], float], Make]] = [
        ("tanh", math.tanh, lambda out, x: 1 - out**2),  # d tanh(x)/dx = 1 - tanh(x)**2
        ("exp", math.exp, lambda out, x: out),  # d e**x/dx = e**x
        ("log", math.log, lambda out, x: 1 / x),  # d log(x)/dx = 1/x
    ]
    for name, forward, slope in extra:
        monkeypatch.setattr(cls, name, reference_unary(cls, name, forward, slope), raising=False)

    def make(data: float, label: str = "") -> Any:
        v = cls(data)
        v.label = label
        return v

    yield make


def micrograd_seeded(seed: int, build: Callable[[], Any]) -> Any:
    """``build()`` after ``random.seed(seed)``, as the notebooks seed micrograd; state restored."""
    saved = random.getstate()
    try:
        random.seed(seed)
        return build()
    finally:
        random.setstate(saved)


def close(ours: Iterable[float], theirs: Iterable[float]) -> bool:
    """Equal to 1e-12: micrograd's set of parents may reorder a sum and change its last bit."""
    pairs = list(zip(ours, theirs, strict=True))
    return all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in pairs)


# --- _op and _prev as micrograd's code uses them --------------------------------------------


def shared_expressions(make: Make) -> dict[str, Any]:
    """One node per op that micrograd has, made the ways micrograd code makes them."""
    a, b = make(-4.0), make(2.0)
    return {
        "leaf": a,
        "a + b": a + b,
        "a * b": a * b,
        "2 + a": 2 + a,
        "2 * a": 2 * a,
        "a ** 2": a**2,
        "a ** 3": a**3,
        "b ** 0.5": b**0.5,
        "a ** -1": a**-1,
        "a.relu()": a.relu(),
    }


def test_op_is_micrograds_string_for_every_op_micrograd_has(reference: Make) -> None:
    ours = shared_expressions(Value)
    theirs = shared_expressions(reference)
    for key, node in ours.items():
        assert isinstance(node._op, str), (key, node._op)
        assert node._op == theirs[key]._op, key
        assert node.data == theirs[key].data, key


def test_op_is_the_peers_string_for_tanh_exp_log_and_ours_for_the_rest() -> None:
    x: Any = Value(0.5)  # Any, as peer code has no types
    assert [x.tanh()._op, x.exp()._op, x.log()._op] == ["tanh", "exp", "log"]
    # micrograd makes -x and x / y from * and **; ours are single nodes with their own symbols
    assert [(-x)._op, (x / 2)._op] == ["-", "/"]
    leaf: Any = Value(1.0)
    assert leaf._op == ""  # `if n._op:` skips leaves


def test_prev_iterates_like_micrograds_set_of_parents(reference: Make) -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert type(c._prev) is tuple and c._prev == (a, b)
    assert set(c._prev) == {a, b} and a in c._prev and [p for p in c._prev] == [a, b]
    assert not Value(1.0)._prev and list(Value(1.0)._prev) == []
    # a + a: micrograd's set keeps one parent, our tuple two; a trace into sets draws one edge
    doubled = a + a
    assert doubled._prev == (a, a) and set(doubled._prev) == {a}
    ra = reference(2.0)
    assert len(list((ra + ra)._prev)) == 1
    assert len(trace(doubled)[1]) == len(trace(ra + ra)[1]) == 1


def test_op_entry_is_the_op_tables_entry() -> None:
    a, b = Value(2.0), Value(3.0)
    assert (a * b).op_entry is op_named("mul") and (a + b).op_entry is op_named("add")
    assert Value(1.0).op_entry.name == "" and (a * b).op == "mul"


DERIVED: dict[str, tuple[Callable[[Any, Any], Any], dict[str, int], dict[str, int]]] = {
    # expression: (how it is written, micrograd's op nodes, ours)
    "-a": (lambda a, b: -a, {"*": 1}, {"-": 1}),  # micrograd: a * -1
    "a - b": (lambda a, b: a - b, {"+": 1, "*": 1}, {"+": 1, "-": 1}),  # micrograd: a + b * -1
    "a - 2": (lambda a, b: a - 2, {"+": 1}, {"+": 1}),  # both a + -2
    "2 - a": (lambda a, b: 2 - a, {"+": 1, "*": 1}, {"+": 1, "-": 1}),  # micrograd: a * -1 + 2
    "a / b": (lambda a, b: a / b, {"*": 1, "**-1": 1}, {"/": 1}),  # micrograd: a * b**-1
    "a / 2": (lambda a, b: a / 2, {"*": 1}, {"/": 1}),  # micrograd: a * 0.5
    "2 / a": (lambda a, b: 2 / a, {"*": 1, "**-1": 1}, {"/": 1}),  # micrograd: a**-1 * 2
    "a**2 - b": (lambda a, b: a**2 - b, {"**2": 1, "+": 1, "*": 1}, {"**2": 1, "+": 1, "-": 1}),
}


def test_derived_ops_draw_the_documented_nodes_with_micrograds_numbers(reference: Make) -> None:
    def build(make: Make, write: Callable[[Any, Any], Any]) -> tuple[Any, Any, Any]:
        a, b = make(3.0), make(-2.0)
        out = write(a, b)
        out.backward()
        return out, a, b

    for text, (write, micrograd_ops, our_ops) in DERIVED.items():
        ours, a, b = build(Value, write)
        theirs, ta, tb = build(reference, write)
        assert op_counts(theirs) == Counter(micrograd_ops), text
        assert op_counts(ours) == Counter(our_ops), text
        assert close([ours.data, a.grad, b.grad], [theirs.data, ta.grad, tb.grad]), text
    halved = DERIVED["a / 2"][0]
    assert leaf_data(build(Value, halved)[0]) == [2.0, 3.0]  # micrograd's leaves: 0.5 and 3
    assert leaf_data(build(reference, halved)[0]) == [0.5, 3.0]


# --- micrograd's trace_graph.ipynb ----------------------------------------------------------


def test_trace_graph_simple_example_draws_micrograds_picture(reference: Make) -> None:
    def example(make: Make) -> tuple[Any, Any]:
        x = make(1.0)
        y = (x * 2 + 1).relu()
        y.backward()
        return y, draw_dot(y)

    ours, our_dot = example(Value)
    theirs, their_dot = example(reference)
    assert picture(our_dot, trace(ours)[0]) == picture(their_dot, trace(theirs)[0])
    assert op_counts(ours) == Counter({"*": 1, "+": 1, "ReLU": 1})
    assert "label=ReLU" in our_dot.source and "rankdir=LR" in our_dot.source


def test_trace_graph_neuron_gives_micrograds_numbers_in_one_linear_node(reference: Make) -> None:
    import micrograd.nn

    theirs = micrograd_seeded(1337, lambda: micrograd.nn.Neuron(2))  # the notebook's seed
    ours = Neuron(2, rng=random.Random(1337))  # the same weights, drawn from rng=
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    x, tx = [Value(1.0), Value(-2.0)], [reference(1.0), reference(-2.0)]
    y, ty = ours(x), theirs(tx)
    y.backward()
    ty.backward()
    dot = draw_dot(y)
    assert y.data == ty.data
    our_grads = [p.grad for p in [*ours.parameters(), *x]]
    assert close(our_grads, [p.grad for p in [*theirs.parameters(), *tx]])
    # Deliberate: the weighted sum is one `linear` node; micrograd draws 2 `*` and 2 `+` nodes.
    assert op_counts(ty) == Counter({"*": 2, "+": 2, "ReLU": 1})
    assert op_counts(y) == Counter({"linear": 1, "ReLU": 1})
    # edges: w1 w2 x1 x2 b into linear, linear's value into ReLU, and each op node to its value
    assert dot.source.count(" -> ") == 5 + 1 + 2
    assert draw_dot(ty).source.count(" -> ") == 9 + 5  # micrograd: 9 into op nodes, 5 op nodes


# --- micrograd's demo.ipynb -----------------------------------------------------------------


def demo_moons() -> tuple[Any, Any]:
    """100 two-moons points as numpy arrays, labels -1 and 1 via ``y*2 - 1`` as the demo makes them.

    The demo takes them from sklearn's make_moons; ours labels the upper moon as sklearn's 0.
    """
    points, labels = make_moons(100, noise=0.1, rng=1)
    X = np.array(points)
    y = np.array([(label + 1) // 2 for label in labels])
    return X, y * 2 - 1


def demo_loss(value: Make, model: Any, X: Any, y: Any) -> tuple[Any, float]:
    """The demo's loss(): svm max-margin loss plus L2, and the accuracy, on the whole batch."""
    inputs = [list(map(value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]  # noqa: B905
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]  # noqa: B905
    return total_loss, sum(accuracy) / len(accuracy)


def demo_train(value: Make, model: Any, X: Any, y: Any, steps: int) -> list[Any]:
    """The demo's optimization loop (SGD with a decaying rate); each step's loss, acc and grads."""
    history = []
    for k in range(steps):
        total_loss, acc = demo_loss(value, model, X, y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        grads = [p.grad for p in model.parameters()]
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc, grads))
    return history


def demo_boundary(value: Make, model: Any, X: Any) -> Any:
    """The demo's decision-boundary grid: which side of 0 the score falls at each mesh point."""
    h = 0.25
    x_min, x_max = X[:, 0].min() - 1, X[:, 0].max() + 1
    y_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Xmesh = np.c_[xx.ravel(), yy.ravel()]
    inputs = [list(map(value, xrow)) for xrow in Xmesh]
    scores = list(map(model, inputs))
    return np.array([s.data > 0 for s in scores]).reshape(xx.shape)


@pytest.mark.usefixtures("no_cycle_collector")
def test_demo_trains_on_moons_with_micrograds_numbers() -> None:
    require_micrograd()
    import micrograd.engine
    import micrograd.nn

    theirs = micrograd_seeded(1337, lambda: micrograd.nn.MLP(2, [16, 16, 1]))  # the demo's seed
    ours = MLP(2, [16, 16, 1], rng=random.Random(1337))  # the demo's weights, from rng=
    assert len(ours.parameters()) == len(theirs.parameters()) == 337
    X, y = demo_moons()
    first, acc = demo_loss(Value, ours, X, y)
    their_first, their_acc = demo_loss(micrograd.engine.Value, theirs, X, y)
    assert (first.data, acc) == (their_first.data, their_acc)
    # print(total_loss, acc): both start `Value(data=<the number>, grad=`; ours then says the op
    assert repr(first).startswith(f"Value(data={first.data!r}, grad=")
    assert repr(their_first).startswith(f"Value(data={first.data!r}, grad=")
    mine = demo_train(Value, ours, X, y, steps=3)
    reference = demo_train(micrograd.engine.Value, theirs, X, y, steps=3)
    for k, ((loss, accuracy, grads), (their_loss, their_accuracy, their_grads)) in enumerate(
        zip(mine, reference, strict=True)
    ):
        assert accuracy == their_accuracy, k
        assert close([loss, *grads], [their_loss, *their_grads]), k
    assert close([p.data for p in ours.parameters()], [p.data for p in theirs.parameters()])
    our_grid = demo_boundary(Value, ours, X)
    assert (our_grid == demo_boundary(micrograd.engine.Value, theirs, X)).all()
    assert 0 < our_grid.sum() < our_grid.size


def test_demo_print_model_is_our_summary_with_micrograds_neuron_names() -> None:
    require_micrograd()
    import micrograd.nn

    theirs = micrograd_seeded(1337, lambda: micrograd.nn.MLP(2, [16, 16, 1]))
    ours = MLP(2, [16, 16, 1], rng=random.Random(1337))
    # Deliberate: print(model) is a short summary; micrograd prints every neuron on one line.
    assert str(theirs).startswith("MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2),")
    assert str(ours).splitlines() == [
        "MLP(2 -> 16 -> 16 -> 1, 337 parameters)(",
        "  Layer(2 -> 16, relu)",
        "  Layer(16 -> 16, relu)",
        "  Layer(16 -> 1, linear)",
        ")",
    ]
    # a neuron prints as micrograd's does
    our_neurons = [str(n) for layer in ours.layers for n in layer.neurons]
    assert our_neurons == [str(n) for layer in theirs.layers for n in layer.neurons]


# --- EurekaLabs' micrograd.py and utils.py --------------------------------------------------


def vis_color(nodes: Iterable[Any], color: str) -> None:
    """EurekaLabs' vis_color: an attribute of our own on each node, read by draw_dot."""
    for n in nodes:
        n._vis_color = color


def trace_in_lists(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """EurekaLabs' trace: lists, so membership tests use ``==`` (identity for a Value)."""
    nodes: list[Any] = []
    edges: list[tuple[Any, Any]] = []

    def build(v: Any) -> None:
        if v not in nodes:
            nodes.append(v)
            for child in v._prev:
                if (child, v) not in edges:
                    edges.append((child, v))
                build(child)

    build(root)
    return nodes, edges


def eureka_draw_dot(root: Any) -> tuple[Any, str]:
    """EurekaLabs' draw_dot, without rendering: boxes coloured by ``_vis_color``, op nodes."""
    nodes, edges = trace_in_lists(root)
    dot = Digraph(format="svg", graph_attr={"rankdir": "LR", "nodesep": "0.1", "ranksep": "0.4"})
    for n in nodes:
        fill = n._vis_color if hasattr(n, "_vis_color") else "white"
        shown = "data: %.4f\ngrad: %.4f" % (n.data, n.grad)  # noqa: UP031 (as theirs)
        dot.node(name=str(id(n)), label=shown, shape="box", style="filled", fillcolor=fill)
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)), minlen="1")
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op, minlen="1")
    return dot, f"found a total of {len(nodes)} nodes and {len(edges)} edges"


class EurekaNeuron:
    """EurekaLabs' neuron: weights scaled by nin**-0.5, bias 0, tanh unless linear."""

    def __init__(self, value: Make, nin: int, draw: Make, nonlin: bool = True) -> None:
        self.w = [value(draw(-1, 1) * nin**-0.5) for _ in range(nin)]
        self.b = value(0)
        self.nonlin = nonlin
        vis_color([self.b, *self.w], "lightgreen")

    def __call__(self, x: Any) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)  # noqa: B905
        return act.tanh() if self.nonlin else act

    def parameters(self) -> list[Any]:
        return [*self.w, self.b]


class EurekaMLP:
    """EurekaLabs' MLP: layers of neurons, each layer a list (never a bare Value), last linear."""

    def __init__(self, value: Make, nin: int, nouts: list[int], draw: Make) -> None:
        sz = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            [EurekaNeuron(value, sz[i], draw, nonlin=i != last) for _ in range(sz[i + 1])]
            for i in range(len(nouts))
        ]

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = [n(x) for n in layer]
        return x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def cross_entropy(logits: list[Any], target: int) -> Any:
    """EurekaLabs' loss: exp, sum, divide, log at the target, negate (no max shift)."""
    ex = [x.exp() for x in logits]
    denom = sum(ex)
    probs = [x / denom for x in ex]
    logp = (probs[target]).log()
    return -logp


class AdamW:
    """EurekaLabs' AdamW: moments kept as attributes ``p.m`` and ``p.v`` on each parameter."""

    def __init__(self, parameters: list[Any], lr: float, weight_decay: float) -> None:
        self.parameters = parameters
        self.lr, self.beta1, self.beta2, self.weight_decay = lr, 0.9, 0.95, weight_decay
        self.t = 0
        for p in self.parameters:
            p.m = 0
            p.v = 0

    def step(self) -> None:
        self.t += 1
        for p in self.parameters:
            if p.grad is None:
                continue
            p.m = self.beta1 * p.m + (1 - self.beta1) * p.grad
            p.v = self.beta2 * p.v + (1 - self.beta2) * (p.grad**2)
            m_hat = p.m / (1 - self.beta1**self.t)
            v_hat = p.v / (1 - self.beta2**self.t)
            p.data -= self.lr * (m_hat / (v_hat**0.5 + 1e-8) + self.weight_decay * p.data)

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = 0


def loss_fun(value: Make, model: Any, split: list[Any]) -> Any:
    """EurekaLabs' mean cross-entropy over a split, summed from ``Value(0.0)``."""
    total_loss = value(0.0)
    for x, y in split:
        total_loss = total_loss + cross_entropy(model(x), y)
    return total_loss * (1.0 / len(split))


def three_classes(count: int) -> list[Any]:
    """Points in [-2, 2]^2 with the class of their angle's third: ``[[x, y], c]`` as theirs."""
    rng = random.Random(42)
    points = []
    for _ in range(count):
        x, y = rng.uniform(-2, 2), rng.uniform(-2, 2)
        points.append([[x, y], int((math.atan2(y, x) + math.pi) / (2 * math.pi / 3)) % 3])
    return points


def eureka_train(value: Make, model: Any, steps: int) -> list[float]:
    """EurekaLabs' training loop (validation every 10 steps); the losses it prints."""
    data = three_classes(30)
    train_split, val_split = data[:24], data[24:]
    optimizer = AdamW(model.parameters(), lr=1e-1, weight_decay=1e-4)
    printed = []
    for step in range(steps):
        if step % 10 == 0:
            printed.append(loss_fun(value, model, val_split).data)
        loss = loss_fun(value, model, train_split)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        printed.append(loss.data)
    return printed


def eureka_model(value: Make) -> EurekaMLP:
    """EurekaLabs' model, MLP(2, [8, 3]), its weights drawn from a seeded Random."""
    return EurekaMLP(value, 2, [8, 3], random.Random(7).uniform)


def test_eurekalabs_training_on_our_value_and_nn_gives_the_reference_numbers(
    reference: Make,
) -> None:
    ours, theirs = eureka_model(Value), eureka_model(reference)
    # our nn, with EurekaLabs' weights: tanh hidden layer, linear output layer
    our_nn = MLP(2, [8, 3], activation="tanh", rng=random.Random(0))
    for p, weight in zip(our_nn.parameters(), ours.parameters(), strict=True):
        p.data = weight.data
    their_losses = eureka_train(reference, theirs, steps=12)
    assert eureka_train(Value, ours, steps=12) == pytest.approx(their_losses, rel=1e-12)
    assert eureka_train(Value, our_nn, steps=12) == pytest.approx(their_losses, rel=1e-12)
    final = [p.data for p in theirs.parameters()]
    assert close([p.data for p in ours.parameters()], final)
    assert close([p.data for p in our_nn.parameters()], final)
    assert all(p.m != 0 and p.v != 0 for p in ours.parameters())  # attributes of our own


def test_eurekalabs_draw_dot_at_the_origin_counts_our_div_and_neg_nodes(reference: Make) -> None:
    def at_origin(value: Make) -> Any:
        model = eureka_model(value)
        x, y = (value(0.0), value(0.0)), 0
        loss = loss_fun(value, model, [(x, y)])
        loss.backward()
        vis_color(x, "lightblue")
        return loss

    loss, their_loss = at_origin(Value), at_origin(reference)
    assert close([loss.data], [their_loss.data])

    def logits(root: Any) -> list[Any]:  # each exp node's operand
        return [next(iter(n._prev)) for n in trace(root)[0] if n._op == "exp"]

    # the network up to its logits has the same structure: the same pictures, colours included
    def network(root: Any) -> Counter[str]:
        drawn = [(eureka_draw_dot(logit)[0], trace(logit)[0]) for logit in logits(root)]
        assert len(drawn) == 3 and "fillcolor=lightblue" in drawn[0][0].source
        return sum((picture(dot, nodes) for dot, nodes in drawn), Counter())

    assert network(loss) == network(their_loss)
    ops, their_ops = op_counts(loss), op_counts(their_loss)
    # Deliberate: x / denom is one `/` node (micrograd: `*` and `**-1`), -logp one `-` node
    # (micrograd: `*` with a -1.0 leaf); the loss has 1 of each (only probs[target] is used).
    assert ops["/"] == their_ops["**-1"] == 1 and ops["-"] == 1
    assert ops["*"] == their_ops["*"] - 1 - 1
    assert {k: v for k, v in ops.items() if k not in ("*", "/", "-")} == {
        k: v for k, v in their_ops.items() if k not in ("*", "**-1")
    }
    nodes, edges = (len(part) for part in trace(loss))
    assert eureka_draw_dot(loss)[1] == f"found a total of {nodes} nodes and {edges} edges"
    # micrograd: per division one more node (b**-1) and edge, per negation a -1.0 leaf and edge
    assert eureka_draw_dot(their_loss)[1] == (
        f"found a total of {nodes + 1 + 1} nodes and {edges + 1 + 1} edges"
    )


# --- the Zero-to-Hero lecture's notebooks ---------------------------------------------------


def lecture_expression(make: Make) -> dict[str, Any]:
    """The lecture's first expression, every node labelled: L = (a*b + c) * f."""
    a = make(2.0, label="a")
    b = make(-3.0, label="b")
    c = make(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = make(-2.0, label="f")
    L = d * f
    L.label = "L"
    return {"a": a, "b": b, "c": c, "e": e, "d": d, "f": f, "L": L}


def lecture_nudge(make: Make) -> float:
    """Backward, then a step of 0.01 along each leaf's gradient, and the graph built again."""
    v = lecture_expression(make)
    v["L"].backward()
    a, b, c, f = v["a"], v["b"], v["c"], v["f"]
    a.data += 0.01 * a.grad
    b.data += 0.01 * b.grad
    c.data += 0.01 * c.grad
    f.data += 0.01 * f.grad
    e = a * b
    d = e + c
    L = d * f
    return float(L.data)


def lecture_slope(make: Make) -> float:
    """The lecture's lol(): dL/db by a forward difference, with ``b.data += h`` before use."""
    h = 0.001
    L1 = lecture_expression(make)["L"].data
    a, b, c = make(2.0, label="a"), make(-3.0, label="b"), make(10.0, label="c")
    b.data += h
    L2 = ((a * b + c) * make(-2.0, label="f")).data
    return float((L2 - L1) / h)


def test_lecture_expression_gives_the_lectures_numbers_and_picture(reference: Make) -> None:
    ours, theirs = lecture_expression(Value), lecture_expression(reference)
    assert ours["L"].data == theirs["L"].data == -8.0
    our_dot = draw_dot(ours["L"], labels=True)
    their_dot = draw_dot(theirs["L"], labels=True)
    assert picture(our_dot, trace(ours["L"])[0]) == picture(their_dot, trace(theirs["L"])[0])
    assert "{ a | data 2.0000 | grad 0.0000 }" in our_dot.source
    # the numbers the lecture prints
    assert lecture_nudge(Value) == lecture_nudge(reference) == -7.286496
    assert lecture_slope(Value) == lecture_slope(reference) == -3.9999999999995595


def lecture_neuron(make: Make) -> dict[str, Any]:
    """The lecture's neuron o = tanh(x1*w1 + x2*w2 + b), every node labelled."""
    x1 = make(2.0, label="x1")
    x2 = make(0.0, label="x2")
    w1 = make(-3.0, label="w1")
    w2 = make(1.0, label="w2")
    b = make(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def build_topo(root: Any) -> list[Any]:
    """The lecture's topological sort, by recursion over ``_prev`` (fine for small graphs)."""
    topo: list[Any] = []
    visited: set[Any] = set()

    def visit(v: Any) -> None:
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                visit(child)
            topo.append(v)

    visit(root)
    return topo


LEAVES = ["x1", "x2", "w1", "w2", "b"]


def test_lecture_neuron_backward_and_picture_are_the_lectures(reference: Make) -> None:
    ours, theirs = lecture_neuron(Value), lecture_neuron(reference)
    ours["o"].backward()
    theirs["o"].backward()
    grads = [ours[k].grad for k in LEAVES]
    assert close([ours["o"].data, *grads], [theirs["o"].data, *(theirs[k].grad for k in LEAVES)])
    # the numbers the lecture works out: o = 0.7071, do/dn = 0.5, then each leaf by hand
    assert close([ours["o"].data], [0.7071067811865476])  # the lecture's tanh, from exp
    assert close(grads, [-1.5, 0.5, 1.0, 0.0, 0.5])
    our_dot, their_dot = draw_dot(ours["o"], labels=True), draw_dot(theirs["o"], labels=True)
    assert picture(our_dot, trace(ours["o"])[0]) == picture(their_dot, trace(theirs["o"])[0])
    topo = build_topo(ours["o"])
    assert sorted(v.data for v in topo) == sorted(v.data for v in build_topo(theirs["o"]))
    assert all(topo.index(p) < topo.index(v) for v in topo for p in v._prev)


def test_lecture_manual_backprop_by_grad_assignment_matches_backward(reference: Make) -> None:
    def by_hand(make: Make) -> dict[str, Any]:
        v = lecture_neuron(make)
        v["o"].grad = 1.0
        v["n"].grad = 1 - v["o"].data ** 2  # do/dn = 1 - o**2
        v["x1w1x2w2"].grad = v["b"].grad = v["n"].grad  # + passes the gradient on
        v["x1w1"].grad = v["x2w2"].grad = v["x1w1x2w2"].grad
        v["x1"].grad = v["w1"].data * v["x1w1"].grad
        v["w1"].grad = v["x1"].data * v["x1w1"].grad
        v["x2"].grad = v["w2"].data * v["x2w2"].grad
        v["w2"].grad = v["x2"].data * v["x2w2"].grad
        return v

    ours, theirs = by_hand(Value), by_hand(reference)
    automatic = lecture_neuron(Value)
    automatic["o"].backward()
    for key in ours:
        assert close([ours[key].grad], [automatic[key].grad]), key
        assert close([ours[key].grad], [theirs[key].grad]), key
    our_dot, their_dot = draw_dot(ours["o"], labels=True), draw_dot(theirs["o"], labels=True)
    assert picture(our_dot, trace(ours["o"])[0]) == picture(their_dot, trace(theirs["o"])[0])


def test_op_of_a_float_exponent_is_written_as_pictures_show_it_a_documented_difference(
    reference: Make,
) -> None:
    # micrograd writes f'**{other}', so 2.0 shows as '**2.0'; ours keeps k as a float and shows
    # a whole k without its '.0', as our pictures do (the README's differences table says so)
    assert (reference(3.0) ** 2.0)._op == "**2.0"
    assert (Value(3.0) ** 2.0)._op == "**2" == (Value(3.0) ** 2)._op
    assert (Value(3.0) ** 0.5)._op == "**0.5" == (reference(3.0) ** 0.5)._op


def test_lecture_backward_closures_called_one_by_one(reference: Make) -> None:
    def node_by_node(make: Make) -> dict[str, Any]:
        v = lecture_neuron(make)
        v["o"].grad = 1.0
        for key in ["o", "n", "b", "x1w1x2w2", "x2w2", "x1w1"]:  # the lecture's order
            v[key]._backward()
        return v

    theirs = node_by_node(reference)
    ours = node_by_node(Value)
    assert close([ours[k].grad for k in LEAVES], [theirs[k].grad for k in LEAVES])


def test_lecture_a_plus_a_draws_micrograds_picture_and_doubles_the_gradient(
    reference: Make,
) -> None:
    def doubled(make: Make) -> tuple[Any, Any]:
        a = make(3.0, label="a")
        b = a + a
        b.label = "b"
        b.backward()
        return a, b

    (a, b), (ta, tb) = doubled(Value), doubled(reference)
    assert a.grad == ta.grad == 2.0
    assert picture(draw_dot(b, labels=True), [a, b]) == picture(draw_dot(tb, labels=True), [ta, tb])
    assert b._prev == (a, a)  # Deliberate: two parents in order; micrograd's set has one


def test_lecture_diamond_gives_micrograds_gradients_and_picture(reference: Make) -> None:
    def diamond(make: Make) -> tuple[Any, Any, Any]:
        a = make(-2.0, label="a")
        b = make(3.0, label="b")
        d = a * b
        d.label = "d"
        e = a + b
        e.label = "e"
        f = d * e
        f.label = "f"
        f.backward()
        return a, b, f

    (a, b, f), (ta, tb, tf) = diamond(Value), diamond(reference)
    assert (f.data, a.grad, b.grad) == (tf.data, ta.grad, tb.grad) == (-6.0, -3.0, -8.0)
    our_dot, their_dot = draw_dot(f, labels=True), draw_dot(tf, labels=True)
    assert picture(our_dot, trace(f)[0]) == picture(their_dot, trace(tf)[0])


def test_lecture_tanh_from_exp_draws_one_div_node_where_micrograd_draws_two(
    reference: Make,
) -> None:
    def from_exp(make: Make) -> dict[str, Any]:
        v = lecture_neuron(make)
        e = (2 * v["n"]).exp()
        o = (e - 1) / (e + 1)
        o.label = "o"
        o.backward()
        v["o"] = o
        return v

    ours, theirs = from_exp(Value), from_exp(reference)
    mine = [ours["o"].data, *(ours[k].grad for k in LEAVES)]
    assert close(mine, [theirs["o"].data, *(theirs[k].grad for k in LEAVES)])
    assert close(mine, [0.7071067811865476, -1.5, 0.5, 1.0, 0.0, 0.5])  # as tanh gives
    # Deliberate: (e - 1) / (e + 1) is one `/` node; micrograd draws `**-1` and another `*`
    assert op_counts(theirs["o"]) == Counter({"*": 4, "+": 4, "exp": 1, "**-1": 1})
    assert op_counts(ours["o"]) == Counter({"*": 3, "+": 4, "exp": 1, "/": 1})
    draw_dot(ours["o"], labels=True)  # every node has a label, made ones ""


class LectureNeuron:
    """The lecture's neuron: random weights and bias, tanh of ``sum(w*x, b)``."""

    def __init__(self, make: Make, nin: int, draw: Make) -> None:
        self.w = [make(draw(-1, 1)) for _ in range(nin)]
        self.b = make(draw(-1, 1))

    def __call__(self, x: Any) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)  # noqa: B905
        return act.tanh()

    def parameters(self) -> list[Any]:
        return [*self.w, self.b]


class LectureMLP:
    """The lecture's MLP: tanh layers; a layer of one neuron gives that neuron's Value."""

    def __init__(self, make: Make, nin: int, nouts: list[int], draw: Make) -> None:
        sz = [nin, *nouts]
        self.layers = [
            [LectureNeuron(make, sz[i], draw) for _ in range(sz[i + 1])] for i in range(len(nouts))
        ]

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            outs = [n(x) for n in layer]
            x = outs[0] if len(outs) == 1 else outs
        return x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def lecture_training(n: Any, steps: int) -> list[float]:
    """The lecture's loop: squared error on four points, grads zeroed by hand, step -0.1."""
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    printed = []
    for _ in range(steps):
        ypred = [n(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))  # noqa: B905
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.1 * p.grad
        printed.append(loss.data)
    return printed


def test_lecture_mlp_training_gives_micrograds_losses(reference: Make) -> None:
    lecture_on_ours = LectureMLP(Value, 3, [4, 4, 1], random.Random(5).uniform)
    lecture_on_theirs = LectureMLP(reference, 3, [4, 4, 1], random.Random(5).uniform)
    # our nn with the lecture's weights: tanh on every layer, output too
    our_nn = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", rng=random.Random(0))
    for p, weight in zip(our_nn.parameters(), lecture_on_ours.parameters(), strict=True):
        p.data = weight.data
    first = our_nn([2.0, 3.0, -1.0])
    assert isinstance(first, Value)  # a last layer of one neuron gives its Value, as theirs
    assert close([first.data], [lecture_on_theirs([2.0, 3.0, -1.0]).data])
    their_losses = lecture_training(lecture_on_theirs, steps=20)
    assert their_losses[-1] < their_losses[0]
    assert close(lecture_training(lecture_on_ours, steps=20), their_losses)
    assert close(lecture_training(our_nn, steps=20), their_losses)
    assert op_counts(lecture_on_ours([2.0, 3.0, -1.0]))["tanh"] == 9
