"""micrograd_like: a scalar reverse-mode autograd engine for learning, teaching and testing.

The names below are re-exported lazily (PEP 562): ``import micrograd_like`` loads nothing but this
file, and ``micrograd_like.compile_fn`` loads the compiler only when first used. So a learner's
breakpoint in the engine never fires inside another module's import, and graphviz and hypothesis
are needed only by ``micrograd_like.viz`` and ``micrograd_like.strategies``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from micrograd_like.compiled import CompiledFunction, TracingError, compile_fn
    from micrograd_like.debug import AnomalyError, detect_anomaly, explain, steps_table
    from micrograd_like.engine import (
        BackwardStep,
        StaleGraphError,
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

_HOMES = {
    "micrograd_like.compiled": ("CompiledFunction", "TracingError", "compile_fn"),
    "micrograd_like.debug": ("AnomalyError", "detect_anomaly", "explain", "steps_table"),
    "micrograd_like.engine": (
        "BackwardStep",
        "StaleGraphError",
        "Value",
        "backward_steps",
        "grad",
        "is_grad_enabled",
        "linear",
        "no_grad",
        "sum_of",
        "topological_order",
        "watch",
    ),
    "micrograd_like.gradcheck": (
        "GradcheckError",
        "KinkError",
        "gradcheck",
        "gradgradcheck",
        "numerical_grad",
    ),
    "micrograd_like.ops": ("CustomOp", "custom_op"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a re-exported name's module on first use (PEP 562)."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'micrograd_like' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
