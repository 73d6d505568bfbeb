"""Tests written to kill mutants of the core (engine.py, optable.py) that the suite let survive.

Each expected value is worked out by hand; `mutmut run` (config in pyproject.toml) finds them.
mutmut forks its workers after importing the package, so mutants of what runs at import (the
methods Value gets from its op entries, the table's registration) act only in a fresh process:

    cd mutants && for m in $(cd .. && .venv/bin/mutmut results --all true | grep -E \
        '_install_methods|_unary_method|_binary_method|named_method|because|x_register|post_init' \
        | cut -d: -f1); do MUTANT_UNDER_TEST=$m ../.venv/bin/python -m pytest -x -q -o addopts= \
        -p no:nbmake -p no:cacheprovider tests/test_engine.py tests/test_custom_ops.py \
        tests/test_core_mutants.py >/dev/null 2>&1 && echo "survived $m"; done
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from micrograd_like import engine
from micrograd_like.checks import checked_float
from micrograd_like.engine import (
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
    named_method,
    op_named,
    op_named_or_none,
    register,
)
from micrograd_like.recording import watch_data_reads

NOT_A_NUMBER: Any = "a"  # typed Any: these tests pass it where numbers belong
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
