"""Custom operations: a new entry of the op table from its forward and its local derivative.

A custom op is a primitive like ``tanh``: ``forward`` computes the value from plain numbers, and
``local(out, *operands)`` gives d(out)/d(operand) for each operand, the engine's own convention.
Once declared it works wherever a built-in op does: backward, ``grad(create_graph=True)``, the
stepper, pictures, anomaly mode, ``compile_fn``, the strategies and ``gradcheck``. Write ``local``
with arithmetic and the helpers here (``ops.exp``, ``ops.cos``, ... one per one-operand op of the
table, accepting numbers and Values alike) and it builds graphs too. Example::

    def softplus_local(out, x):
        # d softplus(x)/dx = sigmoid(x)
        return (sigmoid(x),)

    @custom_op(softplus_local)
    def softplus(x: float) -> float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))

A custom op may not take the name of a built-in op (``tanh``, ``relu``, ``add``...): nodes are
drawn, compiled and checked by their op's entry, and its name is how a file or a pickle finds it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast, overload

from micrograd_like.arguments import checked_real, checked_sequence
from micrograd_like.engine import Value, evaluate
from micrograd_like.optable import Forward, LocalDerivative, Op, custom_entry, op_named

CustomOp = Op  # a custom op is an entry of the op table like any other


def custom_op(
    local: LocalDerivative, *, name: str | None = None, kinks: Sequence[float] = ()
) -> Callable[[Forward], Op]:
    """Decorate ``forward(*numbers) -> float`` to make an op whose derivatives ``local`` gives.

    Args:
        local: ``local(out, *operands) -> tuple``, one derivative per operand; it is called with
            numbers during ``backward()`` and with Values for ``grad(..., create_graph=True)``.
        name: the op name nodes record (pictures, tracebacks); defaults to the function's name.
            Built-in names are refused; declaring a custom name again replaces the old entry.
        kinks: operand values where the op has no derivative (``abs``: 0), so the gradient checker
            and the hypothesis strategies keep finite differences away from them.
    """

    def declare(forward: Forward) -> Op:
        if not callable(forward):
            raise TypeError(f"custom_op: forward must be callable, got {forward!r}")
        chosen = name if name is not None else getattr(forward, "__name__", "")
        arity = _arity(forward, chosen)
        _check_local_accepts(local, chosen, arity)
        entry = custom_entry(chosen, arity, forward, local, _kinks(kinks, chosen))
        return entry

    return declare


def _kinks(kinks: Sequence[float], name: str) -> tuple[float, ...]:
    """The kinks as finite floats: a nan kink would keep the checker away from nothing."""
    where = f"custom_op {name!r}"
    found = checked_sequence(kinks, where, "kinks")
    return tuple(checked_real(k, where, f"kinks[{i}]") for i, k in enumerate(found))


def _arity(forward: Forward, name: str) -> int:
    """How many operands ``forward`` takes: its positional parameters without defaults."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        raise TypeError(f"{name}: cannot read the parameters of {forward!r}") from None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        raise TypeError(f"{name}: forward must take a fixed number of operands, not *args")
    count = sum(1 for p in parameters if p.kind in positional and p.default is p.empty)
    if count == 0:
        raise TypeError(f"{name}: forward must take at least one operand")
    return count


def _check_local_accepts(local: LocalDerivative, name: str, arity: int) -> None:
    """Refuse, at definition time, a local derivative that cannot take (out, *operands)."""
    if not callable(local):
        raise TypeError(f"{name}: the local derivative must be callable, got {local!r}")
    try:
        signature = inspect.signature(local)
    except (TypeError, ValueError):
        return  # a builtin or C function: the first call will tell
    try:
        signature.bind(*range(arity + 1))
    except TypeError:
        name_of = getattr(local, "__name__", repr(local))
        raise TypeError(
            f"{name}: its local derivative {name_of}{signature} must accept "
            f"(out, {', '.join(f'x{i}' for i in range(arity))}): the output, then each operand"
        ) from None


# --- helpers for local derivatives: the same formula works on numbers and on Values ---------


class Helper(Protocol):
    """A one-operand op of the table that takes a number or a Value and gives the same kind."""

    @overload
    def __call__(self, x: Value) -> Value: ...
    @overload
    def __call__(self, x: float) -> float: ...


def helper(name: str) -> Helper:
    """The op named ``name`` as a function of a number or a Value (``helper("cos")(x)``)."""
    entry = op_named(name)
    if entry.arity != 1 or entry.constants:
        raise ValueError(f"ops.{name}: only one-operand ops have helpers")

    def on_number_or_value(x: Any) -> Any:
        if isinstance(x, Value):
            return entry(x)
        return evaluate(entry, [x])

    on_number_or_value.__name__ = name
    on_number_or_value.__doc__ = f"{entry.doc} of a number or a Value."
    return cast(Helper, on_number_or_value)


def __getattr__(name: str) -> Helper:
    """``ops.exp``, ``ops.cos``, ...: a helper for every one-operand op in the table (PEP 562)."""
    try:
        return helper(name)
    except (KeyError, ValueError):
        raise AttributeError(f"module 'micrograd_like.ops' has no attribute {name!r}") from None


sigmoid = helper("sigmoid")
log = helper("log")


# --- two ready examples ---------------------------------------------------------------------


def softplus_local(out: Any, x: Any) -> tuple[Any, ...]:
    # d softplus(x)/dx = sigmoid(x)
    return (sigmoid(x),)


@custom_op(softplus_local)
def softplus(x: float) -> float:
    """log(1 + e**x), a smooth relu, as one custom op; large x neither overflows nor loses digits.

    Not to be confused with ``losses.softplus``, the same function built from the engine's own
    ops (exp, log, +) for the losses. Use this one to learn and test custom ops: one node whose
    derivative comes from ``softplus_local``, and log1p keeps its digits far in the negative tail
    (softplus(-40) is 4.2e-18 here, 0.0 there). Use ``losses.softplus`` inside a loss.
    """
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def self_power_local(out: Any, x: Any) -> tuple[Any, ...]:
    # d x**x/dx = x**x * (log(x) + 1)
    return (out * (log(x) + 1),)


@custom_op(self_power_local)
def self_power(x: float) -> float:
    """x**x for x > 0."""
    if x <= 0:
        raise ValueError(f"self_power() of {x!r}: x**x is defined here for positive x only")
    try:
        return float(x**x)
    except OverflowError:
        raise OverflowError(f"self_power() of {x!r}: the result is too large for a float") from None
