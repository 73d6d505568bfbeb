"""micrograd_like: a scalar reverse-mode autograd engine for learning, teaching and testing.

Pictures live in ``micrograd_like.viz`` and hypothesis strategies in ``micrograd_like.strategies``;
neither is imported here, so ``import micrograd_like`` needs neither graphviz nor hypothesis.
"""

from micrograd_like.compiled import CompiledFunction, TracingError, compile_fn
from micrograd_like.debug import AnomalyError, detect_anomaly, steps_table
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
    watch,
)
from micrograd_like.gradcheck import (
    GradcheckError,
    KinkError,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from micrograd_like.ops import CustomOp, custom_op

__all__ = [
    "AnomalyError",
    "BackwardStep",
    "CompiledFunction",
    "CustomOp",
    "GradcheckError",
    "KinkError",
    "TracingError",
    "Value",
    "backward_steps",
    "compile_fn",
    "custom_op",
    "detect_anomaly",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "numerical_grad",
    "steps_table",
    "sum_of",
    "topological_order",
    "watch",
]
__version__ = "0.1.0"
