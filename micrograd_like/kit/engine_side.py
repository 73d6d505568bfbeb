"""The only code of the kit that runs beside the engine under test, in the engine's own process.

It answers questions about the engine's numbers, one JSON line per request on a private copy of
stdout: what ops the class has, a formula's output, ``backward()``'s gradients and central
differences of the engine's own forward pass. It judges nothing: every verdict is made in the
kit's process from these numbers, so an engine that patches this code can only lie about its own
numbers. It imports nothing but the standard library (the kit copies this file into an empty
folder and runs it with ``python -I``), and it ends itself when the kit's process goes away.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.abc
import importlib.util
import json
import os
import shutil
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

# The kit's own modules: an engine that imports them gets an ImportError, not the grader.
KIT_MODULES = ("micrograd_like.kit", "micrograd_like.conformance", "micrograd_like.commands")
BINARY_DUNDERS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__"}
REFLECTED_DUNDERS = {
    "radd": "__radd__",
    "rsub": "__rsub__",
    "rmul": "__rmul__",
    "rdiv": "__rtruediv__",
    "rpow": "__rpow__",
}
# What each op looks like on operands inside every domain, to see whether the class has it.
PROBES: dict[str, Callable[[type], Any]] = {
    "add": lambda V: V(1.3) + V(0.7),
    "sub": lambda V: V(1.3) - V(0.7),
    "mul": lambda V: V(1.3) * V(0.7),
    "div": lambda V: V(1.3) / V(0.7),
    "neg": lambda V: -V(1.3),
    "pow": lambda V: V(1.3) ** 2.0,
    "pow-value": lambda V: V(1.3) ** V(0.7),
    "radd": lambda V: 2.0 + V(1.3),
    "rsub": lambda V: 2.0 - V(1.3),
    "rmul": lambda V: 2.0 * V(1.3),
    "rdiv": lambda V: 2.0 / V(1.3),
    "rpow": lambda V: 2.0 ** V(1.3),
}
# An op the class has the method for but refuses in these ways is "not provided", not wrong.
REFUSALS = (TypeError, NotImplementedError, AssertionError)


class _KitBlocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Hands out a stand-in for the kit inside the engine's process: a script may import the
    kit at its top (its call sits under a main guard), but no code of the grader runs here."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if any(name == m or name.startswith(m + ".") for m in KIT_MODULES):
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _refusal  # type: ignore[method-assign]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the stand-in has no code."""


def _refusal(name: str) -> Callable[..., Any]:
    if name.startswith("__"):
        raise AttributeError(name)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{name}: the kit does not run inside the engine it checks (a script that checks "
            "itself needs its call under if __name__ == '__main__':)"
        )

    return refuse


class NotFound(Exception):
    """The target names no file, module or class."""


def describe(error: BaseException) -> str:
    """An exception from the engine, on one line."""
    if isinstance(error, SystemExit):
        return f"the engine called sys.exit({error.code!r})"
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load(target: dict[str, Any]) -> type:
    """Import the engine class (NotFound when it is not there; the engine's own errors pass)."""
    module_name, path = target.get("module"), target.get("path")
    sys.path[:0] = [p for p in target.get("sys_path", []) if p not in sys.path]
    module: Any = None
    if module_name:
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            found = None
        if found is not None:
            module = importlib.import_module(module_name)
        elif not path:
            raise NotFound(f"no module named {module_name!r}")
    if module is None:
        module = _load_file(path)
    engine: Any = module
    for part in str(target["attribute"]).split("."):
        if not hasattr(engine, part):
            raise NotFound(f"the module has no {part!r}")
        engine = getattr(engine, part)
    if not isinstance(engine, type):
        raise NotFound(f"{target['attribute']} is not a class")
    return engine


def _load_file(path: str | None) -> Any:
    if not path or not Path(path).is_file():
        raise NotFound(f"no such file {path}")
    sys.path.insert(0, str(Path(path).parent))  # so the engine's sibling modules import
    name = Path(path).stem
    name = name if name.isidentifier() and name not in sys.modules else "_engine_under_test"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise NotFound(f"{path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def provided(engine: type, methods: Sequence[str]) -> dict[str, str | None]:
    """For each op the kit checks (the operators, and ``methods`` such as ``tanh``): None when
    the class has it, else why it counts as missing."""
    missing: dict[str, str | None] = {}
    for name in methods:
        has = callable(getattr(engine, name, None)) or (
            name == "abs" and hasattr(engine, "__abs__")
        )
        missing[name] = None if has else f"the class has no {name}() method"
    for label, probe in PROBES.items():
        dunder = BINARY_DUNDERS.get(label) or REFLECTED_DUNDERS.get(label)
        dunder = dunder or {"neg": "__neg__"}.get(label, "__pow__")
        if getattr(engine, dunder, None) is None:  # absent, or set to None to remove it
            missing[label] = f"the class has no {dunder}"
            continue
        missing[label] = None
        try:
            probe(engine)
        except REFUSALS as error:
            missing[label] = f"{_probe_text(label)} raised {describe(error)}"
        except (Exception, SystemExit):
            pass  # it has the op; the op's check will say what is wrong with it
    return missing


def _probe_text(label: str) -> str:
    return {
        "add": "Value + Value",
        "sub": "Value - Value",
        "mul": "Value * Value",
        "div": "Value / Value",
        "neg": "-Value",
        "pow": "Value ** 2.0",
        "pow-value": "Value ** Value",
        "rpow": "2.0 ** Value",
        "radd": "2.0 + Value",
        "rsub": "2.0 - Value",
        "rmul": "2.0 * Value",
        "rdiv": "2.0 / Value",
    }.get(label, label)


# --- numbers of a formula ---------------------------------------------------------------------


def apply(op: str, args: Sequence[Any]) -> Any:
    """One op on the engine's Values (and plain numbers), through its public operators only."""
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "div":
        return args[0] / args[1]
    if op == "pow":
        return args[0] ** args[1]
    if op == "neg":
        return -args[0]
    if op == "abs" and not hasattr(args[0], "abs"):
        return abs(args[0])  # a class may offer abs(v) through __abs__ instead
    return getattr(args[0], op)()


def number(x: Any, what: str) -> float:
    """The engine's data or grad as a float (micrograd keeps ints; None counts as 0)."""
    if x is None:
        return 0.0
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{what} is {str(x)[:60]!r}, not a number") from None


Steps = Sequence[tuple[str, Sequence[Any]]]  # (op, args): ("r", i) is node i, a float a constant


def build(engine: type, steps: Steps, inputs: Sequence[float]) -> tuple[Any, list[Any]]:
    leaves = [engine(x) for x in inputs]
    nodes: list[Any] = list(leaves)
    for op, args in steps:
        operands = [nodes[a[1]] if isinstance(a, (list, tuple)) else a for a in args]
        nodes.append(apply(op, operands))
    return nodes[-1], leaves


def forward(engine: type, steps: Steps, inputs: Sequence[float]) -> float:
    return number(build(engine, steps, inputs)[0].data, "out.data")


def run(engine: type, steps: Steps, inputs: Sequence[float], step: float) -> dict[str, Any]:
    """The output, backward()'s gradients and central differences of the engine's forward."""
    try:
        out, leaves = build(engine, steps, inputs)
        output = number(out.data, "out.data")
        out.backward()
        analytic = [number(leaf.grad, "grad") for leaf in leaves]
        numeric = []
        for i, x in enumerate(inputs):
            up, down = list(inputs), list(inputs)
            up[i], down[i] = x + step, x - step
            slope = (forward(engine, steps, up) - forward(engine, steps, down)) / (2 * step)
            numeric.append(slope)
    except (Exception, SystemExit) as error:
        return {"error": describe(error)}
    return {"output": output, "analytic": analytic, "numeric": numeric}


# --- the fixed probes: basics, values off the path, backward twice, deep chains ---------------


def basics(engine: type) -> dict[str, Any]:
    v = engine(2.5)
    total = engine(2.0) + engine(3.0)
    return {
        "data": number(v.data, "Value(2.5).data"),
        "grad": number(v.grad, "Value(2.5).grad"),
        "sum": number(total.data, "(Value(2.0) + Value(3.0)).data"),
    }


def off_path(engine: type) -> dict[str, float]:
    a, b, c = engine(1.5), engine(-2.0), engine(0.75)
    out = a * b
    aside = a * c  # uses a, but the output does not use it
    also = c + 1.0
    out.backward()
    nodes = {"a": a, "b": b, "c": c, "aside": aside, "also": also}
    return {name: number(node.grad, f"{name}.grad") for name, node in nodes.items()}


TWICE_CASES: tuple[Callable[[Any, Any], Any], ...] = (
    lambda a, b: a * b,
    lambda a, b: (lambda c: c + c)(a * b),  # c is an intermediate: its grad must start fresh
    lambda a, b: (lambda c: c * a + c)(a * b),
)


def twice(engine: type, case: int) -> dict[str, list[float]]:
    """The leaves' gradients after one backward() and, on a fresh graph, after two."""
    make = TWICE_CASES[case]
    a, b = engine(1.5), engine(-2.0)
    make(a, b).backward()
    once = [number(a.grad, "a.grad"), number(b.grad, "b.grad")]
    a, b = engine(1.5), engine(-2.0)
    out = make(a, b)
    out.backward()
    out.backward()
    return {"once": once, "twice": [number(a.grad, "a.grad"), number(b.grad, "b.grad")]}


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector (micrograd-style nodes are cycles through their closures, and
    its scans of a growing chain take most of the time), then collect what is left."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def deep(engine: type, depth: int) -> dict[str, Any]:
    """a + 1.0 + 1.0 ... (depth additions), backward(): a's gradient or what went wrong."""
    try:
        with collector_paused():
            a = engine(0.5)
            out = a
            for _ in range(depth):
                out = out + 1.0
            out.backward()
            grad = number(a.grad, "a.grad")
            del out, a
    except (Exception, SystemExit) as error:
        return {"error": describe(error)}
    return {"grad": grad}


def answer(engine: type, request: dict[str, Any]) -> Any:
    """One request's numbers (the kit turns them into verdicts)."""
    kind = request["do"]
    if kind == "run":
        steps = [(str(op), list(args)) for op, args in request["steps"]]
        return run(engine, steps, [float(x) for x in request["inputs"]], float(request["step"]))
    if kind == "deep":
        return deep(engine, int(request["depth"]))
    try:
        if kind == "basics":
            return basics(engine)
        if kind == "off-path":
            return off_path(engine)
        if kind == "twice":
            return twice(engine, int(request["case"]))
    except (Exception, SystemExit) as error:
        return {"error": describe(error)}
    raise ValueError(f"unknown request {kind!r}")


# --- the process ------------------------------------------------------------------------------


def _watch_parent(parent: int) -> None:
    """End this process as soon as the kit's process is gone (even mid-loop in engine code),
    removing the private folder the kit made for it."""
    while os.getppid() == parent:
        time.sleep(0.2)
    _remove_own_folder()
    os._exit(1)


def _remove_own_folder() -> None:
    """The kit made a private folder for this process; when the kit is gone, nobody else will
    remove it."""
    folder = Path(__file__).resolve().parent
    if folder.name.startswith("micrograd_like_kit_"):
        shutil.rmtree(folder, ignore_errors=True)


def _private_channel() -> IO[str]:
    """A private copy of stdout for answers; the engine's prints go to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    return channel


def serve(parent: int, file_cap: int) -> int:
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crashing engine leaves no core file
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_cap, file_cap))  # nor a huge file
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    sys.meta_path.insert(0, _KitBlocker())
    channel = _private_channel()
    engine: type | None = None
    try:
        for line in sys.stdin:
            request = json.loads(line)
            reply: dict[str, Any] = {"id": request["id"]}
            if request["do"] == "load":
                try:
                    engine = load(request["target"])
                    reply["provides"] = provided(engine, [str(m) for m in request["methods"]])
                except NotFound as error:
                    reply["not_found"] = str(error)
                except (Exception, SystemExit) as error:
                    reply["raised"] = describe(error)
                    reply["kind"] = type(error).__name__
                    reply["missing_module"] = getattr(error, "name", None)
            else:
                assert engine is not None, "load first"
                reply["answer"] = answer(engine, request)
            channel.write(json.dumps(reply, default=repr) + "\n")
            channel.flush()
    finally:  # no more requests, or no one left to answer (a broken pipe): the kit has gone
        _remove_own_folder()
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
