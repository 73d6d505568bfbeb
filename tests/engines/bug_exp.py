"""Learner bug: exp's derivative taken as the input x instead of the output exp(x)."""

from __future__ import annotations

import math

from correct import Value as CorrectValue


class Value(CorrectValue):
    def exp(self) -> CorrectValue:
        return self._unary(math.exp, lambda x, e: x, "exp")  # BUG: the derivative is e
