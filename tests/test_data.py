"""Tests for data: toy sets are deterministic per seed, labelled as documented, on their curves."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from micrograd_like.data import (
    Point,
    make_circles,
    make_moons,
    make_spirals,
    train_test_split,
)

Maker = Callable[..., tuple[list[Point], list[int]]]
MAKERS: list[Maker] = [make_moons, make_circles, make_spirals]


@pytest.mark.parametrize("make", MAKERS)
def test_dataset_same_seed_same_data_other_seed_other_data(make: Maker) -> None:
    assert make(50, 0.1, rng=3) == make(50, 0.1, rng=3)
    assert make(50, 0.1, rng=3) == make(50, 0.1, rng=random.Random(3))
    assert make(50, 0.1, rng=3) != make(50, 0.1, rng=4)


@pytest.mark.parametrize("make", MAKERS)
def test_dataset_leaves_the_global_random_state_alone(make: Maker) -> None:
    state = random.getstate()
    make(20, 0.1)
    make(20, 0.1, rng=1)
    assert random.getstate() == state


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_binary_dataset_has_n_points_and_balanced_labels(make: Maker, n: int) -> None:
    points, labels = make(n, 0.1, rng=0)
    assert len(points) == len(labels) == n
    assert all(len(p) == 2 and all(isinstance(c, float) for c in p) for p in points)
    assert set(labels) <= {-1, 1}
    assert abs(labels.count(1) - labels.count(-1)) <= 1


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    points, labels = make_moons(40, 0.0, rng=0)
    for (x, y), label in zip(points, labels, strict=True):
        if label == -1:  # upper moon: the unit half circle above the x axis
            assert x * x + y * y == pytest.approx(1.0) and y >= -1e-12
        else:  # lower moon: centred at (1, 0.5), below its centre
            assert (x - 1) ** 2 + (y - 0.5) ** 2 == pytest.approx(1.0) and y <= 0.5 + 1e-12


def test_circles_without_noise_have_radius_one_and_factor() -> None:
    points, labels = make_circles(40, 0.0, factor=0.3, rng=0)
    for (x, y), label in zip(points, labels, strict=True):
        assert math.hypot(x, y) == pytest.approx(1.0 if label == -1 else 0.3)


def test_spirals_without_noise_wind_outwards() -> None:
    points, labels = make_spirals(60, 0.0, rng=0)
    radii = sorted(
        math.hypot(x, y) for (x, y), label in zip(points, labels, strict=True) if label == 1
    )
    assert radii[0] == pytest.approx(0.1) and radii[-1] == pytest.approx(1.0)


def test_spirals_with_more_classes_use_class_indices() -> None:
    _, labels = make_spirals(30, 0.1, classes=3, rng=0)
    assert sorted(set(labels)) == [0, 1, 2]
    assert [labels.count(k) for k in range(3)] == [10, 10, 10]


def test_noise_moves_points_by_about_its_size() -> None:
    clean, _ = make_moons(400, 0.0, rng=5)
    noisy, _ = make_moons(400, 0.2, rng=5)
    # the same seed shuffles identically, so clean[i] and noisy[i] are the same arc point
    offsets = [a - b for p, q in zip(noisy, clean, strict=True) for a, b in zip(p, q, strict=True)]
    spread = math.sqrt(sum(d * d for d in offsets) / len(offsets))
    assert 0.17 < spread < 0.23


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_moons(0), "n must be an integer from 1 to 1,000,000, got 0"),
        (lambda: make_moons(10**12), "n must be an integer from 1 to 1,000,000, got 1000000000000"),
        (lambda: make_moons(10, -0.1), "noise must be a finite number >= 0"),
        (lambda: make_moons(10, math.nan), "noise must be a finite number >= 0"),
        (lambda: make_circles(10, factor=1.0), "factor must lie strictly between 0 and 1"),
        (lambda: make_spirals(10, classes=1), "classes must be an integer >= 2"),
        (lambda: make_spirals(10, turns=0), r"turns must be a number in \(0, 1000\], got 0"),
        (
            lambda: make_spirals(10, turns=math.inf),
            r"turns must be a number in \(0, 1000\], got inf",
        ),
        (lambda: make_spirals(10, turns="2"), r"turns must be a number .*, got '2'"),  # type: ignore[arg-type]
        (
            lambda: make_moons(10, rng="seed"),  # type: ignore[arg-type]
            "rng must be a random.Random, an integer seed",
        ),
    ],
)
def test_datasets_refuse_bad_arguments(call: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_train_test_split_partitions_and_keeps_pairs() -> None:
    points = [[float(i), float(-i)] for i in range(10)]
    labels = list(range(10))
    split = train_test_split(points, labels, 0.3, random.Random(0))
    assert len(split.train_points) == 7 and len(split.test_points) == 3
    assert sorted(split.train_labels + split.test_labels) == labels
    for point, label in zip(
        split.train_points + split.test_points, split.train_labels + split.test_labels, strict=True
    ):
        assert point == [float(label), float(-label)]
    assert split == train_test_split(points, labels, 0.3, 0)
    assert split.test_labels != train_test_split(points, labels, 0.3, 1).test_labels


def test_train_test_split_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="3 points but 2 labels"):
        train_test_split([[0.0, 0.0]] * 3, [1, -1], 0.5, 0)
    with pytest.raises(ValueError, match=r"test_fraction must lie in \[0, 1\]"):
        train_test_split([[0.0, 0.0]], [1], 1.5, 0)
