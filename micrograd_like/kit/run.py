"""Running the checks on engines: each engine in a process of its own, several at once.

A check that times out or kills the engine's process fails; the next check starts a new
process. An engine that cannot even be found gives a Report with ``error`` set; one that breaks
everything still leaves the other engines of a batch checked. Ctrl-C stops at once, killing
every engine process.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from micrograd_like.kit import process
from micrograd_like.kit.checks import (
    OP_LABELS,
    REUSE_LABELS,
    Context,
    Outcome,
    check_op,
    check_reuse,
)
from micrograd_like.kit.graphs import (
    check_backward_twice,
    check_basics,
    check_deep_chain,
    check_diamond,
    check_off_path,
    check_random_graphs,
    deep_failure,
)
from micrograd_like.kit.process import (
    CheckTimeout,
    EngineGone,
    EngineLoadError,
    Interrupted,
    RemoteEngine,
    Target,
    parse_target,
)
from micrograd_like.kit.reference import DEFAULT_EXAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT, DEPTHS
from micrograd_like.kit.report import CheckResult, Report

MAX_TIMEOUTS = 3  # after this many checks time out, the rest of a target is skipped

# The checks in the order they run: each op alone, then its +=, then the graph's shape.
GRAPH_CHECKS: dict[str, Callable[[Context], Outcome]] = {
    "diamond": check_diamond,
    "off-path": check_off_path,
    "backward-twice": check_backward_twice,
    "random-graphs": check_random_graphs,
    "deep-chain": check_deep_chain,  # last: it is the slowest
}
CHECKS: tuple[str, ...] = (
    "load",
    "basics",
    *(f"op:{label}" for label in OP_LABELS),
    *(f"reuse:{label}" for label in REUSE_LABELS),
    *GRAPH_CHECKS,
)


def run_check(ctx: Context, name: str) -> Outcome:
    """One check on an engine already loaded; its status is remembered for the checks after."""
    if name == "load":
        outcome = Outcome("pass", "imported the engine")
    elif name == "basics":
        outcome = check_basics(ctx)
    elif name.startswith("op:"):
        outcome = check_op(ctx, name[3:])
    elif name.startswith("reuse:"):
        outcome = check_reuse(ctx, name[6:])
    else:
        outcome = GRAPH_CHECKS[name](ctx)
    ctx.results[name] = outcome.status
    return outcome


@dataclass(frozen=True)
class Settings:
    examples: int = DEFAULT_EXAMPLES
    seed: int = DEFAULT_SEED
    timeout: float = DEFAULT_TIMEOUT
    leave_out: tuple[str, ...] = ()  # glob patterns of checks not to run

    def left_out(self, check: str) -> bool:
        return check != "load" and any(fnmatch.fnmatchcase(check, p) for p in self.leave_out)


class _Run:
    """The checks of one target, across the engine processes it takes."""

    def __init__(self, target: Target, settings: Settings) -> None:
        self.engine = RemoteEngine(target)
        self.settings = settings
        self.ctx = Context(self.engine, settings.examples, settings.seed)
        self.results: dict[str, CheckResult] = {}
        self.timeouts = 0
        self.progress = ""
        self.ctx.progress = self._note

    def _note(self, text: str) -> None:
        self.progress = text

    def record(self, name: str, outcome: Outcome) -> None:
        self.results[name] = CheckResult(name, outcome.status, outcome.detail, outcome.example)
        self.ctx.results[name] = outcome.status

    def skip_rest(self, reason: str) -> None:
        for name in CHECKS:
            if name not in self.results:
                self.record(name, Outcome("skip", reason))

    def start(self, first: bool) -> str | None:
        """Start an engine process and import the engine: None, or why the target is unknown."""
        self.engine.deadline = time.monotonic() + self.settings.timeout
        try:
            reply = self.engine.load()
        except CheckTimeout:
            self._load_failed(
                first,
                f"importing the engine did not finish within {self.settings.timeout:g} s "
                "(a loop at import?)",
            )
            return None
        except EngineGone as gone:
            self._load_failed(first, f"the engine's process {gone} while importing the engine")
            return None
        if "not_found" in reply:
            return str(reply["not_found"])
        if "raised" in reply:
            example = {"formula": "", "inputs": {}, "gradients": [], "hint": _load_hint(reply)}
            detail = f"importing the engine failed: {reply['raised']}"
            if first:
                self.record("load", Outcome("fail", detail, example))
                self.skip_rest("not run: the engine did not load")
            else:
                self.skip_rest(f"not run: loading the engine again failed: {detail}")
            return None
        if first:
            self.record("load", Outcome("pass", f"imported {self.engine.target.attribute}"))
        return None

    def _load_failed(self, first: bool, detail: str) -> None:
        self.engine.close()
        if first:
            self.record("load", Outcome("fail", detail))
            self.skip_rest("not run: the engine did not load")
        else:
            self.skip_rest(f"not run: loading the engine again failed: {detail}")

    def one(self, name: str) -> None:
        """Run one check, recording a timeout or a dead process as its failure."""
        self.engine.deadline = time.monotonic() + self.settings.timeout
        self.progress = ""
        try:
            self.record(name, run_check(self.ctx, name))
        except CheckTimeout:
            self.engine.close()
            self.timeouts += 1
            self.record(name, self._timeout(name))
            if self.timeouts >= MAX_TIMEOUTS:
                self.skip_rest(f"not run: {self.timeouts} checks already timed out")
        except EngineGone as gone:
            how = self.engine.how_it_ended() if str(gone) == "not running" else str(gone)
            self.engine.close()
            self.record(name, Outcome("fail", f"the engine's process {how} during this check"))
        except (Interrupted, KeyboardInterrupt):
            raise
        except Exception as error:  # a bug of the kit: never the engine's failure
            text = f"{type(error).__name__}: {error}"
            self.record(name, Outcome("skip", f"not scored: the kit's own error ({text})"))

    def _timeout(self, name: str) -> Outcome:
        limit = self.settings.timeout
        if name == "deep-chain":
            works = int(self.progress.split()[1].replace(",", "")) if self.progress else 0
            broken = next((d for d in DEPTHS if d > works), DEPTHS[-1])
            return deep_failure(broken, works, f"no result within {limit:g} s")
        return Outcome("fail", f"no result within {limit:g} s (an endless loop, or very slow)")


def _load_hint(reply: dict[str, object]) -> str:
    if reply.get("kind") == "SystemExit":
        return "the module calls sys.exit() when imported: keep scripts under a main guard"
    if reply.get("kind") == "ModuleNotFoundError":
        return f"the engine imports {reply.get('missing_module')!r}, which is not installed"
    if "does not run inside the engine" in str(reply.get("raised")):
        return "the module runs the kit when imported: keep that call under a main guard"
    return "the engine's module raises when imported; run `python your_engine.py` to see where"


def _run_target(target: Target, settings: Settings) -> Report:
    run = _Run(target, settings)
    try:
        unknown = run.start(first=True)
        if unknown is not None:
            return Report(target.label, (), unknown)
        for name in CHECKS:
            if settings.left_out(name):
                run.record(name, Outcome("skip", "not run: left out on request"))
            if name in run.results:
                continue
            if not run.engine.running and run.start(first=False) is not None:
                run.skip_rest("not run: the engine can no longer be found")
            if name not in run.results:
                run.one(name)
    finally:
        run.engine.close()
    return Report(target.label, tuple(run.results[name] for name in CHECKS))


def _label(target: str | type) -> str:
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def check_engines(
    targets: Sequence[str | type],
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int | None = None,
    leave_out: Sequence[str] = (),
) -> list[Report]:
    """Check several engines, ``jobs`` at a time (default 2), each check but those matching a
    pattern of ``leave_out``; a target that cannot be found gives a Report with ``error`` set
    rather than an exception."""
    unknown = [p for p in leave_out if not any(fnmatch.fnmatchcase(n, p) for n in CHECKS)]
    if unknown:
        raise ValueError(f"leave_out: {unknown[0]!r} matches no check; see CHECKS")
    settings = Settings(examples, seed, timeout, tuple(leave_out))

    def one(target: str | type) -> Report:
        try:
            return _run_target(parse_target(target), settings)
        except EngineLoadError as error:
            return Report(_label(target), (), str(error))
        except (Interrupted, KeyboardInterrupt):
            raise
        except Exception as error:  # the kit's own failure on this engine: the batch goes on
            return Report(
                _label(target), (), f"the kit's own error: {type(error).__name__}: {error}"
            )

    process.reset_interrupt()
    workers = max(1, min(jobs or 2, len(targets) or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    interrupted = False
    try:
        futures = [pool.submit(one, target) for target in targets]
        return [future.result() for future in futures]
    except BaseException:
        interrupted = True
        process.interrupt()
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)


def check_engine(
    engine: str | type,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
    leave_out: Sequence[str] = (),
) -> Report:
    """Check one engine (a class or ``"module:Class"`` / ``"file.py:Class"``); raises
    EngineLoadError if it cannot be found."""
    (report,) = check_engines(
        [engine], examples=examples, seed=seed, timeout=timeout, jobs=1, leave_out=leave_out
    )
    if report.error is not None:
        raise EngineLoadError(report.error)
    return report


def assert_engine_correct(
    engine: str | type,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
    leave_out: Sequence[str] = (),
) -> Report:
    """check_engine, raising AssertionError with the report card if any check fails."""
    report = check_engine(
        engine, examples=examples, seed=seed, timeout=timeout, leave_out=leave_out
    )
    if not report.passed:
        raise AssertionError("\n" + report.render())
    return report
