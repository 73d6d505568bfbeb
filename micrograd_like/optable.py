"""The op table: what each primitive operation is, declared once and read by every module.

An ``Op`` entry holds an op's one name, its arity, its forward on floats, its local derivative
``<name>_local(out, *operands)`` (numbers in, numbers out; Values in, a graph out), where it is
defined and where it has kinks, and how it is shown: a symbol for pictures and a formula for
generated code. The engine declares its ops as entries beside ``Value``'s methods, custom ops
(``ops.custom_op``) are entries too, and pictures, the stepper, the compiler, the gradient checker
and the strategies look ops up here instead of keeping lists of their own. The idea of a primitive
with its derivative rule registered in a table comes from HIPS autograd. This module imports
nothing else of ours; the engine imports it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # for the types only: at run time this module imports nothing of ours
    from micrograd_like.engine import Value

Forward = Callable[..., float]
LocalDerivative = Callable[..., tuple[Any, ...]]
VARIADIC = -1  # the arity of ops that take any number of operands (sum, linear)


@dataclass(frozen=True)
class Interval:
    """Where one operand of an op is defined: ``low < x < high`` (or ``<=`` where closed)."""

    low: float = -math.inf
    high: float = math.inf
    closed_low: bool = False
    says: str = ""  # why the op stops there, for error messages

    def because(self, says: str) -> Interval:
        """The same interval with the reason an op stops at its edge, for error messages."""
        return Interval(self.low, self.high, self.closed_low, says)

    def __contains__(self, x: float) -> bool:
        """Whether x is inside; nan and an infinite end pass, so an overflow upstream propagates."""
        infinite_end = x == self.low == -math.inf or x == self.high == math.inf
        below = x < self.low if self.closed_low else x <= self.low
        return infinite_end or not (below or x >= self.high)


REAL = Interval()
POSITIVE = Interval(0.0, says="is defined for positive numbers only")
NON_NEGATIVE = Interval(0.0, closed_low=True, says="is defined for numbers >= 0 only")


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive operation; call it on Values or numbers to make a node of the graph."""

    name: str
    arity: int  # operands that are graph nodes; VARIADIC for sum and linear
    forward: Forward  # forward(*operands, *constants) on floats
    local: LocalDerivative  # local(out, *operands, *constants): one derivative per operand
    symbol: str = ""  # how pictures show the op; the name when empty
    formula: str = ""  # generated code: "{0} + {1}"; empty means "call forward"
    domain: Interval = REAL  # where the first operand may lie
    kinks: tuple[float, ...] = ()  # operand values where the derivative jumps
    constants: int = 0  # trailing constants a node keeps (the k of x ** k)
    smooth: Interval | None = None  # where every derivative exists, if narrower than the domain
    builtin: bool = True
    doc: str = field(default="", compare=False)
    # generated code: a template per operand ("(0.0 if {0} <= 0 else 1.0)"), for a local that
    # branches on its operand, so cannot be read off by running it on names (see below)
    local_formula: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<op {self.name!r}>"

    def __reduce__(self) -> tuple[Callable[[str], Op], tuple[str]]:
        """Pickled by name, as functions are: the unpickling process knows the same ops."""
        return op_named, (self.name,)

    @property
    def shown_as(self) -> str:
        """The symbol pictures give the op's node."""
        return self.symbol or self.name

    def label(self, constants: tuple[float, ...] = ()) -> str:
        """The picture label of one node, its constants included (``**2`` for ``x ** 2``)."""
        shown = [str(int(c)) if float(c).is_integer() and abs(c) < 1e15 else repr(c)
                 for c in constants[: self.constants]]  # fmt: skip
        return self.shown_as + "".join(shown)

    def __post_init__(self) -> None:
        for role in ("forward", "local"):  # declared in a class body, as Value's ops are
            function = getattr(self, role)
            if isinstance(function, staticmethod):
                object.__setattr__(self, role, function.__func__)

    def __call__(self, *operands: Value | float) -> Value:
        """The op's result node; plain numbers become constant leaves, as with ``+`` and ``*``."""
        return _applier[0](self, operands)


_TABLE: dict[str, Op] = {}
_applier: list[Callable[[Op, tuple[Any, ...]], Value]] = []  # the engine's apply_op, set by it


def install_applier(apply: Callable[[Op, tuple[Any, ...]], Value]) -> None:
    """How calling an entry makes a node: the engine says so at import (it imports this module)."""
    _applier[:] = [apply]


def register(entry: Op) -> Op:
    """Add an op to the table; a built-in's name can never be taken by another op."""
    known = _TABLE.get(entry.name)
    if known is not None and known.builtin:
        raise ValueError(
            f"op {entry.name!r} is already a built-in op; pictures, the compiler and the gradient "
            f"checker tell ops apart by name, so pick another (taken: {', '.join(builtin_names())})"
        )
    _TABLE[entry.name] = entry
    return entry


def op_named(name: str) -> Op:
    """The table's entry for ``name``; a KeyError lists the known ops."""
    try:
        return _TABLE[name]
    except KeyError:
        raise KeyError(f"no op named {name!r}; known: {', '.join(sorted(_TABLE))}") from None


def all_ops() -> Iterator[Op]:
    """Every op in the table, built-in ones first, in the order they were declared."""
    yield from (op for op in _TABLE.values() if op.builtin)
    yield from (op for op in _TABLE.values() if not op.builtin)


def builtin_names() -> list[str]:
    """The names of the engine's own ops, in declaration order."""
    return [op.name for op in _TABLE.values() if op.builtin]


MethodT = TypeVar("MethodT", bound=Callable[..., Any])


def named_method(method: MethodT, entry: Op) -> MethodT:
    """The method as help() and tracebacks show it: the op's name, formula and derivative."""
    method.__name__ = entry.name
    method.__doc__ = f"{entry.doc}; {entry.local.__doc__}"
    return method


def custom_entry(
    name: object,
    arity: int,
    forward: Forward | None,
    local: LocalDerivative,
    kinks: tuple[float, ...] = (),
) -> Op:
    """A user's op as a table entry; with a forward it is registered (a one-off from_op is not)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"custom_op: an op needs a non-empty name, got {name!r}")
    if not callable(local):
        raise TypeError(f"{name}: the local derivative must be callable, got {local!r}")
    known = _TABLE.get(name)
    if known is not None and known.builtin:
        raise ValueError(
            f"custom_op: custom op {name!r} shadows a built-in op name, so pictures and the "
            f"gradient checker would take one for the other; pick another name (taken: "
            f"{', '.join(builtin_names())})"
        )
    doc = getattr(forward, "__doc__", None) or f"the custom op {name}"
    entry = Op(name, arity, forward or no_forward, _counted(local, name), kinks=kinks,
               builtin=False, doc=doc)  # fmt: skip
    return register(entry) if forward is not None else entry


def _counted(local: LocalDerivative, name: str) -> LocalDerivative:
    """A user's local derivative, refused when it gives other than one derivative per operand.

    The built-in ops are right by construction; only custom ops pay for this check.
    """

    @functools.wraps(local)
    def counted(out: Any, *operands: Any) -> tuple[Any, ...]:
        derivatives = local(out, *operands)
        where = f"{name}: {getattr(local, '__name__', 'its local derivative')} gave"
        if not isinstance(derivatives, (tuple, list)):
            raise TypeError(
                f"{where} {derivatives!r} at {operands!r}; return a tuple, one derivative per "
                "operand"
            )
        if len(derivatives) != len(operands):
            raise ValueError(
                f"{where} {len(derivatives)} derivative(s) for {len(operands)} operand(s) at "
                f"{operands!r}; a local derivative gives one per operand"
            )
        return tuple(derivatives)

    return counted


def no_forward(*operands: float) -> float:
    """The forward of an op made with Value.from_op: only its nodes' data is known."""
    raise TypeError("an op made with Value.from_op has no forward; declare it with custom_op")


def op_named_or_none(name: str) -> Op | None:
    """The table's entry for ``name``, or None."""
    return _TABLE.get(name)


# --- an entry's functions as Python source, for generated code --------------------------------
# Run on names instead of numbers, an op's own forward and local derivative write the expression
# they compute ("{1} * {2}"), so compiled code inlines them without a second copy of the math.

# ** is never written out (a power stays a call), so a negation binds as tightly as a name
_SUM_RANK, _PRODUCT_RANK, _ATOM_RANK = range(1, 4)


class _Unwritable(TypeError):
    """The function compares, branches or calls math on its operand: it stays a call."""


class _Source:
    """A number's expression in Python source, with the precedence of its outermost operator."""

    __slots__ = ("rank", "text")

    def __init__(self, text: str, rank: int = _ATOM_RANK) -> None:
        self.text = text
        self.rank = rank

    def _binary(self, symbol: str, rank: int, left: object, right: object) -> _Source:
        first, second = _source(left), _source(right)
        left_text = first.text if first.rank >= rank else f"({first.text})"
        right_text = second.text if second.rank > rank else f"({second.text})"
        return _Source(f"{left_text} {symbol} {right_text}", rank)

    def __add__(self, other: object) -> _Source:
        return self._binary("+", _SUM_RANK, self, other)

    def __radd__(self, other: object) -> _Source:
        return self._binary("+", _SUM_RANK, other, self)

    def __sub__(self, other: object) -> _Source:
        return self._binary("-", _SUM_RANK, self, other)

    def __rsub__(self, other: object) -> _Source:
        return self._binary("-", _SUM_RANK, other, self)

    def __mul__(self, other: object) -> _Source:
        return self._binary("*", _PRODUCT_RANK, self, other)

    def __rmul__(self, other: object) -> _Source:
        return self._binary("*", _PRODUCT_RANK, other, self)

    def __truediv__(self, other: object) -> _Source:
        return self._binary("/", _PRODUCT_RANK, self, other)

    def __rtruediv__(self, other: object) -> _Source:
        return self._binary("/", _PRODUCT_RANK, other, self)

    def __neg__(self) -> _Source:
        return _Source(f"-{self.text}" if self.rank == _ATOM_RANK else f"-({self.text})")

    def _refuse(self, *other: object) -> Any:
        raise _Unwritable

    __float__ = __bool__ = __index__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __pow__ = __rpow__ = _refuse
    __hash__ = None  # type: ignore[assignment]


def _source(x: object) -> _Source:
    """An operand as source: an expression, or a plain number as a literal."""
    if isinstance(x, _Source):
        return x
    if type(x) not in (int, float):
        raise _Unwritable
    return _Source(repr(x))


def _written(function: Callable[..., Any], names: list[_Source]) -> Any:
    """What ``function`` returns on ``names``; None where it does more than arithmetic."""
    try:
        return function(*names)
    except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError):
        return None


@functools.cache
def forward_source(entry: Op, operands: int) -> str:
    """The entry's forward as a template on ``{0}``, ``{1}``, ... (its formula, or read off
    its forward), or "" where it must be called: a custom op, a domain to check, a branch."""
    if entry.domain is not REAL:
        return ""
    if entry.formula or not entry.builtin:
        return entry.formula
    written = _written(entry.forward, [_Source(f"{{{i}}}") for i in range(operands)])
    return _source(written).text if isinstance(written, (_Source, int, float)) else ""


@functools.cache
def local_source(entry: Op, operands: int) -> tuple[str, ...]:
    """The entry's local derivative as templates on ``{out}``, ``{0}``, ``{1}``, ..., one per
    graph operand, read off its ``<name>_local``; () where it must be called (as forward_source)."""
    if entry.local_formula or not entry.builtin:
        return entry.local_formula
    names = [_Source("{out}"), *(_Source(f"{{{i}}}") for i in range(operands))]
    written = _written(entry.local, names)
    if not isinstance(written, tuple):
        return ()
    try:
        sources = [_source(d) for d in written]
    except _Unwritable:
        return ()
    # each is a left operand of "* upstream" in the chain rule: a sum needs its parentheses
    return tuple(d.text if d.rank >= _PRODUCT_RANK else f"({d.text})" for d in sources)
