"""Value and Python's protocols: numbers, attributes, weak references, pickle, copy and help().

A Value acts like the number it holds where that is safe (float(), format(), round(), abs(),
comparisons, max/min/sorted) and is an ordinary object otherwise: ``==`` and ``hash`` are identity,
users hang attributes on it, weak references work, and graphs and models survive pickle and
copy.deepcopy, in this process or another, however deep.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import pickle
import pydoc
import random
import re
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from micrograd_like.engine import (
    StaleGraphError,
    Value,
    linear,
    no_grad,
    sum_of,
    topological_order,
)
from micrograd_like.losses import hinge_loss
from micrograd_like.nn import MLP
from micrograd_like.ops import custom_op
from micrograd_like.optable import all_ops

ROOT = Path(__file__).resolve().parent.parent


def cube_local(out: Any, x: Any) -> tuple[Any, ...]:
    # d x**3/dx = 3 x**2
    return (3 * x * x,)


@custom_op(cube_local)
def protocols_cube(x: float) -> float:
    """x**3, a custom op declared at module level: a pickle finds it by its name."""
    return x * x * x


# --- 1. a Value acts like the number it holds, where that is safe ------------------------------


def test_float_item_and_round_read_the_data() -> None:
    v = Value(2.675, "v")
    assert float(v) == 2.675 and type(float(v)) is float
    assert v.item() == 2.675 and type(v.item()) is float
    assert round(Value(2.5)) == 2 and type(round(Value(2.5))) is int  # banker's rounding, as float
    assert round(Value(3.7)) == 4
    assert round(v, 2) == round(2.675, 2) and type(round(v, 2)) is float
    assert round(Value(-1.23456), 3) == -1.235


def test_format_with_a_spec_formats_the_number_and_without_one_shows_the_node() -> None:
    v = Value(3.14159, "pi")
    assert format(v, ".4f") == "3.1416"
    assert f"{v:.2f}" == "3.14"
    assert f"{v:>8.1f}" == "     3.1"
    assert f"{v:e}" == "3.141590e+00"
    assert f"{v}" == repr(v) == "Value(data=3.14159, grad=0.0, label='pi')"  # not "3.14159"
    assert format(v) == str(v) == repr(v)


def test_abs_is_a_node_whose_gradient_is_the_sign() -> None:
    for data, slope in ((-2.5, -1.0), (4.0, 1.0), (0.0, 0.0)):
        x = Value(data)
        y = abs(x)
        assert isinstance(y, Value) and y is not x
        assert y.op == "abs" and y.parents == (x,) and y.data == abs(data)
        (y * 3).backward()
        assert x.grad == 3 * slope, data


def test_unary_plus_is_the_value_itself() -> None:
    x = Value(-1.5)
    assert +x is x  # as for floats: no node, so no extra step in pictures and backward
    (+x * 2).backward()
    assert x.grad == 2.0


def test_comparisons_read_data_and_return_bools() -> None:
    a, b = Value(1.0), Value(2.0)
    reflected = [3 > a, 0.5 < a]  # noqa: SIM300 - a number on the left asks the Value
    results = [a < b, a <= b, a > b, a >= b, a < 1.5, a <= 1, a > 0, a >= 2, *reflected]
    assert results == [True, True, False, False, True, True, True, False, True, True]
    assert all(type(r) is bool for r in results)  # not Values: `if a < b:` branches on numbers
    assert not a < Value(1.0) and a <= Value(1.0) and a >= Value(1.0)


def test_max_min_and_sorted_pick_values_and_gradients_flow_to_the_one_picked() -> None:
    a, b, c = Value(1.0, "a"), Value(3.0, "b"), Value(2.0, "c")
    assert max(a, b, c) is b and min(a, b, c) is a
    assert sorted([b, c, a]) == [a, c, b]  # == is identity here: the very same objects
    assert max([a, b, c], key=abs) is b  # key= works too: abs(Value) compares as Values
    picked = max(a, b) * 10 + min(b, c) * 100
    picked.backward()
    assert (a.grad, b.grad, c.grad) == (0.0, 10.0, 100.0)  # nothing flows to what was not picked


def test_equality_and_hash_are_identity_because_graphs_are_sets_and_dicts_of_nodes() -> None:
    # topological_order keeps a set of seen nodes and backward a dict node -> gradient. If == and
    # hash went by data, two different leaves holding 3.0 would be one key: one would take both
    # gradients and the other none. So == is `is`, as for any object, and a != b for equal data.
    a, b = Value(3.0), Value(3.0)
    assert a == a and a != b and (a == b) is False
    assert Value(1.0) != Value(1.0)
    three: Any = 3.0
    assert (a == three) is False and a != three  # compare numbers with a.data == 3.0
    assert len({a, b}) == 2 and hash(a) != hash(b)
    assert {a: "a", b: "b"}[b] == "b"
    out = a * b
    assert len(topological_order(out)) == 3
    out.backward()
    assert (a.grad, b.grad) == (3.0, 3.0)


# --- 2. a Value is an ordinary Python object -------------------------------------------------


@contextlib.contextmanager
def without_cycle_collector() -> Iterator[None]:
    """Only reference counting frees objects here: a graph has no cycles, so it needs no more."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_users_can_set_attributes_on_values() -> None:
    p: Any = Value(0.5, "w")  # Any: mypy, as for any class, knows only declared attributes
    p.m, p.v, p._vis_color = 0.0, 0.0, "#ff8800"  # AdamW's moments, a picture's colour
    p.m = 0.9 * p.m + 0.1 * 2.0
    assert (p.m, p.v, p._vis_color) == (0.2, 0.0, "#ff8800")
    assert users(p) == {"m": 0.2, "v": 0.0, "_vis_color": "#ff8800"}
    assert vars(Value(1.0)) == {}  # nodes made by ops have an empty __dict__ too


def test_weak_references_work_and_a_dropped_graph_is_freed_by_refcounting_alone() -> None:
    with without_cycle_collector():
        x = Value(2.0)
        hidden = (x * 3).tanh()
        out = hidden + 1
        ref = weakref.ref(hidden)
        notes: weakref.WeakKeyDictionary[Value, str] = weakref.WeakKeyDictionary({hidden: "h"})
        seen: weakref.WeakSet[Value] = weakref.WeakSet([hidden, out])
        assert ref() is hidden and notes[hidden] == "h" and len(seen) == 2
        del hidden
        assert ref() is not None  # out still holds it as a parent
        del out
        assert ref() is None and len(notes) == 0 and len(seen) == 0
        assert x.data == 2.0  # the leaf lives on: we hold it


def graph_of_every_kind(x: Value, y: Value) -> tuple[Value, list[Value]]:
    """A graph with ** (constant and Value exponents), /, sin, cos, sqrt, abs, both kinds of
    linear node (a first layer's constant inputs and a later layer's Value inputs), sum_of and
    a custom op; returns the root and the leaves it was built from."""
    w1, w2, bias = Value(0.3, "w1"), Value(-0.7, "w2"), Value(0.1, "b")
    first = linear([w1, w2], [0.5, -1.25], bias)  # linear_const: the inputs are constants
    later = linear([w1, w2], [x, y], bias)  # linear: the inputs are nodes
    terms = [
        x**2,
        x**0.5,
        x**y,
        x / y,
        (2 / x).sin(),
        y.cos(),
        (x * 4).sqrt(),
        abs(y),
        protocols_cube(y),
        first.tanh() * later.relu(),
    ]
    root = sum_of(terms) * Value(1.5, "scale")
    root.label = "root"
    leaves = [node for node in topological_order(root) if not node.parents]
    return root, leaves


def fresh_graph() -> tuple[Value, list[Value]]:
    return graph_of_every_kind(Value(1.7, "x"), Value(-0.4, "y"))


def described(root: Value) -> list[tuple[Any, ...]]:
    """Every node of the graph, parents as positions: what must survive a copy, bit for bit."""
    order = topological_order(root)
    where = {node: i for i, node in enumerate(order)}
    return [
        (
            float.hex(n.data),
            float.hex(n.grad),
            n.label,
            n.op,
            n.op_entry,
            tuple(map(float.hex, n.constants)),
            tuple(where[p] for p in n.parents),
        )
        for n in order
    ]


def through_pickle(thing: Any) -> Any:
    return pickle.loads(pickle.dumps(thing))


COPIERS: dict[str, Callable[[Any], Any]] = {
    "pickle": through_pickle,
    "pickle protocol 0": lambda thing: pickle.loads(pickle.dumps(thing, protocol=0)),
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("copier", COPIERS)
def test_a_graph_of_every_kind_of_node_survives_pickle_and_deepcopy(copier: str) -> None:
    root, leaves = fresh_graph()
    kinds = {node.op for node in topological_order(root)}
    assert {"pow", "pow_value", "div", "sin", "cos", "sqrt", "abs", "linear", "linear_const",
            "sum", "protocols_cube"} <= kinds  # fmt: skip
    root2, leaves2 = COPIERS[copier]((root, leaves))
    assert described(root2) == described(root)
    assert not set(map(id, topological_order(root2))) & set(map(id, topological_order(root)))
    root.backward()
    root2.backward()
    assert described(root2) == described(root)  # gradients too: the same bits
    assert [float.hex(p.grad) for p in leaves2] == [float.hex(p.grad) for p in leaves]


@pytest.mark.parametrize("copier", COPIERS)
def test_gradients_and_attributes_already_there_are_kept(copier: str) -> None:
    root, leaves = fresh_graph()
    root.backward()
    first: Any = leaves[0]
    first.m, first._vis_color = 0.25, "red"
    root2, leaves2 = COPIERS[copier]((root, leaves))
    assert described(root2) == described(root)
    assert users(leaves2[0]) == {"m": 0.25, "_vis_color": "red"}
    root2.backward()  # leaves accumulate, as they would have in the original
    assert [p.grad for p in leaves2] == [2 * p.grad for p in leaves]


def moons_model_and_loss() -> tuple[MLP, Value]:
    model = MLP(2, [8, 8, 1], rng=random.Random(7))
    points = [(0.3, -0.2), (1.1, 0.4), (-0.6, 0.8), (1.9, -0.1)]
    scores = [model(list(p)) for p in points]
    return model, hinge_loss(scores, [1, -1, 1, -1])  # type: ignore[arg-type]


@pytest.mark.parametrize("copier", COPIERS)
def test_a_model_and_its_loss_copied_together_stay_wired_together(copier: str) -> None:
    model, loss = moons_model_and_loss()
    model2, loss2 = COPIERS[copier]((model, loss))
    assert described(loss2) == described(loss)
    assert [(p.data, p.label) for p in model2.parameters()] == [
        (p.data, p.label) for p in model.parameters()
    ]
    nodes2 = set(topological_order(loss2))
    assert all(p in nodes2 for p in model2.parameters())  # the same objects, not look-alikes
    loss.backward()
    loss2.backward()
    assert [float.hex(p.grad) for p in model2.parameters()] == [
        float.hex(p.grad) for p in model.parameters()
    ]
    assert repr(model2) == repr(model)
    score, score2 = model([0.5, 0.5]), model2([0.5, 0.5])
    assert isinstance(score, Value) and isinstance(score2, Value)
    assert float.hex(score2.data) == float.hex(score.data)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_a_model_alone_pickles_with_each_activation(activation: str) -> None:
    model = MLP(3, [4, 2], activation=activation, rng=random.Random(3))
    model2 = through_pickle(model)
    for copied in (model2, copy.deepcopy(model)):
        assert copied.architecture() == model.architecture()
        outputs, expected = copied([0.1, -2.0, 0.7]), model([0.1, -2.0, 0.7])
        assert isinstance(outputs, list) and isinstance(expected, list)
        assert [float.hex(v.data) for v in outputs] == [float.hex(v.data) for v in expected]


def test_a_node_shared_by_two_pickled_roots_stays_one_node() -> None:
    x = Value(1.5, "x")
    h = x.tanh()
    a, b = h * 2, h + 1
    for first in ([x, h, a, b], [b, a, h, x], [a, b]):
        copied = through_pickle(first)
        by_label = {id(n): n for root in copied for n in topological_order(root)}
        tanh_nodes = [n for n in by_label.values() if n.op == "tanh"]
        assert len(tanh_nodes) == 1, first


def test_a_chain_100000_deep_pickles_and_deep_copies() -> None:
    # pickle and deepcopy recurse once per object they meet inside another: saved the default
    # way, a chain of 100 relu nodes was too deep for deepcopy and 200 for pickle (RecursionError
    # at the default limit of 1000). Value's __reduce__ lists a graph's nodes parents first, so
    # each node is met with its parents already done, and no recursion grows with the depth.
    x = Value(0.5, "x")
    node = x
    for _ in range(100_000):
        node = node.relu()
    for copier in (through_pickle, copy.deepcopy):
        root, leaf = copier((node, x))
        assert leaf.label == "x" and root.op == "relu"
        root.backward()
        assert leaf.grad == 1.0


def test_pickling_keeps_no_node_alive() -> None:
    with without_cycle_collector():
        x = Value(2.0)
        inner = (x * 3).tanh()
        out = inner * inner + 1
        refs = [weakref.ref(n) for n in topological_order(out) if n is not x]
        copy.deepcopy(out)
        pickle.dumps([inner, out])  # inner is saved before out lists it as an ancestor
        del inner, out
        assert [r() for r in refs] == [None] * len(refs)


def test_a_stale_graph_stays_stale_through_pickle() -> None:
    x = Value(2.0)
    out = x * x
    x.data = 3.0  # after out was computed from it: out.data is 4.0, not 9.0
    with pytest.raises(StaleGraphError):
        through_pickle(out).backward()
    with pytest.raises(StaleGraphError):
        copy.deepcopy(out).backward()


def test_a_node_of_a_one_off_op_is_refused_on_loading_naming_its_op() -> None:
    x = Value(2.0)
    y = Value.from_op(4.0, [x], "one_off_square", lambda out, a: (2 * a,))
    saved = pickle.dumps(y)  # ops pickle by name; from_op's is in no table
    with pytest.raises(KeyError, match="one_off_square"):
        pickle.loads(saved)


UNPICKLE_AND_BACKWARD = """
import json, pathlib, pickle, sys
import micrograd_like.engine as engine
{imports}
root, leaves = pickle.loads(pathlib.Path(sys.argv[1]).read_bytes())
root.backward()
report = {{"grads": [p.grad.hex() for p in leaves]}}
report["ops"] = [n.op for n in engine.topological_order(root)]
leaves[0].data = leaves[0].data + 1.0  # the graph is stale now: backward must notice
try:
    root.backward()
    report["stale"] = "not noticed"
except engine.StaleGraphError:
    report["stale"] = "StaleGraphError"
print(json.dumps(report))
"""


def in_another_process(saved: Path, imports: str = "") -> subprocess.CompletedProcess[str]:
    """A fresh Python unpickles the graph, runs backward and prints its gradients as JSON."""
    script = UNPICKLE_AND_BACKWARD.format(imports=imports)
    return subprocess.run(
        [sys.executable, "-c", script, str(saved)],
        capture_output=True,
        text=True,
        cwd=ROOT,  # where `import tests.test_value_protocols` works
        timeout=120,
    )


def test_a_graph_unpickled_in_another_process_gives_the_same_gradients(tmp_path: Path) -> None:
    for _ in range(50):  # data writes in this process: the graph's nodes carry a high count
        Value(1.0).data = 2.0
    root, leaves = fresh_graph()
    saved = tmp_path / "graph.pickle"
    saved.write_bytes(pickle.dumps((root, leaves)))
    done = in_another_process(saved, "import tests.test_value_protocols  # declares protocols_cube")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    root.backward()
    assert report["grads"] == [p.grad.hex() for p in leaves]
    assert report["ops"] == [n.op for n in topological_order(root)]
    # there, the write counter starts again from 0: unpickling moves it past the graph's own
    assert report["stale"] == "StaleGraphError"


def test_another_process_must_know_the_custom_op_it_unpickles(tmp_path: Path) -> None:
    saved = tmp_path / "graph.pickle"
    saved.write_bytes(pickle.dumps(fresh_graph()))
    done = in_another_process(saved)  # without importing the module that declares the op
    assert done.returncode != 0
    assert "no op named 'protocols_cube'" in done.stderr


# --- 3. help(Value) teaches the ops and the node's fields ------------------------------------


def help_text() -> str:
    return pydoc.plain(pydoc.render_doc(Value))


def documented(text: str, name: str) -> bool:
    """Whether help() lists the attribute ``name`` with a description under it."""
    return re.search(rf"^ \|  {re.escape(name)}\n \|      \S", text, re.MULTILINE) is not None


def test_help_shows_each_ops_formula_and_derivative() -> None:
    text = help_text()
    for needle in ("1 - tanh(x)**2", "d(a*b)/da = b", "d(a/b)/db = -a/b**2", "d(x**k)/dx"):
        assert needle in text, needle
    locals_in_value = [op for op in all_ops() if getattr(Value, f"{op.name}_local", None)]
    assert len(locals_in_value) >= 15
    for op in locals_in_value:
        derivative = (op.local.__doc__ or "").strip()
        assert derivative.startswith("d"), f"{op.name}_local has no derivative docstring"
        assert derivative in text, op.name
        if hasattr(Value, op.name):
            assert f"{op.doc}; {derivative}" in text, op.name  # the method: formula; derivative


@pytest.mark.parametrize("name", ["data", "parents", "op"])
def test_help_describes_the_nodes_fields(name: str) -> None:
    assert documented(help_text(), name), f"help(Value) lists {name} without saying what it is"


@pytest.mark.parametrize("name", ["grad", "label"])
def test_help_describes_grad_and_label(name: str) -> None:
    assert documented(help_text(), name), f"help(Value) lists {name} without saying what it is"


def test_a_node_made_by_from_op_cannot_be_loaded_back_and_says_why() -> None:
    # The README: "nodes made by Value.from_op cannot be loaded" (their op is in no table).
    node = Value.from_op(2.0, (Value(1.0),), "one_off", lambda out, a: (2.0,))
    data = pickle.dumps(node)
    with pytest.raises(KeyError, match="no op named 'one_off'"):
        pickle.loads(data)


def users(value: Value) -> dict[str, object]:
    """The attributes a user hung on ``value``: its __dict__ without the label Value keeps there."""
    return {name: x for name, x in vars(value).items() if name != "_label"}


def test_a_number_operand_becomes_a_constant_leaf_and_pickle_keeps_what_it_is() -> None:
    x = Value(2.0, "x")
    for out in (x + 1.0, x * 3, 1.5 - x, x**3):
        leaves = [n for n in topological_order(out) if not n.parents]
        assert [n.is_constant for n in leaves] == [n is not x for n in leaves], out
    (twin,) = pickle.loads(pickle.dumps([x**3 + 1.0]))
    assert (twin.op, twin.parents[1].is_constant, twin.parents[1].data) == ("add", True, 1.0)
    power = twin.parents[0]
    assert (power.constants, power.parents[0].label, power.parents[0].is_constant) == (
        (3.0,),
        "x",
        False,
    )
    assert copy.copy(power).constants == (3.0,)
    with no_grad():
        assert (x**3).constants == ()  # a leaf under no_grad() keeps no op and no k
