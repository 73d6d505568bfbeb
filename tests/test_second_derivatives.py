"""Second and higher derivatives from grad(create_graph=True): vs differences, torch, a formula."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from micrograd_like.engine import Value, grad
from micrograd_like.gradcheck import gradgradcheck
from micrograd_like.ops import self_power, softplus
from micrograd_like.strategies import BUILTIN_OPS, Expression, expressions, operands
from tests.support import require_torch
from tests.test_engine_properties import ENGINE_OPS, STRATEGY_OF, Function, builtin_case


def draw_case(data: st.DataObject, op: str) -> tuple[list[float], Function]:
    numbers = data.draw(operands(STRATEGY_OF[op]), label="operands")
    return builtin_case(op, numbers)


def engine_hessian(f: Function, inputs: list[float]) -> list[list[float]]:
    leaves = [Value(x) for x in inputs]
    firsts = grad(f(leaves), leaves, create_graph=True)
    return [[d.data for d in grad(first, leaves)] for first in firsts]


@pytest.mark.parametrize("op", ENGINE_OPS)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_op_second_derivatives_match_differences(op: str, data: st.DataObject) -> None:
    inputs, f = draw_case(data, op)
    gradgradcheck(f, inputs)


def test_pow_value_mixed_second_derivative_at_zero_exponent() -> None:
    # d(a**b)/da = b a**(b-1), so d2(a**b)/da db = a**(b-1) (1 + b log a) = 1/a at b = 0
    a, b = Value(2.0), Value(0.0)
    (d_da, _) = grad(a**b, [a, b], create_graph=True)
    (_, d2_da_db) = grad(d_da, [a, b])
    assert d2_da_db.data == pytest.approx(0.5, rel=1e-15)


# --- against torch's double backward, in float64 -------------------------------------------------


def torch_function(op: str, numbers: tuple[float, ...]) -> Callable[[list[Any]], Any]:
    """The same op for torch tensors, on the same inputs builtin_case makes."""
    import torch

    n = (len(numbers) - 1) // 2
    if op == "** number":
        return lambda t: t[0] ** numbers[1]
    if op == "linear of numbers":
        return lambda t: t[-1] + sum(w * x for w, x in zip(t[:n], numbers[n : 2 * n], strict=True))
    functions: dict[str, Callable[[list[Any]], Any]] = {
        "+": lambda t: t[0] + t[1],
        "-": lambda t: t[0] - t[1],
        "*": lambda t: t[0] * t[1],
        "/": lambda t: t[0] / t[1],
        "** Value": lambda t: t[0] ** t[1],
        "neg": lambda t: -t[0],
        "relu": lambda t: torch.relu(t[0]),
        "tanh": lambda t: torch.tanh(t[0]),
        "sigmoid": lambda t: torch.sigmoid(t[0]),
        "exp": lambda t: torch.exp(t[0]),
        "log": lambda t: torch.log(t[0]),
        "linear": lambda t: t[-1] + sum(w * x for w, x in zip(t[:n], t[n : 2 * n], strict=True)),
        "sum_of": lambda t: sum(t[1:], t[0]),
    }
    return functions[op]


def torch_hessian(f: Callable[[list[Any]], Any], inputs: list[float]) -> list[list[float]]:
    import torch

    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    firsts = torch.autograd.grad(f(xs), xs, create_graph=True, allow_unused=True)
    rows = []
    for first in firsts:
        if first is None or not first.requires_grad:  # a constant first derivative
            rows.append([0.0] * len(xs))
            continue
        seconds = torch.autograd.grad(first, xs, allow_unused=True)
        rows.append([0.0 if s is None else s.item() for s in seconds])
    return rows


@pytest.mark.parametrize("op", ENGINE_OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_op_second_derivatives_match_torch(op: str, data: st.DataObject) -> None:
    require_torch()
    numbers = data.draw(operands(STRATEGY_OF[op]), label="operands")
    if op == "** Value":
        # torch's pow backward replaces d/da by a constant 0 where the exponent is 0, so its
        # mixed derivative there is 0, not a**(b-1) (1 + b log a) = 1/a; finite differences
        # (test_pow_value_mixed_second_derivative_at_zero_exponent) side with the formula.
        assume(numbers[1] != 0)
    inputs, f = builtin_case(op, numbers)
    expected = torch_hessian(torch_function(op, numbers), inputs)
    for got_row, expected_row in zip(engine_hessian(f, inputs), expected, strict=True):
        assert got_row == pytest.approx(expected_row, rel=1e-10, abs=1e-12)


# --- the sixth derivative of tanh, against its closed form ----------------------------------------


def tanh_derivative_polynomials(order: int) -> list[list[int]]:
    """Coefficients (lowest power first) of p_n with d^n tanh(x)/dx^n = p_n(tanh(x)).

    p_0(t) = t and, because dt/dx = 1 - t**2, p_{n+1}(t) = p_n'(t) * (1 - t**2).
    """
    polynomials = [[0, 1]]
    for _ in range(order):
        slope = [power * c for power, c in enumerate(polynomials[-1])][1:]
        product = [0] * (len(slope) + 2)
        for power, c in enumerate(slope):
            product[power] += c
            product[power + 2] -= c
        polynomials.append(product)
    return polynomials


def evaluate(coefficients: list[int], t: float) -> float:
    return sum(c * t**power for power, c in enumerate(coefficients))


def test_tanh_derivative_polynomials_match_hand_derivation() -> None:
    # tanh' = 1 - t^2, tanh'' = -2t + 2t^3, tanh''' = -2 + 8t^2 - 6t^4
    polynomials = tanh_derivative_polynomials(3)
    assert polynomials[1] == [1, 0, -1]
    assert polynomials[2] == [0, -2, 0, 2]
    assert polynomials[3] == [-2, 0, 8, 0, -6]


SIXTH = tanh_derivative_polynomials(6)[6]


@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3))
def test_tanh_sixth_derivative_matches_closed_form(x: float) -> None:
    point = Value(x)
    derivative = point.tanh()
    for _ in range(6):
        (derivative,) = grad(derivative, [point], create_graph=True)
    assert abs(derivative.data - evaluate(SIXTH, math.tanh(x))) <= 1e-9


# --- random graphs ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(expressions(ops=[*BUILTIN_OPS, softplus, self_power], max_ops=12))
def test_random_graphs_second_derivatives_match_differences(expression: Expression) -> None:
    gradgradcheck(expression, expression.inputs)


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking a 50-op graph takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(expressions(ops=BUILTIN_OPS, min_ops=50, max_ops=60, max_inputs=2))
def test_random_graphs_of_fifty_ops_second_derivatives(expression: Expression) -> None:
    gradgradcheck(expression, expression.inputs)
