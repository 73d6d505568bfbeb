"""Test switches for optional tools: they skip on a developer machine but must exist in CI."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, what: str, how: str) -> None:
    """Skip when ``what`` is missing on a developer machine; fail in CI, where it must exist."""
    if available:
        return
    message = f"{what} is not installed ({how})"
    if IN_CI:
        pytest.fail(f"{message}; .ci/run must install it so this test runs")
    pytest.skip(message)


def require_dot() -> None:
    how = "apt-get install graphviz, or brew install graphviz"
    require(shutil.which("dot") is not None, "Graphviz's dot", how)


def require_torch() -> None:
    require(
        importlib.util.find_spec("torch") is not None,
        "PyTorch",
        "pip install torch==2.13.0",
    )


def require_playwright() -> None:
    require(
        importlib.util.find_spec("playwright") is not None,
        "Playwright",
        "pip install -e '.[test]'",
    )


def chromium_path() -> str | None:
    """The system Chromium, if any; browser tests never download one."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    path = chromium_path()
    require(path is not None, "Chromium", "apt-get install chromium")
    assert path is not None
    return path
