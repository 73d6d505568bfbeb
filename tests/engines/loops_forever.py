"""An engine whose backward() never ends: its work list is never emptied."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    def backward(self) -> None:
        waiting = [self]
        while waiting:  # BUG: the loop takes nothing off the list
            node = waiting[-1]
            node.grad += 0.0
