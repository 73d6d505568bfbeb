"""Custom ops work wherever built-in ops do, refuse bad definitions, and wrong ones get caught."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import find, given, settings

from micrograd_like.engine import BackwardStep, Value, backward_steps, grad, no_grad, watch
from micrograd_like.gradcheck import GradcheckError, gradcheck
from micrograd_like.ops import (
    CustomOp,
    custom_op,
    exp,
    log,
    self_power,
    sigmoid,
    softplus,
    tanh,
)
from micrograd_like.optable import builtin_names, op_named
from micrograd_like.strategies import domain, expressions
from tests.softplus_cases import doubled_softplus, hand_sigmoid, softplus_forward


def flipped_local(out: Any, x: Any) -> tuple[Any, ...]:
    return (-sigmoid(x),)  # deliberately wrong: the sign is flipped


flipped_softplus = custom_op(flipped_local, name="flipped_softplus")(softplus_forward)


def slope_one_local(out: Any, x: Any) -> tuple[Any, ...]:
    # d x/dx = 1
    return (1.0,)


# --- the ready examples, against derivatives worked out by hand -------------------------------


def test_softplus_value_and_slope_at_zero() -> None:
    y = softplus(0.0)
    assert y.data == pytest.approx(math.log(2.0), abs=1e-15)
    assert y.op == "softplus"
    assert y.local_grads() == pytest.approx((0.5,), abs=1e-15)


def test_softplus_is_stable_in_both_tails() -> None:
    assert softplus(800.0).data == 800.0
    assert softplus(-800.0).data == 0.0


def test_softplus_backward_gives_sigmoid() -> None:
    x = Value(0.7)
    softplus(x).backward()
    assert x.grad == pytest.approx(hand_sigmoid(0.7), rel=1e-14)


def test_self_power_first_and_second_derivative() -> None:
    # d x**x/dx = x**x (ln x + 1);  d2 x**x/dx2 = x**x ((ln x + 1)**2 + 1/x)
    x = Value(1.5)
    (first,) = grad(self_power(x), [x], create_graph=True)
    (second,) = grad(first, [x])
    xx = 1.5**1.5
    assert first.data == pytest.approx(xx * (math.log(1.5) + 1), rel=1e-13)
    assert second.data == pytest.approx(xx * ((math.log(1.5) + 1) ** 2 + 1 / 1.5), rel=1e-13)


def test_self_power_refuses_non_positive_input() -> None:
    with pytest.raises(ValueError, match=r"self_power\(\) of -1.0"):
        self_power(-1.0)


def test_custom_op_second_derivative_through_create_graph() -> None:
    # d2 softplus/dx2 = sigmoid(x) (1 - sigmoid(x))
    x = Value(-0.4)
    (first,) = grad(softplus(x), [x], create_graph=True)
    (second,) = grad(first, [x])
    s = hand_sigmoid(-0.4)
    assert second.data == pytest.approx(s * (1 - s), rel=1e-13)


# --- everywhere a built-in op goes --------------------------------------------------------------


def test_custom_op_backward_steps_show_its_edge() -> None:
    x = Value(0.3, "x")
    steps = list(backward_steps(softplus(x) * 2.0))
    edge = next(step for step in steps if step.op == "softplus")
    assert edge.parent is x
    assert edge.local == pytest.approx(hand_sigmoid(0.3), rel=1e-14)
    assert edge.contribution == pytest.approx(2.0 * hand_sigmoid(0.3), rel=1e-14)
    assert edge.grad_after == pytest.approx(2.0 * hand_sigmoid(0.3), rel=1e-14)
    assert x.grad == 0.0  # the stepper watches; it changes no gradient


def test_custom_op_is_seen_by_watch_hooks() -> None:
    made: list[Value] = []
    edges: list[BackwardStep] = []
    x = Value(0.3)
    with watch(on_node=made.append, on_step=edges.append):
        y = softplus(x)
        y.backward()
    assert [node.op for node in made] == ["softplus"]
    assert [(edge.op, edge.parent) for edge in edges] == [("softplus", x)]


def test_custom_op_node_gives_pictures_what_they_read() -> None:
    a, b = Value(2.0), Value(3.0)

    def weighted_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # d(a + 2b)/da = 1, d(a + 2b)/db = 2
        return 1.0, 2.0

    @custom_op(weighted_local)
    def weighted(a: float, b: float) -> float:
        return a + 2 * b

    node = weighted(a, b)
    assert (node.op, node.parents, node.local_grads()) == ("weighted", (a, b), (1.0, 2.0))
    assert node.data == 8.0


def test_custom_op_with_two_operands_passes_gradcheck() -> None:
    def smooth_max_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # out = log(e**a + e**b): d/da = e**(a - out), d/db = e**(b - out)
        return exp(a - out), exp(b - out)

    @custom_op(smooth_max_local)
    def smooth_max(a: float, b: float) -> float:
        top = max(a, b)
        return top + math.log(math.exp(a - top) + math.exp(b - top))

    gradcheck(lambda v: smooth_max(v[0], v[1]) * v[0], [0.3, -1.1])
    assert smooth_max(0.0, 0.0).data == pytest.approx(math.log(2.0), abs=1e-15)


def test_custom_op_makes_no_graph_under_no_grad() -> None:
    with no_grad():
        y = softplus(Value(1.0))
    assert (y.op, y.parents) == ("", ())


def test_custom_op_lifts_numbers_to_constant_leaves() -> None:
    y = softplus(2)
    assert y.parents[0].data == 2.0 and y.parents[0].op == ""


def test_custom_op_helpers_work_on_numbers_and_values() -> None:
    for helper, reference in ((exp, math.exp), (log, math.log), (tanh, math.tanh)):
        assert helper(0.8) == reference(0.8)
        assert helper(Value(0.8)).data == pytest.approx(reference(0.8), rel=1e-15)
    assert sigmoid(-800.0) == 0.0 and sigmoid(Value(0.8)).data == hand_sigmoid(0.8)
    with pytest.raises(ValueError, match=r"log\(\) of -2.0"):
        log(-2.0)


# --- bad definitions and bad calls get clear errors naming the op ------------------------------


def test_custom_op_refuses_wrong_operand_count() -> None:
    with pytest.raises(TypeError, match="softplus takes 1 operand"):
        softplus(1.0, 2.0)


def test_custom_op_refuses_operands_that_are_not_numbers() -> None:
    with pytest.raises(TypeError, match=r"softplus: operand 0 got '3'"):
        softplus("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="softplus: operand 0 got True"):
        softplus(True)
    with pytest.raises(ValueError, match="softplus: operand 0 got nan"):
        softplus(math.nan)


def test_custom_op_refuses_wrong_number_of_derivatives() -> None:
    def too_many_local(out: Any, x: Any) -> tuple[Any, ...]:
        return 1.0, 2.0

    twice = custom_op(too_many_local, name="twice")(lambda x: 2 * x)
    with pytest.raises(ValueError, match=r"twice: too_many_local.* 2 derivative\(s\) for 1"):
        twice(Value(1.0))


def test_custom_op_refuses_a_bare_number_as_derivatives() -> None:
    def bare_local(out: Any, x: Any) -> Any:
        return 2.0

    twice = custom_op(bare_local, name="twice")(lambda x: 2 * x)
    with pytest.raises(TypeError, match=r"twice: bare_local.*return a tuple"):
        twice(Value(1.0))


def test_custom_op_refuses_local_with_wrong_signature_when_defined() -> None:
    def no_out_local(x: Any) -> tuple[Any, ...]:
        return (1.0,)

    with pytest.raises(TypeError, match=r"identity: its local derivative no_out_local"):
        custom_op(no_out_local, name="identity")(lambda x: x)


def test_custom_op_refuses_non_finite_forward_and_derivative() -> None:
    def one_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0,)

    def infinite_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (math.inf,)

    with pytest.raises(ValueError, match=r"blowup\(1.0,\) returned inf"):
        custom_op(one_local, name="blowup")(lambda x: math.inf)(1.0)
    with pytest.raises(ValueError, match=r"steep: infinite_local.*derivative 0 is inf"):
        custom_op(infinite_local, name="steep")(lambda x: x)(1.0)


def test_custom_op_refuses_variadic_forward_and_empty_name() -> None:
    def any_local(out: Any, *xs: Any) -> tuple[Any, ...]:
        return (1.0,) * len(xs)

    def total(*xs: float) -> float:
        return sum(xs)

    with pytest.raises(TypeError, match="total: forward must take a fixed number"):
        custom_op(any_local)(total)
    with pytest.raises(ValueError, match="non-empty name"):
        custom_op(any_local, name="")(lambda x: x)


def test_custom_op_registers_its_kinks() -> None:
    def sign_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0 if x > 0 else -1.0,)

    magnitude = custom_op(sign_local, name="magnitude", kinks=[0])(abs)
    assert isinstance(magnitude, CustomOp) and magnitude.kinks == (0.0,)
    assert op_named("magnitude").kinks == (0.0,)
    assert op_named("relu").kinks == (0.0,) and op_named("tanh").kinks == ()


@pytest.mark.parametrize(
    "name",
    builtin_names(),
)
def test_custom_op_refuses_an_engine_op_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"custom op {re.escape(repr(name))} shadows a built-in"):
        custom_op(slope_one_local, name=name)(lambda x: x)
    assert op_named("relu").kinks == (0.0,)  # the engine's kink is still known


def test_custom_op_redefined_under_a_name_keeps_each_nodes_own_kinks() -> None:
    def sign_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0 if x > 0 else -1.0,)

    bent = custom_op(sign_local, name="bent", kinks=(0.0,))(abs)
    node = bent(Value(2.0))
    custom_op(slope_one_local, name="bent")(lambda x: x)  # smooth, no kinks of its own
    assert op_named("bent").kinks == ()  # the table holds the newest entry
    assert node.op_entry.kinks == (0.0,)  # a node keeps the entry that made it


@pytest.mark.parametrize(
    ("helper", "engine_op", "x"),
    [(exp, Value.exp, 800.0), (log, Value.log, -2.0), (log, Value.log, 0.0)],
)
def test_custom_op_helpers_refuse_with_the_engine_message(
    helper: Callable[[float], float], engine_op: Callable[[Value], Value], x: float
) -> None:
    with pytest.raises(ArithmeticError if x > 0 else ValueError) as from_engine:
        engine_op(Value(x))
    with pytest.raises(type(from_engine.value)) as from_helper:
        helper(x)
    assert str(from_helper.value) == str(from_engine.value)


def test_custom_op_sigmoid_helper_gives_the_engine_bits() -> None:
    points = [-800.0, -40.5, -1e-3, -0.0, 0.0, 1e-300, 0.7, 36.9, 800.0]
    assert [sigmoid(x) for x in points] == [Value(x).sigmoid().data for x in points]


# --- wrong derivatives are caught -----------------------------------------------------------


@pytest.mark.parametrize("wrong", [doubled_softplus, flipped_softplus])
def test_gradcheck_catches_wrong_custom_op(wrong: CustomOp) -> None:
    with pytest.raises(GradcheckError, match="<-- FAIL"):
        gradcheck(lambda v: wrong(v[0]), [0.4])


@pytest.mark.parametrize("wrong", [doubled_softplus, flipped_softplus])
def test_property_on_domain_catches_wrong_custom_op(wrong: CustomOp) -> None:
    @settings(max_examples=50, database=None)
    @given(domain(wrong))
    def slope_matches_differences(x: float) -> None:
        gradcheck(lambda v: wrong(v[0]), [x])

    with pytest.raises(GradcheckError, match="<-- FAIL"):
        slope_matches_differences()


@pytest.mark.parametrize("wrong", [doubled_softplus, flipped_softplus])
def test_find_over_expressions_catches_wrong_custom_op(wrong: CustomOp) -> None:
    def disagrees(expression: Any) -> bool:
        try:
            gradcheck(expression, expression.inputs)
        except GradcheckError:
            return True
        return False

    found = find(
        expressions(ops=[wrong, "mul", "tanh"], max_ops=6),
        disagrees,
        settings=settings(max_examples=100, database=None),
    )
    assert any(step.op == wrong.name for step in found.steps)


def test_property_passes_for_correct_custom_op() -> None:
    @settings(max_examples=50, database=None)
    @given(expressions(ops=[softplus, self_power, "mul", "add", "tanh"], max_ops=8))
    def gradients_match_differences(expression: Any) -> None:
        gradcheck(expression, expression.inputs)

    gradients_match_differences()


# --- the README's example, as written there ----------------------------------------------------


def readme_softplus_local(out: Any, x: Any) -> tuple[Any, ...]:
    return (sigmoid(x),)  # d softplus(x)/dx = sigmoid(x)


@custom_op(readme_softplus_local, name="readme_softplus")
def readme_softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@settings(max_examples=50)
@given(domain(readme_softplus))
def test_readme_softplus_slope(x: float) -> None:
    gradcheck(lambda v: readme_softplus(v[0]), [x])


@settings(max_examples=30)
@given(expressions(ops=[readme_softplus, "mul", "add", "tanh"]))
def test_readme_softplus_in_random_graphs(expression: Any) -> None:
    gradcheck(expression, expression.inputs)
