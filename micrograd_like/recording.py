"""What ops record besides their numbers: a graph or not (``no_grad``), and who is watching.

The engine asks ``recording.get()`` as each node is made and as backward walks each edge; the
state lives in context variables, so ``no_grad()`` in one thread or asyncio task never affects
another. Anomaly mode, the stepper and the compiler's tracer watch through these hooks. This
module imports nothing else of ours at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

NodeHook = Callable[[Any], None]  # called with each new Value
StepHook = Callable[[Any], None]  # called with each BackwardStep


@dataclass(frozen=True)
class _Recording:
    """What operations do besides computing: build a graph, and tell watchers about it."""

    build_graph: bool = True
    node_hooks: tuple[NodeHook, ...] = ()
    step_hooks: tuple[StepHook, ...] = ()


recording: ContextVar[_Recording] = ContextVar("micrograd_like_recording", default=_Recording())  # noqa: B039 (frozen)
# How many recording_changed() blocks are open, in any thread or task: while none is, the
# engine makes every node without asking `recording` (one list read per node, not a lookup).
someone_watches = [0]
_counting = threading.Lock()


@contextmanager
def recording_changed(
    build_graph: bool | None = None,
    on_node: NodeHook | None = None,
    on_step: StepHook | None = None,
) -> Iterator[None]:
    """Change what ops record for the duration of a with-block, in this thread or task only."""
    current = recording.get()
    token = recording.set(
        _Recording(
            current.build_graph if build_graph is None else build_graph,
            current.node_hooks + ((on_node,) if on_node else ()),
            current.step_hooks + ((on_step,) if on_step else ()),
        )
    )
    with _counting:
        someone_watches[0] += 1
    try:
        yield
    finally:
        recording.reset(token)
        with _counting:
            someone_watches[0] -= 1


def no_grad() -> AbstractContextManager[None]:
    """Compute without building a graph (evaluation, optimizer updates); safe across threads.

    A value made inside is a leaf: backward() from it reaches none of the values it came from.
    """
    return recording_changed(build_graph=False)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return recording.get().build_graph


def watch(
    on_node: NodeHook | None = None, on_step: StepHook | None = None
) -> AbstractContextManager[None]:
    """Call ``on_node(v)`` for every Value an op makes and ``on_step(s)`` for every backward edge.

    This is how anomaly mode and tracers observe the engine without slowing it down when unused.
    """
    return recording_changed(on_node=on_node, on_step=on_step)


# Reads of data from outside the engine go through _read, so that compile_fn can see a function
# branch on data while it is traced (the only way a graph can depend on data).
DataReadHook = Callable[[Any, str], None]  # called with the Value read and how
data_read_hook: ContextVar[DataReadHook | None] = ContextVar("micrograd_like_reads", default=None)


@contextmanager
def watch_data_reads(hook: DataReadHook) -> Iterator[None]:
    """Call ``hook(value, how)`` whenever code reads a Value's data (``.data``, ``<``, ...)."""
    token = data_read_hook.set(hook)
    try:
        yield
    finally:
        data_read_hook.reset(token)
