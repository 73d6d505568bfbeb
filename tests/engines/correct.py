"""A correct micrograd-style engine, as a careful learner would write it.

It is the conformance kit's control: it must pass every check, and the buggy engines beside it each
change one method of it. Two things differ from karpathy's micrograd on purpose: the topological
order is built with an explicit stack (so chains 100,000 deep work), and backward() starts every
intermediate gradient at 0 while leaves accumulate (PyTorch's rule), so calling it twice gives
exactly twice the leaf gradients. New nodes are made with ``type(self)`` so that a subclass that
overrides one op sees its own op used everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def _nothing() -> None:
    """The backward step of a leaf: there is nothing below it."""


class Value:
    """A scalar that remembers how it was made."""

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = _nothing
        self._prev = _children
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def _node(self, data: float, children: tuple[Value, ...], op: str) -> Value:
        return type(self)(data, children, op)

    def _lift(self, other: Value | float) -> Value:
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other: Value | float) -> Value:
        other = self._lift(other)
        out = self._node(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = self._lift(other)
        out = self._node(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: Value | float) -> Value:
        if isinstance(exponent, Value):
            return self._power_of_value(exponent)
        out = self._node(self.data**exponent, (self,), f"**{exponent}")

        def _backward() -> None:
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def _power_of_value(self, exponent: Value) -> Value:
        """a ** b with both Values: d/da = b * a**(b-1), d/db = a**b * log(a) (a > 0)."""
        out = self._node(self.data**exponent.data, (self, exponent), "**")

        def _backward() -> None:
            self.grad += exponent.data * self.data ** (exponent.data - 1) * out.grad
            exponent.grad += out.data * math.log(self.data) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, base: float) -> Value:
        return type(self)(base) ** self

    def _unary(
        self, value: Callable[[float], float], slope: Callable[[float, float], float], op: str
    ) -> Value:
        """An op of one operand; ``slope(x, out)`` is its derivative at x."""
        out = self._node(value(self.data), (self,), op)

        def _backward() -> None:
            self.grad += slope(self.data, out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        return self._unary(lambda x: max(x, 0.0), lambda x, y: 1.0 if x > 0 else 0.0, "relu")

    def tanh(self) -> Value:
        return self._unary(math.tanh, lambda x, t: 1 - t * t, "tanh")

    def exp(self) -> Value:
        return self._unary(math.exp, lambda x, e: e, "exp")

    def log(self) -> Value:
        return self._unary(math.log, lambda x, y: 1 / x, "log")

    def sigmoid(self) -> Value:
        return self._unary(lambda x: 1 / (1 + math.exp(-x)), lambda x, s: s * (1 - s), "sigmoid")

    def sin(self) -> Value:
        return self._unary(math.sin, lambda x, y: math.cos(x), "sin")

    def cos(self) -> Value:
        return self._unary(math.cos, lambda x, y: -math.sin(x), "cos")

    def sqrt(self) -> Value:
        return self._unary(math.sqrt, lambda x, r: 0.5 / r, "sqrt")

    def __abs__(self) -> Value:
        return self._unary(abs, lambda x, y: 1.0 if x > 0 else -1.0, "abs")

    def abs(self) -> Value:
        return abs(self)

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

    def backward(self) -> None:
        """d(self)/d(node) for every node below: leaves accumulate, intermediates start at 0."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in seen)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()
