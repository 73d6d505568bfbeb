"""Hypothesis profiles ("ci" when CI=true, else "dev") and CI on Pythons without a torch wheel."""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import settings

from tests import support

# Tests with their own @settings(max_examples=...) keep their count; the rest run 200 in CI.
# derandomize=True also means no example database: a CI run repeats exactly, whatever ran before.
settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if support.IN_CI else "dev")


# PyTorch has a CPU wheel on CI's machines for CPython 3.11 only. On the other Pythons .ci/run
# sets CI_WITHOUT_TORCH=1: the torch cross-checks skip there, saying why, while Graphviz's dot
# and Chromium stay required (a missing one still fails in CI).
WITHOUT_TORCH = os.environ.get("CI_WITHOUT_TORCH") == "1"


def require_torch_or_skip() -> None:
    """Skip when PyTorch is missing, in CI too: CI_WITHOUT_TORCH=1 says it is missing on purpose."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed: CI_WITHOUT_TORCH=1, no CPU wheel for this Python")


if WITHOUT_TORCH:
    support.require_torch = require_torch_or_skip  # before any test module imports it
