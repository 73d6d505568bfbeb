"""microgpt-style learner bug: mul's local gradients in the wrong order (each its own data)."""

from __future__ import annotations

from microgpt_style import Value as CorrectValue


class Value(CorrectValue):
    __slots__ = ()

    def __mul__(self, other: CorrectValue | float) -> CorrectValue:
        other = other if isinstance(other, CorrectValue) else type(self)(other)
        # BUG: (other.data, self.data)
        return type(self)(self.data * other.data, (self, other), (self.data, other.data))
