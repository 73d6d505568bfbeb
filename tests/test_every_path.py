"""Every op of the table, and a custom op, in every path: one table entry is all an op needs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings

from micrograd_like import strategies
from micrograd_like.commands.draw import main as draw_main
from micrograd_like.compiled import compile_fn
from micrograd_like.debug import detect_anomaly, steps_table
from micrograd_like.engine import Value, backward_steps, grad
from micrograd_like.gradcheck import gradcheck, gradgradcheck
from micrograd_like.ops import custom_op
from micrograd_like.optable import Op, all_ops
from tests.support import require_dot


def cube_local(out: float, x: float) -> tuple[float]:
    """d x**3/dx = 3 x**2"""
    return (3 * x * x,)


@custom_op(cube_local)
def cube(x: float) -> float:
    """x**3, as a custom op."""
    return x * x * x


ONE_OPERAND = [e for e in all_ops() if e.builtin and e.arity == 1 and not e.constants]
# A point inside each op's domain and away from its kinks, and the op's value there by hand.
POINT = 0.7
BY_HAND: dict[str, Callable[[float], float]] = {
    "neg": lambda x: -x,
    "relu": lambda x: max(x, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "exp": math.exp,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "sqrt": math.sqrt,
    "abs": abs,
}


def test_every_one_operand_op_has_a_hand_formula_here() -> None:
    assert sorted(BY_HAND) == sorted(e.name for e in ONE_OPERAND)  # a new op must be added here


def apply(entry: Op, x: Value) -> Value:
    return entry(x)


@pytest.mark.parametrize("entry", [*ONE_OPERAND, cube], ids=lambda e: e.name)
def test_an_op_works_in_backward_grad_stepper_anomaly_gradcheck_and_compile(entry: Op) -> None:
    hand: Callable[[float], float] = BY_HAND.get(entry.name, lambda x: x**3)
    x = Value(POINT, label="x")
    out = apply(entry, x) * 2.0
    assert out.data == pytest.approx(2 * hand(POINT), rel=1e-15)
    out.backward()
    slope = (hand(POINT + 1e-6) - hand(POINT - 1e-6)) / 2e-6
    assert x.grad == pytest.approx(2 * slope, rel=1e-6)
    (first,) = grad(out, [x], create_graph=True)  # a graph of its own, differentiable again
    assert first.data == x.grad
    (second,) = grad(first, [x])
    by_differences = (hand(POINT + 1e-4) - 2 * hand(POINT) + hand(POINT - 1e-4)) / 1e-8
    assert second.data == pytest.approx(2 * by_differences, rel=1e-4, abs=1e-6)
    steps = list(backward_steps(out))
    assert any(step.op == entry.name and step.parent is x for step in steps)
    assert entry.label() in steps_table(out)
    with detect_anomaly():
        apply(entry, Value(POINT)).backward()
    gradcheck(lambda v: apply(entry, v[0]), [POINT])
    gradgradcheck(lambda v: apply(entry, v[0]), [Value(POINT)])
    compiled = compile_fn(lambda v: apply(entry, v * 1.0), [POINT])
    w = Value(POINT)
    compiled_w = compile_fn(lambda v: apply(entry, v * w), [1.0], [w])
    value, (slope_w,) = compiled_w.value_and_grad(1.0)
    eager = apply(entry, Value(1.0) * w)
    eager.backward()
    assert value == eager.data and slope_w == pytest.approx(w.grad, rel=1e-12, abs=1e-12)
    assert compiled.value_and_grad(POINT)[0] == apply(entry, Value(POINT)).data


@pytest.mark.parametrize("entry", ONE_OPERAND, ids=lambda e: e.name)
def test_the_strategies_draw_each_op_inside_its_domain(entry: Op) -> None:
    @settings(max_examples=30, deadline=None)
    @given(strategies.domain(entry.name))
    def inside(x: float) -> None:
        assert entry.domain.low <= x <= entry.domain.high
        assert all(abs(x - kink) > 0 for kink in entry.kinks)
        gradcheck(lambda v: apply(entry, v[0]), [x])

    inside()


@pytest.mark.parametrize("entry", ONE_OPERAND, ids=lambda e: e.name)
def test_the_draw_command_and_pictures_know_each_op(
    entry: Op, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_dot()
    from micrograd_like.viz import draw_dot

    if entry.name != "neg":  # -x is written with a minus sign, not called
        out = tmp_path / "graph.svg"
        assert draw_main([f"{entry.name}(x)", "--set", f"x={POINT}", "-o", str(out)]) == 0
        assert out.exists()
        assert f"{BY_HAND[entry.name](POINT):.6g}"[:5] in capsys.readouterr().out
    source = draw_dot(apply(entry, Value(POINT, label="x"))).source
    assert re.search(rf'n1_op \[label="?{re.escape(entry.label())}"? ', source), source
