"""micrograd_like: a scalar reverse-mode autograd engine for learning, teaching and testing."""

from micrograd_like.engine import (
    BackwardStep,
    Value,
    backward_steps,
    grad,
    is_grad_enabled,
    linear,
    no_grad,
    sum_of,
    topological_order,
)

__all__ = [
    "BackwardStep",
    "Value",
    "backward_steps",
    "grad",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "sum_of",
    "topological_order",
]
__version__ = "0.1.0"
