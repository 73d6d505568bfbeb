"""Engine properties: every built-in op's backward() agrees with central finite differences.

Built on the public toolkit (strategies for the points, numerical_grad and gradcheck for the
check), so these are the same tests a user writes for an op of their own.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from micrograd_like.engine import Value, linear, sum_of
from micrograd_like.gradcheck import gradcheck, numerical_grad
from micrograd_like.ops import self_power, softplus
from micrograd_like.strategies import BUILTIN_OPS, Expression, expressions, operands

Function = Callable[[list[Value]], Value]
Case = tuple[list[float], Function]


def _linear_of_values(values: list[Value]) -> Value:
    n = (len(values) - 1) // 2
    return linear(values[:n], values[n : 2 * n], values[-1])


def builtin_case(op: str, numbers: tuple[float, ...]) -> Case:
    """The inputs and the function of one built-in op, from numbers drawn by ``operands``."""
    if op == "** number":
        base, exponent = numbers
        return [base], lambda v: v[0] ** exponent
    if op == "linear of numbers":  # constant inputs: only weights and bias are parents
        n = (len(numbers) - 1) // 2
        constants = numbers[n : 2 * n]
        inputs = [*numbers[:n], numbers[-1]]
        return inputs, lambda v: linear(v[:n], constants, v[-1])
    functions: dict[str, Function] = {
        "+": lambda v: v[0] + v[1],
        "-": lambda v: v[0] - v[1],
        "*": lambda v: v[0] * v[1],
        "/": lambda v: v[0] / v[1],
        "** Value": lambda v: v[0] ** v[1],
        "neg": lambda v: -v[0],
        "relu": lambda v: v[0].relu(),
        "tanh": lambda v: v[0].tanh(),
        "sigmoid": lambda v: v[0].sigmoid(),
        "exp": lambda v: v[0].exp(),
        "log": lambda v: v[0].log(),
        "linear": _linear_of_values,
        "sum_of": sum_of,
    }
    return list(numbers), functions[op]


# Each engine op and the strategies' name for the numbers it takes.
STRATEGY_OF = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "** number": "pow",
    "** Value": "pow_value",
    "neg": "neg",
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "exp": "exp",
    "log": "log",
    "linear": "linear",
    "linear of numbers": "linear",
    "sum_of": "sum",
}
ENGINE_OPS = list(STRATEGY_OF)

big_graphs = settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking a 50-op graph takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_backward_matches_differences(f: Function, inputs: list[float]) -> None:
    leaves = [Value(x) for x in inputs]
    f(leaves).backward()
    numeric = numerical_grad(f, inputs)
    assert [leaf.grad for leaf in leaves] == pytest.approx(numeric, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("op", ENGINE_OPS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_op_backward_matches_finite_differences(op: str, data: st.DataObject) -> None:
    inputs, f = builtin_case(op, data.draw(operands(STRATEGY_OF[op]), label="operands"))
    assert_backward_matches_differences(f, inputs)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-3, 3).filter(lambda x: abs(x) > 0.1),
    st.sampled_from([-2.0, 0.5, 3.0]),
)
def test_numbers_on_either_side_match_finite_differences(x: float, c: float) -> None:
    for f in (
        lambda v: c + v[0],
        lambda v: c - v[0],
        lambda v: c * v[0],
        lambda v: c / v[0],
        lambda v: v[0] - c,
        lambda v: v[0] / c,
        lambda v: abs(c) ** v[0],
    ):
        assert_backward_matches_differences(f, [x])


@settings(max_examples=80, deadline=None)
@given(expressions(max_ops=15))
def test_random_compositions_match_finite_differences(expression: Expression) -> None:
    assert_backward_matches_differences(expression, list(expression.inputs))


@settings(max_examples=40, deadline=None)
@given(expressions(ops=[*BUILTIN_OPS, softplus, self_power], min_inputs=2, max_ops=20))
def test_random_compositions_with_custom_ops_pass_gradcheck(expression: Expression) -> None:
    gradcheck(expression, expression.inputs)


# Hand-picked points, away from domain edges and kinks, for a quick look at every op.
FIXED_POINTS: dict[str, tuple[float, ...]] = {
    "+": (0.3, -1.2),
    "-": (0.3, -1.2),
    "*": (0.3, -1.2),
    "/": (0.3, -1.2),
    "** number": (1.7, -1.5),
    "** Value": (1.7, -1.5),
    "neg": (0.3,),
    "relu": (0.3,),
    "tanh": (0.3,),
    "sigmoid": (-0.8,),
    "exp": (1.1,),
    "log": (0.4,),
    "linear": (0.5, -1.0, 2.0, 0.25, 0.1),
    "linear of numbers": (0.5, -1.0, 2.0, 0.25, 0.1),
    "sum_of": (0.5, -1.0, 2.0),
}


@pytest.mark.parametrize("op", ENGINE_OPS)
def test_gradcheck_passes_every_builtin_op(op: str) -> None:
    inputs, f = builtin_case(op, FIXED_POINTS[op])
    gradcheck(f, inputs)


@big_graphs
@given(expressions(ops=[*BUILTIN_OPS, softplus, self_power], min_ops=50, max_ops=70))
def test_gradcheck_passes_random_graphs_of_fifty_ops(expression: Expression) -> None:
    assert expression.size >= 50
    gradcheck(expression, expression.inputs)
