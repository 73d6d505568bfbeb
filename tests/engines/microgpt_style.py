"""A correct engine in microgpt's style: each node keeps its children and the local gradients
computed in the forward pass; backward() is one loop, with no ``_backward`` closures.

Like microgpt's Value it has + * ** (a number exponent) log exp relu, and builds -, / and the
reflected forms from them. Unlike microgpt's, its topological sort uses an explicit stack, so
chains 100,000 deep work, backward() starts intermediate gradients at 0 (leaves accumulate), and
new nodes are made with ``type(self)`` so that a subclass that changes one op sees it everywhere.
"""

from __future__ import annotations

import math


class Value:
    """A scalar with its children and d(self)/d(child) for each."""

    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(
        self,
        data: float,
        children: tuple[Value, ...] = (),
        local_grads: tuple[float, ...] = (),
    ) -> None:
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return type(self)(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return type(self)(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other: float) -> Value:
        return type(self)(self.data**other, (self,), (other * self.data ** (other - 1),))

    def log(self) -> Value:
        return type(self)(math.log(self.data), (self,), (1 / self.data,))

    def exp(self) -> Value:
        return type(self)(math.exp(self.data), (self,), (math.exp(self.data),))

    def relu(self) -> Value:
        return type(self)(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self) -> Value:
        return self * -1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __rsub__(self, other: float) -> Value:
        return other + (-self)

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:
        return other * self**-1

    def topological_order(self) -> list[Value]:
        """Every node below self, each after all of its children (an explicit stack)."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._children)
        return order

    def backward(self) -> None:
        order = self.topological_order()
        for node in order:
            if node._children:
                node.grad = 0.0
        self.grad += 1.0
        for v in reversed(order):
            for child, local_grad in zip(v._children, v._local_grads, strict=True):
                child.grad += local_grad * v.grad
