"""Learner bug: subtraction written out by hand, with the second operand's sign lost."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __sub__(self, other: CorrectValue | float) -> CorrectValue:
        other = self._lift(other)
        out = self._node(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad  # BUG: d(a - b)/db = -1, so -= out.grad

        out._backward = _backward
        return out
