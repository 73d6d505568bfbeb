"""Reports: one row per check, the report card a learner reads, and a summary for a class.

A row is pass, fail or skip (an op the engine lacks, or a check not scored because another
check already names the defect); the score is passes over scored rows.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from micrograd_like.kit.reference import FORWARD_RTOL, close

CARD_WIDTH = 100  # the report card wraps hints to fit this many columns


@dataclass(frozen=True)
class CheckResult:
    """One row of a report: a check's name, pass | fail | skip, what happened, and for a
    failure the smallest example found (formula, inputs, gradients side by side, hint)."""

    name: str
    status: str
    detail: str
    example: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON data: nan and infinities (an engine can produce them) become the
        strings "nan", "inf" and "-inf", so the output is strict JSON."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "example": _strict_json(self.example),
        }


def _strict_json(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {key: _strict_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_strict_json(value) for value in data]
    return data


@dataclass(frozen=True)
class Report:
    """Every check's result for one engine; ``error`` is set when it could not be loaded."""

    engine: str
    checks: tuple[CheckResult, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "fail"]

    @property
    def passed(self) -> bool:
        """No check failed, the engine loaded and has its basics, and some op was checked."""
        status = {c.name: c.status for c in self.checks}
        some_op = any(s == "pass" for n, s in status.items() if n.startswith("op:"))
        basics = status.get("load") == status.get("basics") == "pass"
        return self.error is None and not self.failed and basics and some_op

    @property
    def score(self) -> float:
        """Checks passed / checks run (skips left out)."""
        run = [c for c in self.checks if c.status != "skip"]
        return sum(c.status == "pass" for c in run) / len(run) if run else 0.0

    def result(self, name: str) -> CheckResult:
        """The row of the check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"{self.engine} has no result for {name!r}")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "engine": self.engine,
            "passed": self.passed,
            "score": round(self.score, 4),
            "checks": [c.to_json() for c in self.checks],
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    def render(self) -> str:
        """The report card: one line per check; under each failure its formula, inputs,
        analytic and numeric gradients side by side, and a hint."""
        if self.error is not None:
            return f"{self.engine}: cannot be loaded: {self.error}"
        run = [c for c in self.checks if c.status != "skip"]
        skipped = len(self.checks) - len(run)
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"{self.engine}: {verdict}, {sum(c.status == 'pass' for c in run)}/{len(run)} checks"
            f" pass (score {self.score:.2f})" + (f", {skipped} skipped" if skipped else "")
        ]
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        lacking = [c.name for c in self.checks if c.detail.startswith("not provided")]
        for group in _runs_of_skips([c for c in self.checks if c.name not in lacking]):
            check = group[0]
            if len(group) > 2:  # "not run: the engine did not load" once, not forty times
                names = f"{check.name} ... {group[-1].name}"
                lines.append(f"  skip  {names} ({len(group)} checks): {check.detail}")
                continue
            for check in group:
                lines.extend(self._row(check, width))
        if lacking:
            text = f"not provided by the class: {', '.join(lacking)}"
            wrapped = textwrap.wrap(text, CARD_WIDTH - 8)
            lines += [f"  skip  {wrapped[0]}", *(f"        {line}" for line in wrapped[1:])]
        return "\n".join(lines)

    def _row(self, check: CheckResult, width: int) -> list[str]:
        mark = {"pass": "pass", "fail": "FAIL", "skip": "skip"}[check.status]
        lines = [f"  {mark}  {check.name:<{width}}  {check.detail}"]
        if check.status == "fail" and check.example:
            indent = " " * (10 + width)
            hint_width = max(40, CARD_WIDTH - len(indent) - 10)
            lines.extend(indent + line for line in render_example(check.example, hint_width))
        return lines

    __str__ = render


def _runs_of_skips(checks: Sequence[CheckResult]) -> list[list[CheckResult]]:
    """The checks in order, consecutive skips with one reason grouped together."""
    groups: list[list[CheckResult]] = []
    for check in checks:
        last = groups[-1][-1] if groups else None
        if last and check.status == last.status == "skip" and check.detail == last.detail:
            groups[-1].append(check)
        else:
            groups.append([check])
    return groups


def render_example(example: dict[str, Any], hint_width: int) -> list[str]:
    """An example's lines on a report card: formula, inputs, output, gradients, hint."""
    lines: list[str] = []
    formula = str(example.get("formula", "")).splitlines()
    if formula:
        lines.append(f"formula:  {formula[0]}")
        lines.extend(f"          {line}" for line in formula[1:])
    inputs = example.get("inputs") or {}
    if inputs:
        lines.append("inputs:   " + ", ".join(f"{k} = {v!r}" for k, v in inputs.items()))
    if example.get("error"):
        lines.append(f"raised:   {example['error']}")
    elif isinstance(example.get("output"), float) and not close(
        example["output"], example.get("expected_output", example["output"]), FORWARD_RTOL, 1e-9
    ):
        lines.append(f"output:   {example['output']!r}, should be {example['expected_output']!r}")
    lines.extend(_gradient_table(example))
    if example.get("hint"):
        wrapped = textwrap.wrap(str(example["hint"]), width=hint_width)
        lines.append(f"hint:     {wrapped[0]}")
        lines.extend(f"          {line}" for line in wrapped[1:])
    return lines


def _gradient_table(example: dict[str, Any]) -> list[str]:
    rows = example.get("gradients") or []
    if not rows:
        return []
    numeric = any("numeric" in row for row in rows)
    lines = [f"{'grad':<10}{'analytic':>16}" + (f"  {'numeric':>16}" if numeric else "")]
    lines[0] += f"  {'expected':>16}"
    for row in rows:
        flag = "" if row.get("ok", True) else "   <-- wrong"
        cells = f"{row['input']:<10}{_number(row['analytic'])}"
        if numeric:
            cells += f"  {_number(row.get('numeric'))}"
        lines.append(f"{cells}  {_number(row.get('expected'))}{flag}")
    source = example.get("expected_from")
    if source:
        lines.append(f"(expected: {source})")
    return lines


def _number(x: Any) -> str:
    return f"{x:>16.10g}" if isinstance(x, (int, float)) else f"{x!s:>16}"


def render_summary(reports: Sequence[Report]) -> str:
    """One row per engine: its score, how many checks pass, fail and are skipped, and the
    failing checks by name."""
    width = max([len("engine"), *(len(r.engine) for r in reports)])
    lines = [f"{'engine':<{width}}  score  pass  fail  skip  failing"]
    for report in reports:
        if report.error is not None:
            lines.append(f"{report.engine:<{width}}    -       -     -     -  {report.error}")
            continue
        count = {s: sum(c.status == s for c in report.checks) for s in ("pass", "fail", "skip")}
        lines.append(
            f"{report.engine:<{width}}  {report.score:.2f}  {count['pass']:>4}  {count['fail']:>4}"
            f"  {count['skip']:>4}  {', '.join(report.failed) or '-'}"
        )
    return "\n".join(lines)
