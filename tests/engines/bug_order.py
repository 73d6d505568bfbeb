"""Learner bug: backward() goes breadth-first from the output instead of in topological order,
so a node reached by a short path and a long one passes its gradient on too early."""

from __future__ import annotations

from collections import deque

from correct import Value as CorrectValue


class Value(CorrectValue):
    def backward(self) -> None:
        order: list[CorrectValue] = []
        seen = {id(self)}
        waiting: deque[CorrectValue] = deque([self])
        while waiting:  # BUG: breadth-first order is not a topological order
            node = waiting.popleft()
            order.append(node)
            for child in node._prev:
                if id(child) not in seen:
                    seen.add(id(child))
                    waiting.append(child)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in order:
            node._backward()
