r"""Tests written to kill mutants of the core that the suite let survive.

The core is engine.py, optable.py, checks.py and recording.py. Each expected value is worked out
by hand; `mutmut run` (config in pyproject.toml) finds the survivors. mutmut forks its workers
after importing the package, so mutants of what runs at import (the methods Value gets from its
op entries, the table's registration, ops.py's custom ops, the cached written source) never act
there: the score runs each of those mutmut did not kill in a fresh interpreter, on mutmut's own
test selection, and counts it caught when a test fails. From the repository's root:

    rm -rf mutants && OMP_NUM_THREADS=1 .venv/bin/mutmut run --max-children 2
    .venv/bin/mutmut results --all true | grep -c ': killed$'   # and `| wc -l`: all mutants
    cd mutants && sel=$(../.venv/bin/python -c 'import tomllib; c = tomllib.load(open(
        "pyproject.toml", "rb"))["tool"]["mutmut"]; print(*c["pytest_add_cli_args"],
        *c["pytest_add_cli_args_test_selection"])')
    pat='_install_methods|_(un|bin)ary_method|named_method|because|x_register|post_init'
    pat="$pat|_applier|custom_entry|x__counted|x_op_named|_Source|x__source|x__written"
    pat="$pat|forward_source|local_source"   # cached (functools.cache) before mutmut forks
    for m in $(cd .. && .venv/bin/mutmut results | grep -E "$pat" | cut -d: -f1); do
        MUTANT_UNDER_TEST=$m ../.venv/bin/python -m pytest -x -q $sel >/dev/null 2>&1 \
        && echo "survived $m" || echo "killed $m"; done

The score is (mutmut's killed + the loop's killed) / all mutants; a run takes ~40 minutes on
two cores. OMP_NUM_THREADS=1 matters: torch's thread pool, started before mutmut forks, hangs
the forked workers in the torch cross-checks, and a hang would count as a kill.
tests/test_core_mutants_more.py holds the later rounds.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest

from micrograd_like import engine
from micrograd_like.checks import check_derivatives, checked_float, is_real
from micrograd_like.engine import (
    BackwardStep,
    StaleGraphError,
    Value,
    backpropagate,
    backward_steps,
    grad,
    linear,
    no_grad,
    sum_of,
    topological_order,
    watch,
)
from micrograd_like.ops import custom_op
from micrograd_like.optable import (
    Interval,
    Op,
    all_ops,
    builtin_names,
    custom_entry,
    named_method,
    op_named,
    op_named_or_none,
    register,
)
from micrograd_like.recording import someone_watches, watch_data_reads

NOT_A_NUMBER: Any = "a"  # typed Any: these tests pass it where numbers belong
NOT_A_STRING: Any = 3  # and this one where a label (a string) belongs
BUILTINS_IN_ORDER = "add, mul, neg, relu, tanh, sigmoid, exp, log, sin, cos, sqrt, abs, div, pow"


def _reads_of(compute: object) -> list[tuple[object, str]]:
    """The (value, how) pairs a data-read hook sees while ``compute()`` runs."""
    reads: list[tuple[object, str]] = []
    with watch_data_reads(lambda value, how: reads.append((value, how))):
        compute()  # type: ignore[operator]
    return reads


# --- Value as a number: comparisons, float(), round(), format() ---------------------------------


def test_value_comparisons_with_numbers_and_values() -> None:
    two = Value(2.0)
    assert (two < 3, two < 2, two < Value(2.5)) == (True, False, True)
    assert (two <= 2, two <= 1.5, two <= Value(2.0)) == (True, False, True)
    assert (two > 1.5, two > 2, two > Value(1.0)) == (True, False, True)
    assert (two >= 2, two >= 2.5, two >= Value(3.0)) == (True, False, False)


@pytest.mark.parametrize("how", ["<", "<=", ">", ">="])
def test_value_comparison_with_a_non_number_names_the_operator_and_value(how: str) -> None:
    compare = {"<": Value.__lt__, "<=": Value.__le__, ">": Value.__gt__, ">=": Value.__ge__}[how]
    with pytest.raises(TypeError, match=rf"^Value {how} \.\.\. got 'a' of type str"):
        compare(Value(1.0), NOT_A_NUMBER)


def test_value_comparisons_tell_the_data_read_hook_each_side() -> None:
    x, y = Value(1.0), Value(2.0)
    reads = _reads_of(lambda: (x < y, x <= 5, x > y, x >= y))
    assert reads == [(x, "<"), (y, "<"), (x, "<="), (x, ">"), (y, ">"), (x, ">="), (y, ">=")]


def test_value_float_item_round_format_give_the_data() -> None:
    v = Value(2.567)
    assert float(v) == 2.567
    assert v.item() == 2.567
    assert round(v, 2) == 2.57
    assert round(Value(2.5)) == 2 and isinstance(round(Value(2.5)), int)  # to even, as floats
    assert f"{v:.1f}" == "2.6"
    assert f"{v}" == "Value(data=2.567, grad=0.0)"  # no spec: the repr


def test_value_reads_tell_the_data_read_hook_how() -> None:
    v = Value(2.5)
    reads = _reads_of(lambda: (v.data, float(v), v.item(), round(v, 1), f"{v:.1f}", f"{v}"))
    assert reads == [(v, ".data"), (v, "float()"), (v, ".item()"), (v, "round()"), (v, "format()")]


def test_engine_internal_reads_are_not_data_reads() -> None:
    # relu's and abs's slopes look at x; with create_graph x is a Value, read by the engine itself
    x = Value(3.0)
    reads = _reads_of(lambda: grad(x.relu() + abs(x), [x], create_graph=True))
    assert reads == []


# --- construction, labels, detach, local_grads ---------------------------------------------------


def test_value_label_defaults_to_empty_and_detach_keeps_it() -> None:
    assert Value(1.0).label == ""
    w = Value(2.0, label="w") * 3
    w.label = "w3"
    copy = w.detach()
    assert (copy.data, copy.label, copy.parents, copy.op) == (6.0, "w3", (), "")


def test_local_grads_of_a_power_pass_the_exponent() -> None:
    # d(x**2)/dx = 2x = 6 at x = 3; d(x**-1)/dx = -1/x**2 = -0.25 at x = 2
    assert (Value(3.0) ** 2).local_grads() == (6.0,)
    assert (Value(2.0) ** -1).local_grads() == (-0.25,)


# --- ops at their edges --------------------------------------------------------------------------


def test_abs_slope_is_zero_at_the_kink_and_signed_elsewhere() -> None:
    slopes = []
    for x in (-2.0, 0.0, 0.5):
        leaf = Value(x)
        abs(leaf).backward()
        slopes.append(leaf.grad)
    assert slopes == [-1.0, 0.0, 1.0]


def test_sqrt_of_zero_is_zero() -> None:
    # the square root's domain is closed at 0: sqrt(0) = 0 is allowed, sqrt(-1e-300) is not
    assert Value(0.0).sqrt().data == 0.0
    with pytest.raises(ValueError, match=r"sqrt\(\) of -1e-300"):
        Value(-1e-300).sqrt()


def test_zero_to_the_power_zero_is_one_with_slope_zero() -> None:
    x = Value(0.0)
    y = x**0
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.0)


def test_sigmoid_positive_side_is_one_over_one_plus_exp_minus_x() -> None:
    # 1 / (1 + e**-0.9) = 0.7109495026250039; the other form, e**x / (1 + e**x), rounds to ...04
    assert Value(0.9).sigmoid().data == 0.7109495026250039


def test_mul_overflow_gives_inf_outside_anomaly_mode() -> None:
    # a built-in op's float result is IEEE's (anomaly mode is what stops at an inf)
    assert (Value(1e200) * Value(1e200)).data == math.inf
    assert sum_of([1e308, 1e308]).data == math.inf


def test_custom_op_overflow_names_the_op_and_all_operands() -> None:
    @custom_op(lambda out, a, b: (out * b, out))
    def scaled_exp(a: float, b: float) -> float:
        return math.exp(a) * b

    with pytest.raises(
        OverflowError, match=r"^scaled_exp\(\) of \(1000\.0, 2\.0\): the result is too large"
    ):
        scaled_exp(1000.0, 2.0)


# --- error messages name the op and the value ----------------------------------------------------


@pytest.mark.parametrize(
    ("compute", "shown"),
    [
        (lambda: Value(1.0) + NOT_A_NUMBER, "Value + ..."),
        (lambda: Value(1.0) * NOT_A_NUMBER, "Value * ..."),
        (lambda: Value(1.0) / NOT_A_NUMBER, "Value / ..."),
        (lambda: Value(1.0) - NOT_A_NUMBER, "Value - ..."),
        (lambda: NOT_A_NUMBER - Value(1.0), "Value - ..."),
        (lambda: NOT_A_NUMBER / Value(1.0), "Value / ..."),
        (lambda: Value(2.0) ** NOT_A_NUMBER, "Value ** ..."),
        (lambda: NOT_A_NUMBER ** Value(2.0), "Value ** ..."),
        (
            lambda: linear([Value(1.0), Value(1.0)], [Value(1.0), NOT_A_NUMBER], Value(0.0)),
            "Value linear ...",
        ),
        (lambda: sum_of([1.0, NOT_A_NUMBER]), "Value sum ..."),
    ],
)
def test_operand_errors_name_the_operator_and_value(compute: object, shown: str) -> None:
    with pytest.raises(TypeError) as raised:
        compute()  # type: ignore[operator]
    assert str(raised.value).startswith(f"{shown} got 'a' of type str")


def test_backward_steps_seed_error_names_backward_steps() -> None:
    with pytest.raises(TypeError, match=r"^backward_steps\(seed\) got 'a'"):
        backward_steps(Value(1.0) * 2, "a")  # type: ignore[arg-type]


def test_checked_float_names_where_and_converts() -> None:
    assert checked_float(3, "somewhere") == 3.0
    with pytest.raises(TypeError, match=r"^somewhere got 'a' of type str"):
        checked_float("a", "somewhere")


# --- from_op: one-off ops ------------------------------------------------------------------------


def test_from_op_node_keeps_its_data_parents_and_arity() -> None:
    a, b = Value(2.0), Value(5.0)
    node = Value.from_op(7.0, [a, b], "oneoff_plus", lambda out, x, y: (1.0, 1.0))
    assert (node.data, node.parents, node.op, node.op_entry.arity) == (
        7.0,
        (a, b),
        "oneoff_plus",
        2,
    )
    # a one-off op stays out of the table, and its entry has no forward to call
    assert op_named_or_none("oneoff_plus") is None
    no_forward = r"^an op made with Value\.from_op has no forward; declare it with custom_op$"
    with pytest.raises(TypeError, match=no_forward):
        node.op_entry.forward(2.0, 5.0)


def test_from_op_refuses_a_number_parent_naming_the_op_and_parents() -> None:
    with pytest.raises(
        TypeError, match=r"^oneoff_bad: every parent must be a Value, got \[.*3\.0\]"
    ):
        parents = [Value(1.0), 3.0]
        Value.from_op(1.0, parents, "oneoff_bad", lambda out, x, y: (1.0, 1.0))  # type: ignore[arg-type]


# --- backpropagation -----------------------------------------------------------------------------


def test_backpropagate_adds_each_contribution_into_the_parents_grad() -> None:
    x = Value(2.0)
    y = x * 3
    y.grad = 1.0
    backpropagate([y])
    assert (x.grad, y._prev[1].grad) == (3.0, 2.0)  # d(x*3)/dx = 3, d(x*3)/d3 = x = 2
    backpropagate([y])
    assert x.grad == 6.0  # it adds; backward() is what sets intermediates and leaves aside


def test_grad_with_create_graph_adds_no_zero_nodes() -> None:
    # d(x*x)/dx = x*seed + x*seed: one add of two muls over x and the seed, five nodes in all
    x = Value(3.0)
    (dx,) = grad(x * x, [x], create_graph=True)
    assert dx.data == 6.0
    assert dx.op == "add" and [p.op for p in dx.parents] == ["mul", "mul"]
    assert len(topological_order(dx)) == 5


def test_steps_of_a_create_graph_pass_start_each_parent_at_zero() -> None:
    x = Value(2.0)
    y = x * 3
    steps: list[Any] = []
    with watch(on_step=steps.append):
        grad(y, [x], create_graph=True)
    assert [(s.grad_before, s.contribution, s.grad_after) for s in steps] == [
        (0.0, 3.0, 3.0),  # to x: 0 + 3 * 1
        (0.0, 2.0, 2.0),  # to the constant 3: 0 + 2 * 1
    ]


class _OneThenTwo:
    """A misbehaving local derivative without a __name__: right when checked, wrong afterwards."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, out: float, x: float) -> tuple[float, ...]:
        self.calls += 1
        return (1.0,) if self.calls == 1 else (1.0, 2.0)


@pytest.mark.parametrize("with_steps", [False, True])
def test_wrong_derivative_count_at_backward_is_reported_as_such(with_steps: bool) -> None:
    node = Value.from_op(1.0, [Value(1.0)], "oneoff_flaky", _OneThenTwo())
    with pytest.raises(ValueError) as raised:
        if with_steps:  # the stepper sees the edges first, and must not mask the message
            list(backward_steps(node))
        else:
            node.backward()
    assert str(raised.value).startswith(
        "oneoff_flaky: its local derivative gave 2 derivative(s) for 1 operand(s) at (1.0,)"
    )


def test_wrong_derivative_count_names_a_named_local() -> None:
    calls = []

    def once_right(out: float, x: float) -> tuple[float, ...]:
        calls.append(out)
        return (2.0,) if len(calls) == 1 else (2.0, 2.0)

    node = Value.from_op(1.0, [Value(1.0)], "oneoff_named", once_right)
    with pytest.raises(ValueError, match=r"^oneoff_named: once_right gave 2 derivative"):
        node.backward()


# --- stale graphs: data written after a node was computed from it --------------------------------


def test_backward_refuses_a_graph_whose_operand_data_changed() -> None:
    x = Value(2.0)
    y = x * 3
    x.data = 5.0
    with pytest.raises(StaleGraphError) as raised:
        y.backward()
    assert (raised.value.node, raised.value.operand) == (y, 0)
    assert str(raised.value) == (
        "backward through mul: operand 0 of the mul node, Value(data=5.0, grad=0.0), had its data "
        "changed after the node was computed from it, so the graph mixes two points and its "
        "gradients would be wrong. Change data only between steps, then build the graph again"
    )


def test_backward_refuses_a_node_whose_own_data_changed() -> None:
    x = Value(2.0)
    c = Value(4.0)
    y = c * x
    y.data = 7.0
    with pytest.raises(StaleGraphError) as raised:
        y.backward()
    assert (raised.value.node, raised.value.operand) == (y, 0)
    assert str(raised.value).startswith(
        "backward through mul: the data of Value(data=7.0, grad=0.0, op='mul') itself was changed "
        "after the mul op computed it, so the graph mixes two points"
    )


def test_backward_accepts_a_graph_built_after_its_operands_were_written() -> None:
    x = Value(1.0)
    x.data = 2.0  # written, then used: fine
    y = x * 3
    Value(0.0).data = 1.0  # a later write elsewhere makes backward look at y's operands
    y.backward()
    assert x.grad == 3.0


def test_no_grad_results_are_fresh_constants_even_before_any_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_writes", 0)  # as in a new process: no data written yet
    with no_grad():
        c = Value(2.0) ** 2
    assert (c.constants, c.parents) == ((), ())
    x = Value(1.0)
    y = c * x  # made before any write
    Value(0.0).data = 1.0  # the first write
    y.backward()
    assert x.grad == 4.0


# --- n-ary ops applied through the table ---------------------------------------------------------


def test_linear_op_applied_from_the_table() -> None:
    # operands w1, w2, x1, x2, bias: 0.5 + 2*3 + (-1)*4 = 2.5; d/dw = x, d/dx = w, d/dbias = 1
    leaves = [Value(v) for v in (2.0, -1.0, 3.0, 4.0, 0.5)]
    out = op_named("linear")(*leaves)
    out.backward()
    assert out.data == 2.5
    assert [leaf.grad for leaf in leaves] == [3.0, 4.0, 2.0, -1.0, 1.0]


def test_linear_const_op_applied_from_the_table() -> None:
    # operands w1, w2, bias, then the constants x1, x2: 0.5 + 2*3 + (-1)*4 = 2.5
    assert op_named("linear_const")(2.0, -1.0, 0.5, 3.0, 4.0).data == 2.5


def test_linear_const_refuses_more_inputs_than_weights() -> None:
    # w1, bias, x1, x2: two inputs for one weight must not silently drop one
    with pytest.raises(ValueError):
        op_named("linear_const")(1.0, 2.0, 3.0, 4.0)


# --- the op table --------------------------------------------------------------------------------


def test_interval_membership_at_its_edges() -> None:
    open_unit = Interval(0.0, 1.0)
    closed_low = Interval(0.0, 1.0, closed_low=True)
    assert [x in open_unit for x in (0.0, 0.5, 1.0)] == [False, True, False]
    assert [x in closed_low for x in (-0.1, 0.0, 1.0)] == [False, True, False]


def test_interval_because_keeps_the_bounds_and_adds_the_reason() -> None:
    assert Interval(1.0, 2.0, True).because("why") == Interval(1.0, 2.0, True, "why")


def test_op_label_shows_whole_constants_as_integers() -> None:
    power = Op("pw", 1, lambda x, k: x**k, lambda out, x, k: (k,), "**", constants=1)
    assert [power.label((k,)) for k in (2.0, -3.0, 0.5)] == ["**2", "**-3", "**0.5"]
    assert power.label((1e15,)) == "**1000000000000000.0"  # from 1e15 on, as repr shows it
    assert power.label((999999999999999.0,)) == "**999999999999999"
    two = Op("two", 1, lambda x, a, b: x, lambda out, x, a, b: (1.0,), constants=2)
    assert two.label((1.0, 2.5, 9.0)) == "two12.5"  # only its own constants, side by side


def test_op_unwraps_staticmethods() -> None:
    def forward(x: float) -> float:
        return x

    def local(out: float, x: float) -> tuple[float]:
        return (1.0,)

    entry = Op("unwrapped", 1, staticmethod(forward), staticmethod(local))
    assert (entry.forward, entry.local) == (forward, local)


def test_register_refuses_a_builtin_name_listing_the_taken_ones() -> None:
    with pytest.raises(ValueError) as raised:
        register(Op("add", 2, lambda a, b: a, lambda out, a, b: (1.0, 0.0), builtin=False))
    message = str(raised.value)
    assert message.startswith("op 'add' is already a built-in op")
    assert f"(taken: {BUILTINS_IN_ORDER}, " in message
    assert op_named("add").builtin


def test_custom_op_shadowing_a_builtin_lists_the_taken_names() -> None:
    with pytest.raises(ValueError, match=rf"\(taken: {BUILTINS_IN_ORDER}, "):
        custom_op(lambda out, x: (1.0,), name="exp")(lambda x: x)


def test_from_op_refuses_a_non_callable_local_naming_the_op() -> None:
    with pytest.raises(TypeError, match=r"^oneoff_nolocal: the local derivative must be callable"):
        Value.from_op(1.0, [Value(1.0)], "oneoff_nolocal", 3)  # type: ignore[arg-type]


def test_op_named_lists_every_known_op_when_missing() -> None:
    with pytest.raises(KeyError) as raised:
        op_named("no_such_op")
    message = raised.value.args[0]
    assert message.startswith("no op named 'no_such_op'; known: ")
    known = message.split("known: ")[1].split(", ")
    assert known == sorted(known) and set(builtin_names()) <= set(known)


def test_op_named_or_none() -> None:
    assert op_named_or_none("mul") is op_named("mul")
    assert op_named_or_none("no_such_op") is None


def test_custom_op_is_registered_with_its_docstring_or_a_default_doc() -> None:
    @custom_op(lambda out, x: (3.0,))
    def triple_documented(x: float) -> float:
        """three times x"""
        return 3 * x

    undocumented = custom_op(lambda out, x: (3.0,), name="triple_undocumented")(lambda x: 3 * x)
    assert op_named("triple_documented") is triple_documented
    assert op_named("triple_undocumented") is undocumented
    assert (triple_documented.doc, undocumented.doc) == (
        "three times x",
        "the custom op triple_undocumented",
    )
    assert not triple_documented.builtin


def test_all_ops_lists_each_op_once_builtins_first() -> None:
    custom_op(lambda out, x: (1.0,), name="listed_once")(lambda x: x)
    names = [op.name for op in all_ops()]
    assert len(names) == len(set(names))
    assert names[: len(builtin_names())] == builtin_names()
    assert "listed_once" in names[len(builtin_names()) :]


def test_value_methods_are_named_and_documented_after_their_op() -> None:
    assert (Value.exp.__name__, Value.exp.__qualname__) == ("exp", "Value.exp")
    assert Value.exp.__doc__ == "e**x; d e**x/dx = e**x"
    entry = op_named("tanh")
    method = named_method(lambda self: self, entry)
    assert (method.__name__, method.__doc__) == ("tanh", "tanh(x); d tanh(x)/dx = 1 - tanh(x)**2")


# --- new nodes: their fields, their depth in the order, pickle and copy --------------------------


def test_value_label_must_be_a_string_naming_the_value_and_its_type() -> None:
    message = r"^Value\(label=\.\.\.\) got 3 of type int; a label is a string$"
    with pytest.raises(TypeError, match=message):
        Value(1.0, label=NOT_A_STRING)
    v = Value(1.0)
    with pytest.raises(TypeError, match=message):
        v.label = NOT_A_STRING


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda x: x.exp(), "Value(data=1.0, grad=0.0, op='exp')"),  # a one-operand method
        (lambda x: x * 2, "Value(data=0.0, grad=0.0, op='mul')"),  # a two-operand method
        (lambda x: x**2, "Value(data=0.0, grad=0.0, op='pow')"),  # through the table's _node
        (lambda x: sum_of([x, x]), "Value(data=0.0, grad=0.0, op='sum')"),
        (lambda x: linear([x], [2.0], x), "Value(data=0.0, grad=0.0, op='linear_const')"),
        (lambda x: op_named("add")(x, 1.0), "Value(data=1.0, grad=0.0, op='add')"),
    ],
)
def test_new_node_starts_with_grad_zero_and_no_label(make: Any, shown: str) -> None:
    node = make(Value(0.0))
    assert (node.grad, node.label) == (0.0, "")
    assert repr(node) == shown


def test_sum_of_nothing_is_a_zero_without_parents() -> None:
    s = sum_of([])
    assert (s.data, s.parents, s.op) == (0.0, (), "sum")
    s.backward()
    assert s.grad == 1.0


def test_no_grad_results_of_methods_are_leaves() -> None:
    x = Value(2.0)
    with no_grad():
        made = [x.exp(), x * x, x + 1.0, -x]
    assert [(v.op, v.parents) for v in made] == [("", ())] * 4


def _labels(root: Value) -> list[str]:
    return [v.label for v in topological_order(root)]


def _labelled(value: Value, label: str) -> Value:
    value.label = label
    return value


def test_topological_order_is_by_depth_then_breadth_first_whatever_made_the_node() -> None:
    # A node's depth is 1 + its parents' highest (a leaf's is 0), however it was made; equal
    # depths keep the breadth-first order from the root. The stepper shows nodes in this order.
    x, y = Value(1.0, "x"), Value(2.0, "y")
    a = _labelled(x * y, "a")  # depth 1, a two-operand method
    b = _labelled(x.exp(), "b")  # depth 1, a one-operand method
    p = _labelled(x**2, "p")  # depth 1, made through the table (_compute)
    # breadth first from a + b: root, a, b, x, y; by depth: x, y | a, b | root
    assert _labels(_labelled(a + b, "r")) == ["x", "y", "a", "b", "r"]
    assert _labels(_labelled(b + a, "r")) == ["x", "y", "b", "a", "r"]
    assert _labels(_labelled(p + b, "r")) == ["x", "p", "b", "r"]
    with no_grad():
        c = _labelled(x * 3, "c")  # a leaf, depth 0, though an op made it
    e = _labelled(sum_of([]), "e")  # a node without parents: depth 0
    # breadth first: s, b, c, e, x; by depth: c, e, x | b | s
    assert _labels(_labelled(sum_of([b, c, e]), "s")) == ["c", "e", "x", "b", "s"]
    d = _labelled(c.exp(), "d")
    # breadth first: s, d, x, c; by depth: x, c | d | s
    assert _labels(_labelled(sum_of([d, x]), "s")) == ["x", "c", "d", "s"]


def test_unpickled_nodes_have_the_depth_they_had() -> None:
    def made(tag: str) -> Value:
        a, b = Value(2.0, f"a_{tag}"), Value(3.0, f"b_{tag}")
        return _labelled(_labelled(a * b, f"m_{tag}").exp(), f"e_{tag}")

    unpickled = pickle.loads(pickle.dumps(made("u")))
    root = _labelled(unpickled + made("f"), "r")
    # breadth first: r, e_u, e_f, m_u, m_f, a_u, b_u, a_f, b_f; depths 3, 2, 2, 1, 1, 0, 0, 0, 0
    assert _labels(root) == ["a_u", "b_u", "a_f", "b_f", "m_u", "m_f", "e_u", "e_f", "r"]


def test_pickle_keeps_op_constants_label_attributes_and_gradients_of_a_deep_chain() -> None:
    x = Value(1.5, "x")
    y = x**2
    for _ in range(1000):  # deeper than pickle could recurse: ancestors are saved first
        y = y + 0.0
    vars(y)["note"] = "kept"  # users hang attributes on nodes (micrograd code does)
    loaded = pickle.loads(pickle.dumps(y))
    again = pickle.loads(pickle.dumps(y))  # a second pickling of the same graph works as well
    power = loaded
    while power.op != "pow":
        power = power.parents[0]
    assert (power.op, power.constants, power._op) == ("pow", (2.0,), "**2")
    assert (loaded.data, vars(loaded)["note"], again.data) == (2.25, "kept", 2.25)
    loaded.backward()
    leaf = power.parents[0]
    assert (leaf.label, leaf.grad, x.grad) == ("x", 3.0, 0.0)  # d(x**2)/dx = 2x = 3
    leaf.data = 2.0  # a write after loading is newer than anything the graph saw
    with pytest.raises(StaleGraphError):
        loaded.backward()


def test_copy_copy_is_a_node_with_the_same_fields_parents_and_attributes() -> None:
    x = Value(3.0, "x")
    y = x**2
    y.label, y.grad, vars(y)["note"] = "y", 0.5, "kept"
    twin = copy.copy(y)
    assert twin is not y and twin.parents is y.parents
    fields = (twin.data, twin.grad, twin.op, twin.constants, twin.label, vars(twin)["note"])
    assert fields == (9.0, 0.5, "pow", (2.0,), "y", "kept")
    # breadth first: r, twin, y, x; by depth: x | twin, y | r
    assert topological_order(twin + y)[:3] == [x, twin, y]
    twin.backward()
    assert x.grad == 6.0  # d(x**2)/dx = 2x


def test_relu_of_negative_zero_is_positive_zero_as_max() -> None:
    # max(0.0, -0.0) is 0.0 (the first of two equal numbers); the compiled formula gives the same
    assert repr(Value(-0.0).relu().data) == "0.0"


# --- the backward pass: its set-up, its checks, its errors ---------------------------------------


def test_backward_refuses_a_local_that_gives_too_few_derivatives() -> None:
    # an Op built by hand is not checked as custom ops are; the loop still never drops a parent
    short = Op("short_local", 2, lambda a, b: a + b, lambda out, a, b: (1.0,))
    x, y = Value(1.0), Value(2.0)
    node = short(x, y)
    with pytest.raises(ValueError):
        node.backward()
    assert (x.grad, y.grad) == (0.0, 0.0)  # a pass that fails changes no leaf's grad


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ("a", "'a' of type str"),
        (True, "True of type bool"),
        (None, "None of type NoneType"),
    ],
)
def test_backward_refuses_a_leaf_grad_that_is_not_a_number(bad: object, shown: str) -> None:
    w = Value(2.0, label="w")
    w.grad = bad  # type: ignore[assignment]
    y = w * 3
    with pytest.raises(TypeError) as raised:
        y.backward()
    assert str(raised.value) == (
        f"backward: Value(data=2.0, grad={bad!r}, label='w') has grad {shown}; "
        "a gradient is a number (set it to 0.0 to start again)"
    )
    assert w.grad is bad


def test_backward_adds_to_a_leaf_grad_of_any_real_number_type() -> None:
    w = Value(2.0)
    w.grad = Fraction(1, 2)  # type: ignore[assignment]
    (w * 3).backward()
    assert w.grad == 3.5  # 1/2 from before + d(3w)/dw = 3


def test_backward_refuses_data_written_by_a_hook_during_the_pass() -> None:
    x = Value(2.0)
    x.grad = 1.0
    y = x * 3

    def write(step: Any) -> None:
        x.data = 5.0

    with watch(on_step=write), pytest.raises(StaleGraphError) as raised:
        y.backward()
    assert (raised.value.node, raised.value.operand) == (y, 0)
    assert (x.grad, x.data) == (1.0, 5.0)  # the pass was undone


def test_backward_from_a_hook_inside_a_pass_is_refused_saying_so() -> None:
    other = Value(1.0) * 2
    with watch(on_step=lambda step: other.backward()), pytest.raises(RuntimeError) as raised:
        (Value(2.0) * 3).backward()
    assert str(raised.value) == (
        "backward(), grad() or the stepper was called from a hook inside a backward pass; "
        "run it after the pass instead"
    )


def test_stale_graph_error_before_any_write_names_the_written_operand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_writes", 0)  # as in a new process: no data written yet
    x = Value(2.0)
    y = x * 3  # made before any write
    x.data = 5.0
    with pytest.raises(StaleGraphError, match=r"^backward through mul: operand 0 of the mul node"):
        y.backward()


def test_stepper_names_the_op_whose_derivative_fails() -> None:
    # d(x**0.5)/dx = 0.5 * x**-0.5 divides by zero at x = 0
    message = (
        r"^pow: its derivative at \(0\.0, 0\.5\) is not a finite number: "
        r"\*\*: 0\.0 \*\* -0\.5 divides by zero$"
    )
    with pytest.raises(ZeroDivisionError, match=message):
        list(backward_steps(Value(0.0) ** 0.5))
    with watch(on_step=lambda step: None), pytest.raises(ZeroDivisionError, match=message):
        (Value(0.0) ** 0.5).backward()


class _NeedsTwoArguments(ArithmeticError):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(first, second)


def test_backward_keeps_a_local_error_whose_type_wants_more_than_a_message() -> None:
    error = _NeedsTwoArguments("one", "two")
    calls: list[float] = []

    def right_once(out: float, x: float) -> tuple[float, ...]:
        calls.append(out)
        if len(calls) > 1:  # from_op checks the local once; it fails at backward
            raise error
        return (1.0,)

    node = Value.from_op(1.0, [Value(1.0)], "oneoff_two_args", right_once)
    with pytest.raises(_NeedsTwoArguments) as raised:
        node.backward()
    assert raised.value is error


# --- grad(): views of the same loop --------------------------------------------------------------


def test_grad_of_a_single_input_value() -> None:
    x = Value(3.0)
    (dx,) = grad(x * x, x)
    assert dx.data == 6.0  # d(x*x)/dx = 2x


def _x_abs_x_local(compare: str) -> Any:
    """d(x|x|)/dx = 2|x|, written with one comparison of x (a Value under create_graph)."""
    if compare == "<":
        return lambda out, x: (-2 * x if x < 0 else 2 * x,)
    if compare == "<=":
        return lambda out, x: (-2 * x if x <= 0 else 2 * x,)
    if compare == ">":
        return lambda out, x: (2 * x if x > 0 else -2 * x,)
    return lambda out, x: (2 * x if x >= 0 else -2 * x,)


@pytest.mark.parametrize("compare", ["<", "<=", ">", ">="])
def test_grad_create_graph_lets_a_local_compare_its_operand(compare: str) -> None:
    x_abs_x = custom_op(_x_abs_x_local(compare), name="x_abs_x")(lambda x: x * abs(x))
    x = Value(3.0)
    (slope,) = grad(x_abs_x(x), [x], create_graph=True)
    (curvature,) = grad(slope, [x])
    assert (slope.data, curvature.data) == (6.0, 2.0)  # 2|x| = 6, d(2x)/dx = 2 for x > 0


READ_REFUSED = (
    " read a Value's data (.data) while grad(create_graph=True) builds the derivative as a graph, "
    "so the second derivative would treat it as a constant. Write the local with +, -, *, /, ** "
    "and the helpers in micrograd_like.ops (ops.cos, ops.exp, ...), which take numbers and Values"
)


def _twice_reading_data(out: Any, x: Any) -> tuple[Any, ...]:
    return (2.0 if isinstance(x, float) else 2.0 * x.data,)


def test_grad_create_graph_refuses_a_local_that_reads_data_naming_op_and_local() -> None:
    twice = custom_op(_twice_reading_data, name="twice_reading")(lambda x: 2 * x)
    x = Value(3.0)
    with pytest.raises(TypeError) as raised:
        grad(twice(x), [x], create_graph=True)
    assert str(raised.value) == "twice_reading: _twice_reading_data" + READ_REFUSED


class _Nameless:
    """A local derivative without a __name__ (a callable object), which reads data."""

    def __call__(self, out: Any, x: Any) -> tuple[Any, ...]:
        return _twice_reading_data(out, x)

    def __repr__(self) -> str:
        return "_Nameless()"


def test_grad_create_graph_refusal_calls_a_nameless_local_its_local_derivative() -> None:
    by_hand = Op("twice_by_hand", 1, lambda x: 2 * x, _Nameless())  # not wrapped by custom_op
    x = Value(3.0)
    with pytest.raises(TypeError) as raised:
        grad(by_hand(x), [x], create_graph=True)
    assert str(raised.value) == "twice_by_hand: its local derivative" + READ_REFUSED


def test_grad_create_graph_refusal_calls_a_nameless_custom_local_its_local_derivative() -> None:
    # the refusal names the user's local, not custom_op's counting wrapper around it
    twice = custom_op(_Nameless(), name="twice_nameless")(lambda x: 2 * x)
    x = Value(3.0)
    with pytest.raises(TypeError) as raised:
        grad(twice(x), [x], create_graph=True)
    assert str(raised.value) == "twice_nameless: its local derivative" + READ_REFUSED


def test_grad_create_graph_lets_watchers_read_data() -> None:
    # under create_graph the data-read refuser guards the local derivatives, not the watchers:
    # a node or step hook may read .data (detect_anomaly()'s does)
    x = Value(3.0)
    seen: list[float] = []
    with watch(on_node=lambda v: seen.append(v.data), on_step=lambda s: seen.append(s.node.data)):
        (slope,) = grad(x * x, [x], create_graph=True)
    assert slope.data == 6.0  # d(x*x)/dx = 2x
    assert 9.0 in seen  # the step of the root x*x, whose data is 9


def test_pow_value_slope_in_the_exponent_at_a_zero_and_a_small_base_under_create_graph() -> None:
    # d(a**b)/db = a**b * log(a): 0 at a = 0 (0**b does not move), 0.25 * log(0.5) at a = 0.5
    zero, half, two = Value(0.0), Value(0.5), Value(2.0)
    (at_zero,) = grad(zero**two, [two], create_graph=True)
    (at_half,) = grad(half**two, [two], create_graph=True)
    assert (at_zero.data, at_half.data) == (0.0, -0.25 * math.log(2.0))


def test_pow_value_slope_in_the_exponent_at_a_negative_base_says_why_it_cannot_be_built() -> None:
    a, b = Value(-2.0), Value(2.0)
    with pytest.raises(ValueError) as raised:
        grad(a**b, [b], create_graph=True)
    assert str(raised.value) == (
        "pow_value: d(a**b)/db = a**b * log(a) is undefined at a = -2.0 (backward gives nan "
        "there); grad(create_graph=True) cannot build it. If the exponent is a constant, pass it "
        "as a plain number: x ** 2.0"
    )


# --- n-ary ops -----------------------------------------------------------------------------------


def test_linear_refuses_an_even_operand_count_naming_its_layout() -> None:
    with pytest.raises(ValueError) as raised:
        op_named("linear")(1.0, 2.0)
    assert str(raised.value) == "linear: takes 2n + 1 operands (w_1..w_n, x_1..x_n, bias), got 2"
    with pytest.raises(ValueError) as raised:
        op_named("linear_const")(1.0, 2.0, 3.0, 4.0)
    assert str(raised.value) == "linear: takes 2n + 1 operands (w_1..w_n, bias, x_1..x_n), got 4"


# --- checks: numbers, labels, a custom op's results ----------------------------------------------


def test_checked_float_refuses_a_value_as_data_saying_what_to_pass() -> None:
    with pytest.raises(TypeError) as raised:
        Value(Value(1.0))  # type: ignore[arg-type]
    assert str(raised.value) == (
        "Value() got a Value (Value(data=1.0, grad=0.0)); pass the Value itself, "
        "or Value(v.data) for an unconnected copy"
    )


def test_checked_float_refuses_nan_saying_why() -> None:
    with pytest.raises(ValueError) as raised:
        Value(math.nan)
    assert str(raised.value) == (
        "Value() got nan; data must be finite, since every gradient computed from a nan or inf "
        "is meaningless (anomaly mode finds where a computation makes one)"
    )


class _GradFloat(float):
    """A real number that happens to have a ``grad`` attribute (but no ``backward``)."""

    grad = 0.0


def test_checked_float_accepts_a_number_with_a_grad_attribute() -> None:
    assert Value(_GradFloat(2.5)).data == 2.5


def test_checked_float_names_a_too_large_number_shortly() -> None:
    with pytest.raises(OverflowError) as raised:
        checked_float(Fraction(10**400), "here")
    assert str(raised.value) == f"here got Fraction({10**400}, 1), which is too large for a float"
    with pytest.raises(OverflowError) as raised:
        checked_float(10**400, "here")
    assert str(raised.value) == "here got an integer of 401 digits, which is too large for a float"


def _zero_d(kind: str, shape: tuple[int, ...] = ()) -> object:
    """What is_real reads of a numpy array: its shape and its dtype's kind."""
    return SimpleNamespace(shape=shape, dtype=SimpleNamespace(kind=kind))


def test_is_real_takes_0d_arrays_of_float_int_and_unsigned_kinds_only() -> None:
    assert [is_real(_zero_d(kind)) for kind in ("f", "i", "u")] == [True, True, True]
    assert [is_real(_zero_d(kind)) for kind in ("b", "c", "U", "O")] == [False] * 4
    assert is_real(_zero_d("f", shape=(1,))) is False
    assert is_real(SimpleNamespace(shape=())) is False  # no dtype: no kind


@pytest.mark.parametrize(
    ("result", "shown"), [(True, "True of type bool"), ("a", "'a' of type str")]
)
def test_custom_op_forward_must_return_a_real_number(result: Any, shown: str) -> None:
    bad = custom_op(lambda out, x: (1.0,), name="bad_forward")(lambda x: result)
    with pytest.raises(TypeError) as raised:
        bad(1.0)
    assert str(raised.value) == (
        f"bad_forward(1.0,) returned {shown}; forward must return a real number"
    )


def _bool_slope(out: float, x: float) -> tuple[Any, ...]:
    return (True,)


def test_custom_op_local_must_give_numbers_naming_op_local_and_point() -> None:
    with pytest.raises(TypeError) as raised:
        custom_op(_bool_slope, name="bool_slope")(lambda x: 2 * x)(1.0)
    assert str(raised.value) == (
        "bool_slope: _bool_slope(2.0, 1.0): derivative 0 is True; called with numbers, a local "
        "derivative must return numbers"
    )


class _TwoSlopes:
    def __call__(self, out: float, x: float) -> tuple[float, ...]:
        return (1.0, 2.0)

    def __repr__(self) -> str:
        return "_TwoSlopes()"


def test_custom_op_local_count_error_shows_a_nameless_local_by_its_repr() -> None:
    with pytest.raises(ValueError) as raised:
        custom_op(_TwoSlopes(), name="two_slopes")(lambda x: 2 * x)(1.0)
    assert str(raised.value) == (
        "two_slopes: _TwoSlopes()(2.0, 1.0) returned 2 derivative(s) for 1 operand(s)"
    )


def test_check_derivatives_calls_an_unwrapped_local_with_the_constants() -> None:
    # d(k*x)/dx = k: a hand-made entry with one constant, checked at x = 2, k = 3
    scaled = Op("scaled_by_k", 1, lambda x, k: k * x, lambda out, x, k: (k,), constants=1)
    check_derivatives(scaled, 6.0, [2.0], [3.0])  # one finite derivative: no error
    two = Op("scaled_twice", 1, lambda x, k: k * x, lambda out, x, k: (k, k), constants=1)
    with pytest.raises(ValueError, match=r"^scaled_twice: <lambda>\(6\.0, 2\.0\) returned 2 "):
        check_derivatives(two, 6.0, [2.0], [3.0])


def test_custom_entry_is_not_builtin() -> None:
    assert custom_entry("not_builtin", 1, lambda x: x, lambda out, x: (1.0,)).builtin is False


# --- what mutmut leaves alone: decorated functions (recording_changed, _counted's wrapper) -------


def test_recording_changed_counts_its_open_blocks_even_when_one_raises() -> None:
    # while no block is open, the engine makes nodes without asking what to record
    before = someone_watches[0]
    with no_grad(), watch(on_node=lambda v: None):
        assert someone_watches[0] == before + 2
    with pytest.raises(KeyError), no_grad():
        raise KeyError("inside")
    assert someone_watches[0] == before


def _three_in_a_list(out: float, x: float) -> Any:
    return [3.0]


def test_custom_op_local_may_return_a_list() -> None:
    tripled = custom_op(_three_in_a_list, name="tripled_list")(lambda x: 3 * x)
    x = Value(2.0)
    tripled(x).backward()
    assert x.grad == 3.0  # d(3x)/dx
    assert tripled.local(6.0, 2.0) == (3.0,)  # handed on as a tuple


def test_custom_op_local_that_gives_a_bare_number_at_backward_says_return_a_tuple() -> None:
    calls: list[float] = []

    def bare_later(out: float, x: float) -> Any:
        calls.append(out)
        return (1.0,) if len(calls) == 1 else 1.0  # right when checked, bare at backward

    node = Value.from_op(1.0, [Value(1.0)], "oneoff_bare", bare_later)
    with pytest.raises(TypeError) as raised:
        node.backward()
    assert str(raised.value) == (
        "oneoff_bare: bare_later gave 1.0 at (1.0,); return a tuple, one derivative per operand"
    )


# --- round three: mutants of the new code that the rest of the suite let live ------------------


def test_linear_refuses_a_number_weight_or_bias_naming_linear_and_the_operand() -> None:
    with pytest.raises(TypeError, match=r"^linear: weight or bias 1 is 3\.0 of type float;"):
        linear([Value(1.0)], [2.0], 3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^linear: weight or bias 0 is 1\.0 of type float;"):
        linear([1.0], [Value(2.0)], Value(0.0))  # type: ignore[list-item]


@pytest.mark.parametrize("symbol", ["+", "*", "/"])
def test_a_binary_op_refuses_a_non_number_naming_its_symbol(symbol: str) -> None:
    x: Any = Value(1.0)
    with pytest.raises(TypeError, match=rf"^Value {re.escape(symbol)} \.\.\. got 'a'"):
        {"+": lambda: x + "a", "*": lambda: x * "a", "/": lambda: x / "a"}[symbol]()


def test_an_overflowing_add_back_is_told_to_watchers_as_one_step_and_a_finite_one_is_not() -> None:
    w = Value(1.0, label="w")
    (w * 1e308).backward()
    seen: list[BackwardStep] = []
    with watch(on_step=seen.append):
        (w * 2.0).backward()  # 1e308 + 2: finite, so only the real edges are told
        assert [s.op for s in seen] == ["mul", "mul"]
        seen.clear()
        (w * 1e308).backward()  # 1e308 + 2 + 1e308 overflows
    [step] = [s for s in seen if s.node is w]
    assert (step.op, step.parent, step.parent_index) == ("+= earlier grad", w, 0)
    assert (step.upstream, step.local, step.contribution) == (1e308, 1.0, 1e308)
    assert (step.grad_before, step.grad_after) == (1e308 + 2.0, math.inf)
