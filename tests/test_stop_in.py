"""stop_in("tanh") stops the next backward pass just before tanh's local derivative, once, through
breakpoint(); and the README's "Debugging backward" recipe, run as written, does what it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from micrograd_like.debug import StopIn, stop_in
from micrograd_like.engine import Value, backward_steps, grad
from micrograd_like.optable import op_named

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TANH = op_named("tanh")


class Stops:
    """A stand-in for the debugger: breakpoint() records the frame it was called from."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, *args: object, **kwargs: object) -> None:
        frame = sys._getframe(1)
        with self.lock:
            self.frames.append({**frame.f_locals, "local now": TANH.local})


@pytest.fixture
def stops(monkeypatch: pytest.MonkeyPatch) -> Any:
    recorder = Stops()
    monkeypatch.setattr(sys, "breakpointhook", recorder)
    yield recorder
    stop_in("tanh").disarm()  # whatever a test left armed
    assert TANH.local is Value.tanh_local


def two_tanh() -> tuple[Value, Value, Value, Value]:
    """L = tanh(x * w) * tanh(x); returns L, x and the two tanh nodes in backward's order.

    backward() takes nodes by rank, highest first: tanh(x * w) (rank 2) before tanh(x) (rank 1).
    """
    x, w = Value(0.5, label="x"), Value(-1.5, label="w")
    deeper, shallower = (x * w).tanh(), x.tanh()
    return deeper * shallower, x, deeper, shallower


def test_stop_in_stops_once_just_before_the_local_derivative_with_its_operands(
    stops: Stops,
) -> None:
    reference, reference_x, _, _ = two_tanh()
    reference.backward()
    loss, x, reached_first, _ = two_tanh()
    armed = stop_in("tanh")
    assert "the next backward stops before Value.tanh_local" in repr(armed)
    loss.backward()
    assert len(stops.frames) == 1, "it fires once, not at the second tanh node"
    (frame,) = stops.frames
    assert frame["out"] == reached_first.data
    assert frame["operands"] == (reached_first.parents[0].data,)
    assert frame["local now"] is Value.tanh_local, "disarmed before the debugger takes over"
    assert repr(armed) == "<stop_in 'tanh': disarmed>"
    assert x.grad == reference_x.grad  # the breakpoint changes no number


def test_stop_in_stops_grad_and_higher_order_grad_too(stops: Stops) -> None:
    x = Value(0.3)
    stop_in("tanh")
    (slope,) = grad(x.tanh() * x, [x], create_graph=True)
    assert len(stops.frames) == 1 and isinstance(stops.frames[0]["out"], Value)
    stop_in("tanh")
    grad(slope, [x])
    assert len(stops.frames) == 2


def test_stop_in_waits_for_backward_and_ignores_other_calls_of_the_local(stops: Stops) -> None:
    node = Value(0.5).tanh()
    armed = stop_in("tanh")
    assert stop_in("tanh") is armed, "arming an armed op again is the same breakpoint"
    assert node.local_grads() == Value.tanh_local(node.data, 0.5)
    assert not stops.frames and armed.armed
    node.backward()
    assert len(stops.frames) == 1 and not armed.armed


def test_with_block_takes_the_breakpoint_back_even_when_the_block_raises(stops: Stops) -> None:
    with pytest.raises(KeyError), stop_in("tanh") as armed:
        assert TANH.local is not Value.tanh_local
        raise KeyError("anything")
    assert not armed.armed and TANH.local is Value.tanh_local
    Value(0.5).tanh().backward()
    assert not stops.frames


def test_breakpoint_turned_off_by_pythonbreakpoint_0_still_disarms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "breakpointhook", sys.__breakpointhook__)
    monkeypatch.setenv("PYTHONBREAKPOINT", "0")
    armed = stop_in("tanh")
    Value(0.5).tanh().backward()
    assert not armed.armed and TANH.local is Value.tanh_local


def test_one_stop_when_threads_backpropagate_at_once(stops: Stops) -> None:
    stop_in("tanh")
    losses = [two_tanh()[0] for _ in range(4)]
    threads = [threading.Thread(target=loss.backward) for loss in losses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stops.frames) == 1


def test_unknown_op_names_are_refused_with_the_table_listed() -> None:
    with pytest.raises(ValueError, match=r"no op named 'tanhh'; the op table has add, mul, .*tanh"):
        stop_in("tanhh")
    with pytest.raises(ValueError, match=r"'\*' is how pictures show mul"):
        stop_in("*")
    assert isinstance(stop_in(TANH), StopIn)  # an entry of the table works too
    stop_in(TANH).disarm()


# --- pdb, in a child process, as a user runs it -----------------------------------------------


def child_env() -> dict[str, str]:
    """This interpreter's package, pdb for breakpoint(), output in the order a terminal shows."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONBREAKPOINT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pdb_session(argv: list[str], commands: list[str], cwd: Path) -> list[str]:
    """Run argv, typing commands at its (Pdb) prompts; the session's lines, commands included."""
    run = subprocess.run(
        argv,
        input="\n".join(commands) + "\n",
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    printed = run.stdout.split("(Pdb) ")
    typed = "".join(f"(Pdb) {c}\n{p}" for c, p in zip(commands, printed[1:], strict=False))
    return (printed[0] + typed).splitlines()


SCRIPT = """\
from micrograd_like.debug import stop_in
from micrograd_like.engine import Value

x, w = Value(0.5, label="x"), Value(-1.5, label="w")
n = x * w
loss = n.tanh() * x.tanh()
stop_in("tanh")
loss.backward()
print("x.grad =", x.grad)
"""


def test_pdb_stops_in_tanh_local_with_out_and_x_visible(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")
    steps = ["step", "step"] if STOPS_ON_BREAKPOINT_LINE else ["step"]
    commands = ["where", *steps, "args", "up", "up", "p node.op, upstream", "continue"]
    lines = pdb_session([sys.executable, "script.py"], commands, tmp_path)
    text = "\n".join(lines)
    x = Value(0.5)
    loss = (x * Value(-1.5)).tanh() * x.tanh()  # the script's graph, here
    first = next(step for step in backward_steps(loss) if step.op == "tanh")  # where it stops
    where = text[text.index("(Pdb) where") : text.index("(Pdb) step")]
    stack = r"engine\.py\(\d+\)backpropagate\(\)\n.*\n> .*debug\.py\(\d+\)stop_before_local\(\)"
    assert re.search(stack, where), where
    stepped = text[text.rindex("(Pdb) step") :]
    assert re.match(r"\(Pdb\) step\n--Call--\n> .*engine\.py\(\d+\)tanh_local\(\)", stepped)
    assert f"(Pdb) args\nout = {first.node.data!r}\nx = {first.parent.data!r}\n" in text
    assert "(Pdb) p node.op, upstream\n('tanh', " in text
    assert text.count("stop_in: backward reached tanh") == 1, "one stop for two tanh nodes"
    assert lines[-1].startswith("x.grad = "), text


# Python 3.13's pdb stops on the line that calls breakpoint() itself; earlier ones on the next.
STOPS_ON_BREAKPOINT_LINE = sys.version_info >= (3, 13)


def readme_recipe() -> tuple[str, list[str], list[str]]:
    """The README's train.py, its shell command and its pdb transcript, as written there."""
    section = README[README.index("## Debugging backward") :]
    section = section[: section.index("\n## ")]
    script = re.search(r"```python\n(# train\.py\n.*?)```", section, re.DOTALL)
    session = re.search(r"```text\n(\$ python -m pdb .*?)```", section, re.DOTALL)
    assert script and session, "the README's Debugging backward shows train.py and a pdb session"
    command, *transcript = session.group(1).splitlines()
    return script.group(1), command.removeprefix("$ ").split(), transcript


def test_readme_pdb_recipe_works_from_line_1_as_written(tmp_path: Path) -> None:
    script, argv, transcript = readme_recipe()
    assert argv[:3] == ["python", "-m", "pdb"]
    (tmp_path / argv[3]).write_text(script, encoding="utf-8")
    commands = [line.removeprefix("(Pdb) ") for line in transcript if line.startswith("(Pdb) ")]
    if STOPS_ON_BREAKPOINT_LINE:  # the README says: on 3.13, one `step` more
        commands.insert(commands.index("continue") + 1, "step")
    lines = pdb_session([sys.executable, *argv[1:]], [*commands, "quit"], tmp_path)
    if STOPS_ON_BREAKPOINT_LINE:  # drop the extra stop on breakpoint()'s own line and its step
        at = next(i for i, line in enumerate(lines) if line.startswith("-> breakpoint()"))
        del lines[at - 1 : at + 2]
    shown = "\n".join(lines)
    for number, (expected, actual) in enumerate(zip(transcript, lines, strict=False), start=1):
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        assert re.fullmatch(pattern, actual), (
            f"README transcript line {number}: {expected!r}\nthe session printed {actual!r}:\n"
            f"{shown}"
        )
    assert len(lines) >= len(transcript), shown
