"""Tests for losses: values and gradients by hand, by finite differences and against PyTorch."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import pytest

from micrograd_like.engine import Value, grad
from micrograd_like.losses import (
    binary_cross_entropy_with_logits,
    hinge_loss,
    l2_regularization,
    logsumexp,
    mse_loss,
    softmax_cross_entropy,
    softplus,
)
from tests.support import require_torch


def leaves(*numbers: float) -> list[Value]:
    return [Value(x) for x in numbers]


def gradients_of(loss: Value, inputs: Sequence[Value]) -> list[float]:
    loss.backward()
    return [x.grad for x in inputs]


def central_differences(
    function: Callable[[list[Value]], Value], numbers: Sequence[float], h: float = 1e-6
) -> list[float]:
    """d function / d input_i by (f(x + h) - f(x - h)) / 2h, one input at a time."""
    slopes = []
    for i in range(len(numbers)):
        up, down = list(numbers), list(numbers)
        up[i] += h
        down[i] -= h
        slopes.append((function(leaves(*up)).data - function(leaves(*down)).data) / (2 * h))
    return slopes


def test_hinge_loss_by_hand() -> None:
    scores = leaves(2.0, -0.5, 0.3)
    loss = hinge_loss(scores, [1, 1, -1])
    # relu(1 - 2) = 0, relu(1 + 0.5) = 1.5, relu(1 + 0.3) = 1.3; mean over 3
    assert loss.data == pytest.approx(2.8 / 3, rel=1e-15)
    # d/ds relu(1 - y s) / n = -y / n where the margin is violated, else 0
    assert gradients_of(loss, scores) == pytest.approx([0.0, -1 / 3, 1 / 3], rel=1e-15)


def test_hinge_loss_equals_micrograds_expression_bit_for_bit() -> None:
    rng = random.Random(0)
    numbers = [rng.uniform(-2, 2) for _ in range(20)]
    labels = [rng.choice([-1, 1]) for _ in range(20)]
    losses = [(1 + -y * s).relu() for y, s in zip(labels, leaves(*numbers), strict=True)]
    micrograd_way = sum(losses) * (1.0 / len(losses))
    assert isinstance(micrograd_way, Value)
    assert hinge_loss(leaves(*numbers), labels).data == micrograd_way.data


def test_mse_loss_by_hand() -> None:
    predictions = leaves(1.0, 3.0)
    loss = mse_loss(predictions, [0.0, 5.0])
    assert loss.data == (1.0 + 4.0) / 2
    # d/dp (p - t)**2 / n = 2 (p - t) / n
    assert gradients_of(loss, predictions) == [1.0, -2.0]


def test_softplus_by_hand_and_its_slope_is_sigmoid() -> None:
    for z in (-30.0, -2.0, 0.0, 0.5, 40.0):
        x = Value(z)
        out = softplus(x)
        assert out.data == pytest.approx(math.log1p(math.exp(z)), rel=1e-14)
        out.backward()
        assert x.grad == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-14)


def test_softplus_second_derivative_is_sigmoids_slope() -> None:
    for z in (-3.0, 0.25, 2.0):
        x = Value(z)
        (first,) = grad(softplus(x), [x], create_graph=True)
        (second,) = grad(first, [x])
        s = 1 / (1 + math.exp(-z))
        assert second.data == pytest.approx(s * (1 - s), rel=1e-12)


@pytest.mark.parametrize(
    ("z", "t", "loss", "slope"),
    [
        (1000.0, 0.0, 1000.0, 1.0),  # -log(1 - sigmoid(1000)) = 1000, slope sigmoid(z) - t
        (1000.0, 1.0, 0.0, 0.0),
        (-1000.0, 0.0, 0.0, 0.0),
        (-1000.0, 1.0, 1000.0, -1.0),
        (0.0, 1.0, math.log(2), -0.5),
    ],
)
def test_binary_cross_entropy_extreme_logits_by_hand(
    z: float, t: float, loss: float, slope: float
) -> None:
    logit = Value(z)
    out = binary_cross_entropy_with_logits([logit], [t])
    assert math.isfinite(out.data) and out.data == pytest.approx(loss, abs=1e-300)
    out.backward()
    assert math.isfinite(logit.grad) and logit.grad == pytest.approx(slope, abs=1e-300)


def test_binary_cross_entropy_matches_definition_and_finite_differences() -> None:
    numbers, targets = [0.3, -1.2, 2.5, 0.0], [1.0, 0.0, 0.25, 1.0]

    def function(logits: list[Value]) -> Value:
        return binary_cross_entropy_with_logits(logits, targets)

    logits = leaves(*numbers)
    loss = function(logits)
    by_definition = [
        -(t * math.log(1 / (1 + math.exp(-z))) + (1 - t) * math.log(1 - 1 / (1 + math.exp(-z))))
        for z, t in zip(numbers, targets, strict=True)
    ]
    assert loss.data == pytest.approx(sum(by_definition) / 4, rel=1e-13)
    assert gradients_of(loss, logits) == pytest.approx(
        central_differences(function, numbers), rel=1e-6, abs=1e-9
    )


def test_binary_cross_entropy_refuses_minus_one_labels() -> None:
    with pytest.raises(ValueError, match=r"target -1 is outside \[0, 1\].*\(y \+ 1\) / 2"):
        binary_cross_entropy_with_logits(leaves(0.5), [-1])


def test_softmax_cross_entropy_by_hand() -> None:
    logits = leaves(1.0, 2.0, 3.0)
    loss = softmax_cross_entropy(logits, 0)
    total = math.exp(1) + math.exp(2) + math.exp(3)
    assert loss.data == pytest.approx(math.log(total) - 1.0, rel=1e-15)
    # d/dz_i = softmax_i - [i == target]
    expected = [math.exp(1) / total - 1, math.exp(2) / total, math.exp(3) / total]
    assert gradients_of(loss, logits) == pytest.approx(expected, rel=1e-14)


def test_softmax_cross_entropy_extreme_logits_are_finite_and_exact() -> None:
    logits = leaves(1000.0, -1000.0, 0.0)
    loss = softmax_cross_entropy(logits, 1)
    assert loss.data == 2000.0  # log(e**1000 + ...) - (-1000), the other terms vanish
    assert gradients_of(loss, logits) == [1.0, -1.0, 0.0]
    right = leaves(1000.0, -1000.0, 0.0)
    assert softmax_cross_entropy(right, 0).data == 0.0


def test_softmax_cross_entropy_matches_finite_differences() -> None:
    numbers = [0.4, -1.3, 2.2, 0.9]
    logits = leaves(*numbers)
    analytic = gradients_of(softmax_cross_entropy(logits, 2), logits)
    numeric = central_differences(lambda z: softmax_cross_entropy(z, 2), numbers)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_softmax_cross_entropy_refuses_bad_targets() -> None:
    with pytest.raises(ValueError, match="target 3 is not a class index for 3 logits"):
        softmax_cross_entropy(leaves(1, 2, 3), 3)
    with pytest.raises(TypeError, match="class index"):
        softmax_cross_entropy(leaves(1, 2), 1.0)  # type: ignore[arg-type]


def test_logsumexp_by_hand_and_refuses_empty() -> None:
    assert logsumexp(leaves(0.0, 0.0)).data == pytest.approx(math.log(2), rel=1e-15)
    assert logsumexp(leaves(1000.0, 1000.0)).data == pytest.approx(1000 + math.log(2), rel=1e-15)
    with pytest.raises(ValueError, match="at least one"):
        logsumexp([])


def test_l2_regularization_by_hand() -> None:
    params = leaves(1.0, -2.0, 0.5)
    loss = l2_regularization(params, 0.1)
    assert loss.data == pytest.approx(0.1 * (1 + 4 + 0.25), rel=1e-15)
    # d/dp alpha p**2 = 2 alpha p
    assert gradients_of(loss, params) == pytest.approx([0.2, -0.4, 0.1], rel=1e-15)


@pytest.mark.parametrize("loss", [hinge_loss, mse_loss, binary_cross_entropy_with_logits])
def test_batch_losses_refuse_mismatched_or_empty_batches(
    loss: Callable[[Sequence[Value], Sequence[float]], Value],
) -> None:
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        loss(leaves(0.1, 0.2), [1])
    with pytest.raises(ValueError, match="the batch is empty"):
        loss([], [])
    with pytest.raises(TypeError, match="a target must be a real number"):
        loss(leaves(0.1), ["1"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not a finite number"):
        loss(leaves(0.1), [math.nan])


def test_cross_entropies_match_torch_float64() -> None:
    require_torch()
    import torch

    rng = random.Random(4)
    numbers = [rng.uniform(-5, 5) for _ in range(6)] + [1000.0, -1000.0]
    targets = [rng.choice([0.0, 1.0, 0.3]) for _ in numbers]
    logits = leaves(*numbers)
    ours = binary_cross_entropy_with_logits(logits, targets)
    ours.backward()
    z = torch.tensor(numbers, dtype=torch.float64, requires_grad=True)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        z, torch.tensor(targets, dtype=torch.float64)
    )
    theirs.backward()  # type: ignore[no-untyped-call]
    assert z.grad is not None
    assert ours.data == pytest.approx(theirs.item(), rel=1e-13)
    assert [x.grad for x in logits] == pytest.approx(z.grad.tolist(), rel=1e-12, abs=1e-300)

    for target, row in enumerate(([0.5, -2.0, 3.0], [1000.0, -1000.0, 999.0], [-7.0, 0.0, 7.0])):
        logits = leaves(*row)
        ours = softmax_cross_entropy(logits, target)
        ours.backward()
        z = torch.tensor([row], dtype=torch.float64, requires_grad=True)
        theirs = torch.nn.functional.cross_entropy(z, torch.tensor([target]))
        theirs.backward()  # type: ignore[no-untyped-call]
        assert z.grad is not None
        assert ours.data == pytest.approx(theirs.item(), rel=1e-13, abs=1e-300)
        assert [x.grad for x in logits] == pytest.approx(z.grad[0].tolist(), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("label", [0, 0.5, 2, -0.0])
def test_hinge_loss_refuses_labels_other_than_minus_one_and_one(label: float) -> None:
    with pytest.raises(ValueError, match=rf"hinge_loss: label {label!r} is not -1 or \+1"):
        hinge_loss([Value(0.3), Value(-0.2)], [1, label])
