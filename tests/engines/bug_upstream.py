"""Learner bug: tanh's local derivative is right but never multiplied by out.grad."""

from __future__ import annotations

import math

from correct import Value as CorrectValue


class Value(CorrectValue):
    def tanh(self) -> CorrectValue:
        out = self._node(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += 1 - out.data**2  # BUG: * out.grad

        out._backward = _backward
        return out
