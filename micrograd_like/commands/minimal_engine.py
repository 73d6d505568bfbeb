"""The bench's floor: the simplest scalar engine that works, in the style of Karpathy's microgpt.

Each op computes its local gradients in the forward and keeps them beside its children, both
tuples; ``backward`` sorts the graph without recursion (a chain a million ops deep works), then
runs the chain rule in one loop. No checks, labels or hooks: ``python -m micrograd_like bench``
measures our engine against this one for speed, and a reader can hold all of it in one glance.
"""

from __future__ import annotations

import math


class Value:
    """A number, its gradient, and the children and local gradients of the op that made it."""

    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(
        self, data: float, children: tuple[Value, ...] = (), local_grads: tuple[float, ...] = ()
    ) -> None:
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads  # d(this)/d(child), one per child

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))  # d(a+b)/da = d(a+b)/db = 1

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))  # b, a

    def __pow__(self, k: float) -> Value:
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),))  # d(x**k)/dx = k*x**(k-1)

    def log(self) -> Value:
        return Value(math.log(self.data), (self,), (1 / self.data,))  # d(log x)/dx = 1/x

    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), (e,))  # d(e**x)/dx = e**x

    def relu(self) -> Value:
        return Value(max(0.0, self.data), (self,), (float(self.data > 0),))  # 1 where x > 0

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,))  # d(tanh x)/dx = 1 - tanh(x)**2

    def __neg__(self) -> Value:
        return self * -1.0

    def __radd__(self, other: float) -> Value:
        return self + other

    def __sub__(self, other: Value | float) -> Value:
        return self + -other

    def __rsub__(self, other: float) -> Value:
        return -self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:
        return self**-1 * other

    def backward(self) -> None:
        """Set ``grad`` of every node below to d(self)/d(node); gradients add up across calls."""
        order: list[Value] = []  # children before parents: a topological order
        seen: set[Value] = set()
        stack = [(self, False)]
        while stack:
            v, children_done = stack.pop()
            if children_done:
                order.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((child, False) for child in v._children)
        self.grad = 1.0
        for v in reversed(order):
            for child, local in zip(v._children, v._local_grads, strict=True):
                child.grad += local * v.grad  # the chain rule
