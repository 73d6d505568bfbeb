"""Learner bug: tanh's derivative written with the input x where the output t belongs."""

from __future__ import annotations

import math

from correct import Value as CorrectValue


class Value(CorrectValue):
    def tanh(self) -> CorrectValue:
        return self._unary(math.tanh, lambda x, t: 1 - x * x, "tanh")  # BUG: 1 - t * t
