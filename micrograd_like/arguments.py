"""Checks on the arguments of the library around the engine: nn, losses, data, gpt, compiled, viz.

Each check runs once per call, never per element of a hot loop, and raises where the mistake is
made with a message that names the function, the argument and the value (``checks`` does the same
for the engine's own numbers, and ``checked_real`` builds on it).
"""

from __future__ import annotations

import math
import numbers
import operator
import random
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any

from micrograd_like.checks import checked_float, short_number
from micrograd_like.engine import Value


def checked_rng(rng: object, where: str) -> random.Random:
    """``rng`` as a random.Random; None gives a fresh, unseeded one."""
    if rng is None:
        return random.Random()
    if isinstance(rng, random.Random):
        return rng
    raise TypeError(
        f"{where}: rng must be a random.Random or None, got {rng!r}; "
        "for a seed pass rng=random.Random(seed)"
    )


def checked_real(
    value: object, where: str, name: str, low: float = -math.inf, high: float = math.inf
) -> float:
    """A finite real number from ``low`` to ``high`` inclusive (Fraction, numpy too), as a float."""
    if isinstance(value, Value):  # checks.checked_float's advice is for Value(Value)
        raise TypeError(f"{where}: {name} must be a number, got {value!r}; pass its .data")
    number = checked_float(value, f"{where}: {name}")
    if not low <= number <= high:
        raise ValueError(f"{where}: {name} must lie in [{low}, {high}], got {value!r}")
    return number


def checked_count(value: object, where: str, name: str, low: int = 1) -> int:
    """A whole number >= ``low`` (numpy integers too, bools not), as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be a whole number, got {value!r}")
    count = operator.index(value)
    if count < low:
        raise ValueError(f"{where}: {name} must be at least {low}, got {short_number(count)}")
    return count


def checked_sequence(values: object, where: str, name: str) -> Sequence[Any]:
    """An ordered collection with a length: a list, tuple or numpy array; no string, set, dict,
    iterator or lone Value (which would give characters, an arbitrary order, or no length)."""
    refused = isinstance(values, (str, bytes, Mapping, Set, Value))
    if refused or not (isinstance(values, Sequence) or _is_array(values)):
        raise TypeError(
            f"{where}: {name} must be a list or tuple, got {_shown(values)} "
            f"of type {type(values).__name__}"
        )
    return values  # type: ignore[return-value]


def checked_values(values: object, where: str, name: str) -> Sequence[Value]:
    """A list or tuple of Values, such as a model's outputs: a number here has no gradient."""
    sequence = checked_sequence(values, where, name)
    for index, value in enumerate(sequence):
        if not isinstance(value, Value):
            raise TypeError(
                f"{where}: {name}[{index}] is {_shown(value)} of type {type(value).__name__}; "
                "expected a Value (a plain number has no graph, so nothing would be trained)"
            )
    return sequence


def checked_value_iterable(
    values: object, where: str, name: str, item: str = "parameter"
) -> list[Value]:
    """Any iterable of Values (a generator too) as a list; a lone Value or a Module is refused."""
    if isinstance(values, Value) or not isinstance(values, Iterable):
        hint = "; pass model.parameters()" if hasattr(values, "parameters") else ""
        raise TypeError(
            f"{where}: {name} must be an iterable of Values, got {_shown(values)}{hint}"
        )
    found = list(values)
    for index, value in enumerate(found):
        if not isinstance(value, Value):
            raise TypeError(
                f"{where}: every {item} must be a Value, got {_shown(value)} ({name}[{index}])"
            )
    return found


def _is_array(values: object) -> bool:
    """A numpy array (or alike) of one dimension or more: ordered, with a length."""
    return len(getattr(values, "shape", ())) >= 1 and hasattr(values, "__len__")


def _shown(thing: object, limit: int = 80) -> str:
    """A repr for a message, cut short."""
    text = short_number(thing) if isinstance(thing, int) else repr(thing)
    return text if len(text) <= limit else text[: limit - 3] + "..."
