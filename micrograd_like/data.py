"""Seeded toy datasets in pure Python (two moons, circles, spirals) and a train/test split.

Each generator returns ``(points, labels)``: points are ``[x, y]`` lists of floats. The binary sets
label their classes -1 and +1, the form the max-margin (hinge) loss wants, as in micrograd's demo.
Pass ``rng`` as a ``random.Random`` or an integer seed; the same seed always gives the same data.
Nothing here touches the global ``random`` state, NumPy or scikit-learn.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from typing import NamedTuple

from micrograd_like.arguments import checked_real, checked_sequence
from micrograd_like.checks import short_number

Point = list[float]
Seed = random.Random | int | None


class Split(NamedTuple):
    """A dataset cut in two: what the model learns from and what it is judged on."""

    train_points: list[Point]
    train_labels: list[int]
    test_points: list[Point]
    test_labels: list[int]


def make_moons(n: int = 100, noise: float = 0.1, rng: Seed = None) -> tuple[list[Point], list[int]]:
    """Two interleaved half circles: the upper one is labelled -1, the lower one +1."""
    random_source = _random_source(rng, "make_moons")
    _check_arguments(n, noise, "make_moons")
    upper = n // 2
    points, labels = [], []
    for i in range(n):
        if i < upper:
            angle = math.pi * _fraction(i, upper)
            x, y, label = math.cos(angle), math.sin(angle), -1
        else:
            angle = math.pi * _fraction(i - upper, n - upper)
            x, y, label = 1.0 - math.cos(angle), 0.5 - math.sin(angle), 1
        points.append(_jitter(x, y, noise, random_source))
        labels.append(label)
    return _shuffled(points, labels, random_source)


def make_circles(
    n: int = 100, noise: float = 0.05, factor: float = 0.5, rng: Seed = None
) -> tuple[list[Point], list[int]]:
    """A ring of radius 1 labelled -1 around a ring of radius ``factor`` labelled +1."""
    random_source = _random_source(rng, "make_circles")
    _check_arguments(n, noise, "make_circles")
    if not 0 < checked_real(factor, "make_circles", "factor") < 1:
        raise ValueError(f"make_circles: factor must lie strictly between 0 and 1, got {factor!r}")
    outer = n // 2
    points, labels = [], []
    for i in range(n):
        inside = i >= outer
        count, index = (n - outer, i - outer) if inside else (outer, i)
        angle = 2 * math.pi * index / max(count, 1)
        radius = factor if inside else 1.0
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        points.append(_jitter(x, y, noise, random_source))
        labels.append(1 if inside else -1)
    return _shuffled(points, labels, random_source)


def make_spirals(
    n: int = 100, noise: float = 0.1, classes: int = 2, turns: float = 1.0, rng: Seed = None
) -> tuple[list[Point], list[int]]:
    """``classes`` arms winding out from the centre, ``turns`` times round.

    With two classes the labels are -1 and +1, like the other binary sets; with more they are the
    class indices 0 .. classes-1, the form ``softmax_cross_entropy`` takes.
    """
    random_source = _random_source(rng, "make_spirals")
    _check_arguments(n, noise, "make_spirals")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"make_spirals: classes must be an integer >= 2, got {classes!r}")
    if isinstance(turns, bool) or not isinstance(turns, (int, float)) or not 0 < turns <= MAX_TURNS:
        shown = short_number(turns)
        raise ValueError(f"make_spirals: turns must be a number in (0, {MAX_TURNS}], got {shown}")
    points, labels = [], []
    for i in range(n):
        arm = i % classes
        reach = _fraction(i // classes, math.ceil(n / classes))  # 0 at the centre, 1 at the rim
        angle = 2 * math.pi * (turns * reach + arm / classes)
        radius = 0.1 + 0.9 * reach
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        points.append(_jitter(x, y, noise, random_source))
        labels.append((2 * arm - 1) if classes == 2 else arm)
    return _shuffled(points, labels, random_source)


def train_test_split(
    points: Sequence[Point], labels: Sequence[int], test_fraction: float = 0.25, rng: Seed = None
) -> Split:
    """Shuffle with ``rng`` and hold out ``round(test_fraction * n)`` examples for testing."""
    checked_sequence(points, "train_test_split", "points")
    checked_sequence(labels, "train_test_split", "labels")
    if len(points) != len(labels):
        raise ValueError(
            f"train_test_split: {len(points)} points but {len(labels)} labels; they must match"
        )
    if not 0 <= checked_real(test_fraction, "train_test_split", "test_fraction") <= 1:
        raise ValueError(
            f"train_test_split: test_fraction must lie in [0, 1], got {test_fraction!r}"
        )
    order = list(range(len(points)))
    _random_source(rng, "train_test_split").shuffle(order)
    cut = len(order) - round(test_fraction * len(order))
    train, test = order[:cut], order[cut:]
    return Split(
        [points[i] for i in train],
        [labels[i] for i in train],
        [points[i] for i in test],
        [labels[i] for i in test],
    )


def _random_source(rng: Seed, where: str) -> random.Random:
    """A private generator: the one given, one seeded with the given integer, or a fresh one."""
    if isinstance(rng, random.Random):
        return rng
    if rng is None:
        return random.Random()
    if isinstance(rng, bool) or not isinstance(rng, int):
        raise TypeError(
            f"{where}: rng must be a random.Random, an integer seed or None, got {rng!r}"
        )
    return random.Random(rng)


MAX_POINTS = 1_000_000  # far beyond what a scalar engine trains on; a typo must not fill memory
_LARGEST = sys.float_info.max  # an integer above this (10**400) is no float: random.gauss fails
MAX_TURNS = 1000  # beyond this, neighbouring points of one arm are a whole turn apart


def _check_arguments(n: int, noise: float, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
        raise ValueError(f"{where}: n must be an integer from 1 to {MAX_POINTS:,}, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= _LARGEST:
        raise ValueError(f"{where}: noise must be a finite number >= 0, got {short_number(noise)}")


def _fraction(index: int, count: int) -> float:
    """index / (count - 1): evenly spaced from 0 to 1 inclusive, and 0 for a single point."""
    return index / (count - 1) if count > 1 else 0.0


def _jitter(x: float, y: float, noise: float, rng: random.Random) -> Point:
    return [x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)]


def _shuffled(
    points: list[Point], labels: list[int], rng: random.Random
) -> tuple[list[Point], list[int]]:
    order = list(range(len(points)))
    rng.shuffle(order)
    return [points[i] for i in order], [labels[i] for i in order]
