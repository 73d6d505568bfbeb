"""Learner bug: 2 ** a computed as a ** 2 (the reflected power with its operands swapped)."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __rpow__(self, base: float) -> CorrectValue:
        return self**base  # BUG: type(self)(base) ** self
