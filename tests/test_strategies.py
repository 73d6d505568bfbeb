"""The hypothesis strategies draw what they promise: numbers on a domain, tame reusing graphs."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from micrograd_like.engine import Value, topological_order
from micrograd_like.ops import self_power, softplus
from micrograd_like.strategies import (
    BUILTIN_OPS,
    MARGIN,
    VALUE_LIMIT,
    Expression,
    Slot,
    Step,
    domain,
    expressions,
    operands,
)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_strategies_without_hypothesis_says_how_to_install_it() -> None:
    result = run_python(
        "import sys; sys.modules['hypothesis'] = None; import micrograd_like.strategies"
    )
    assert result.returncode != 0
    assert "ImportError: micrograd_like.strategies needs hypothesis" in result.stderr
    assert "pip install 'micrograd_like[test]'" in result.stderr


def test_checker_and_ops_do_not_import_hypothesis() -> None:
    result = run_python(
        "import sys, micrograd_like.gradcheck, micrograd_like.ops; "
        "print('hypothesis' in sys.modules)"
    )
    assert result.stdout.strip() == "False", result.stderr


@given(domain("log"))
def test_domain_log_is_positive_and_away_from_zero(x: float) -> None:
    assert 0.05 <= x <= 4.0


@given(domain("relu"))
def test_domain_relu_keeps_away_from_the_kink(x: float) -> None:
    assert abs(x) >= MARGIN


@given(domain("exp"))
def test_domain_exp_stays_tame(x: float) -> None:
    assert math.exp(x) <= VALUE_LIMIT


@given(domain(self_power))
def test_domain_of_custom_op_is_where_it_is_defined(x: float) -> None:
    assert x > 0


@given(operands("pow"))
def test_operands_pow_give_real_powers(base_and_exponent: tuple[float, ...]) -> None:
    base, exponent = base_and_exponent
    assert base > 0 or float(exponent).is_integer()  # no complex results
    assert base != 0 or exponent == 0 or exponent >= 1  # no division by 0, no infinite slope


@given(operands("div"))
def test_operands_div_keep_the_denominator_away_from_zero(pair: tuple[float, ...]) -> None:
    numerator, denominator = pair
    assert abs(1 / denominator) <= 20 and abs(numerator / denominator**2) <= 20


@given(operands("linear"))
def test_operands_linear_give_weights_inputs_and_bias(numbers: tuple[float, ...]) -> None:
    assert len(numbers) in (3, 5, 7)


def test_domain_refuses_ops_with_several_operands_and_unknown_ops() -> None:
    with pytest.raises(ValueError, match=r"domain\('div'\).*use operands\(\)"):
        domain("div")
    with pytest.raises(ValueError, match="unknown op 'cosh'; known: add, sub"):
        operands("cosh")


def test_expressions_refuse_custom_op_named_like_a_builtin() -> None:
    from micrograd_like.ops import custom_op

    def slope_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0,)

    with pytest.raises(ValueError, match="custom op 'tanh' shadows a built-in"):
        expressions(ops=[custom_op(slope_local, name="tanh")(lambda x: x)])


def test_expression_rebuilds_its_graph_at_any_point() -> None:
    expression = Expression.from_steps(
        [2.0, 1.5],
        [Step("mul", (Slot(0), Slot(1))), Step("log", (Slot(2),)), Step("add", (Slot(3), 2.0))],
    )
    x, y = Value(2.0), Value(1.5)
    assert expression([x, y]).data == pytest.approx(math.log(3.0) + 2.0, rel=1e-15)
    assert expression([1.0, 4.0]).data == pytest.approx(math.log(4.0) + 2.0, rel=1e-15)
    assert repr(expression) == (
        "Expression(inputs=[2.0, 1.5]):\n    t0 = x0 * x1\n    t1 = log(t0)\n"
        "    t2 = t1 + 2.0\n    out = t2"
    )
    with pytest.raises(ValueError, match="takes 2 inputs, got 1"):
        expression([1.0])


def test_expression_from_steps_knows_custom_ops_only_when_given() -> None:
    steps = [Step("softplus", (Slot(0),))]
    with pytest.raises(ValueError, match=r"unknown ops \['softplus'\]"):
        Expression.from_steps([0.5], steps)
    out = Expression.from_steps([0.5], steps, ops=[softplus])([0.5])
    assert out.data == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-15)


@settings(max_examples=60)
@given(expressions(ops=["tanh", "mul", softplus], max_inputs=2, min_ops=3, max_ops=10))
def test_expressions_use_only_the_chosen_ops(expression: Expression) -> None:
    assert {step.op for step in expression.steps} <= {"tanh", "mul", "softplus", "sum"}
    assert 3 <= expression.size <= 11
    assert 1 <= len(expression.inputs) <= 2


@settings(max_examples=60)
@given(expressions())
def test_expressions_evaluate_tamely_at_their_inputs(expression: Expression) -> None:
    order = topological_order(expression(list(expression.inputs)))
    assert math.isfinite(order[-1].data)
    assert all(abs(node.data) <= VALUE_LIMIT for node in order[:-1])


@settings(max_examples=40)
@given(expressions(max_ops=15))
def test_expressions_leave_no_step_unused(expression: Expression) -> None:
    n = len(expression.inputs)
    used = {a.index for step in expression.steps for a in step.args if isinstance(a, Slot)}
    assert set(range(n, n + expression.size - 1)) <= used


def graph_reuses_a_made_node(expression: Expression) -> bool:
    """Whether, in the graph the expression builds, a node made by an op is an operand of two
    ops (or twice of one), so backward() adds two gradients into it; read off the Values."""
    order = topological_order(expression(list(expression.inputs)))
    uses = Counter(id(parent) for node in order for parent in node.parents)
    return any(uses[id(node)] >= 2 for node in order if node.parents)


def test_graph_reuses_a_made_node_on_graphs_written_by_hand() -> None:
    twice = Expression.from_steps([1.5], [Step("mul", (Slot(0), 2.0)), Step("mul", (Slot(1),) * 2)])
    once = Expression.from_steps([1.5], [Step("mul", (Slot(0), 2.0)), Step("tanh", (Slot(1),))])
    leaf_twice = Expression.from_steps([1.5], [Step("mul", (Slot(0), Slot(0)))])
    assert twice([1.5]).data == 9.0  # (1.5 * 2) ** 2
    assert graph_reuses_a_made_node(twice)
    assert not graph_reuses_a_made_node(once)
    assert not graph_reuses_a_made_node(leaf_twice)  # an input used twice is no made node


def test_expressions_reuse_nodes() -> None:
    def reuses_a_step(expression: Expression) -> bool:
        uses = Counter(a.index for s in expression.steps for a in s.args if isinstance(a, Slot))
        return any(count >= 2 and index >= len(expression.inputs) for index, count in uses.items())

    no_shrinking = settings(database=None, phases=[Phase.generate])
    found = find(expressions(min_ops=4), reuses_a_step, settings=no_shrinking)
    # find() guarantees reuses_a_step(found): check the graph the expression builds instead
    assert graph_reuses_a_made_node(found), found


@settings(
    max_examples=30,  # about 25 ms each
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(expressions(ops=[*BUILTIN_OPS, softplus, self_power], min_ops=50, max_ops=60))
def test_expressions_grow_to_fifty_ops(expression: Expression) -> None:
    assert expression.size >= 50
    assert len(topological_order(expression(list(expression.inputs)))) > 50


@given(st.data())
def test_expression_repr_has_one_line_per_step(data: st.DataObject) -> None:
    expression = data.draw(expressions(max_ops=6))
    lines = repr(expression).splitlines()
    assert len(lines) == expression.size + 2
    assert lines[-1].strip().startswith("out = t")
