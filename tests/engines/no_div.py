"""Learner gap: no division at all (neither a / b nor 2 / a); everything else is right."""

from __future__ import annotations

from correct import Value as CorrectValue


class Value(CorrectValue):
    __truediv__ = None  # type: ignore[assignment]  # as if never written
    __rtruediv__ = None  # type: ignore[assignment]
