"""Second and higher derivatives of every op of the op table: vs differences, torch, a formula."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from micrograd_like.engine import Value, grad, topological_order
from micrograd_like.gradcheck import gradgradcheck
from micrograd_like.ops import self_power, softplus
from micrograd_like.optable import all_ops, op_named
from micrograd_like.strategies import BUILTIN_OPS, Expression, expressions
from tests.support import require_torch
from tests.test_engine_properties import OPS, Function, builtin_case, layout, operands_of

Derivatives = tuple[float, list[float], list[list[float]]]  # value, gradient, Hessian


def draw_case(data: st.DataObject, op: str) -> tuple[list[float], Function]:
    numbers = data.draw(operands_of(op), label="operands")
    return builtin_case(op, numbers)


def engine_derivatives(f: Function, inputs: list[float]) -> Derivatives:
    leaves = [Value(x) for x in inputs]
    out = f(leaves)
    firsts = grad(out, leaves, create_graph=True)
    hessian = [[d.data for d in grad(first, leaves)] for first in firsts]
    return out.data, [d.data for d in firsts], hessian


@pytest.mark.parametrize("op", OPS)
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


def test_second_derivatives_through_a_negative_base_to_a_value_power_are_refused_by_name() -> None:
    # d(a**b)/db = a**b log(a) is nan at a < 0 (as PyTorch); a graph of Values cannot hold nan,
    # so building the second derivative says so instead of a bare or misleading error
    pow_value = op_named("pow_value")
    with pytest.raises(
        ValueError, match=r"pow_value: d\(a\*\*b\)/db = a\*\*b \* log\(a\) is undefined"
    ):
        gradgradcheck(lambda v: pow_value(v[0], 2.0), [-1.0])


def test_the_strategies_keep_a_value_power_to_a_positive_base() -> None:
    @settings(max_examples=60, deadline=None)
    @given(expressions(["pow_value", "neg", "add"], min_ops=3, max_ops=8))
    def positive_bases(expression: Expression) -> None:
        order = topological_order(expression(list(expression.inputs)))
        assert all(node.parents[0].data > 0 for node in order if node.op == "pow_value")

    positive_bases()


# --- against torch's double backward, in float64 -------------------------------------------------


def _torch_linear(torch: Any, a: list[Any]) -> Any:
    n = (len(a) - 1) // 2
    total = a[-1]  # bias first, then each product, as the engine adds them
    for w, x in zip(a[:n], a[n : 2 * n], strict=True):
        total = total + w * x
    return total


# Our op names and PyTorch's counterparts, on operands laid out as strategies.operands draws
# them (numbers where the layout keeps constants, tensors elsewhere).
TORCH: dict[str, Callable[[Any, list[Any]], Any]] = {
    "add": lambda torch, a: a[0] + a[1],
    "sub": lambda torch, a: a[0] - a[1],
    "mul": lambda torch, a: a[0] * a[1],
    "div": lambda torch, a: a[0] / a[1],
    "neg": lambda torch, a: -a[0],
    "relu": lambda torch, a: torch.relu(a[0]),
    "tanh": lambda torch, a: torch.tanh(a[0]),
    "sigmoid": lambda torch, a: torch.sigmoid(a[0]),
    "exp": lambda torch, a: torch.exp(a[0]),
    "log": lambda torch, a: torch.log(a[0]),
    "sin": lambda torch, a: torch.sin(a[0]),
    "cos": lambda torch, a: torch.cos(a[0]),
    "sqrt": lambda torch, a: torch.sqrt(a[0]),
    "abs": lambda torch, a: torch.abs(a[0]),
    "pow": lambda torch, a: a[0] ** a[1],
    "pow_value": lambda torch, a: a[0] ** a[1],
    "linear": _torch_linear,
    "linear_const": _torch_linear,
    "sum": lambda torch, a: sum(a[1:], a[0]),
}
TORCH_RTOL, TORCH_ATOL = 1e-9, 1e-12  # values, first and second derivatives alike


def torch_counterpart(op: str) -> Callable[[Any, list[Any]], Any]:
    assert op in TORCH, f"op {op!r} has no PyTorch counterpart: add one to TORCH in {__name__}"
    return TORCH[op]


def test_every_op_has_a_torch_counterpart() -> None:
    # runs without torch: an op added to the table fails here until TORCH says what it is
    assert [op for op in OPS if op not in TORCH] == []


def torch_function(op: str, numbers: tuple[float, ...]) -> Callable[[list[Any]], Any]:
    """The op for torch tensors, on the inputs builtin_case makes of the same numbers."""
    import torch

    counterpart = torch_counterpart(op)
    variables = layout(op).variables(len(numbers))

    def function(tensors: list[Any]) -> Any:
        args: list[Any] = list(numbers)
        for position, tensor in zip(variables, tensors, strict=True):
            args[position] = tensor
        return counterpart(torch, args)

    return function


def torch_derivatives(f: Callable[[list[Any]], Any], inputs: list[float]) -> Derivatives:
    import torch

    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out = f(xs)
    firsts = torch.autograd.grad(out, xs, create_graph=True, allow_unused=True)
    rows = []
    for first in firsts:
        if first is None or not first.requires_grad:  # a constant first derivative
            rows.append([0.0] * len(xs))
            continue
        seconds = torch.autograd.grad(first, xs, allow_unused=True)
        rows.append([0.0 if s is None else s.item() for s in seconds])
    gradient = [0.0 if first is None else first.item() for first in firsts]
    return out.item(), gradient, rows


def assert_same_derivatives(ours: Derivatives, theirs: Derivatives) -> None:
    assert ours[0] == pytest.approx(theirs[0], rel=TORCH_RTOL, abs=TORCH_ATOL), "values"
    assert ours[1] == pytest.approx(theirs[1], rel=TORCH_RTOL, abs=TORCH_ATOL), "first derivatives"
    for got_row, expected_row in zip(ours[2], theirs[2], strict=True):
        assert got_row == pytest.approx(expected_row, rel=TORCH_RTOL, abs=TORCH_ATOL), (
            "second derivatives"
        )


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_op_derivatives_match_torch(op: str, data: st.DataObject) -> None:
    require_torch()
    numbers = data.draw(operands_of(op), label="operands")
    if op == "pow_value":
        # torch's pow backward replaces d/da by a constant 0 where the exponent is 0, so its
        # mixed derivative there is 0, not a**(b-1) (1 + b log a) = 1/a; finite differences
        # (test_pow_value_mixed_second_derivative_at_zero_exponent) side with the formula.
        assume(numbers[1] != 0)
    inputs, f = builtin_case(op, numbers)
    expected = torch_derivatives(torch_function(op, numbers), inputs)
    assert_same_derivatives(engine_derivatives(f, inputs), expected)


KINKED = [(entry.name, kink) for entry in all_ops() if entry.builtin for kink in entry.kinks]


@pytest.mark.parametrize(("op", "kink"), KINKED)
def test_kinked_ops_match_torch_at_their_kinks(op: str, kink: float) -> None:
    # relu and abs at 0: both engines take the derivative there to be 0, and the second too
    require_torch()
    inputs, f = builtin_case(op, (kink,))
    expected = torch_derivatives(torch_function(op, (kink,)), inputs)
    assert_same_derivatives(engine_derivatives(f, inputs), expected)


@pytest.mark.parametrize("op", ["relu", "abs"])
def test_relu_and_abs_take_zero_derivatives_at_zero(op: str) -> None:
    # what the torch test above expects of both engines at the kink, checked here without torch
    assert (op, 0.0) in KINKED
    inputs, f = builtin_case(op, (0.0,))
    assert engine_derivatives(f, inputs) == (0.0, [0.0], [[0.0]])


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
    max_examples=50,  # about 40 ms each
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking a 50-op graph takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(expressions(ops=BUILTIN_OPS, min_ops=50, max_ops=60, max_inputs=2))
def test_random_graphs_of_fifty_ops_second_derivatives(expression: Expression) -> None:
    assert expression.size >= 50
    gradgradcheck(expression, expression.inputs)
