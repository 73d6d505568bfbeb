"""Gradients of gradients, no_grad and detach; expected values are derived by hand."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from micrograd_like.engine import Value, grad, is_grad_enabled, linear, no_grad
from tests.support import require_torch


def nth_derivative(f: object, x: float, n: int) -> float:
    """The n-th derivative of f at x, by differentiating the gradient graph n times."""
    point = Value(x)
    current = f(point)  # type: ignore[operator]
    for _ in range(n):
        (current,) = grad(current, [point], create_graph=True)
    return float(current.data)


def test_grad_of_cube_down_to_a_constant() -> None:
    # x**3 -> 3x**2 -> 6x -> 6 -> 0, at x = 2
    assert [nth_derivative(lambda v: v**3, 2.0, n) for n in range(5)] == [8.0, 12.0, 12.0, 6.0, 0.0]


def test_second_derivatives_of_unary_ops() -> None:
    x = 0.7
    s = 1 / (1 + math.exp(-x))
    t = math.tanh(x)
    expected = {
        "exp": math.exp(x),  # (e**x)'' = e**x
        "log": -1 / x**2,  # (log x)'' = -1/x**2
        "tanh": -2 * t * (1 - t * t),  # (1 - t**2)' = -2t(1 - t**2)
        "sigmoid": s * (1 - s) * (1 - 2 * s),  # (s(1-s))' = s'(1 - 2s)
        "relu": 0.0,
        "recip": 2 / x**3,  # (1/x)'' = 2/x**3
    }
    ops = {
        "exp": lambda v: v.exp(),
        "log": lambda v: v.log(),
        "tanh": lambda v: v.tanh(),
        "sigmoid": lambda v: v.sigmoid(),
        "relu": lambda v: v.relu(),
        "recip": lambda v: 1 / v,
    }
    for name, f in ops.items():
        assert nth_derivative(f, x, 2) == pytest.approx(expected[name], rel=1e-12), name


def test_mixed_partials_of_value_power() -> None:
    # f = a**b; d/da = b a**(b-1); d2f/(db da) = a**(b-1) (1 + b ln a)
    a, b = Value(1.5), Value(2.5)
    (da,) = grad(a**b, [a], create_graph=True)
    (dbda,) = grad(da, [b])
    assert dbda.data == pytest.approx(1.5**1.5 * (1 + 2.5 * math.log(1.5)), rel=1e-12)


def test_grad_leaves_dot_grad_untouched() -> None:
    x = Value(3.0)
    x.grad = 5.0
    (dx,) = grad(x * x, [x])
    assert (dx.data, x.grad) == (6.0, 5.0)


def test_grad_of_an_unreached_input_is_zero() -> None:
    x, unused = Value(1.0), Value(2.0)
    assert [g.data for g in grad(x * 2, [x, unused])] == [2.0, 0.0]


def test_grad_without_create_graph_returns_leaves() -> None:
    x = Value(3.0)
    (dx,) = grad(x * x * x, [x])
    assert dx.parents == ()


def test_hessian_vector_product() -> None:
    # f = x**2 y + e**y: H = [[2y, 2x], [2x, e**y]]; H @ (1, 2) at (x, y) = (1.5, 0.5)
    x, y = Value(1.5), Value(0.5)
    f = x * x * y + y.exp()
    gx, gy = grad(f, [x, y], create_graph=True)
    hv = grad(gx * 1.0 + gy * 2.0, [x, y])
    assert hv[0].data == pytest.approx(2 * 0.5 * 1 + 2 * 1.5 * 2, rel=1e-14)
    assert hv[1].data == pytest.approx(2 * 1.5 * 1 + math.exp(0.5) * 2, rel=1e-14)


def test_newtons_method_finds_the_minimum() -> None:
    # f(x) = (x - 3)**2 + e**x has its minimum where f'(x) = 2(x - 3) + e**x = 0
    x = 0.0
    for _ in range(20):
        point = Value(x)
        f = (point - 3) ** 2 + point.exp()
        (slope,) = grad(f, [point], create_graph=True)
        (curvature,) = grad(slope, [point])
        x -= slope.data / curvature.data
    assert abs(2 * (x - 3) + math.exp(x)) < 1e-12


def test_sixth_derivative_of_tanh_via_engine_matches_torch() -> None:
    require_torch()
    import torch

    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    current = torch.tanh(t)
    for _ in range(6):
        (current,) = torch.autograd.grad(current, t, create_graph=True)
    assert nth_derivative(lambda v: v.tanh(), 0.3, 6) == pytest.approx(current.item(), rel=1e-9)


def test_gradient_graph_can_be_backpropagated_with_backward() -> None:
    # d/dx of (dy/dx) for y = x**3 is 6x: backward() on the gradient Value fills x.grad
    x = Value(2.0)
    (dy,) = grad(x**3, [x], create_graph=True)
    dy.backward()
    assert x.grad == 12.0


# --- no_grad and detach --------------------------------------------------------------------------


def test_no_grad_builds_no_graph() -> None:
    w, b = Value(0.5), Value(-1.0)
    with no_grad():
        assert not is_grad_enabled()
        out = linear([w], [2.0], b).tanh() * 3 + w
    assert is_grad_enabled()
    assert out.parents == ()
    assert out.op == ""
    assert out.data == pytest.approx(math.tanh(0.0) * 3 + 0.5)


def test_no_grad_nests_and_restores() -> None:
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_restores_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), no_grad():
        Value(1.0) / 0
    assert is_grad_enabled()


def test_no_grad_does_not_leak_into_other_threads() -> None:
    seen: list[bool] = []
    with no_grad():
        worker = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


def test_no_grad_is_per_async_task() -> None:
    async def evaluate_without_graph(started: asyncio.Event, done: asyncio.Event) -> None:
        with no_grad():
            started.set()
            await done.wait()

    async def build_graph(started: asyncio.Event, done: asyncio.Event) -> bool:
        await started.wait()
        enabled = is_grad_enabled() and (Value(1.0) * 2).parents != ()
        done.set()
        return enabled

    async def both() -> bool:
        started, done = asyncio.Event(), asyncio.Event()
        results = await asyncio.gather(
            evaluate_without_graph(started, done), build_graph(started, done)
        )
        return bool(results[1])

    assert asyncio.run(both())


def test_grad_with_create_graph_inside_no_grad_still_builds() -> None:
    x = Value(2.0)
    y = x**3
    with no_grad():
        (dy,) = grad(y, [x], create_graph=True)
    (d2y,) = grad(dy, [x])
    assert d2y.data == 12.0


def test_detach_stops_gradient_flow() -> None:
    # y = x * detach(x): only the first factor carries a gradient, so dy/dx = x
    x = Value(3.0)
    (x * x.detach()).backward()
    assert x.grad == 3.0


def test_model_evaluated_under_no_grad_has_no_graph_and_the_same_numbers() -> None:
    import random

    from micrograd_like.nn import MLP

    model = MLP(2, [16, 16, 1], rng=random.Random(3))
    points = [[0.5, -1.25], [2.0, 0.125], [-0.75, 0.3]]
    with_graph = [model(p) for p in points]
    with no_grad():
        without = [model(p) for p in points]
    for built, bare in zip(with_graph, without, strict=True):
        assert isinstance(built, Value)
        assert isinstance(bare, Value)
        assert built.parents != ()
        assert bare.parents == ()
        assert bare.data == built.data  # the same sums in the same order, bit for bit


def test_linear_under_no_grad_still_refuses_bad_inputs() -> None:
    with no_grad(), pytest.raises(TypeError, match=r"linear input got 'a' of type str"):
        linear([Value(1.0)], ["a"], Value(0.0))  # type: ignore[list-item]


def test_stepper_and_pictures_work_on_a_gradient_graph() -> None:
    from micrograd_like.engine import backward_steps
    from micrograd_like.viz import draw_dot

    # dy/dx of y = x * tanh(x) is tanh(x) + x (1 - tanh(x)**2): a graph of its own
    x = Value(0.8, label="x")
    (dy,) = grad(x * x.tanh(), [x], create_graph=True)
    steps = list(backward_steps(dy))
    (expected,) = grad(dy, [x])
    flowed_into_x = [s.grad_after for s in steps if s.parent is x][-1]
    assert flowed_into_x == pytest.approx(expected.data, rel=1e-14)
    assert {s.op for s in steps} >= {"tanh", "mul", "add"}
    source = draw_dot(dy, show_local=True).source
    assert "{ x | data 0.8 | grad " in source
    assert "[label=tanh " in source


def test_grad_refuses_inputs_that_are_not_values() -> None:
    with pytest.raises(TypeError, match=r"grad: output and inputs must be Values"):
        grad(Value(2.0) * 3, [2.0])  # type: ignore[list-item]


def test_anomaly_mode_watches_grad_too() -> None:
    from micrograd_like.debug import AnomalyError, detect_anomaly

    x = Value(1e-310)  # a subnormal: log is finite, its slope 1/x is not
    with pytest.raises(AnomalyError, match=r"log_local gave inf"), detect_anomaly():
        grad(x.log() * 2.0, [x])
