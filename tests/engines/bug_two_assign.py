"""Two learner bugs of one kind: `=` where `+=` belongs in exp's and in tanh's backward."""

from __future__ import annotations

import math

from correct import Value as CorrectValue


class Value(CorrectValue):
    def exp(self) -> CorrectValue:
        out = self._node(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad = out.data * out.grad  # BUG: +=

        out._backward = _backward
        return out

    def tanh(self) -> CorrectValue:
        out = self._node(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad = (1 - out.data**2) * out.grad  # BUG: +=

        out._backward = _backward
        return out
