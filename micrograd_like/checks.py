"""Checks on what users hand the engine: numbers, labels, and a custom op's results.

Each raises where the mistake is made, with a message that names the operation and the value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from micrograd_like.optable import Op


def checked_float(data: object, where: str) -> float:
    """Turn user data into a finite float, or say exactly what is wrong with it."""
    if type(data) is float and math.isfinite(data):  # the common case, without the ABC check
        return data
    if hasattr(data, "backward") and hasattr(data, "_prev"):  # a Value (ours, micrograd's)
        raise TypeError(
            f"{where} got a Value ({data!r}); pass the Value itself, "
            "or Value(v.data) for an unconnected copy"
        )
    if isinstance(data, bool) or not is_real(data):
        raise TypeError(
            f"{where} got {data!r} of type {type(data).__name__}; expected a real number"
        )
    try:
        number = float(data)  # type: ignore[arg-type]
    except OverflowError:
        raise OverflowError(
            f"{where} got {short_number(data)}, which is too large for a float"
        ) from None
    if not math.isfinite(number):
        raise ValueError(
            f"{where} got {number!r}; data must be finite, since every gradient computed from "
            "a nan or inf is meaningless (anomaly mode finds where a computation makes one)"
        )
    return number


def is_real(data: object) -> bool:
    """A real number: int, float, Fraction, numpy scalars, and 0-d real arrays."""
    if isinstance(data, numbers.Real):
        return True
    shape, kind = getattr(data, "shape", None), getattr(getattr(data, "dtype", None), "kind", "")
    return shape == () and kind in ("f", "i", "u")


def short_number(data: object) -> str:
    """A number for a message, shortened when it has thousands of digits."""
    if isinstance(data, int) and data.bit_length() > 64:  # str() refuses over 4,300 digits
        return f"an integer of {int(math.log10(abs(data))) + 1} digits"
    return repr(data)


def checked_label(label: object) -> str:
    if not isinstance(label, str):
        raise TypeError(
            f"Value(label=...) got {label!r} of type {type(label).__name__}; a label is a string"
        )
    return label


def checked_result(op: Op, result: object, operands: Sequence[float]) -> float:
    """A custom op's forward must give a finite real number; say which op and operands did not."""
    if isinstance(result, bool) or not is_real(result):
        raise TypeError(
            f"{op.name}{tuple(operands)!r} returned {result!r} of type {type(result).__name__}; "
            "forward must return a real number"
        )
    number = float(result)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"{op.name}{tuple(operands)!r} returned {number!r}; it must be finite")
    return number


def check_derivatives(
    op: Op, out: float, operands: Sequence[float], consts: Sequence[float] = ()
) -> None:
    """Evaluate a custom op's local once on numbers: one finite real derivative per operand."""
    local = getattr(op.local, "__wrapped__", op.local)  # the user's own, not its counted wrapper
    derivatives = local(out, *operands, *consts)
    where = f"{op.name}: {getattr(local, '__name__', repr(local))}{(out, *operands)!r}"
    if not isinstance(derivatives, (tuple, list)):
        raise TypeError(
            f"{where} returned {derivatives!r}; return a tuple with one derivative per operand, "
            f"e.g. ({derivatives!r},)"
        )
    if len(derivatives) != len(operands):
        raise ValueError(
            f"{where} returned {len(derivatives)} derivative(s) for {len(operands)} operand(s)"
        )
    for index, derivative in enumerate(derivatives):
        if isinstance(derivative, bool) or not is_real(derivative):
            raise TypeError(
                f"{where}: derivative {index} is {derivative!r}; called with numbers, a local "
                "derivative must return numbers"
            )
        if not math.isfinite(derivative):
            raise ValueError(
                f"{where}: derivative {index} is {derivative!r}; the op has no finite slope there"
            )
