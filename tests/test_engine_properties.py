"""Engine properties: every built-in op's backward() agrees with central finite differences.

Built on the public toolkit (strategies for the points, numerical_grad and gradcheck for the
check), so these are the same tests a user writes for an op of their own. The ops come from the
op table (``builtin_names()``), so an op added to the engine is tested here at once; one whose
operands are laid out unusually (variadic, or keeping constants) must say how in ``SPECIAL``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from micrograd_like.engine import Value, linear, sum_of
from micrograd_like.gradcheck import gradcheck, numerical_grad
from micrograd_like.ops import self_power, softplus
from micrograd_like.optable import VARIADIC, builtin_names, op_named
from micrograd_like.strategies import BUILTIN_OPS, Expression, expressions, operands

Function = Callable[[list[Value]], Value]
Case = tuple[list[float], Function]


def _every_position(count: int) -> list[int]:
    return list(range(count))


@dataclass(frozen=True)
class Layout:
    """How a test applies an op to the flat numbers ``strategies.operands`` draws for it."""

    apply: Callable[[list[Any]], Value]  # on the operands, Values and constants in place
    variables: Callable[[int], list[int]] = field(default=_every_position)  # inputs' positions


def _linear(operands: list[Any]) -> Value:
    n = (len(operands) - 1) // 2
    return linear(operands[:n], operands[n : 2 * n], operands[-1])


def _weights_and_bias(count: int) -> list[int]:
    n = (count - 1) // 2
    return [*range(n), count - 1]


# Most ops of the table are applied as entry(*operands); these take operands laid out otherwise.
SPECIAL: dict[str, Layout] = {
    "pow": Layout(lambda a: a[0] ** a[1], lambda count: [0]),  # x ** k: k stays a constant
    "linear": Layout(_linear),  # w_1..w_n, x_1..x_n, bias, all nodes
    "linear_const": Layout(_linear, _weights_and_bias),  # the x_i stay numbers: constants
    "sum": Layout(sum_of),
}
DERIVED: dict[str, Layout] = {"sub": Layout(lambda a: a[0] - a[1])}  # a + (-b), not an entry
# Every built-in op of the op table, in declaration order, then the derived ones.
OPS = [*builtin_names(), *DERIVED]


def layout(op: str) -> Layout:
    """How the tests apply ``op``; an op the table gives an unusual shape must be told here."""
    if op in DERIVED or op in SPECIAL:
        return {**DERIVED, **SPECIAL}[op]
    entry = op_named(op)
    assert entry.arity != VARIADIC and not entry.constants, (
        f"op {op!r} takes any number of operands or keeps constants: add to SPECIAL in "
        f"{__name__} how a test applies it to the numbers strategies.operands draws"
    )
    return Layout(lambda a: entry(*a))


def operands_of(op: str) -> st.SearchStrategy[tuple[float, ...]]:
    """Numbers for ``op`` where it is defined and smooth (linear's for linear_const)."""
    return operands(op_named(op) if op in builtin_names() else op)


def builtin_case(op: str, numbers: Sequence[float]) -> Case:
    """The inputs and the function of one op, from numbers drawn by ``operands_of(op)``."""
    how = layout(op)
    variables = how.variables(len(numbers))

    def function(values: list[Value]) -> Value:
        args: list[Any] = list(numbers)
        for position, value in zip(variables, values, strict=True):
            args[position] = value
        return how.apply(args)

    return [numbers[i] for i in variables], function


big_graphs = settings(
    max_examples=50,  # about 35 ms each: 50 ops with 2 differences per input
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking a 50-op graph takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_backward_matches_differences(f: Function, inputs: list[float]) -> None:
    leaves = [Value(x) for x in inputs]
    f(leaves).backward()
    numeric = numerical_grad(f, inputs)
    assert [leaf.grad for leaf in leaves] == pytest.approx(numeric, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_op_backward_matches_finite_differences(op: str, data: st.DataObject) -> None:
    inputs, f = builtin_case(op, data.draw(operands_of(op), label="operands"))
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
    "add": (0.3, -1.2),
    "sub": (0.3, -1.2),
    "mul": (0.3, -1.2),
    "div": (0.3, -1.2),
    "pow": (1.7, -1.5),
    "pow_value": (1.7, -1.5),
    "neg": (0.3,),
    "relu": (0.3,),
    "tanh": (0.3,),
    "sigmoid": (-0.8,),
    "exp": (1.1,),
    "log": (0.4,),
    "sin": (0.3,),
    "cos": (0.3,),
    "sqrt": (0.4,),
    "abs": (-0.7,),
    "linear": (0.5, -1.0, 2.0, 0.25, 0.1),
    "linear_const": (0.5, -1.0, 2.0, 0.25, 0.1),
    "sum": (0.5, -1.0, 2.0),
}


def fixed_point(op: str) -> tuple[float, ...]:
    assert op in FIXED_POINTS, f"op {op!r} has no hand-picked point: add one to FIXED_POINTS"
    return FIXED_POINTS[op]


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_passes_every_builtin_op(op: str) -> None:
    inputs, f = builtin_case(op, fixed_point(op))
    gradcheck(f, inputs)


@pytest.mark.parametrize("op", builtin_names())
def test_each_case_makes_a_node_of_its_op(op: str) -> None:
    # the cases above test the op they are named after (linear_const is not linear, pow is not
    # pow_value): the node each makes is the table's entry
    inputs, f = builtin_case(op, fixed_point(op))
    assert f([Value(x) for x in inputs]).op_entry is op_named(op)


@big_graphs
@given(expressions(ops=[*BUILTIN_OPS, softplus, self_power], min_ops=50, max_ops=70))
def test_gradcheck_passes_random_graphs_of_fifty_ops(expression: Expression) -> None:
    assert expression.size >= 50
    gradcheck(expression, expression.inputs)
