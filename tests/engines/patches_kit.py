"""A hostile engine: wrong tanh, and at import it tries to rewrite the kit's verdicts."""

from __future__ import annotations

import math
import sys

from correct import Value as CorrectValue

import micrograd_like.kit.checks as kit_checks
import micrograd_like.kit.report as kit_report
import micrograd_like.kit.run as kit_run


def _always_pass(*args: object, **kwargs: object) -> object:
    return kit_checks.Outcome("pass", "patched")


setattr(kit_run, "run_check", _always_pass)  # noqa: B010  # as an attacker writes it
setattr(kit_checks, "check_op", _always_pass)  # noqa: B010
setattr(kit_report.Report, "passed", True)  # noqa: B010
for name, module in list(sys.modules.items()):  # whatever else of the grader is loaded here
    if name.startswith("micrograd_like"):
        for attribute in ("run_check", "check_op", "diagnose"):
            setattr(module, attribute, _always_pass)


class Value(CorrectValue):
    def tanh(self) -> CorrectValue:
        return self._unary(math.tanh, lambda x, t: 1 - x * x, "tanh")  # BUG: 1 - t * t
