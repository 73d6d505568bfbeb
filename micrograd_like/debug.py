"""Tools for watching backpropagation: a step-by-step table, explain(node), a breakpoint per op,
anomaly mode.

``steps_table(root)`` prints every edge backward() visits with its upstream gradient, local
derivative (written out with its numbers) and contribution, nodes named by their expressions
(``names.node_names``). ``explain(x, root)`` tells how ``x.grad`` comes to be, one line per use of
``x``, and why the uses add up. ``stop_in("tanh")`` makes the next backward() stop in a debugger
just before tanh's local derivative runs; it can be typed at a debugger's first prompt, before the
script has imported anything. ``detect_anomaly()`` remembers the source line that made each node
and stops at the first nan or infinity, forward or backward, saying which op and which line made
it (the idea follows PyTorch's ``torch.autograd.detect_anomaly``, extended to the forward pass).
"""

from __future__ import annotations

import linecache
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from micrograd_like import engine
from micrograd_like.engine import BackwardStep, Value, backward_steps, topological_order, watch
from micrograd_like.names import NodeNames, as_operand, expression, local_formula
from micrograd_like.names import format_number as format_number  # pictures use the same two
from micrograd_like.names import node_names as node_names
from micrograd_like.optable import Op, all_ops

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


# --- the backward stepper as a table ---------------------------------------------------------


@dataclass(frozen=True)
class StepRow:
    """One backward edge with its nodes named, ready to print or to show beside a picture."""

    step: int
    node: str
    op: str
    parent: str
    operand: int
    upstream: float
    local: float
    contribution: float
    grad_before: float
    grad_after: float
    data: float = 0.0  # the node's value
    formula: str = ""  # the local derivative with its numbers: 1 - 0.7071**2 = 0.5
    uses: tuple[float, ...] = ()  # every contribution to the operand so far, this one last


def named_steps(root: Value, seed: float = 1.0) -> tuple[NodeNames, list[BackwardStep]]:
    """Run backward one edge at a time; return the node names and every step, in order."""
    _check_root(root, "named_steps")
    names = node_names(topological_order(root))
    return names, list(backward_steps(root, seed))


def step_rows(root: Value, seed: float = 1.0) -> list[StepRow]:
    """Backward from root as one row per edge; no `.grad` changes (the stepper only watches)."""
    _check_root(root, "step_rows")
    names, steps = named_steps(root, seed)
    uses: dict[Value, tuple[float, ...]] = {}
    rows = []
    for k, s in enumerate(steps, start=1):
        uses[s.parent] = (*uses.get(s.parent, ()), s.contribution)
        op = s.node.op_entry.label(s.node.constants)  # the symbol a learner knows: +, *, **2
        rows.append(StepRow(
            k, names[s.node], op, names[s.parent], s.parent_index, s.upstream, s.local,
            s.contribution, s.grad_before, s.grad_after, s.node.data,
            local_formula(s.node, s.parent_index, s.local), uses[s.parent],
        ))  # fmt: skip
    return rows


_HEADERS = ("step", "node", "data", "op", "-> operand", "upstream", "local", "contribution",
            "grad", "grad = sum of uses")  # fmt: skip


def steps_table(root: Value, seed: float = 1.0) -> str:
    """backward() as a printable table: one line per edge, grad shown as before -> after.

    ``local`` is the op's local derivative written out with its numbers; the last column adds up
    every use of the operand so far, which is how a reused node's gradient comes to be.
    """
    _check_root(root, "steps_table")
    lines = [_HEADERS]
    for row in step_rows(root, seed):
        lines.append(
            (
                str(row.step),
                row.node,
                format_number(row.data),
                row.op,
                f"{row.parent} (#{row.operand})",
                format_number(row.upstream),
                row.formula,
                format_number(row.contribution),
                f"{format_number(row.grad_before)} -> {format_number(row.grad_after)}",
                added_up(row.uses, row.grad_after),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _check_root(root: object, where: str) -> None:
    """The stepper starts from a Value: the output backward() would start from."""
    if not isinstance(root, Value):
        raise TypeError(
            f"{where}: root must be a Value, got {root!r} of type {type(root).__name__}"
        )


def added_up(terms: Sequence[float], total: float) -> str:
    """``1 + 3 = 4`` for two uses, ``3`` for one; ``total`` is the sum as backward() makes it."""
    shown = " + ".join(format_number(t) for t in terms).replace("+ -", "- ")
    return shown if len(terms) == 1 else f"{shown} = {format_number(total)}"


# --- explain(node): how one gradient came to be ------------------------------------------------


@dataclass(frozen=True)
class Use:
    """One use of a node on the way to the root: the op that used it and the share it passed."""

    user: str
    expression: str  # how the user was made: z = p + x
    operand: int
    local: float
    formula: str
    upstream: float
    share: float


@dataclass(frozen=True)
class Explanation:
    """How ``node``'s gradient came to be, with the numbers of its graph; shows itself as text."""

    name: str
    grad: float
    uses: tuple[Use, ...]
    text: str

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__  # in a REPL or notebook, explain(x) shows its text as it is


WHY_USES_ADD = (
    "Uses add up: a small change in {x} moves {root} along every path at once, so the chain "
    "rule sums the shares of all paths; that is why backward() does `grad += local * "
    "upstream`, not `grad =` (with `=` the last use would hide the others)."
)


def explain(node: Value, root: Value | None = None, *, seed: float = 1.0) -> Explanation:
    """How ``node.grad`` comes to be in backward() from ``root``: one line per use of the node
    (``d(out)/d(x) * out.grad = 3 * 1``), then their sum, with the graph's own numbers.

    A view like the stepper: no ``.grad`` changes. ``root`` is the output backward() starts
    from; without it, node is taken as the output (a Value knows its operands, not its users).
    """
    if root is not None:
        return Explainer(root, seed).explain(node)
    explained = Explainer(node, seed).explain(node)
    hint = f"(no root given, so {explained.name} is taken as the output: explain(node, root) "
    hint += "tells how node's gradient comes from root)"
    return replace(explained, text=f"{explained.text}\n{hint}")


def tooltips(root: Value, seed: float = 1.0) -> Callable[[Value], str]:
    """``explain`` as text for any node of root's graph, for a picture's tooltips."""
    explainer = Explainer(root, seed)
    return lambda node: explainer.explain(node).text


class Explainer:
    """One backward view of root's graph, kept to explain any of its nodes."""

    def __init__(self, root: Value, seed: float = 1.0) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"explain: root must be a Value, got {type(root).__name__}")
        self.root, self.seed = root, seed
        self.names, self.steps = named_steps(root, seed)

    def explain(self, node: Value) -> Explanation:
        """The explanation of one node of the graph; a ValueError for a node outside it."""
        if not isinstance(node, Value):
            raise TypeError(f"explain: expected a Value, got {type(node).__name__}")
        if node not in self.names:
            raise ValueError(
                f"explain: {node!r} is not in the graph of {self.names[self.root]!r}: nothing "
                "flows to it from there (pass root=, the output backward() starts from)"
            )
        name, root = self.names[node], self.names[self.root]
        flows = [step for step in self.steps if step.parent is node]
        uses = tuple(self._use(step) for step in flows)
        grad = flows[-1].grad_after if flows else self.seed  # the engine's own sum, not ours
        if node is self.root:
            seed = format_number(self.seed)
            lines = [f"{as_operand(name)}.grad = {seed}: {name} is the output, so backward() "
                     f"starts it at the seed {seed}"]  # fmt: skip
        else:
            lines = self._lines(name, root, uses, grad)
        note = _grad_note(node, name, grad)
        return Explanation(name, grad, uses, "\n".join([*lines, *([note] if note else [])]))

    def _use(self, step: BackwardStep) -> Use:
        user, name = step.node, self.names[step.node]
        made = expression(user, self.names)
        made = made if made == name else f"{name} = {made}"
        formula = local_formula(user, step.parent_index, step.local)
        return Use(name, made, step.parent_index, step.local, formula, step.upstream,
                   step.contribution)  # fmt: skip

    def _lines(self, name: str, root: str, uses: tuple[Use, ...], grad: float) -> list[str]:
        times = "once" if len(uses) == 1 else f"{len(uses)} times"
        lines = [f"{as_operand(name)}.grad = {format_number(grad)}: {name} is used {times} on the "
                 f"way to {root}"]  # fmt: skip
        for use in uses:
            slope = f"d({use.user})/d({name})"
            note = f"   ({slope} = {use.formula})" if " = " in use.formula else ""
            lines.append(
                f"  in {use.expression}, as operand {use.operand}: {slope} * "
                f"{as_operand(use.user)}.grad = {format_number(use.local)} * "
                f"{format_number(use.upstream)} = {format_number(use.share)}{note}"
            )
        if len(uses) > 1:
            lines.append(f"  sum: {added_up([use.share for use in uses], grad)}")
            lines.append(WHY_USES_ADD.format(x=name, root=root))
        else:
            lines.append(f"One use, so its share is all of {name}'s gradient.")
        return lines


def _grad_note(node: Value, name: str, grad: float) -> str:
    """Why ``node.grad`` shows another number than this pass gives, if it does."""
    if node.grad == grad:
        return ""
    now = f"({as_operand(name)}.grad holds {format_number(node.grad)} now"
    if node.grad == 0:
        return f"{now}: backward() has not run on this graph; these are the numbers it gives)"
    if not node.parents:
        return (f"{now}: a leaf keeps adding across backward() calls, and one pass adds "
                f"{format_number(grad)})")  # fmt: skip
    return f"{now}: the last backward() started elsewhere or with another seed)"


# --- a breakpoint in an op's local derivative -----------------------------------------------


_CHAIN_RULE = engine.backpropagate.__code__  # the one loop behind backward(), grad(), the stepper
_arming = threading.Lock()


class StopIn:
    """A breakpoint armed by ``stop_in``: it fires once, then the op's entry is as it was.

    ``disarm()`` (or the end of a ``with stop_in(...):`` block) takes it back if it never fired.
    """

    def __init__(self, entry: Op) -> None:
        self.entry = entry
        self.local = entry.local  # the real local derivative, put back when disarmed
        self.armed = False

    def __repr__(self) -> str:
        local = getattr(self.local, "__qualname__", "its local derivative")
        if self.armed:
            return f"<stop_in {self.entry.name!r}: the next backward stops before {local}>"
        return f"<stop_in {self.entry.name!r}: disarmed>"

    def arm(self) -> StopIn:
        real = self.local

        def stop_before_local(out: Any, *operands: Any) -> Any:
            if sys._getframe(1).f_code is _CHAIN_RULE and self.disarm():
                print(f"stop_in: backward reached {self.entry.name}; step into {real.__name__}"
                      "(out, *operands) to see its arguments", file=sys.stderr)  # fmt: skip
                breakpoint()  # PYTHONBREAKPOINT picks the debugger; pdb by default
            return real(out, *operands)  # one `step` from here is inside the local derivative

        stop_before_local.__name__ = getattr(real, "__name__", "local")  # as anomaly mode shows it
        stop_before_local.__doc__ = real.__doc__
        object.__setattr__(self.entry, "local", stop_before_local)  # Op entries are frozen
        self.armed = True
        return self

    def disarm(self) -> bool:
        """Put the op's own local derivative back; True if this call took the breakpoint away."""
        with _arming:
            if not self.armed:
                return False
            object.__setattr__(self.entry, "local", self.local)
            self.armed = False
            _armed.pop(self.entry, None)
            return True

    def __enter__(self) -> StopIn:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disarm()


_armed: dict[Op, StopIn] = {}


def stop_in(op: str | Op) -> StopIn:
    """Make the next backward() (or grad(), or the stepper) stop just before ``op``'s local
    derivative runs, through ``breakpoint()``; one ``step`` then lands inside it, its operands as
    arguments. It fires once; arming an armed op again changes nothing.

    It needs nothing imported beforehand, so it works at a debugger's first prompt::

        python -m pdb train.py
        (Pdb) from micrograd_like.debug import stop_in; stop_in("tanh")
        (Pdb) continue

    ``PYTHONBREAKPOINT`` chooses the debugger (pdb when unset; VS Code and PyCharm install their
    own hook; ``0`` turns every breakpoint off). ``with stop_in("tanh"): ...`` disarms at the end of
    the block if the breakpoint never fired.
    """
    entry = op if isinstance(op, Op) else _entry_named(op)
    with _arming:
        armed = _armed.get(entry)
        if armed is None:
            armed = _armed[entry] = StopIn(entry).arm()
        return armed


def _entry_named(name: object) -> Op:
    """The op table's entry named ``name``; a ValueError lists every name there is."""
    entries = list(all_ops())
    for entry in entries:
        if entry.name == name:
            return entry
    drawn_as = [entry.name for entry in entries if entry.shown_as == name]
    hint = f" ({name!r} is how pictures show {' and '.join(drawn_as)})" if drawn_as else ""
    raise ValueError(
        f"stop_in: no op named {name!r}{hint}; the op table has "
        f"{', '.join(entry.name for entry in entries)}"
    )


# --- anomaly mode ----------------------------------------------------------------------------


class AnomalyError(ArithmeticError):
    """A nan or infinity appeared; the message names the op, the numbers and the source line."""

    names_the_op = True  # the engine passes it on as it is

    def __init__(self, message: str, node: Value, site: Site | None) -> None:
        super().__init__(message)
        self.node = node
        self.site = site


@dataclass(frozen=True)
class Site:
    """Where a node was made: the first frame outside micrograd_like."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        code = linecache.getline(self.filename, self.lineno).strip()
        where = f"{self.filename}:{self.lineno} in {self.function}"
        return f"{where}: {code}" if code else where


def caller_site() -> Site | None:
    """The innermost frame on the stack that is not micrograd_like's own code."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    return Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


class AnomalyMode:
    """The hooks behind detect_anomaly(): they record creation sites and check every number.

    It keeps every node made inside the block alive until the block ends (Value has no weak
    references), so wrap one step of a computation, not a whole training run.
    """

    def __init__(self) -> None:
        self._sites: dict[Value, Site | None] = {}

    def site_of(self, node: Value) -> Site | None:
        """Where node was made, or None if it was made outside anomaly mode."""
        return self._sites.get(node)

    def on_node(self, node: Value) -> None:
        site = caller_site()
        self._sites[node] = site
        if not math.isfinite(node.data):
            raise AnomalyError(self._forward_message(node, site), node, site)

    def on_step(self, step: BackwardStep) -> None:
        numbers = (step.upstream, step.local, step.contribution, step.grad_after)
        if not all(map(math.isfinite, numbers)):
            site = self.site_of(step.node)
            raise AnomalyError(self._backward_message(step, site), step.node, site)

    def _made_at(self, node: Value) -> str:
        site = self.site_of(node)
        return f"made at {site}" if site else "made outside anomaly mode"

    def _forward_message(self, node: Value, site: Site | None) -> str:
        value = format_number(node.data)
        if node.op:
            operands = ", ".join(format_number(p.data) for p in node.parents)
            what = f"{node.op} produced {value} from operands {operands}"
        else:  # under no_grad() the node keeps neither its op nor its operands
            what = f"an operation under no_grad() produced {value}"
        lines = [
            f"anomaly in the forward pass: {what}",
            f"  the {node.op or 'new'} node was made at {site or 'an unknown place'}",
        ]
        for index, parent in enumerate(node.parents):
            if not math.isfinite(parent.data):
                lines.append(
                    f"  operand {index} was already {format_number(parent.data)}, "
                    f"{self._made_at(parent)}"
                )
        return "\n".join(lines)

    def _backward_message(self, step: BackwardStep, site: Site | None) -> str:
        if step.node is step.parent:  # no edge: the end of the pass adds a leaf's earlier grad
            return (
                f"anomaly at the end of backward(): this pass's gradient "
                f"{format_number(step.upstream)} added to the {format_number(step.grad_before)} "
                f"the value held from earlier calls makes {format_number(step.grad_after)}\n"
                f"  the value: {step.parent!r}\n"
                "  gradients add up over backward() calls; zero_grad() between them starts anew"
            )
        local_name = getattr(step.node.op_entry.local, "__name__", "its local derivative")
        numbers = (
            f"upstream {format_number(step.upstream)}, local {format_number(step.local)}, "
            f"contribution {format_number(step.contribution)}, grad of the operand "
            f"{format_number(step.grad_before)} -> {format_number(step.grad_after)}"
        )
        return "\n".join(
            [
                f"anomaly in the backward pass at {step.op} -> operand {step.parent_index}: "
                f"{_backward_cause(step, local_name)}",
                f"  {numbers}",
                f"  operand {step.parent_index}: {step.parent!r}",
                f"  the {step.op} node was {self._made_at(step.node)}",
            ]
        )


def _backward_cause(step: BackwardStep, local_name: str) -> str:
    """Which of the chain rule's numbers went wrong first."""
    if not math.isfinite(step.upstream):
        return (
            f"the upstream gradient is already {format_number(step.upstream)} "
            "(the seed passed to backward?)"
        )
    if not math.isfinite(step.local):
        return f"{local_name} gave {format_number(step.local)}"
    if not math.isfinite(step.contribution):
        return "local * upstream overflowed"
    return "adding the contribution to the operand's grad overflowed"


@contextmanager
def detect_anomaly() -> Iterator[AnomalyMode]:
    """Inside this block, the first nan or inf raises AnomalyError naming the op and source line.

    Forward: every op's result is checked as it is made. Backward: ``backward()`` goes one edge
    at a time and checks the local derivative, the contribution and the new gradient.
    """
    mode = AnomalyMode()
    with watch(on_node=mode.on_node, on_step=mode.on_step):
        yield mode
