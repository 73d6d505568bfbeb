"""softplus by hand, and a custom op with a deliberately wrong derivative, shared by tests."""

from __future__ import annotations

import math
from typing import Any

from micrograd_like.ops import custom_op, sigmoid


def hand_sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def softplus_forward(x: float) -> float:
    return math.log(1.0 + math.exp(x))


def doubled_local(out: Any, x: Any) -> tuple[Any, ...]:
    return (2 * sigmoid(x),)  # deliberately wrong: twice the true slope


doubled_softplus = custom_op(doubled_local, name="doubled_softplus")(softplus_forward)
