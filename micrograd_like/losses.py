"""Loss functions built from engine ops: hinge, squared error, cross-entropies, L2 penalty.

The cross-entropies are written so that no intermediate overflows: softplus and log-sum-exp are
shifted by the largest input (the log-sum-exp trick), so logits of +-1000 give finite losses and
exact gradients. Sums over many terms use ``sum_of``, one node instead of a chain of additions.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

from micrograd_like.arguments import (
    checked_real,
    checked_sequence,
    checked_value_iterable,
    checked_values,
)
from micrograd_like.checks import short_number
from micrograd_like.engine import Value, sum_of


def hinge_loss(scores: Sequence[Value], labels: Sequence[float]) -> Value:
    """The mean max-margin loss ``relu(1 - y * score)`` for labels y in {-1, +1}, as micrograd.

    Written the way micrograd's demo writes it, so the numbers match it bit for bit.
    """
    _check_batch(scores, labels, "hinge_loss")
    for y in labels:
        if _label(y, "hinge_loss") not in (-1.0, 1.0):  # 0/1 labels would train a wrong model
            raise ValueError(
                f"hinge_loss: label {y!r} is not -1 or +1 (for 0/1 labels pass 2*y - 1)"
            )
    pairs = zip(scores, labels, strict=True)
    losses = [(1 + -_label(y, "hinge_loss") * s).relu() for s, y in pairs]
    return sum_of(losses) * (1.0 / len(losses))


def mse_loss(predictions: Sequence[Value], targets: Sequence[float]) -> Value:
    """The mean of ``(prediction - target) ** 2``."""
    _check_batch(predictions, targets, "mse_loss")
    errors = [(p - _label(t, "mse_loss")) ** 2 for p, t in zip(predictions, targets, strict=True)]
    return sum_of(errors) * (1.0 / len(errors))


def softplus(x: Value) -> Value:
    """log(1 + e**x) without overflow: shifted by max(0, x), so only e**(-|x|) is ever computed.

    Built from the engine's own ops (exp, log, +), for use inside losses. Not to be confused with
    ``ops.softplus``, the same function as one custom op (the example of how to write one).
    """
    if not isinstance(x, Value):
        raise TypeError(f"softplus: expected a Value, got {x!r} of type {type(x).__name__}")
    if x.data > 0:
        return x + (1 + (-x).exp()).log()  # x + log(1 + e**-x)
    return (1 + x.exp()).log()


def binary_cross_entropy_with_logits(logits: Sequence[Value], targets: Sequence[float]) -> Value:
    """The mean of ``-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))`` for targets t in [0, 1].

    Computed as ``softplus(z) - t * z``, which never takes the log of a rounded-off zero. For
    labels in {-1, +1} pass ``(y + 1) / 2``.
    """
    _check_batch(logits, targets, "binary_cross_entropy_with_logits")
    terms = []
    for z, t in zip(logits, targets, strict=True):
        target = _label(t, "binary_cross_entropy_with_logits")
        if not 0 <= target <= 1:
            raise ValueError(
                f"binary_cross_entropy_with_logits: target {t!r} is outside [0, 1] "
                "(for labels in {-1, +1} pass (y + 1) / 2)"
            )
        terms.append(softplus(z) - target * z)
    return sum_of(terms) * (1.0 / len(terms))


def logsumexp(values: Sequence[Value]) -> Value:
    """log(sum(e**v)), shifted by the largest value so that no exponential overflows."""
    if not checked_values(values, "logsumexp", "values"):
        raise ValueError("logsumexp: needs at least one value")
    shift = max(v.data for v in values)  # a constant: the result does not depend on it
    return sum_of([(v - shift).exp() for v in values]).log() + shift


def softmax_cross_entropy(logits: Sequence[Value], target: int) -> Value:
    """-log softmax(logits)[target] for one example: ``logsumexp(logits) - logits[target]``.

    Both terms are shifted by the largest logit, so a confident right answer gives a loss near 0
    to full relative precision instead of the difference of two large numbers.
    """
    if isinstance(target, bool) or not isinstance(target, int):
        raise TypeError(
            f"softmax_cross_entropy: target must be a class index (int), got {target!r}"
        )
    if not checked_values(logits, "softmax_cross_entropy", "logits"):
        raise ValueError("softmax_cross_entropy: no logits; it needs one per class")
    if not 0 <= target < len(logits):
        raise ValueError(
            f"softmax_cross_entropy: target {target} is not a class index for "
            f"{len(logits)} logits (0 .. {len(logits) - 1})"
        )
    shift = max(v.data for v in logits)
    shifted = [v - shift for v in logits]  # the largest is exactly 0: no cancellation below
    return sum_of([s.exp() for s in shifted]).log() - shifted[target]


def l2_regularization(parameters: Iterable[Value], alpha: float) -> Value:
    """``alpha * sum(p * p)``, micrograd's weight penalty, as one sum node; alpha is >= 0."""
    found = checked_value_iterable(parameters, "l2_regularization", "parameters")
    weight = checked_real(alpha, "l2_regularization", "alpha", low=0.0)
    return weight * sum_of([p * p for p in found])


def _check_batch(outputs: Sequence[Value], targets: Sequence[float], where: str) -> None:
    """Outputs are Values (a float has no graph to train) and targets an ordered collection."""
    checked_values(outputs, where, "the outputs")
    checked_sequence(targets, where, "the targets")
    if len(outputs) != len(targets):
        raise ValueError(
            f"{where}: {len(outputs)} outputs but {len(targets)} targets; they must match"
        )
    if not outputs:
        raise ValueError(f"{where}: the batch is empty, so the mean is undefined")


def _label(target: object, where: str) -> float:
    """A target as a finite float; targets are data, so a Value here is a mistake."""
    if isinstance(target, bool) or not isinstance(target, numbers.Real):
        raise TypeError(f"{where}: a target must be a real number, got {target!r}")
    try:
        number = float(target)
    except OverflowError:
        raise OverflowError(
            f"{where}: target {short_number(target)} is too large for a float"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: target {number!r} is not a finite number")
    return number
