"""Graders' formats: a report as Gradescope's or PrairieLearn's results.json, or JUnit XML
(GitHub Classroom, CI), with points per check from a small TOML or JSON file.

A points file (every key optional; a pattern is a shell-style glob over check names, and an
exact name wins over a pattern, then the first pattern listed)::

    [default]
    points = 1            # each check not listed below
    visibility = "visible"

    [checks."op:*"]
    points = 2

    [checks."op:tanh"]
    required = true       # "not provided" scores 0 of its points instead of being left out

    [checks."deep-chain"]
    points = 0.5
    visibility = "after_due_date"   # visible | hidden | after_due_date | after_published
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import math
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from micrograd_like.kit.report import CheckResult, Report, render_example
from micrograd_like.kit.run import CHECKS

FORMATS = ("text", "json", "gradescope", "prairielearn", "junit")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
POINTS_FILE_CAP = 1 << 20  # bytes: a points file is a few lines
PRAIRIELEARN_CAP = 1_000_000  # bytes: PrairieLearn refuses larger results
MESSAGE_CAP = 4000  # characters of one check's text in a grader's output


class PointsError(ValueError):
    """A points file that cannot be used: the message names the file, the key and the value."""


@dataclass(frozen=True)
class Weight:
    """What one check is worth, who sees it, and whether lacking the op costs its points."""

    points: float = 1.0
    visibility: str = "visible"
    required: bool = False


@dataclass(frozen=True)
class Points:
    """Points per check: the default, then each matching pattern in the file's order, then the
    check's own name; each table changes only the keys it sets."""

    default: Weight = Weight()
    rules: tuple[tuple[str, dict[str, Any]], ...] = ()

    def weight(self, check: str) -> Weight:
        weight = self.default
        patterns = [(p, t) for p, t in self.rules if p != check and fnmatch.fnmatchcase(check, p)]
        for _, table in [*patterns, *((p, t) for p, t in self.rules if p == check)]:
            weight = replace(weight, **table)
        return weight


def load_points(path: str | Path) -> Points:
    """Read a points file (``.toml`` or ``.json``), refusing unknown keys and odd values."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(POINTS_FILE_CAP + 1)
    except OSError as error:
        raise PointsError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(raw) > POINTS_FILE_CAP:
        raise PointsError(f"{path}: more than {POINTS_FILE_CAP:,} bytes; a points file is small")
    data = _parse_points(path, raw)
    unknown = set(data) - {"default", "checks"}
    if unknown:
        raise PointsError(f"{path}: unknown key {sorted(unknown)[0]!r} (use default, checks)")
    default = Weight(**_table(path, "default", data.get("default", {})))
    checks = data.get("checks", {})
    if not isinstance(checks, dict):
        raise PointsError(f"{path}: 'checks' is {checks!r}, not a table")
    rules = []
    for pattern, table in checks.items():
        if not any(fnmatch.fnmatchcase(name, pattern) for name in CHECKS):
            raise PointsError(f"{path}: checks.{pattern!r} matches no check (see --list-checks)")
        rules.append((pattern, _table(path, f"checks.{pattern!r}", table)))
    return Points(default, tuple(rules))


def _parse_points(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PointsError(f"{path}: not UTF-8 text") from None
    try:
        parse = json.loads if path.suffix.lower() == ".json" else toml_module(path).loads
        data = parse(text)
    except PointsError:
        raise
    except ValueError as error:  # json's and tomllib's errors are ValueErrors
        raise PointsError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise PointsError(f"{path}: the top level is not a table")
    return data


def toml_module(path: Path, version: tuple[int, ...] = sys.version_info[:2]) -> Any:
    """tomllib, or on Python 3.10 the tomli backport (the [kit] extra), or a PointsError."""
    name = "tomllib" if version >= (3, 11) else "tomli"
    try:
        return importlib.import_module(name)
    except ImportError:
        raise PointsError(
            f"{path}: reading TOML on Python 3.10 needs tomli: pip install 'micrograd_like[kit]' "
            "(or write the same tables as a .json file)"
        ) from None


def _table(path: Path, where: str, table: Any) -> dict[str, Any]:
    """One table of the file, checked: only the keys of a Weight, each with a sound value."""
    if not isinstance(table, dict):
        raise PointsError(f"{path}: {where} is {table!r}, not a table")
    unknown = set(table) - {"points", "visibility", "required"}
    if unknown:
        key = sorted(unknown)[0]
        raise PointsError(f"{path}: {where}.{key}: unknown key (use points, visibility, required)")
    checked = dict(table)
    if "points" in table:
        points = table["points"]
        if isinstance(points, bool) or not isinstance(points, (int, float)):
            raise PointsError(f"{path}: {where}.points is {points!r}, not a number")
        if not math.isfinite(points) or points < 0:
            raise PointsError(f"{path}: {where}.points is {points!r}; use a finite number >= 0")
        checked["points"] = float(points)
    if "visibility" in table and table["visibility"] not in VISIBILITIES:
        raise PointsError(
            f"{path}: {where}.visibility is {table['visibility']!r}; use one of "
            + ", ".join(VISIBILITIES)
        )
    if "required" in table and not isinstance(table["required"], bool):
        raise PointsError(f"{path}: {where}.required is {table['required']!r}, not true or false")
    return checked


# --- scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One check as a grader sees it: points earned of points possible, and the text shown."""

    check: CheckResult
    earned: float
    possible: float
    visibility: str
    passed: bool

    @property
    def text(self) -> str:
        lines = [f"{self.check.status}: {self.check.detail}"]
        if self.check.example and self.check.status != "pass":
            lines += render_example(self.check.example, 80)
        text = "\n".join(lines)
        return text if len(text) <= MESSAGE_CAP else text[: MESSAGE_CAP - 3] + "..."


def scored(report: Report, points: Points) -> list[Scored]:
    """Each check with its points: a pass earns them, a fail none, a skip is left out (worth 0),
    unless the check is ``required`` and the engine lacks its op."""
    rows = []
    for check in report.checks:
        weight = points.weight(check.name)
        lacking = check.status == "skip" and check.detail.startswith("not provided")
        possible = weight.points if check.status != "skip" or (weight.required and lacking) else 0.0
        earned = possible if check.status == "pass" else 0.0
        passed = check.status == "pass" or (check.status == "skip" and possible == 0.0)
        rows.append(Scored(check, earned, possible, weight.visibility, passed))
    return rows


def _unloaded(report: Report) -> str:
    return f"{report.engine}: cannot be checked: {report.error}"


def gradescope(report: Report, points: Points) -> dict[str, Any]:
    """Gradescope's results.json: tests with name, score, max_score, status, output, visibility."""
    if report.error is not None:
        return {"score": 0.0, "output": _unloaded(report), "tests": []}
    rows = scored(report, points)
    return {
        "score": _total(r.earned for r in rows),
        "output": report.render().splitlines()[0],
        "tests": [
            {
                "name": r.check.name,
                "score": r.earned,
                "max_score": r.possible,
                "status": "passed" if r.passed else "failed",
                "output": r.text,
                "visibility": r.visibility,
            }
            for r in rows
        ],
    }


def prairielearn(report: Report, points: Points) -> dict[str, Any]:
    """PrairieLearn's results.json: score in [0, 1], tests with points, max_points, message;
    texts are shortened until the whole stays under PrairieLearn's 1 MB."""
    if report.error is not None:
        return {"gradable": True, "score": 0.0, "message": _unloaded(report), "tests": []}
    rows = scored(report, points)
    possible = sum(r.possible for r in rows)
    tests: list[dict[str, Any]] = [
        {"name": r.check.name, "points": r.earned, "max_points": r.possible, "message": r.text}
        for r in rows
    ]
    result = {
        "gradable": True,
        "score": _total(r.earned for r in rows) / possible if possible else 0.0,
        "message": report.render().splitlines()[0],
        "tests": tests,
    }
    cap = MESSAGE_CAP
    while len(json.dumps(result).encode()) >= PRAIRIELEARN_CAP and cap > 10:
        cap //= 2
        for test in tests:
            test["message"] = test["message"][:cap]
    return result


def _total(values: Iterable[float]) -> float:
    return round(sum(values), 6)


def junit(reports: Sequence[Report], points: Points) -> str:
    """JUnit XML: a testsuite per engine, a testcase per check (failure / skipped inside)."""
    suites = ET.Element("testsuites", name="check-engine")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        suite = _suite(report, points)
        suites.append(suite)
        for key in total:
            total[key] += int(suite.get(key, "0"))
    for key, value in total.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(report: Report, points: Points) -> ET.Element:
    suite = ET.Element("testsuite", name=_xml_text(report.engine))
    if report.error is not None:
        case = ET.SubElement(suite, "testcase", name="load", classname=_xml_text(report.engine))
        ET.SubElement(case, "error", message=_xml_text(report.error)).text = _xml_text(
            _unloaded(report)
        )
        counts = {"tests": 1, "failures": 0, "errors": 1, "skipped": 0}
    else:
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for row in scored(report, points):
            counts["tests"] += 1
            case = ET.SubElement(
                suite, "testcase", name=row.check.name, classname=_xml_text(report.engine)
            )
            case.set("time", "0")
            if row.check.status == "fail" or not row.passed:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=_xml_text(row.check.detail))
                failure.set("type", "GradientMismatch")
                failure.text = _xml_text(row.text)
            elif row.check.status == "skip":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_xml_text(row.check.detail))
    for key, value in counts.items():
        suite.set(key, str(value))
    return suite


def _xml_text(text: str) -> str:
    """XML 1.0 allows no control characters but tab, newline and carriage return."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 32 else f"\\x{ord(c):02x}" for c in text)


def render(reports: Sequence[Report], fmt: str, points: Points) -> str:
    """All reports in one format: one document for one engine, a JSON list (an XML document
    with a testsuite each) for several."""
    if fmt == "junit":
        return junit(reports, points)
    if fmt == "json":
        data = [r.to_json() for r in reports]
    elif fmt == "gradescope":
        data = [gradescope(r, points) for r in reports]
    elif fmt == "prairielearn":
        data = [prairielearn(r, points) for r in reports]
    else:
        raise ValueError(f"render: unknown format {fmt!r}; use one of {', '.join(FORMATS[1:])}")
    return json.dumps(data[0] if len(data) == 1 else data, indent=2, allow_nan=False) + "\n"
