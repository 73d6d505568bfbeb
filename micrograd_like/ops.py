"""Custom operations: define a new op from its forward value and its local derivatives.

A custom op is a primitive, like ``tanh``: ``forward`` computes the value from plain numbers, and
``local(out, *operands)`` gives d(out)/d(operand) for each operand, the engine's own convention.
Write ``local`` with arithmetic operators and the helpers here (``exp``, ``log``, ``tanh``,
``sigmoid``, which accept numbers and Values alike) and it also builds graphs, so
``grad(..., create_graph=True)`` differentiates it again. Example::

    def softplus_local(out, x):
        # d softplus(x)/dx = sigmoid(x)
        return (sigmoid(x),)

    @custom_op(softplus_local)
    def softplus(x: float) -> float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))

A custom op may not take the name of one of the engine's ops (``tanh``, ``ReLU``, ``+``...): nodes
record only the name, so the gradient checker would mistake one op for the other. The idea of a
primitive plus a derivative rule registered beside it comes from HIPS autograd.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, overload

from micrograd_like.engine import LocalDerivative, Operand, Value, is_grad_enabled

Forward = Callable[..., float]

# The op names the engine's nodes record; "**" also starts every "**k" (a power by a constant).
ENGINE_OP_NAMES = frozenset(
    ("+", "*", "neg", "**", "ReLU", "tanh", "sigmoid", "exp", "log", "linear", "sum")
)
# Operand values at which an op has no derivative, by the op name a node records. A node keeps
# only its op's name, so custom ops' kinks are pooled by name: a second op defined under a name
# adds its kinks to the first one's and never removes them. A spare kink can only make the
# gradient checker more careful; a lost one would hide a kink.
_ENGINE_KINKS: dict[str, tuple[float, ...]] = {"ReLU": (0.0,)}
_CUSTOM_KINKS: dict[str, tuple[float, ...]] = {}


def kink_points(op: str) -> tuple[float, ...]:
    """Operand values where the op named ``op`` is not differentiable (``ReLU``: 0); often none."""
    return _ENGINE_KINKS.get(op) or _CUSTOM_KINKS.get(op, ())


def _check_name(name: object) -> str:
    """A custom op's name: non-empty, and not one the engine's own nodes record."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"custom_op: an op needs a non-empty name, got {name!r}")
    if name in ENGINE_OP_NAMES or name.startswith("**"):
        raise ValueError(
            f"custom_op: custom op {name!r} shadows a built-in op name, so pictures and the "
            f"gradient checker would take one for the other; pick another name (taken: "
            f"{', '.join(sorted(ENGINE_OP_NAMES))} and **k)"
        )
    return name


def _add_kinks(name: str, kinks: tuple[float, ...]) -> None:
    known = _CUSTOM_KINKS.get(name, ())
    _CUSTOM_KINKS[name] = tuple(dict.fromkeys((*known, *kinks)))


class CustomOp:
    """An operation made from a forward function and its local derivative; call it like one."""

    def __init__(
        self,
        forward: Forward,
        local: LocalDerivative,
        *,
        name: str | None = None,
        kinks: Sequence[float] = (),
    ) -> None:
        self.name = _check_name(name if name is not None else getattr(forward, "__name__", ""))
        if not callable(forward) or not callable(local):
            raise TypeError(f"{self.name}: forward and local derivative must both be callable")
        self.forward = forward
        self.local = local
        self.arity = _arity(forward, self.name)
        self.kinks = tuple(float(k) for k in kinks)
        _check_local_accepts(local, self.name, self.arity)
        _add_kinks(self.name, self.kinks)
        functools.update_wrapper(self, forward)

    def __repr__(self) -> str:
        return f"<custom op {self.name!r} with {self.arity} operand(s)>"

    def __call__(self, *operands: Operand) -> Value:
        """The op's result node: numbers become constant leaves, as with built-in ops."""
        if len(operands) != self.arity:
            raise TypeError(
                f"{self.name} takes {self.arity} operand(s), got {len(operands)}: {operands!r}"
            )
        parents = tuple(_lifted(x, self.name, i) for i, x in enumerate(operands))
        numbers_in = [p.data for p in parents]
        out = _forward_value(self.forward, numbers_in, self.name)
        if is_grad_enabled():
            _check_derivatives(self.local, out, numbers_in, self.name)
        return Value.from_op(out, parents, self.name, self.local)


def custom_op(
    local: LocalDerivative, *, name: str | None = None, kinks: Sequence[float] = ()
) -> Callable[[Forward], CustomOp]:
    """Decorate ``forward(*numbers) -> float`` to make an op whose derivatives ``local`` gives.

    Args:
        local: ``local(out, *operands) -> tuple``, one derivative per operand; it is called with
            numbers during ``backward()`` and with Values for ``grad(..., create_graph=True)``.
        name: the op name nodes record (pictures, tracebacks); defaults to the function's name.
            The engine's op names (``tanh``, ``ReLU``, ``+``, ...) are refused.
        kinks: operand values where the op has no derivative (``abs``: 0), so the gradient checker
            and the hypothesis strategies keep finite differences away from them. Ops that share
            a name share their kinks (``kink_points``): nodes record only the name.
    """

    def make(forward: Forward) -> CustomOp:
        return CustomOp(forward, local, name=name, kinks=kinks)

    return make


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
    try:
        signature = inspect.signature(local)
    except (TypeError, ValueError):
        return  # a builtin or C function: the first call will tell
    try:
        signature.bind(*range(arity + 1))
    except TypeError:
        raise TypeError(
            f"{name}: its local derivative {_name_of(local)}{signature} must accept "
            f"(out, {', '.join(f'x{i}' for i in range(arity))}): the output, then each operand"
        ) from None


def _lifted(operand: object, name: str, index: int) -> Value:
    """The operand as a Value: numbers become constant leaves; anything else is refused."""
    if isinstance(operand, Value):
        return operand
    if isinstance(operand, bool) or not isinstance(operand, numbers.Real):
        raise TypeError(
            f"{name}: operand {index} is {operand!r} of type {type(operand).__name__}; "
            "expected a Value or a real number"
        )
    if not math.isfinite(operand):
        raise ValueError(f"{name}: operand {index} is {operand!r}; operands must be finite")
    return Value(float(operand))


def _forward_value(forward: Forward, operands: list[float], name: str) -> float:
    """Run ``forward`` and insist on a finite real result, naming the op and its operands."""
    result = forward(*operands)
    if isinstance(result, bool) or not isinstance(result, numbers.Real):
        raise TypeError(
            f"{name}{tuple(operands)!r} returned {result!r} of type {type(result).__name__}; "
            "forward must return a real number"
        )
    if not math.isfinite(result):
        raise ValueError(f"{name}{tuple(operands)!r} returned {result!r}; it must be finite")
    return float(result)


def _check_derivatives(
    local: LocalDerivative, out: float, operands: list[float], name: str
) -> None:
    """Evaluate ``local`` once on numbers: one finite real derivative per operand, in a tuple."""
    derivatives = local(out, *operands)
    where = f"{name}: {_name_of(local)}{(out, *operands)!r}"
    if not isinstance(derivatives, (tuple, list)):
        raise TypeError(
            f"{where} returned {derivatives!r}; return a tuple with one derivative per operand, "
            f"e.g. ({derivatives!r},)"
        )
    if len(derivatives) != len(operands):
        raise ValueError(
            f"{where} returned {len(derivatives)} derivative(s) for {len(operands)} operand(s)"
        )
    for index, derivative in enumerate(derivatives):
        if isinstance(derivative, bool) or not isinstance(derivative, numbers.Real):
            raise TypeError(
                f"{where}: derivative {index} is {derivative!r}; called with numbers, a local "
                "derivative must return numbers"
            )
        if not math.isfinite(derivative):
            raise ValueError(
                f"{where}: derivative {index} is {derivative!r}; the op has no finite slope there"
            )


def _name_of(function: object) -> str:
    return getattr(function, "__name__", repr(function))


# --- helpers for local derivatives: the same formula works on numbers and on Values ---------


@overload
def exp(x: Value) -> Value: ...
@overload
def exp(x: float) -> float: ...
def exp(x: Value | float) -> Value | float:
    """e**x of a number or a Value."""
    if isinstance(x, Value):
        return x.exp()
    try:
        return math.exp(x)
    except OverflowError:
        return Value(x).exp().data  # raises the engine's own error, which names x


@overload
def log(x: Value) -> Value: ...
@overload
def log(x: float) -> float: ...
def log(x: Value | float) -> Value | float:
    """Natural logarithm of a positive number or Value."""
    if isinstance(x, Value):
        return x.log()
    if x <= 0:
        return Value(x).log().data  # raises the engine's own error, which names x
    return math.log(x)


@overload
def tanh(x: Value) -> Value: ...
@overload
def tanh(x: float) -> float: ...
def tanh(x: Value | float) -> Value | float:
    """tanh of a number or a Value."""
    return x.tanh() if isinstance(x, Value) else math.tanh(x)


@overload
def sigmoid(x: Value) -> Value: ...
@overload
def sigmoid(x: float) -> float: ...
def sigmoid(x: Value | float) -> Value | float:
    """1 / (1 + e**-x) of a number or a Value, without overflow in either tail."""
    if isinstance(x, Value):
        return x.sigmoid()
    # NB: Value.sigmoid's formula, repeated: Value(x).sigmoid().data would cost 1 us more a call
    # and show watch() hooks a node that is in no graph. A test keeps the two equal.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


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
