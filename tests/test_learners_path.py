"""The learner's path: pdb's ``step`` from ``o.backward()`` on the README's neuron, counted.

A learner types ``step`` at ``o.backward()`` and keeps typing it. These tests drive real pdb that
way and hold what the learner meets: the first local derivative within 90 stops and the whole
backward within 150 (micrograd needs 88 and 141), no stop in the standard library, none in guard
code when nothing watches and nothing was written, and ``.grad`` live at the chain-rule line.
Step counts are deterministic for a given Python: no timing is involved.
"""

from __future__ import annotations

import os
import re

from micrograd_like import engine
from micrograd_like.engine import Value
from tests.test_pdb import line_of, run_pdb

ENGINE_FILE = os.path.abspath(engine.__file__)
# Functions of the engine a learner may pass through on a plain backward(): the pass's set-up,
# the topological order, the chain-rule loop and each op's local derivative.
PLAIN_PATH = {
    "backward",
    "__init__",  # the pass's set-up
    "_start_pass",
    "_graph_of",
    "topological_order",
    "_set_grads",
    "backpropagate",
    "finish",
}


def readme_neuron() -> Value:
    """The README's example: o = tanh(x1*w1 + x2*w2 + b), with o = 0.7071..."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    return (x1 * w1 + x2 * w2 + b).tanh()


def stops_while_stepping(o: Value) -> list[tuple[str, str, str]]:
    """(file, function, code) of every pdb stop from ``o.backward()`` back to the caller."""

    def learner() -> None:
        o.backward()
        after = True  # noqa: F841 (the line pdb returns to)

    printed = run_pdb(["step"] * 1000, learner)
    stops = re.findall(r"> (.+?)\((\d+)\)(\S+)\(\)\n-> (.*)", printed)
    path = [(os.path.abspath(file), function, code) for file, _, function, code in stops]
    back = next(i for i, (_, function, code) in enumerate(path) if code.startswith("after ="))
    return path[1:back]  # from the first step to the last stop inside backward()


def first_local(path: list[tuple[str, str, str]]) -> int:
    """How many steps reach the first stop inside an op's local derivative."""
    return next(
        i for i, (_, function, _) in enumerate(path, start=1) if function.endswith("_local")
    )


def test_stepping_reaches_the_first_local_derivative_within_90_steps() -> None:
    path = stops_while_stepping(readme_neuron())
    assert first_local(path) <= 90, path
    assert path[first_local(path) - 1][1] == "tanh_local"  # the root's op comes first


def test_stepping_through_the_whole_backward_takes_at_most_150_steps() -> None:
    path = stops_while_stepping(readme_neuron())
    assert len(path) <= 150, len(path)


def test_stepping_stops_only_in_the_engine_and_on_its_plain_path() -> None:
    path = stops_while_stepping(readme_neuron())
    outside = [stop for stop in path if stop[0] != ENGINE_FILE]
    assert outside == [], "a learner stepped into the standard library or elsewhere"
    functions = {function for _, function, _ in path}
    locals_met = {f for f in functions if f.endswith("_local")}
    assert locals_met == {"tanh_local", "add_local", "mul_local"}
    assert functions - locals_met <= PLAIN_PATH, functions - locals_met - PLAIN_PATH


def test_stepping_a_second_backward_stays_within_the_bound() -> None:
    o = readme_neuron()
    o.backward()  # leaves now hold gradients: they are set aside and added back, in C
    path = stops_while_stepping(o)
    assert len(path) <= 150 and first_local(path) <= 90


def test_the_chain_rule_line_shows_node_parent_derivative_upstream_and_a_live_grad() -> None:
    o = readme_neuron()
    line = line_of(engine.backpropagate, "parent.grad += derivative * upstream")
    shown = run_pdb(
        [
            f"break {ENGINE_FILE}:{line}",
            "continue",
            "p ('seen', node.op, parent.op, derivative, upstream, parent.grad)",
            "next",
            "p ('after', parent.grad)",
        ],
        o.backward,
    )
    slope = 1 - o.data**2
    assert f"('seen', 'tanh', 'add', {slope!r}, 1.0, 0.0)" in shown
    assert f"('after', {slope * 1.0!r})" in shown  # .grad itself holds the sum as it builds


def test_grad_is_live_and_an_intermediate_starts_from_zero_on_a_second_call() -> None:
    o = readme_neuron()
    n = o.parents[0]
    o.backward()
    assert n.grad != 0.0  # left from the first call
    line = line_of(engine.backpropagate, "parent.grad += derivative * upstream")
    shown = run_pdb(
        [f"break {ENGINE_FILE}:{line}", "continue", "p ('before', parent.op, parent.grad)"],
        o.backward,
    )
    assert "('before', 'add', 0.0)" in shown
