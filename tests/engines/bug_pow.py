"""Learner bug: the power rule without its factor n."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def __pow__(self, exponent: CorrectValue | float) -> CorrectValue:
        if isinstance(exponent, CorrectValue):
            return self._power_of_value(exponent)
        out = self._node(self.data**exponent, (self,), f"**{exponent}")

        def _backward() -> None:
            self.grad += self.data ** (exponent - 1) * out.grad  # BUG: n * x**(n-1)

        out._backward = _backward
        return out
