"""Learner bug: `=` where `+=` belongs in mul's backward, so a value used twice loses a part."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __mul__(self, other: CorrectValue | float) -> CorrectValue:
        other = self._lift(other)
        out = self._node(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad = other.data * out.grad  # BUG: += (a * a overwrites its first part)
            other.grad = self.data * out.grad

        out._backward = _backward
        return out
