"""microgpt-style learner bug: `=` where `+=` belongs in the one loop every op shares."""

from __future__ import annotations

from microgpt_style import Value as CorrectValue


class Value(CorrectValue):
    __slots__ = ()

    def backward(self) -> None:
        order = self.topological_order()
        for node in order:
            if node._children:
                node.grad = 0.0
        self.grad += 1.0
        for v in reversed(order):
            for child, local_grad in zip(v._children, v._local_grads, strict=True):
                child.grad = local_grad * v.grad  # BUG: +=
