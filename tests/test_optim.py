"""Tests for optim: SGD and Adam updates by hand and against torch.optim in float64."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence

import pytest

from micrograd_like.engine import Value
from micrograd_like.optim import SGD, Adam, Optimizer
from tests.support import require_torch


def run(optimizer: Optimizer, param: Value, gradients: Sequence[float]) -> list[float]:
    """Feed the given gradients one step at a time; the parameter after each step."""
    seen = []
    for g in gradients:
        param.grad = g
        optimizer.step()
        seen.append(param.data)
    return seen


def test_sgd_plain_step_by_hand() -> None:
    p = Value(1.0)
    assert run(SGD([p], lr=0.1), p, [0.5, -2.0]) == pytest.approx([0.95, 1.15], rel=1e-15)


def test_sgd_momentum_by_hand() -> None:
    p = Value(0.0)
    # v1 = 1, p = -0.1; v2 = 0.9 * 1 + 2 = 2.9, p = -0.39; v3 = 0.9 * 2.9 - 1 = 1.61, p = -0.551
    assert run(SGD([p], lr=0.1, momentum=0.9), p, [1.0, 2.0, -1.0]) == pytest.approx(
        [-0.1, -0.39, -0.551], rel=1e-14
    )


def test_sgd_weight_decay_adds_decay_times_parameter() -> None:
    p = Value(2.0)
    # g = 0.5 + 0.1 * 2 = 0.7, p = 2 - 0.7 = 1.3; g = 0.5 + 0.13 = 0.63, p = 0.67
    assert run(SGD([p], lr=1.0, weight_decay=0.1), p, [0.5, 0.5]) == pytest.approx(
        [1.3, 0.67], rel=1e-14
    )


def test_sgd_follows_a_changed_learning_rate() -> None:
    p = Value(1.0)
    optimizer = SGD([p], lr=1.0)
    optimizer.lr = 0.25
    assert run(optimizer, p, [1.0]) == [0.75]


def test_adam_steps_by_hand() -> None:
    p = Value(1.0)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    # step 1: m = 0.1 g, v = 0.001 g**2; corrected m = g, v = g**2, so p moves lr * g / (|g| + eps)
    # step 2 with g = -1 after g = 2: m = 0.9 * 0.2 - 0.1 = 0.08, v = 0.999 * 0.004 + 0.001 * 1
    m2, v2 = 0.08, 0.999 * 0.004 + 0.001
    m_hat, v_hat = m2 / (1 - b1**2), v2 / (1 - b2**2)
    expected_2 = 1.0 - lr * 2 / (2 + eps) - lr * m_hat / (math.sqrt(v_hat) + eps)
    seen = run(Adam([p], lr=lr, betas=(b1, b2), eps=eps), p, [2.0, -1.0])
    assert seen == pytest.approx([1.0 - lr * 2 / (2 + eps), expected_2], rel=1e-13)


def test_adam_first_step_has_size_lr_whatever_the_gradient_scale() -> None:
    for g in (1e-6, 1.0, 1e6):
        p = Value(0.0)
        assert run(Adam([p], lr=0.01, eps=0.0), p, [g]) == pytest.approx([-0.01], rel=1e-15)


def test_adam_weight_decay_adds_decay_times_parameter() -> None:
    lr, b1, b2, eps, decay = 0.1, 0.9, 0.999, 1e-8, 0.5
    p = Value(3.0)
    seen = run(Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=decay), p, [1.0, 1.0])
    # step 1: g = 1 + 0.5 * 3 = 2.5; m = 0.1 g, v = 0.001 g**2, corrected back to g and g**2
    g1 = 1.0 + decay * 3.0
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1 * g1
    p1 = 3.0 - lr * (m1 / (1 - b1)) / (math.sqrt(v1 / (1 - b2)) + eps)
    assert p1 == pytest.approx(2.9, rel=1e-8)  # a first step has size lr
    # step 2: the decay term is decay times the parameter *after* step 1, 2.9, not 3
    g2 = 1.0 + decay * p1
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2 * g2
    p2 = p1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(v2 / (1 - b2**2)) + eps)
    assert seen == pytest.approx([p1, p2], rel=1e-13)
    # and the decay matters in step 2: with g2 taken at the old parameter, the step differs
    stale = 1.0 + decay * 3.0
    m_stale, v_stale = b1 * m1 + (1 - b1) * stale, b2 * v1 + (1 - b2) * stale * stale
    p2_stale = p1 - lr * (m_stale / (1 - b1**2)) / (math.sqrt(v_stale / (1 - b2**2)) + eps)
    assert abs(p2 - p2_stale) > 1e-6


def test_optimizers_zero_grad_and_never_build_a_graph() -> None:
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.5), lambda ps: Adam(ps)):
        params = [Value(1.0), Value(-1.0)]
        optimizer = make(params)
        for p in params:
            p.grad = 3.0
        optimizer.step()
        assert all(p.op == "" and p.parents == () and isinstance(p.data, float) for p in params)
        optimizer.zero_grad()
        assert [p.grad for p in params] == [0.0, 0.0]


SHARED = Value(1.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD([], lr=0.1), "parameter list is empty"),
        (lambda: SGD([Value(1.0), 2.0], lr=0.1), "every parameter must be a Value"),  # type: ignore[list-item]
        (lambda: SGD([SHARED, SHARED], lr=0.1), "appears twice"),
        (lambda: SGD([Value(1.0)], lr=-1.0), "lr must be a finite number >= 0"),
        (lambda: SGD([Value(1.0)], lr=math.inf), "lr must be a finite number >= 0"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=1.0), r"momentum must lie in \[0, 1\)"),
        (lambda: Adam([Value(1.0)], betas=(0.9, 1.5)), r"betas\[1\] must lie in \[0, 1\)"),
        (lambda: Adam([Value(1.0)], eps=-1e-8), "eps must be"),
        (lambda: Adam([Value(1.0)], weight_decay=-0.1), "weight_decay must be"),
    ],
)
def test_optimizers_refuse_bad_settings(make: Callable[[], Optimizer], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def rosenbrock_gradients(x: float, y: float) -> tuple[float, float]:
    """d/dx, d/dy of (1 - x)**2 + 100 (y - x**2)**2, derived by hand."""
    return -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)


@pytest.mark.parametrize(
    "settings",
    [
        ("SGD", {"lr": 1e-3}),
        ("SGD", {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.01}),
        ("Adam", {"lr": 0.05}),
        ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ],
)
def test_optimizers_match_torch_optim_float64(settings: tuple[str, dict[str, object]]) -> None:
    require_torch()
    import torch

    name, options = settings
    ours = [Value(-1.5), Value(2.0)]
    optimizer: Optimizer = {"SGD": SGD, "Adam": Adam}[name](ours, **options)
    theirs = [torch.tensor(x.data, dtype=torch.float64, requires_grad=True) for x in ours]
    torch_optimizer = getattr(torch.optim, name)(theirs, **options)
    for _ in range(20):
        for p, g in zip(ours, rosenbrock_gradients(ours[0].data, ours[1].data), strict=True):
            p.grad = g
        optimizer.step()
        for t, g in zip(
            theirs, rosenbrock_gradients(theirs[0].item(), theirs[1].item()), strict=True
        ):
            t.grad = torch.tensor(g, dtype=torch.float64)
        torch_optimizer.step()
        for p, t in zip(ours, theirs, strict=True):
            assert p.data == pytest.approx(t.item(), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda p: SGD(p, lr=True), "SGD: lr must be a finite number >= 0, got True"),
        (
            lambda p: Adam(p, betas=(0.9, False)),
            r"Adam: betas\[1\] must lie in \[0, 1\), got False",
        ),
    ],
)
def test_optimizer_refuses_booleans_as_numbers(
    make: Callable[[list[Value]], Optimizer], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        make([Value(1.0)])


SETTINGS: dict[str, Callable[[object], Optimizer]] = {
    "SGD lr": lambda x: SGD([Value(1.0)], lr=x),  # type: ignore[arg-type]
    "SGD momentum": lambda x: SGD([Value(1.0)], lr=0.1, momentum=x),  # type: ignore[arg-type]
    "SGD weight_decay": lambda x: SGD([Value(1.0)], lr=0.1, weight_decay=x),  # type: ignore[arg-type]
    "Adam lr": lambda x: Adam([Value(1.0)], lr=x),  # type: ignore[arg-type]
    "Adam betas[0]": lambda x: Adam([Value(1.0)], betas=(x, 0.999)),  # type: ignore[arg-type]
    "Adam betas[1]": lambda x: Adam([Value(1.0)], betas=(0.9, x)),  # type: ignore[arg-type]
    "Adam eps": lambda x: Adam([Value(1.0)], eps=x),  # type: ignore[arg-type]
    "Adam weight_decay": lambda x: Adam([Value(1.0)], weight_decay=x),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf, -math.inf, -0.5, "0.1", None])
def test_every_optimizer_setting_refuses_what_is_no_usable_number(
    setting: str, bad: object
) -> None:
    # one rule for every number an optimizer takes: each names its setting and the value
    optimizer, name = setting.split(" ")
    with pytest.raises(ValueError, match=rf"^{optimizer}: {re.escape(name)} must .*, got {bad!r}$"):
        SETTINGS[setting](bad)


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_optimizer_setting_takes_ints_and_floats_alike(setting: str) -> None:
    for number in (0, 0.0, 0.5):
        SETTINGS[setting](number)


@pytest.mark.parametrize("adam", [False, True])
def test_a_step_that_cannot_finish_changes_nothing(adam: bool) -> None:
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    optimizer: SGD | Adam = Adam([a, b, c]) if adam else SGD([a, b, c], lr=1.0, momentum=0.9)
    a.grad, b.grad, c.grad = 0.5, 0.25, 0.125
    optimizer.step()  # a first step that works, so momentum and Adam's averages hold something
    state = copy.deepcopy({k: v for k, v in vars(optimizer).items() if k != "params"})
    before = [a.data, b.data, c.data]
    c.grad = None  # type: ignore[assignment]  # a user's mistake, found before anything moves
    with pytest.raises(ValueError, match=r"parameter 2 \(Value\(.*label='c'\)\) has grad None"):
        optimizer.step()
    c.grad = 0.125
    b.data, b.grad = -1e308, 1e308  # SGD: b would become -inf; Adam: grad**2 overflows
    before = [a.data, b.data, c.data]
    with pytest.raises(OverflowError, match=r"parameter 1 \(Value\(.*label='b'\)\).*nothing was"):
        optimizer.step()
    assert [a.data, b.data, c.data] == before
    assert {k: v for k, v in vars(optimizer).items() if k != "params"} == state  # none moved
