"""Tests for anomaly mode: the first nan or inf, forward or backward, named with its source line."""

from __future__ import annotations

import math

import pytest

from micrograd_like.debug import AnomalyError, detect_anomaly
from micrograd_like.engine import Value, no_grad


def test_detect_anomaly_stops_at_a_forward_overflow_naming_op_operands_and_line() -> None:
    big, also_big = Value(1e200, label="big"), Value(1e200, label="also_big")
    with pytest.raises(AnomalyError) as raised, detect_anomaly():
        overflowing = big * also_big  # the line the message must quote
        overflowing.tanh()
    message = str(raised.value)
    assert "forward" in message
    assert "mul produced inf from operands 1e+200, 1e+200" in message
    assert "test_anomaly.py:" in message
    assert "overflowing = big * also_big" in message
    assert "in test_detect_anomaly_stops_at_a_forward_overflow" in message
    assert isinstance(raised.value, ArithmeticError)
    assert raised.value.node.op == "mul"
    assert raised.value.site is not None
    assert raised.value.site.function.startswith("test_detect_anomaly_stops_at_a_forward")


def test_detect_anomaly_catches_inf_minus_inf_making_nan() -> None:
    plus_inf = Value(1e200) * Value(1e200)  # made outside anomaly mode, so not caught here
    minus_inf = Value(-1e200) * Value(1e200)
    assert (plus_inf.data, minus_inf.data) == (math.inf, -math.inf)
    with pytest.raises(AnomalyError) as raised, detect_anomaly():
        plus_inf + minus_inf  # inf - inf
    message = str(raised.value)
    assert "add produced nan from operands inf, -inf" in message
    assert "operand 0 was already inf, made outside anomaly mode" in message
    assert "operand 1 was already -inf, made outside anomaly mode" in message
    assert math.isnan(raised.value.node.data)


def test_detect_anomaly_stops_at_a_backward_inf_naming_the_local_derivative() -> None:
    tiny = Value(1e-310, label="tiny")  # a subnormal: log is finite, 1/x overflows
    with pytest.raises(AnomalyError) as raised, detect_anomaly():
        logarithm = tiny.log()  # made here
        loss = logarithm * 2.0
        loss.backward()
    message = str(raised.value)
    assert "backward" in message
    assert "log -> operand 0: log_local gave inf" in message
    assert "upstream 2, local inf, contribution inf" in message
    assert "label='tiny'" in message
    assert "logarithm = tiny.log()  # made here" in message
    assert raised.value.node is logarithm


def test_detect_anomaly_names_a_contribution_that_overflows() -> None:
    x = Value(1e300, label="x")
    with (
        pytest.raises(AnomalyError, match=r"local \* upstream overflowed") as raised,
        detect_anomaly(),
    ):
        y = x * 1e5  # 1e305: finite; d(y)/d(const) = x = 1e300, times upstream 1e10 = inf
        y.backward(seed=1e10)
    assert "the mul node was made at" in str(raised.value)


def test_a_seed_that_is_not_finite_is_refused_even_in_anomaly_mode() -> None:
    with pytest.raises(ValueError, match=r"backward\(seed\) got inf"), detect_anomaly():
        (Value(2.0) * 3.0).backward(seed=math.inf)


def test_detect_anomaly_leaves_finite_computations_alone() -> None:
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    with detect_anomaly() as mode:
        out = (x * w).tanh()
        out.backward()
    # by hand: d tanh(xw)/dx = w * (1 - tanh(-6)**2)
    assert x.grad == pytest.approx(-3.0 * (1 - math.tanh(-6.0) ** 2), rel=1e-12)
    site = mode.site_of(out)
    assert site is not None
    assert "out = (x * w).tanh()" in str(site)
    assert mode.site_of(x) is None  # made before the block


def test_detect_anomaly_checks_nothing_outside_the_block() -> None:
    with detect_anomaly():
        pass
    overflow = Value(1e200) * Value(1e200)
    assert overflow.data == math.inf


def test_detect_anomaly_also_watches_no_grad_computations() -> None:
    with (
        pytest.raises(AnomalyError, match=r"under no_grad\(\) produced inf"),
        detect_anomaly(),
        no_grad(),
    ):
        Value(1e300) * 1e300


def test_anomaly_error_attributes_a_library_made_node_to_the_user_line() -> None:
    def helper(v: Value) -> Value:
        return v * v  # the first frame outside micrograd_like is this line

    with pytest.raises(AnomalyError) as raised, detect_anomaly():
        helper(Value(1e200))
    assert raised.value.site is not None
    assert raised.value.site.function == "helper"
    assert "return v * v" in str(raised.value)


def test_detect_anomaly_names_an_inf_made_by_adding_an_earlier_grad_and_changes_nothing() -> None:
    w = Value(1.0, label="w")
    (w * 1e308).backward()  # the first call: w.grad = 1e308, finite
    with detect_anomaly(), pytest.raises(AnomalyError) as raised:
        (w * 1e308).backward()  # 1e308 + 1e308 overflows only when added to the earlier grad
    message = str(raised.value)
    assert message.startswith("anomaly at the end of backward(): this pass's gradient 1e+308")
    assert "added to the 1e+308 the value held from earlier calls makes inf" in message
    assert "label='w'" in message
    assert w.grad == 1e308  # the failed pass added nothing
    (w * 1e308).backward()  # outside anomaly mode IEEE's inf is the answer, as in PyTorch
    assert w.grad == math.inf
