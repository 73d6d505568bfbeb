"""The kit's search: draw examples from a seed, and shrink a failing one to a simple one.

A check describes what it draws through ``Draw`` (numbers in a range, small integers, "throw
this one away"). Every draw comes from ``random.Random(seed)`` and every shrink step is a plain
loop, so the same seed gives the same examples and the same shrunk failure on any machine and
any Python: nothing depends on a library's version, on other modules loaded, or on a database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import NoReturn, TypeVar

T = TypeVar("T")
SHRINK_BUDGET = 400  # formulas tried while shrinking one failure
REJECTS_PER_EXAMPLE = 10  # draws thrown away (off an op's domain) before the search gives up


class Rejected(Exception):
    """A draw was thrown away: its numbers lie outside some op's domain."""


@dataclass(frozen=True)
class Choice:
    """One drawn number and the range it was drawn from."""

    value: float
    low: float
    high: float
    integer: bool


class Draw:
    """Draws for one example: replays ``prefix`` first (while shrinking), then draws afresh."""

    def __init__(self, rng: Random, prefix: Sequence[Choice] = ()) -> None:
        self._rng = rng
        self._prefix = prefix
        self.choices: list[Choice] = []

    def _next(self, low: float, high: float, integer: bool) -> float:
        position = len(self.choices)
        if position < len(self._prefix):
            value = min(max(self._prefix[position].value, low), high)
        elif integer:
            value = min(low + int(self._rng.random() * (high - low + 1)), high)
        else:
            value = low + (high - low) * self._rng.random()
        self.choices.append(Choice(value, low, high, integer))
        return value

    def number(self, low: float, high: float) -> float:
        """A float in [low, high]; shrinks towards simple numbers such as 0, 1 and 0.5."""
        return float(self._next(low, high, False))

    def integer(self, low: int, high: int) -> int:
        """An int in [low, high]; shrinks towards ``low``, so list simple choices first."""
        return int(self._next(low, high, True))

    def reject(self) -> NoReturn:
        """Throw this draw away and draw another."""
        raise Rejected


def _complexity(choice: Choice) -> tuple[int, float]:
    """How far a choice is from simple: digits after the point first, then size."""
    if choice.integer:
        return (0, choice.value - choice.low)
    text = repr(choice.value)
    digits = len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 17
    return (digits, abs(choice.value))


def _simpler(choice: Choice) -> list[Choice]:
    """Candidates simpler than ``choice``, the simplest first."""
    x = choice.value
    if choice.integer:
        values = [float(v) for v in range(int(choice.low), int(x))]
    else:
        values = [0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, float(round(x)), round(x, 1), round(x, 2)]
        values += [round(x / 2, 2)]
    found = []
    for v in values:
        candidate = Choice(min(max(v, choice.low), choice.high), choice.low, choice.high, False)
        candidate = Choice(candidate.value, choice.low, choice.high, choice.integer)
        if _complexity(candidate) < _complexity(choice) and candidate not in found:
            found.append(candidate)
    return found


def _replay(
    build: Callable[[Draw], T], choices: Sequence[Choice], seed: int
) -> tuple[T, list[Choice]] | None:
    draw = Draw(Random(seed), choices)
    try:
        return build(draw), draw.choices
    except Rejected:
        return None


def smallest_failure(
    build: Callable[[Draw], T], fails: Callable[[T], bool], *, examples: int, seed: int
) -> T | None:
    """The simplest example from ``build`` for which ``fails`` is true, or None if ``examples``
    draws find none; the same seed gives the same draws and the same result."""
    rng = Random(seed)
    tried = rejected = 0
    found: tuple[T, list[Choice]] | None = None
    while tried < examples and rejected < REJECTS_PER_EXAMPLE * examples:
        draw = Draw(rng)
        try:
            example = build(draw)
        except Rejected:
            rejected += 1
            continue
        tried += 1
        if fails(example):
            found = example, draw.choices
            break
    if found is None:
        return None
    return _shrink(build, fails, found, seed)


def _shrink(
    build: Callable[[Draw], T],
    fails: Callable[[T], bool],
    found: tuple[T, list[Choice]],
    seed: int,
) -> T:
    example, choices = found
    budget, improved = SHRINK_BUDGET, True
    while improved and budget > 0:
        improved = False
        for i in range(len(choices)):
            for candidate in _simpler(choices[i]) if i < len(choices) else ():
                if budget <= 0:
                    break
                budget -= 1
                replayed = _replay(build, [*choices[:i], candidate, *choices[i + 1 :]], seed)
                if replayed is not None and fails(replayed[0]):
                    example, choices, improved = replayed[0], replayed[1], True
                    break
    return example
