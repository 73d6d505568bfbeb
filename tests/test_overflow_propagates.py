"""An overflow upstream is carried on as IEEE and PyTorch carry it, never refused for the wrong
reason; what is truly outside an op's domain is refused naming the op and the number."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from micrograd_like import optable
from micrograd_like.engine import Value
from micrograd_like.optable import NON_NEGATIVE, POSITIVE, REAL, Interval

INF, NAN = math.inf, math.nan


def overflowed(x: float) -> Value:
    """A node holding inf, -inf or nan, made the way a real overflow makes one."""
    big = Value(1e308) * 10.0
    return {INF: big, -INF: -big, 0.0: big * 0.0}[x if x == x else 0.0]


# What each one-operand op gives at inf, -inf and nan: IEEE's answer, worked out by hand
# (None: refused, the number is outside the op's domain).
EXPECTED = {
    "neg": (-INF, INF, NAN),
    "relu": (INF, 0.0, NAN),
    "tanh": (1.0, -1.0, NAN),
    "sigmoid": (1.0, 0.0, NAN),
    "exp": (INF, 0.0, NAN),
    "log": (INF, None, NAN),
    "sin": (NAN, NAN, NAN),
    "cos": (NAN, NAN, NAN),
    "sqrt": (INF, None, NAN),
    "abs": (INF, INF, NAN),
}


def same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def test_every_one_operand_op_is_in_the_table_of_expectations() -> None:
    unary = {o.name for o in optable.all_ops() if o.builtin and o.arity == 1 and not o.constants}
    assert unary == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_operand_ops_carry_inf_and_nan_on_and_refuse_only_outside_their_domain(
    name: str,
) -> None:
    for x, expected in zip((INF, -INF, NAN), EXPECTED[name], strict=True):
        node = overflowed(x)
        if expected is None:
            with pytest.raises(ValueError, match=rf"^{name}\(\) of -inf: .*(positive|>= 0)"):
                optable.op_named(name)(node)
            continue
        out = optable.op_named(name)(node)
        assert same(out.data, expected), (name, x, out.data)
        out.backward()  # the local derivative at inf or nan is a number, never an exception
        assert isinstance(node.grad, float), (name, x)


def test_log_and_sqrt_of_an_overflow_upstream_are_inf_with_slope_zero() -> None:
    for name in ("log", "sqrt"):
        big = Value(1e308) * 10.0
        out = getattr(big, name)()
        out.backward()
        assert (out.data, big.grad) == (INF, 0.0), name  # 1/inf and 1/(2 sqrt(inf)) are 0


@pytest.mark.parametrize(
    ("interval", "inside", "outside"),
    [
        (POSITIVE, [1e-300, 5.0, INF, NAN], [0.0, -1.0, -INF]),
        (NON_NEGATIVE, [0.0, 5.0, INF, NAN], [-1e-300, -INF]),
        (REAL, [-INF, 0.0, INF, NAN], []),
        (Interval(-1.0, 1.0), [0.0, NAN], [-1.0, 1.0, INF, -INF]),
    ],
)
def test_an_interval_holds_nan_and_its_own_infinite_ends(
    interval: Interval, inside: list[float], outside: list[float]
) -> None:
    assert [x in interval for x in inside] == [True] * len(inside)
    assert [x in interval for x in outside] == [False] * len(outside)


def test_a_numpy_array_is_refused_on_either_side_of_an_op_naming_it() -> None:
    x: Any = Value(2.0)
    array: Any = np.array([1.0, 2.0])
    attempts: list[Callable[[], object]] = [
        lambda: x * array,
        lambda: array * x,
        lambda: array + x,
        lambda: x - array,
    ]
    for attempt in attempts:
        with pytest.raises(TypeError, match="ndarray"):
            attempt()


def test_numpy_scalars_stay_numbers_on_either_side_of_an_op() -> None:
    x: Any = Value(3.0)
    results = [np.float64(2.0) * x, x * np.float64(2.0), np.int64(2) + x, np.float32(0.5) * x]
    assert [(type(r), r.data) for r in results] == [
        (Value, 6.0),
        (Value, 6.0),
        (Value, 5.0),
        (Value, 1.5),
    ]


def test_mistakes_outside_the_ops_are_named_where_they_are_made() -> None:
    from micrograd_like.engine import sum_of
    from micrograd_like.losses import softmax_cross_entropy
    from micrograd_like.optim import Adam

    with pytest.raises(
        TypeError, match=r"^sum_of: expected an iterable of Values or numbers, got 5"
    ):
        sum_of(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^sum_of: expected an iterable .*got Value\(data=2\.0"):
        sum_of(Value(2.0))  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^Adam: betas must be a pair \(beta1, beta2\), got \(0\.9,\)"
    ):
        Adam([Value(1.0)], betas=(0.9,))  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^softmax_cross_entropy: no logits; it needs one per class"
    ):
        softmax_cross_entropy([], 0)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_value_method_gives_what_its_table_entry_gives_at_inf_and_nan(name: str) -> None:
    """x.sin() is the method made from the entry, with its own forward path: sin(inf) is nan."""
    method = "__neg__" if name == "neg" else name
    for x, expected in zip((INF, -INF, NAN), EXPECTED[name], strict=True):
        if expected is None:
            with pytest.raises(ValueError, match=rf"^{name}\(\) of -inf: .*(positive|>= 0)"):
                getattr(overflowed(x), method)()
            continue
        out = getattr(overflowed(x), method)()
        assert same(out.data, expected), (name, x, out.data)
