"""Two learner bugs of one kind: tanh's and exp's derivatives both taken at the input x."""

from __future__ import annotations

import math

from correct import Value as CorrectValue


class Value(CorrectValue):
    def tanh(self) -> CorrectValue:
        return self._unary(math.tanh, lambda x, t: 1 - x * x, "tanh")  # BUG: 1 - t * t

    def exp(self) -> CorrectValue:
        return self._unary(math.exp, lambda x, e: x, "exp")  # BUG: the derivative is e
