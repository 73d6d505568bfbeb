"""Optimizers that update parameters in place: SGD (momentum, weight decay) and Adam.

They follow PyTorch's update rules (``torch.optim.SGD`` with no dampening, ``torch.optim.Adam``
with L2 weight decay), so their numbers can be checked against it. Updates work on ``.data``
floats directly and never build a graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from micrograd_like.engine import Value


class Optimizer:
    """Holds the parameters to update; ``step()`` applies one update from their ``.grad``."""

    def __init__(self, params: Iterable[Value], lr: float, weight_decay: float) -> None:
        self.params = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: the parameter list is empty; nothing to optimize")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"{name}: every parameter must be a Value, got {p!r}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears twice, so it would be updated twice")
        self.lr = _non_negative(lr, "lr", name)
        self.weight_decay = _non_negative(weight_decay, "weight_decay", name)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError

    def _gradient(self, p: Value) -> float:
        """The gradient with the L2 weight-decay term added, as PyTorch adds it."""
        return p.grad + self.weight_decay * p.data if self.weight_decay else p.grad


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
        gradients = [self._gradient(p) for p in self.params]
        if self.momentum:
            if self.velocity is None:
                self.velocity = gradients
            else:
                self.velocity = [
                    self.momentum * v + g for v, g in zip(self.velocity, gradients, strict=True)
                ]
            gradients = self.velocity
        for p, g in zip(self.params, gradients, strict=True):
            p.data -= self.lr * g


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
        self.steps += 1
        correction1 = 1 - beta1**self.steps  # undoes the pull towards the zero start
        correction2 = 1 - beta2**self.steps
        for i, p in enumerate(self.params):
            g = self._gradient(p)
            self.mean[i] = beta1 * self.mean[i] + (1 - beta1) * g
            self.square[i] = beta2 * self.square[i] + (1 - beta2) * g * g
            denominator = math.sqrt(self.square[i]) / math.sqrt(correction2) + self.eps
            p.data -= (self.lr / correction1) * self.mean[i] / denominator


def _is_number(number: object) -> bool:
    return isinstance(number, (int, float)) and not isinstance(number, bool)


def _non_negative(number: float, name: str, where: str) -> float:
    if not _is_number(number) or not 0 <= number < math.inf:
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {number!r}")
    return float(number)


def _fraction(number: float, name: str, where: str) -> float:
    if not _is_number(number) or not 0 <= number < 1:
        raise ValueError(f"{where}: {name} must lie in [0, 1), got {number!r}")
    return float(number)
