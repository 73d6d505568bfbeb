"""Optimizers that update parameters in place: SGD (momentum, weight decay) and Adam.

They follow PyTorch's update rules (``torch.optim.SGD`` with no dampening, ``torch.optim.Adam``
with L2 weight decay), so their numbers can be checked against it. Updates work on ``.data``
floats directly and never build a graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from micrograd_like.arguments import checked_value_iterable
from micrograd_like.checks import short_number
from micrograd_like.engine import Value


class Optimizer:
    """Holds the parameters to update; ``step()`` applies one update from their ``.grad``."""

    def __init__(self, params: Iterable[Value], lr: float, weight_decay: float) -> None:
        name = type(self).__name__
        self.params = checked_value_iterable(params, name, "params")
        if not self.params:
            raise ValueError(f"{name}: the parameter list is empty; nothing to optimize")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears twice, so it would be updated twice")
        self.lr = _non_negative(lr, "lr", name)
        self.weight_decay = _non_negative(weight_decay, "weight_decay", name)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError

    def _gradients(self) -> list[float]:
        """Each gradient with the L2 weight-decay term added, as PyTorch adds it; a gradient that
        is not a finite number is refused here, before the step changes anything."""
        for i, p in enumerate(self.params):
            g = p.grad
            if not _is_number(g) or not math.isfinite(g):
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i} ({p!r}) has grad {g!r}, not a "
                    "finite number; nothing was updated"
                )
        if not self.weight_decay:
            return [float(p.grad) for p in self.params]
        return [p.grad + self.weight_decay * p.data for p in self.params]

    def _update(self, new_data: list[float]) -> None:
        """Every parameter gets its new data, or none does: a step that cannot finish changes
        nothing (an overflow in one update must not leave the model half-stepped)."""
        for i, (p, x) in enumerate(zip(self.params, new_data, strict=True)):
            if not math.isfinite(x):
                raise OverflowError(
                    f"{type(self).__name__}.step: parameter {i} ({p!r}) would become {x!r}; "
                    "nothing was updated (is the learning rate too large?)"
                )
        for p, x in zip(self.params, new_data, strict=True):
            p.data = x


class SGD(Optimizer):
    """p -= lr * v with v = momentum * v + g (v = g at first); g includes the weight decay."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = _fraction(momentum, "momentum", "SGD")
        self.velocity: list[float] | None = None  # made on the first step, as PyTorch does

    def step(self) -> None:
        gradients = velocity = self._gradients()
        if self.momentum and self.velocity is not None:
            velocity = [
                self.momentum * v + g for v, g in zip(self.velocity, gradients, strict=True)
            ]
        steps = velocity if self.momentum else gradients
        self._update([p.data - self.lr * g for p, g in zip(self.params, steps, strict=True)])
        if self.momentum:
            self.velocity = velocity  # kept only once the step has happened


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): steps scaled by running averages of the gradient and its square."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _fraction(betas[0], "betas[0]", "Adam"),
            _fraction(betas[1], "betas[1]", "Adam"),
        )
        self.eps = _non_negative(eps, "eps", "Adam")
        self.steps = 0
        self.mean = [0.0] * len(self.params)  # running average of g
        self.square = [0.0] * len(self.params)  # running average of g * g

    def step(self) -> None:
        beta1, beta2 = self.betas
        steps = self.steps + 1
        correction1 = 1 - beta1**steps  # undoes the pull towards the zero start
        correction2 = 1 - beta2**steps
        gradients = self._gradients()
        mean = [beta1 * m + (1 - beta1) * g for m, g in zip(self.mean, gradients, strict=True)]
        square = [
            beta2 * v + (1 - beta2) * g * g for v, g in zip(self.square, gradients, strict=True)
        ]
        new_data = [
            p.data
            - (self.lr / correction1) * m / (math.sqrt(v) / math.sqrt(correction2) + self.eps)
            for p, m, v in zip(self.params, mean, square, strict=True)
        ]
        for i, v in enumerate(square):
            if v == math.inf:  # sqrt(inf) would freeze this parameter for good, silently
                raise OverflowError(
                    f"Adam.step: parameter {i} ({self.params[i]!r}): the running average of "
                    f"grad**2 overflowed (grad {gradients[i]!r}); nothing was updated"
                )
        self._update(new_data)
        self.steps, self.mean, self.square = steps, mean, square  # only once the step happened


_LARGEST_FLOAT = 1.7976931348623157e308


def _is_number(number: object) -> bool:
    return isinstance(number, (int, float)) and not isinstance(number, bool)


def _non_negative(number: float, name: str, where: str) -> float:
    """A finite number >= 0; an integer too large for a float (10**400) is refused, not raised."""
    if not _is_number(number) or not 0 <= number <= _LARGEST_FLOAT:
        shown = short_number(number)
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {shown}")
    return float(number)


def _fraction(number: float, name: str, where: str) -> float:
    if not _is_number(number) or not 0 <= number < 1:
        raise ValueError(f"{where}: {name} must lie in [0, 1), got {number!r}")
    return float(number)
