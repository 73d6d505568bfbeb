"""Learner gap: no __rsub__ or __rtruediv__, so 2 - v and 2 / v raise TypeError."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    # What a class without these methods does: Python then raises "unsupported operand type(s)".
    def __rsub__(self, other: float) -> CorrectValue:
        return NotImplemented

    def __rtruediv__(self, other: float) -> CorrectValue:
        return NotImplemented
