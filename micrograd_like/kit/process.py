"""Loading an engine safely: the engine runs in a process of its own, treated as hostile.

The engine's process runs ``engine_side.py`` (copied into an empty folder, ``python -I``), in an
empty working folder, with a cap on the size of any file it writes and nothing of the kit
importable. It answers numbers over a pipe; this side reads each answer with a size cap and a
deadline, turns every string it gets into printable text (no terminal escape codes), and
judges. Every process started is killed when the kit finishes, fails, or is interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from micrograd_like.kit import engine_side
from micrograd_like.kit.reference import FORWARD_RTOL, STEP, UNARY, Formula, close, reference

UNARY_NAMES = list(UNARY)  # the optional methods, as the engine's process is asked about them
ANSWER_CAP = 1 << 20  # bytes: a longer answer line is refused
LAST_WORDS = 4096  # bytes of the engine's stderr read after it died
FILE_CAP = 16 << 20  # bytes: the largest file the engine's process may write (stderr included)


class EngineLoadError(ValueError):
    """The target cannot be found: no such file, module or class (nothing to check)."""


class EngineGone(Exception):
    """The engine's process ended (crash, exit, kill) or broke the protocol."""


class CheckTimeout(Exception):
    """The engine did not answer before the check's deadline."""


class Interrupted(Exception):
    """The kit was interrupted (Ctrl-C): stop at once."""


def clean(text: str) -> str:
    """Text from the engine, printable: control characters (terminal escapes) become escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cleaned(data: Any) -> Any:
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, dict):
        return {clean(str(k)): _cleaned(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_cleaned(v) for v in data]
    return data


# --- targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the engine's process finds the engine: a module (on given paths) or a file."""

    label: str
    attribute: str
    module: str | None = None
    path: str | None = None
    sys_path: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "module": self.module,
            "path": self.path,
            "sys_path": list(self.sys_path),
        }


def _search_path() -> tuple[str, ...]:
    """This process's sys.path, with the current folder spelled out (the engine's is empty)."""
    return tuple(os.path.abspath(p) if p else os.getcwd() for p in sys.path)


def parse_target(target: str | type) -> Target:
    """``pkg.module:Class``, ``path/to/file.py:Class`` or a class object (imported again in the
    engine's process by module and qualified name; a script's class by its file)."""
    if isinstance(target, type):
        return _class_target(target)
    module, sep, attribute = target.rpartition(":")
    if not sep or not module or not attribute:
        raise EngineLoadError(
            f"give the engine as package.module:ClassName or path/to/file.py:ClassName, "
            f"not {target!r}"
        )
    if not all(part.isidentifier() for part in attribute.split(".")):
        raise EngineLoadError(f"{attribute!r} is not a class name")
    if module.endswith(".py") or "/" in module or os.sep in module:
        path = Path(module)
        if not path.is_file():
            raise EngineLoadError(f"no such file {module}")
        return Target(target, attribute, path=str(path.resolve()))
    if not all(part.isidentifier() for part in module.split(".")):
        raise EngineLoadError(f"{module!r} is neither a module name nor a .py file")
    return Target(target, attribute, module=module, sys_path=_search_path())


def _class_target(cls: type) -> Target:
    label = f"{cls.__module__}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        raise EngineLoadError(
            f"{label}: the class is defined inside a function; the kit imports the engine again "
            "in a separate process by module and name, so define it at the top of a module"
        )
    file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if cls.__module__ == "__main__":
        if not file:
            raise EngineLoadError(
                f"{label}: a class defined in a notebook or an interactive session cannot be "
                "imported again in a separate process; write it to a .py file and pass "
                "'path/to/file.py:ClassName'"
            )
        return Target(label, cls.__qualname__, path=str(Path(file).resolve()))
    path = str(Path(file).resolve()) if file else None
    return Target(label, cls.__qualname__, cls.__module__, path, _search_path())


# --- every process the kit started, killed on the way out ---------------------------------------

_live: set[EngineProcess] = set()
_live_lock = threading.Lock()
_interrupted = threading.Event()


def kill_all() -> None:
    """Kill every engine process still running (at exit, on Ctrl-C, on an error)."""
    with _live_lock:
        processes = list(_live)
    for process in processes:
        process.close()


def reset_interrupt() -> None:
    """Allow checks again (a new batch after an interrupted one)."""
    _interrupted.clear()


def interrupt() -> None:
    """Stop every check now: no new request is sent, every engine process is killed."""
    _interrupted.set()
    kill_all()


atexit.register(kill_all)


class EngineProcess:
    """One engine process: started, asked, killed. Answers are read with a cap and a deadline."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="micrograd_like_kit_")
        server = Path(self._folder, "kit_engine_side.py")
        server.write_text(Path(engine_side.__file__).read_text(encoding="utf-8"), "utf-8")
        work = Path(self._folder, "work")
        work.mkdir()
        self._stderr = tempfile.TemporaryFile(dir=self._folder)  # noqa: SIM115  # closed by close()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work)}
        if "SYSTEMROOT" in os.environ:  # Windows cannot start Python without it
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(server), str(os.getpid()), str(FILE_CAP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=work,
            env=env,
            start_new_session=True,  # so a kill ends whatever the engine started too
        )
        self._answers: queue.Queue[bytes | None] = queue.Queue()
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=_read_answers, args=(self._process.stdout, self._answers), daemon=True
        )
        self._reader.start()
        with _live_lock:
            _live.add(self)

    def ask(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Send one request; its reply, or CheckTimeout / EngineGone / Interrupted."""
        if _interrupted.is_set():
            raise Interrupted
        number = secrets.token_hex(16)  # unguessable: a reply the engine wrote ahead is ignored
        line = json.dumps({**request, "id": number}) + "\n"
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        except (OSError, ValueError):
            raise EngineGone(self.how_it_ended()) from None
        while True:
            try:
                raw = self._answers.get(timeout=max(0.0, deadline - _now()))
            except queue.Empty:
                raise CheckTimeout from None
            if _interrupted.is_set():
                raise Interrupted
            if raw is None:
                raise EngineGone(self.how_it_ended())
            if len(raw) > ANSWER_CAP:
                self.close()
                raise EngineGone(f"answered with more than {ANSWER_CAP:,} bytes")
            reply = _parse(raw)
            if reply.get("id") == number:  # anything else the engine wrote is ignored
                return dict(_cleaned(reply))

    def how_it_ended(self) -> str:
        """``exited with status 3 (its last words: ...)``, ``was killed by SIGSEGV``."""
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.close()
            code = self._process.returncode
        how = f"exited with status {code}"
        if code == -getattr(signal, "SIGXFSZ", 0):
            return f"was stopped for writing more than {FILE_CAP >> 20} MiB (output or files)"
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        return how + self._last_words()

    def _last_words(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - LAST_WORDS))
            text = self._stderr.read().decode("utf-8", "replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return f" (its last words: {clean(lines[-1][:200])!r})"
        return ""

    def close(self) -> None:
        """Kill the process and everything it started; remove its folder.

        The folder goes first, so a kit killed outright in here leaves none behind (POSIX lets a
        running process's files go); the last line takes what was written meanwhile, or what
        Windows kept while the process ran.
        """
        shutil.rmtree(self._folder, ignore_errors=True)
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        for stream in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        with _live_lock:
            _live.discard(self)
        with contextlib.suppress(OSError, ValueError):
            self._stderr.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def _now() -> float:
    return time.monotonic()


def _read_answers(stream: IO[bytes], answers: queue.Queue[bytes | None]) -> None:
    """Lines from the engine's channel, each cut at the cap (the rest of a long line dropped)."""
    with contextlib.suppress(ValueError, OSError):
        while True:
            line = stream.readline(ANSWER_CAP + 1)
            if not line:
                break
            answers.put(line)
            while len(line) > ANSWER_CAP and not line.endswith(b"\n"):
                line = stream.readline(ANSWER_CAP + 1)
                if not line:
                    break
    answers.put(None)


def _parse(raw: bytes) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        data = json.loads(raw.decode("utf-8", "replace"))
        if isinstance(data, dict):
            return data
    return {}


# --- an engine to ask: in a process of its own, or (our own tests) in this one -------------------


@dataclass(frozen=True)
class Trial:
    """One formula run on the engine: its output and gradients beside the numbers they should be."""

    formula: Formula
    expected_output: float
    expected: tuple[float, ...]  # the exact gradient (reference math)
    output: float | None = None
    analytic: tuple[float, ...] = ()
    numeric: tuple[float, ...] = ()
    error: str | None = None

    @property
    def forward_ok(self) -> bool:
        return self.output is not None and close(
            self.output, self.expected_output, FORWARD_RTOL, 1e-9
        )

    @property
    def wrong(self) -> list[int]:
        """The inputs whose analytic gradient disagrees with the numeric or the exact one."""
        rows = zip(self.analytic, self.numeric, self.expected, strict=True)
        return [i for i, (a, n, e) in enumerate(rows) if not (close(a, n) and close(a, e))]

    @property
    def ok(self) -> bool:
        return self.error is None and self.forward_ok and not self.wrong


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) if isinstance(v, (int, float)) else math.nan for v in values or ())


# The numbers each request's answer must hold (an answer may instead be {"error": text}).
ANSWER_SHAPES: dict[str, dict[str, type]] = {
    "run": {"output": float, "analytic": list, "numeric": list},
    "basics": {"data": float, "grad": float, "sum": float},
    "off-path": dict.fromkeys(("a", "b", "c", "aside", "also"), float),
    "twice": {"once": list, "twice": list},
    "deep": {"grad": float},
}


def _well_formed(kind: str, answer: Any) -> dict[str, Any]:
    """The answer, if it has the shape ``kind`` asks for; else EngineGone (a broken protocol)."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return answer
    shape = ANSWER_SHAPES[kind]
    if not isinstance(answer, dict) or set(answer) != set(shape):
        raise EngineGone("gave a malformed answer")
    for key, kind_of in shape.items():
        value = answer[key]
        if kind_of is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise EngineGone(f"gave a malformed answer ({key} is not a number)")
        if kind_of is list and not (
            isinstance(value, list)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise EngineGone(f"gave a malformed answer ({key} is not a list of numbers)")
    if kind == "twice" and not len(answer["once"]) == len(answer["twice"]) == 2:
        raise EngineGone("gave a malformed answer (two gradients, a and b)")
    return answer


class Engine:
    """The engine under test, asked through ``ask``; runs of a formula are remembered, so a
    search that meets a formula twice sees one answer (an engine may not be deterministic)."""

    provides: dict[str, str | None]

    def __init__(self) -> None:
        self._runs: dict[Formula, Trial] = {}

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """The engine's numbers for one request, checked for shape."""
        return _well_formed(str(request["do"]), self._ask(request))

    def _ask(self, request: dict[str, Any]) -> Any:
        raise NotImplementedError

    def run(self, formula: Formula, fresh: bool = False) -> Trial:
        """``formula`` on the engine: output, backward()'s gradients, central differences."""
        if not fresh and formula in self._runs:
            return self._runs[formula]
        ref = reference(formula)
        if ref is None:
            raise ValueError(f"the kit drew a formula off its domain:\n{formula.text()}")
        trial = Trial(formula, ref[0], ref[1])
        answer = self.ask(
            {"do": "run", "steps": formula.to_json(), "inputs": formula.inputs, "step": STEP}
        )
        if "error" in answer:
            trial = replace(trial, error=str(answer["error"]))
        else:
            output = answer["output"]
            trial = replace(
                trial,
                output=float(output),
                analytic=_floats(answer["analytic"]),
                numeric=_floats(answer["numeric"]),
            )
            if len(trial.analytic) != len(formula.inputs) or len(trial.numeric) != len(
                formula.inputs
            ):
                raise EngineGone("gave a malformed answer (one gradient per input)")
        self._runs[formula] = trial
        return trial


class LocalEngine(Engine):
    """An engine class in this process (our own tests, on engines we wrote): no isolation."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self._cls = cls
        self.provides = engine_side.provided(cls, UNARY_NAMES)

    def _ask(self, request: dict[str, Any]) -> Any:
        return engine_side.answer(self._cls, request)


class RemoteEngine(Engine):
    """An engine in its own process; restarted after a crash or a timeout."""

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target
        self.deadline = 0.0
        self.provides = {}
        self._process: EngineProcess | None = None

    def load(self) -> dict[str, Any]:
        """Start a process and import the engine there: the reply (provides, not_found, raised)."""
        self.close()
        self._process = EngineProcess()
        request = {"do": "load", "target": self.target.to_json(), "methods": UNARY_NAMES}
        reply = self._process.ask(request, self.deadline)
        provides = reply.get("provides")
        if provides is not None:
            known = set(engine_side.PROBES) | set(UNARY_NAMES)
            if not isinstance(provides, dict) or set(provides) != known:
                raise EngineGone("gave a malformed answer to loading")
            self.provides = {k: None if v is None else str(v) for k, v in provides.items()}
        return reply

    def _ask(self, request: dict[str, Any]) -> Any:
        if self._process is None:
            raise EngineGone("not running")
        return self._process.ask(request, self.deadline).get("answer")

    @property
    def running(self) -> bool:
        return self._process is not None

    def how_it_ended(self) -> str:
        return self._process.how_it_ended() if self._process else "was not running"

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
            self._process = None


def kill_on_exit_signals(names: Sequence[str] = ("SIGTERM", "SIGHUP")) -> None:
    """For the command line: end like Ctrl-C on these signals, so engine processes die too."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for name in names:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
