"""microgpt-style learner bug: log's local gradient is x where 1/x belongs."""

from __future__ import annotations

import math

from microgpt_style import Value as CorrectValue


class Value(CorrectValue):
    __slots__ = ()

    def log(self) -> CorrectValue:
        return type(self)(math.log(self.data), (self,), (self.data,))  # BUG: 1 / self.data
