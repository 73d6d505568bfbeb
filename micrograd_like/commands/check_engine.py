"""``python -m micrograd_like check-engine TARGET [TARGET ...]``: the conformance kit's command.

A thin layer over ``micrograd_like.kit``: it parses the command line, runs the checks and
prints report cards (and a summary for several engines), or writes JSON, Gradescope's or
PrairieLearn's results.json, or JUnit XML, to stdout or atomically to ``--output``. Exit
status: 0 when every engine passes, 1 when a check fails, 2 when a target cannot be loaded or
the command line is wrong (a one-line message on stderr), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from micrograd_like.kit import CHECKS, Report, check_engines, render_summary
from micrograd_like.kit.formats import FORMATS, Points, PointsError, load_points, render
from micrograd_like.kit.process import kill_on_exit_signals
from micrograd_like.kit.reference import DEFAULT_EXAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT
from micrograd_like.model_files import replace_atomically


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            number = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return number

    return parse


def _parser() -> _Parser:
    parser = _Parser(
        prog="python -m micrograd_like check-engine",
        description="Check micrograd-style engines' gradients against their exact values.",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="package.module:ClassName or path/to/engine.py:ClassName (or a .py with --class)",
    )
    parser.add_argument("--class", dest="cls", help="the class name for targets given as files")
    parser.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument(
        "--output",
        type=Path,
        help="write there instead of stdout (a folder: one file per engine)",
    )
    parser.add_argument("--points", type=Path, help="points per check: a .toml or .json file")
    parser.add_argument("--list-checks", action="store_true", help="print the checks' names")
    parser.add_argument(
        "--leave-out",
        action="append",
        default=[],
        metavar="PATTERN",
        help="do not run the checks matching PATTERN (such as 'deep-chain' or 'op:sin*')",
    )
    parser.add_argument(
        "--examples",
        type=_positive(int),
        default=DEFAULT_EXAMPLES,
        help="examples drawn per check (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="the same seed gives the same examples (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=DEFAULT_TIMEOUT,
        help="seconds each check may take (default %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive(int),
        default=min(4, os.cpu_count() or 1),
        help="engines checked at once (default: CPUs, at most 4)",
    )
    return parser


def _targets(args: argparse.Namespace) -> list[str]:
    if not args.targets:
        raise _UsageError("the following arguments are required: TARGET")
    if args.cls is None:
        return list(args.targets)
    return [t if ":" in t else f"{t}:{args.cls}" for t in args.targets]


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
        if args.list_checks:
            print("\n".join(CHECKS))
            return 0
        targets = _targets(args)
        fmt = "json" if args.json else args.format
        points = load_points(args.points) if args.points else Points()
        unknown = [p for p in args.leave_out if not any(fnmatch.fnmatchcase(n, p) for n in CHECKS)]
        if unknown:
            raise _UsageError(f"--leave-out {unknown[0]!r} matches no check (see --list-checks)")
        if args.output is not None and len(targets) > 1 and fmt not in ("text", "junit"):
            args.output.mkdir(parents=True, exist_ok=True)
    except (_UsageError, PointsError, OSError) as error:
        print(f"check-engine: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    kill_on_exit_signals()
    try:
        reports = check_engines(
            targets,
            examples=args.examples,
            seed=args.seed,
            timeout=args.timeout,
            jobs=args.jobs,
            leave_out=args.leave_out,
        )
    except KeyboardInterrupt:
        print("check-engine: interrupted; every engine process was stopped", file=sys.stderr)
        return 130
    try:
        _write(reports, fmt, points, args.output)
    except OSError as error:
        print(f"check-engine: cannot write {args.output}: {error}", file=sys.stderr)
        return 2
    for report in reports:
        if report.error is not None:
            print(f"check-engine: {report.engine}: {report.error}", file=sys.stderr)
    if any(r.error is not None for r in reports):
        return 2
    return 0 if all(r.passed for r in reports) else 1


def _write(reports: list[Report], fmt: str, points: Points, output: Path | None) -> None:
    if fmt == "text":
        cards = [r.render() for r in reports if r.error is None]
        text = "\n\n".join(cards)
        if len(reports) > 1:
            text += "\n\n" + render_summary(reports)
        _emit(text.strip("\n") + "\n" if text.strip() else "", output)
    elif output is not None and len(reports) > 1 and fmt != "junit":
        for name, report in zip(_file_names(reports), reports, strict=True):
            replace_atomically(output / f"{name}.json", render([report], fmt, points).encode())
    else:
        _emit(render(reports, fmt, points), output)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        replace_atomically(output, text.encode("utf-8"))


def _file_names(reports: list[Report]) -> list[str]:
    """One file name per engine: its path below the folder all of them share, as one word
    (``submissions/alice/engine.py`` -> ``alice_engine``); a module target by its name."""
    paths = [Path(r.engine.rpartition(":")[0]).resolve() for r in reports]
    files = [p for p in paths if p.suffix == ".py"]
    common = Path(os.path.commonpath([f.parent for f in files])) if files else None
    names = []
    for path, report in zip(paths, reports, strict=True):
        if common is not None and path.suffix == ".py":
            name = "_".join(path.with_suffix("").relative_to(common).parts)
        else:
            name = report.engine
        names.append(re.sub(r"[^A-Za-z0-9._-]+", "_", name))
    return names
