"""Learner bug: 2 / a computed as a / 2 (the reflected division with its operands swapped)."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __rtruediv__(self, other: float) -> CorrectValue:
        return self / other  # BUG: other * self**-1
