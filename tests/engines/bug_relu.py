"""Learner bug: relu passes the gradient through for negative inputs too."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def relu(self) -> CorrectValue:
        return self._unary(lambda x: max(x, 0.0), lambda x, y: 1.0, "relu")  # BUG: (x > 0)
