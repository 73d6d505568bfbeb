"""``python -m micrograd_like check-engine TARGET [TARGET ...]``: the conformance kit's command.

A thin layer over ``micrograd_like.conformance``: it parses the command line, runs the checks and
prints a report card per engine (and a summary table for several) or JSON. Exit status: 0 when
every engine passes, 1 when a check fails, 2 when a target cannot be loaded or the command line
is wrong (a one-line message on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from micrograd_like import conformance


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
        description="Check micrograd-style engines' gradients against finite differences.",
    )
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="package.module:ClassName or path/to/engine.py:ClassName",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of report cards")
    parser.add_argument(
        "--examples",
        type=_positive(int),
        default=conformance.DEFAULT_EXAMPLES,
        help="examples hypothesis draws per check (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=conformance.DEFAULT_SEED,
        help="the same seed gives the same examples (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=conformance.DEFAULT_TIMEOUT,
        help="seconds each check may take (default %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help="engines checked at once (default: one per CPU)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except _UsageError as error:
        print(f"check-engine: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    try:
        reports = conformance.check_engines(
            args.targets,
            examples=args.examples,
            seed=args.seed,
            timeout=args.timeout,
            jobs=args.jobs,
        )
    except ImportError as error:
        print(f"check-engine: {error}", file=sys.stderr)
        return 2
    if args.json:
        data = [r.to_json() for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        cards = [r.render() for r in reports if r.error is None]
        if cards:
            print("\n\n".join(cards))
        if len(reports) > 1:
            print("\n" + conformance.render_summary(reports))
    for report in reports:
        if report.error is not None:
            print(f"check-engine: {report.engine}: {report.error}", file=sys.stderr)
    if any(r.error is not None for r in reports):
        return 2
    return 0 if all(r.passed for r in reports) else 1
