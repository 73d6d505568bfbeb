"""Learner bug: division written out by hand, its denominator's derivative missing a square."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __truediv__(self, other: CorrectValue | float) -> CorrectValue:
        other = self._lift(other)
        out = self._node(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += out.grad / other.data
            other.grad += -self.data / other.data * out.grad  # BUG: -a / b**2

        out._backward = _backward
        return out
