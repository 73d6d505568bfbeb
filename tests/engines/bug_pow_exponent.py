"""Learner bug: in a ** b with both Values, the exponent's gradient is never added (left at 0)."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def _power_of_value(self, exponent: CorrectValue) -> CorrectValue:
        out = self._node(self.data**exponent.data, (self, exponent), "**")

        def _backward() -> None:
            self.grad += exponent.data * self.data ** (exponent.data - 1) * out.grad
            # BUG: exponent.grad += out.data * math.log(self.data) * out.grad is missing

        out._backward = _backward
        return out
