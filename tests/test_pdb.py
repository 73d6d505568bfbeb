"""pdb, driven by a script, can stop in an op's local derivative and sees its name and operands."""

from __future__ import annotations

import inspect
import io
import pdb
import re
import sys
from collections.abc import Callable

from micrograd_like import engine
from micrograd_like.engine import Value


def line_of(function: Callable[..., object], text: str) -> int:
    """The file line number of the first line of function's source that contains text."""
    lines, start = inspect.getsourcelines(function)
    for offset, line in enumerate(lines):
        if text in line:
            return start + offset
    raise AssertionError(f"{text!r} is not in the source of {function.__qualname__}")


def run_pdb(commands: list[str], function: Callable[[], object]) -> str:
    """Run function under pdb, feeding it commands; return everything pdb printed."""
    printed = io.StringIO()
    debugger = pdb.Pdb(
        stdin=io.StringIO("\n".join([*commands, "continue", ""])),
        stdout=printed,
        readrc=False,
        nosigint=True,
    )
    try:
        debugger.runcall(function)
    finally:
        sys.settrace(None)
        debugger.clear_all_breaks()  # breakpoints outlive a Pdb: the next run starts clean
    return printed.getvalue()


def neuron() -> tuple[Value, Value]:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    n = x * w + b
    return n, n.tanh()


def test_pdb_breakpoint_in_tanh_local_names_the_frame_and_shows_operands() -> None:
    n, o = neuron()
    line = line_of(
        o.op_entry.local, "return"
    )  # the first line of tanh's local derivative that returns
    printed = run_pdb([f"break {engine.__file__}:{line}", "continue", "where", "args"], o.backward)
    assert re.search(r"Breakpoint \d+ at", printed)
    where = printed[printed.index("tanh_local()") :]
    assert "tanh_local()" in printed
    assert "backpropagate()" in printed  # the chain-rule loop, one frame up
    assert "<lambda>" not in printed
    assert "_backward" not in printed
    assert f"out = {o.data!r}" in where
    assert f"x = {n.data!r}" in where


def test_pdb_steps_from_the_backward_loop_into_the_local_derivative() -> None:
    n, o = neuron()
    line = line_of(engine.backpropagate, "*map(_data_of, operands)")
    printed = run_pdb(
        [f"break {engine.__file__}:{line}", "continue", "step", "where", "args"], o.backward
    )
    stopped = printed[printed.index("--Call--") :]
    assert "tanh_local()" in stopped.splitlines()[1]  # where the step landed
    assert f"out = {o.data!r}" in stopped
    assert f"x = {n.data!r}" in stopped
    assert "<lambda>" not in printed
