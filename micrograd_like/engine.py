"""Value: a scalar that remembers how it was made, so backward() can apply the chain rule.

Each op is one entry of the op table, declared next to its ``Value`` method: its forward on floats
and ``<op>_local(out, *operands)``, d(out)/d(operand) for each operand. Called with Values, the
local builds a graph: that is how ``grad(..., create_graph=True)`` gives higher derivatives. The
node with a chain-rule function is Karpathy's micrograd; the op table is HIPS autograd's.
"""

from __future__ import annotations

import contextlib
import math
import operator
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, filterfalse, repeat
from typing import Any, ClassVar, Union

from micrograd_like import optable
from micrograd_like.checks import (
    check_derivatives,
    checked_float,
    checked_label,
    checked_result,
    is_real,
)
from micrograd_like.optable import NON_NEGATIVE, POSITIVE, Op, register
from micrograd_like.recording import (
    data_read_hook,
    recording,
    recording_changed,
    someone_watches,
    watch_data_reads,
)

Operand = Union["Value", float, int]
Unary = Callable[["Value"], "Value"]  # the type of a method made from a one-operand op entry
Binary = Callable[["Value", Operand], "Value"]
Derivatives = tuple[Any, ...]


class Value:
    """A scalar node: ``data``, ``grad``, its ``parents``, its ``op``, a ``label``.

    It acts like its number where that is safe (``float(v)``, ``format``, ``<``), but ``==`` and
    ``hash`` are identity: graphs are sets and dicts of nodes, and two leaves holding 3.0 are two.
    """

    __slots__ = {"__dict__": "", "__weakref__": "", "_data": "", "_entry": "", "_prev": "",
                 "_rank": "", "_stamp": "",
                 "grad": "d(root)/d(this value); during backward() the sum so far"}  # fmt: skip
    _label: str = ""  # rarely set, so not slots: a node that sets one keeps it in its __dict__
    _consts: tuple[float, ...] = ()  # the k of x ** k

    def __init__(self, data: float, label: str = "") -> None:
        number = type(data) is float and data - data == 0  # a finite float: nothing to check
        self._data = data if number else checked_float(data, "Value()")
        self.grad = 0.0
        self._prev: tuple[Value, ...] = ()  # the operands, in order; micrograd's name
        self._entry = LEAF  # the op table's entry for the op that made this value
        self._stamp = self._rank = 0  # writes before this data (see _writes); 1 + parents' rank
        if type(label) is not str or label:  # "" is the class default: no __dict__ made
            self._label = label if type(label) is str else checked_label(label)

    # --- the primitive ops: each a table entry, its forward then its local derivative ---------

    @staticmethod
    def add_local(out: Any, a: Any, b: Any) -> Derivatives:
        """d(a+b)/da = 1, d(a+b)/db = 1"""
        return 1.0, 1.0

    __add__: ClassVar[Binary] = Op("add", 2, operator.add, add_local, "+", "{0} + {1}", doc="a + b")

    @staticmethod
    def mul_local(out: Any, a: Any, b: Any) -> Derivatives:
        """d(a*b)/da = b, d(a*b)/db = a"""
        return b, a

    __mul__: ClassVar[Binary] = Op("mul", 2, operator.mul, mul_local, "*", "{0} * {1}", doc="a * b")

    @staticmethod
    def neg_local(out: Any, a: Any) -> Derivatives:
        """d(-a)/da = -1"""
        return (-1.0,)

    __neg__: ClassVar[Unary] = Op("neg", 1, operator.neg, neg_local, "-", "-{0}", doc="-a")

    @staticmethod
    def relu_forward(x: float) -> float:
        """max(0, x), and nan for nan: an overflow upstream must not vanish into a 0"""
        return 0.0 if x <= 0 else x

    @staticmethod
    def relu_local(out: Any, x: Any) -> Derivatives:
        """d relu(x)/dx = 0 if x <= 0 else 1 (0 at the kink, as micrograd; 1 at nan, as PyTorch)"""
        return (0.0 if _number(x) <= 0 else 1.0,)

    relu: ClassVar[Unary] = Op("relu", 1, relu_forward, relu_local, "ReLU",
           "(0.0 if {0} <= 0 else {0})", kinks=(0.0,), doc="max(0, x)",
           local_formula=("(0.0 if {0} <= 0 else 1.0)",))  # fmt: skip

    @staticmethod
    def tanh_local(out: Any, x: Any) -> Derivatives:
        """d tanh(x)/dx = 1 - tanh(x)**2"""
        return (1 - out * out,)

    tanh: ClassVar[Unary] = Op("tanh", 1, math.tanh, tanh_local, doc="tanh(x)")

    @staticmethod
    def sigmoid_local(out: Any, x: Any) -> Derivatives:
        """d sigmoid(x)/dx = sigmoid(x) * (1 - sigmoid(x))"""
        return (out * (1 - out),)

    @staticmethod
    def sigmoid_forward(x: float) -> float:
        """1 / (1 + e**-x), computed so neither tail overflows: sigmoid(±1000) is 1.0 and 0.0"""
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    sigmoid: ClassVar[Unary] = Op(
        "sigmoid", 1, sigmoid_forward, sigmoid_local, doc="1 / (1 + e**-x)"
    )

    @staticmethod
    def exp_local(out: Any, x: Any) -> Derivatives:
        """d e**x/dx = e**x"""
        return (out,)

    exp: ClassVar[Unary] = Op("exp", 1, math.exp, exp_local, doc="e**x")

    @staticmethod
    def log_local(out: Any, x: Any) -> Derivatives:
        """d log(x)/dx = 1/x"""
        return (1 / x,)

    log: ClassVar[Unary] = Op("log", 1, math.log, log_local,
           domain=POSITIVE.because("the logarithm is defined for positive numbers only"),
           doc="the natural logarithm, for x > 0")  # fmt: skip

    @staticmethod
    def sin_local(out: Any, x: Any) -> Derivatives:
        """d sin(x)/dx = cos(x)"""
        return (cos(x),)

    sin: ClassVar[Unary] = Op("sin", 1, math.sin, sin_local, doc="sin(x)")

    @staticmethod
    def cos_local(out: Any, x: Any) -> Derivatives:
        """d cos(x)/dx = -sin(x)"""
        return (-sin(x),)

    cos: ClassVar[Unary] = Op("cos", 1, math.cos, cos_local, doc="cos(x)")

    @staticmethod
    def sqrt_local(out: Any, x: Any) -> Derivatives:
        """d sqrt(x)/dx = 1 / (2 sqrt(x)), infinite at x = 0"""
        return (0.5 / out,)

    sqrt: ClassVar[Unary] = Op("sqrt", 1, math.sqrt, sqrt_local, "√",
           domain=NON_NEGATIVE.because("the square root is defined for numbers >= 0 only"),
           doc="the square root, for x >= 0")  # fmt: skip

    @staticmethod
    def abs_local(out: Any, x: Any) -> Derivatives:
        """d|x|/dx = 1 if x > 0, -1 if x < 0, and 0 at the kink x = 0 (as PyTorch)"""
        return (1.0 if _number(x) > 0 else -1.0 if _number(x) < 0 else 0.0,)

    abs: ClassVar[Unary] = Op("abs", 1, math.fabs, abs_local, "|x|", "abs({0})", kinks=(0.0,),
          doc="|x|", local_formula=("(1.0 if {0} > 0 else -1.0 if {0} < 0 else 0.0)",))  # fmt: skip
    __abs__: ClassVar[Unary] = abs

    @staticmethod
    def div_forward(a: float, b: float) -> float:
        """a / b, refusing b = 0"""
        if b == 0:
            raise ZeroDivisionError(f"/: division by zero ({a!r} / {b!r})")
        return a / b

    @staticmethod
    def div_local(out: Any, a: Any, b: Any) -> Derivatives:
        """d(a/b)/da = 1/b, d(a/b)/db = -a/b**2, written -(a/b)/b so b**2 cannot overflow"""
        return 1 / b, -out / b

    __truediv__: ClassVar[Binary] = Op("div", 2, div_forward, div_local, "/", doc="a / b")

    @staticmethod
    def pow_forward(x: float, k: float) -> float:
        """x ** k, refusing 0 ** -1 and (-8) ** 0.5, which have no real value"""
        return float(_power(x, k))

    @staticmethod
    def pow_local(out: Any, x: Any, k: float) -> Derivatives:
        """d(x**k)/dx = k * x**(k-1), for a constant k"""
        return (0.0,) if k == 0 else (k * _power(x, k - 1),)

    # NB: x ** k keeps k as a constant, not an operand; a Value exponent makes a pow_value node.
    _pow = Op("pow", 1, pow_forward, pow_local, "**", constants=1, doc="x ** k for a constant k")

    @staticmethod
    def pow_value_local(out: Any, a: Any, b: Any) -> Derivatives:
        """d(a**b)/da = b * a**(b-1), d(a**b)/db = a**b * log(a) (nan where a < 0, as PyTorch)"""
        return _base_slope(a, b), _exponent_slope(out, a)

    _pow_value = Op("pow_value", 2, pow_forward, pow_value_local, "**", smooth=POSITIVE,
                    doc="a ** b, both Values")  # fmt: skip

    # --- derived operations: one line each, built from the primitives --------------------------

    __radd__: ClassVar[Binary]  # other + self is self + other: the add method (installed below)

    def __sub__(self, other: Operand) -> Value:
        return self + _negated(other, "-")  # self - other

    def __rsub__(self, other: Operand) -> Value:
        return _lift(other, "-") + (-self)  # other - self

    __rmul__: ClassVar[Binary]  # other * self is self * other: the mul method (installed below)

    def __rtruediv__(self, other: Operand) -> Value:
        return _lift(other, "div") / self  # other / self

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, Value):
            return _compute(Value._pow_value, (self, exponent))
        return _compute(Value._pow, (self,), (checked_float(exponent, "Value ** ..."),))

    def __rpow__(self, base: Operand) -> Value:
        return _lift(base, "**") ** self  # base ** self

    def __pos__(self) -> Value:
        return self  # +x is x itself, as for floats

    # --- a Value acts like the number it holds, where that is safe ----------------------------

    @property
    def data(self) -> float:
        """The number this node holds. Changing it after a node was made from it is detected."""
        return _read(self, ".data")

    @data.setter
    def data(self, number: float) -> None:
        global _writes
        self._data = checked_float(number, "Value.data =")
        _writes += 1
        self._stamp = -_writes if self._prev else _writes  # a made node no longer fits its parents

    def __float__(self) -> float:
        return _read(self, "float()")

    def item(self) -> float:
        """The data as a float, as PyTorch's ``tensor.item()``."""
        return _read(self, ".item()")

    def __format__(self, spec: str) -> str:
        return format(_read(self, "format()"), spec) if spec else repr(self)

    def __round__(self, digits: int | None = None) -> float:
        return round(_read(self, "round()"), digits)

    def __lt__(self, other: Operand) -> bool:
        return _read(self, "<") < _number_of(other, "<")

    def __le__(self, other: Operand) -> bool:
        return _read(self, "<=") <= _number_of(other, "<=")

    def __gt__(self, other: Operand) -> bool:
        return _read(self, ">") > _number_of(other, ">")

    def __ge__(self, other: Operand) -> bool:
        return _read(self, ">=") >= _number_of(other, ">=")

    __hash__ = object.__hash__  # identity: graphs are sets and dicts of nodes
    __array_ufunc__ = None  # numpy: array * v is refused as v * array is, not done element-wise

    # --- what a debugger and a picture want to see -------------------------------------------

    def __repr__(self) -> str:
        extra = (f", op={self.op!r}" if self._prev else "") + (
            f", label={self.label!r}" if self.label else ""
        )
        return f"Value(data={self._data!r}, grad={self.grad!r}{extra})"

    @property
    def label(self) -> str:
        """A name for pictures and messages; it changes no number."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = checked_label(label)

    @property
    def _op(self) -> str:
        """micrograd's name of the op: '+', '*', '**2', 'ReLU' ('' for a leaf)."""
        return self._entry.label(self._consts)

    def _backward(self) -> None:
        """micrograd's per-node step: this node's grad times each local derivative, into parents."""
        backpropagate([self])

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this value was computed from, in order (``a + a`` lists ``a`` twice)."""
        return self._prev

    @property
    def op(self) -> str:
        """The name of the op (its table entry) that made this value; empty for a leaf."""
        return self._entry.name

    @property
    def op_entry(self) -> Op:
        """The op table's entry for the op that made this value."""
        return self._entry

    @property
    def is_constant(self) -> bool:
        """True for a leaf an op made from a number operand (the 1 of ``x + 1``), as micrograd."""
        return self._entry is CONSTANT

    @property
    def constants(self) -> tuple[float, ...]:
        """The constants the op keeps besides its parents (the k of ``x ** k``)."""
        return self._consts

    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(parent) for each parent, evaluated at the current data."""
        return tuple(self._entry.local(self._data, *map(_data_of, self._prev), *self._consts))

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self._data, self.label)

    @classmethod
    def from_op(
        cls, data: float, parents: Sequence[Value], op: str, local: Callable[..., Derivatives]
    ) -> Value:
        """A node of a one-off op: ``local(out, *operands)`` gives one derivative per operand.

        For ops used more than once, ``ops.custom_op`` declares a table entry instead (it then
        works in the compiler too). Names of built-in ops are refused, as there.
        """
        from micrograd_like.optable import custom_entry

        entry = custom_entry(op, len(parents), None, local)
        operands = tuple(parents)
        if not all(isinstance(p, Value) for p in operands):
            raise TypeError(f"{op}: every parent must be a Value, got {list(operands)!r}")
        value = checked_float(data, f"{op}: from_op data")
        if recording.get().build_graph:
            check_derivatives(entry, value, [p._data for p in operands])
        return _node(value, operands, entry)

    # --- backpropagation ----------------------------------------------------------------------

    def backward(self, seed: float = 1.0) -> None:
        """d(self)/d(node) into every node's .grad: leaves accumulate, intermediates start fresh."""
        run = _Pass(self, seed)  # the graph, root first, checked; leaves' earlier grads set aside
        try:
            backpropagate(run.nodes)  # the chain rule, adding into each .grad as it goes
        except BaseException:
            run.undo()  # a pass that fails changes no leaf's grad
            raise
        run.finish()  # leaves get back what they held, added once: twice is exactly twice


# --- each op entry declared in Value's body becomes the method that applies it ---------------


def _unary_method(entry: Op) -> Callable[[Value], Value]:
    """The Value method that applies a one-operand op: its forward, in its domain, then a node."""
    forward, domain = entry.forward, entry.domain

    def unary(self: Value) -> Value:  # evaluate() and _node(), inlined (see _binary_method)
        x = self._data
        if domain is not _REAL and x not in domain:
            raise ValueError(f"{entry.name}() of {x!r}: {domain.says}")
        out = _new_value(Value)
        try:
            out._data = forward(x)
        except OverflowError:
            raise _overflow(entry, (x,)) from None
        except ValueError:  # math's "domain error" at ±inf (sin, cos), where IEEE gives nan
            if x - x == 0:
                raise
            out._data = math.nan
        out.grad = 0.0
        out._prev = (self,)
        out._entry = entry
        out._stamp = _writes
        out._rank = self._rank + 1
        if someone_watches[0]:
            _as_recorded(out)
        return out

    return optable.named_method(unary, entry)


def _binary_method(entry: Op) -> Callable[[Value, Operand], Value]:
    """The Value method that applies a two-operand op; a number operand becomes a constant."""
    forward = entry.forward

    def binary(self: Value, other: Operand) -> Value:  # _node(), inlined: see below
        # The node is made here, not by calling _node(): with the rank computed inline, the
        # forward of micrograd's nn code went from 675 M to 369 M instructions (callgrind).
        operand = other if type(other) is Value else _lift(other, entry.name)
        out = _new_value(Value)
        out._data = forward(self._data, operand._data)
        out.grad = 0.0
        out._prev = (self, operand)
        out._entry = entry
        out._stamp = _writes
        out._rank = (self._rank if self._rank > operand._rank else operand._rank) + 1
        if someone_watches[0]:  # no_grad() or a watcher somewhere: is it in this thread or task?
            _as_recorded(out)
        return out

    return optable.named_method(binary, entry)


def _install_methods(cls: type[Value]) -> None:
    """Register each Op declared in the class body, in order, and put its method in its place.

    An entry under a private name (``_pow``) is applied by a method written by hand (``__pow__``).
    """
    for attribute, entry in list(vars(cls).items()):
        if isinstance(entry, Op):
            if optable.op_named_or_none(entry.name) is not entry:
                register(entry)
            if attribute.startswith("__") or not attribute.startswith("_"):
                method = _unary_method(entry) if entry.arity == 1 else _binary_method(entry)
                method.__qualname__ = f"{cls.__name__}.{attribute}"  # where pickle finds it
                setattr(cls, attribute, method)
    # other + self and other * self are self + other and self * other, bit for bit in IEEE
    # arithmetic: the reflected methods are the ops' own, which saves a call per use.
    cls.__radd__ = cls.__add__
    cls.__rmul__ = cls.__mul__


# --- how an op becomes a node ----------------------------------------------------------------


def apply_op(op: Op, operands: Sequence[object]) -> Value:
    """``op`` on Values or numbers (numbers become constant leaves); checks the operand count."""
    if op.arity != optable.VARIADIC and len(operands) != op.arity:
        raise TypeError(f"{op.name} takes {op.arity} operand(s), got {len(operands)}: {operands!r}")
    parents = tuple(_lift(x, op.name, f"{op.name}: operand {i}") for i, x in enumerate(operands))
    return _compute(op, parents)


def _compute(op: Op, parents: tuple[Value, ...], consts: tuple[float, ...] = ()) -> Value:
    """Run the op's forward on its parents' data and record the node."""
    numbers = [p._data for p in parents]
    data = evaluate(op, numbers, consts)
    if not op.builtin and recording.get().build_graph:  # a custom op's local, checked once
        check_derivatives(op, data, numbers, consts)
    return _node(data, parents, op, consts)


def evaluate(op: Op, numbers: Sequence[float], consts: Sequence[float] = ()) -> float:
    """The op's forward on plain numbers, within its domain; errors name the op and the numbers."""
    if op.domain is not _REAL and numbers[0] not in op.domain:
        raise ValueError(f"{op.name}() of {numbers[0]!r}: {op.domain.says}")
    try:
        data = op.forward(*numbers, *consts)
    except OverflowError as error:
        if getattr(error, "names_the_op", False):
            raise
        raise _overflow(op, (*numbers, *consts)) from None
    except ValueError:  # as in _unary_method: nan where math refuses ±inf
        if not (op.builtin and len(numbers) == 1 and numbers[0] - numbers[0] != 0):
            raise
        data = math.nan
    return data if op.builtin else checked_result(op, data, numbers)


def _overflow(op: Op, numbers: Sequence[float]) -> OverflowError:
    shown = repr(numbers[0]) if len(numbers) == 1 else repr(tuple(numbers))
    return OverflowError(f"{op.name}() of {shown}: the result is too large for a float")


def _node(data: float, parents: tuple[Value, ...], op: Op, consts: tuple[float, ...] = (),
          rank: int | None = None) -> Value:  # fmt: skip
    """A new node holding ``data``, with its parents, op and rank (a leaf under no_grad())."""
    out: Value = _new_value(Value)
    out._data = data
    out.grad = 0.0
    out._prev = parents
    out._entry = op
    if consts:
        out._consts = consts
    out._stamp = _writes
    if rank is None:
        rank = 1 + max(map(_rank_of, parents)) if parents else 0
    out._rank = rank
    if someone_watches[0]:  # no_grad() or a watcher somewhere: is it in this thread or task?
        _as_recorded(out)
    return out


def _as_recorded(out: Value) -> None:
    """What no_grad() and the watchers of this thread or task ask of a new node."""
    now = recording.get()
    if not now.build_graph:
        out._prev, out._entry, out._rank = (), LEAF, 0
        if out._consts:
            del out._consts
    for hook in now.node_hooks:  # anomaly mode and tracers watch here
        _unwatched(hook, out)


def _unwatched(watcher: Callable[[Any], None], seen: Any) -> None:
    """A watcher's call, its data reads unseen: the read hooks guard the user's code only."""
    token = data_read_hook.set(None)
    try:
        watcher(seen)
    finally:
        data_read_hook.reset(token)


_REAL = optable.REAL
_install_methods(Value)
optable.install_applier(apply_op)
_new_value = object.__new__
_data_of = operator.attrgetter("_data")
_rank_of = operator.attrgetter("_rank")
_grad_of = operator.attrgetter("grad")
_prev_of = operator.attrgetter("_prev")
_grad_slot: Any = vars(Value)["grad"]  # the slot's member descriptor: its __set__ writes it
# A node's _stamp is the number of data writes made before it; a write stamps its Value with
# the new count. A parent stamped later than its node was written after the node was computed
# from it: the node holds a stale number (PyTorch's version counters serve the same purpose).
# Most graphs are built after the last write (an optimizer writes, then the next step builds
# anew), so backward looks at the parents of older nodes only.
_writes = 0


def leaf_local(out: Any) -> Derivatives:
    """A leaf has no operands, so no local derivatives."""
    return ()


LEAF = Op("", 0, float, leaf_local, doc="a leaf: data given, not computed")
CONSTANT = Op("", 0, float, leaf_local, doc="a leaf made from a number operand: the 1 of x + 1")


# --- the chain rule, written once ------------------------------------------------------------


def backpropagate(nodes: Iterable[Any]) -> None:
    """The chain rule: each parent's grad += d(node)/d(parent) * node's grad, edge by edge.

    ``nodes`` come root first, each before the nodes it was made from, so a node's grad is whole
    when its turn comes. backward() runs this loop on the graph; grad() and the stepper on
    stand-ins of its nodes, so they change no ``.grad``.
    """
    try:
        for node in nodes:
            # upstream = d(root)/d(node): every use of node has added into its grad by now
            upstream, operands = node.grad, node._prev
            # local[i] = d(node)/d(operands[i]), from the op's <name>_local function
            if node._entry.arity == 2:  # most ops have two operands: the call, without the packing
                local = node._entry.local(node._data, operands[0]._data, operands[1]._data)
            else:
                local = node._entry.local(node._data, *map(_data_of, operands), *node._consts)
            for parent, derivative in zip(operands, local, strict=True):
                parent.grad += derivative * upstream  # the chain rule
    except ArithmeticError as error:
        if getattr(error, "names_the_op", False):  # said already (anomaly mode, _watched)
            raise
        raise _local_failed(node, error) from error


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from root, each after all its parents; iterative, so any depth works."""
    return list(chain(*_graph_of(_checked_root(root, "topological_order"))))


def _checked_root(root: object, where: str) -> Value:
    """root itself, if it is a Value; a TypeError naming ``where`` and root otherwise."""
    if not isinstance(root, Value):
        raise TypeError(f"{where}: expected a Value, got {root!r} of type {type(root).__name__}")
    return root


def _graph_of(root: Value) -> tuple[list[Value], list[Value]]:
    """root's leaves, and its other nodes by rank (1 + their parents' highest): parents first."""
    found = [root]
    seen = {root}
    for node in filter(_prev_of, found):  # breadth first, each node once; leaves have no parents
        for parent in node._prev:
            if parent not in seen:
                seen.add(parent)
                found.append(parent)
    # leaves stay out of the sort: without them, a chain's nodes come to it already in order
    return list(filterfalse(_prev_of, found)), sorted(filter(_prev_of, found), key=_rank_of)


class _Pass:
    """One chain-rule pass over root's graph, which holds the pass lock from start to finish.

    Before the loop, once: the lock, the order, the stale-data check, intermediates set to 0 and
    leaves' gradients from earlier calls set aside; they come back, added once, at the end.
    """

    __slots__ = ("earlier", "held", "leaves", "made", "nodes", "writes")

    def __init__(self, root: Value, seed: Any) -> None:
        if not (type(seed) is float and seed - seed == 0):  # not a finite float: say why
            seed = checked_float(seed, "backward(seed)")
        self.writes = _writes
        self.leaves, self.made = _start_pass(root)
        try:
            if not _NUMBER_TYPES.issuperset(map(type, map(_grad_of, self.leaves))):
                _refuse_non_numbers(self.leaves)  # ``p.grad = None`` before backward()?
            self.held = list(filter(_grad_of, self.leaves))  # leaves with a gradient from before
            self.earlier = list(map(_grad_of, self.held))
            _set_grads(chain(self.held, filter(_grad_of, self.made)), repeat(0.0))  # all from 0
            root.grad = seed
            nodes = self.made[::-1]  # root first, each node before the nodes it was made from
            if someone_watches[0] and recording.get().step_hooks:  # anomaly mode, say
                self.nodes: Iterable[Value] = _watched(nodes, recording.get().step_hooks, _itself)
            else:
                self.nodes = nodes
        except BaseException:
            _pass_lock.release()
            raise

    def finish(self) -> None:
        """Each leaf's earlier gradient added back; a data write during the pass is refused."""
        try:
            if _writes != self.writes:  # written while the pass ran (a hook, another thread)
                _check_fresh(self.made)
            totals = list(map(operator.add, self.earlier, map(_grad_of, self.held)))
            if someone_watches[0] and (watchers := recording.get().step_hooks):  # anomaly mode
                _tell_sums(self.held, self.earlier, totals, watchers)
            _set_grads(self.held, totals)
        except BaseException:
            self.undo()
            raise
        _pass_lock.release()

    def undo(self) -> None:
        """Every leaf's gradient back to what it was before the pass; the lock released."""
        _set_grads(self.leaves, repeat(0.0))
        _set_grads(self.held, self.earlier)
        _pass_lock.release()


def _start_pass(root: Value) -> tuple[list[Value], list[Value]]:
    """Take the pass lock and return root's graph (as _graph_of), refused if its data is stale."""
    if _pass_lock._is_owned():  # type: ignore[attr-defined]
        raise RuntimeError(
            "backward(), grad() or the stepper was called from a hook inside a backward pass; "
            "run it after the pass instead"
        )
    _pass_lock.acquire()
    try:
        leaves, made = _graph_of(root)
        if _writes and min(map(_stamp_of, made), default=_writes) < _writes:
            _check_fresh(made)  # data was written since some node was made: was it a parent?
        return leaves, made
    except BaseException:
        _pass_lock.release()
        raise


def _refuse_non_numbers(leaves: list[Value]) -> None:
    """Refuse the first leaf whose .grad is not a real number, before the pass changes any."""
    for leaf in leaves:
        if isinstance(leaf.grad, bool) or not is_real(leaf.grad):
            raise TypeError(
                f"backward: {leaf!r} has grad {leaf.grad!r} of type {type(leaf.grad).__name__}; "
                "a gradient is a number (set it to 0.0 to start again)"
            )


_NUMBER_TYPES = frozenset({float, int})


def _set_grads(nodes: Iterable[Value], grads: Iterable[Any]) -> None:
    """node.grad = grad for each pair, in C: a debugger makes no stop per node in set-up work."""
    deque(map(_grad_slot.__set__, nodes, grads), maxlen=0)


_stamp_of = operator.attrgetter("_stamp")
_pass_lock = threading.RLock()  # one pass at a time: a C lock, so no debugger stops inside it


def _itself(node: Value) -> Value:
    return node


def _watched(
    nodes: Iterable[Any], watchers: Sequence[Any], real: Callable[[Any], Value]
) -> Iterator[Any]:
    """The nodes, each handed on after the watchers saw the edges the loop is about to add."""
    for node in nodes:
        try:
            local = node._entry.local(node._data, *map(_data_of, node._prev), *node._consts)
        except ArithmeticError as error:
            raise _local_failed(node, error) from error
        _tell(watchers, node, local, real)
        yield node


def _tell(watchers: Sequence[Any], node: Any, local: Any, real: Callable[[Any], Value]) -> None:
    """One BackwardStep per edge of ``node``, with the sums the chain-rule loop is about to make."""
    running: dict[Any, Any] = {}
    upstream = node.grad
    for index, (parent, derivative) in enumerate(zip(node._prev, local, strict=False)):
        before = running.get(parent, parent.grad)
        running[parent] = after = before + derivative * upstream
        step = BackwardStep.of(real(node), index, upstream, derivative, before, after)
        for watcher in watchers:
            _unwatched(watcher, step)


def _tell_sums(
    leaves: list[Value], earlier: list[Any], totals: list[Any], watchers: Sequence[Any]
) -> None:
    """A non-finite sum of a leaf's earlier grad and this pass's, told as one more edge."""
    for leaf, before, after in zip(leaves, earlier, totals, strict=True):
        if after - after != 0:  # inf or nan: grad += grad overflowed, or brought one in
            step = BackwardStep(leaf, "+= earlier grad", leaf, 0, leaf.grad, 1.0, leaf.grad,
                                before, after)  # fmt: skip
            for watcher in watchers:
                _unwatched(watcher, step)


def _local_failed(node: Any, error: ArithmeticError) -> ArithmeticError:
    """The same kind of error, saying which op's derivative failed and at which operands."""
    operands = ", ".join(repr(_number(x)) for x in (*map(_data_of, node._prev), *node._consts))
    message = f"{node._entry.name}: its derivative at ({operands}) is not a finite number: {error}"
    try:
        named = type(error)(message)
    except TypeError:  # an error type whose constructor wants more than a message
        named = error
    named.names_the_op = True  # type: ignore[attr-defined]
    return named


def _check_fresh(nodes: Iterable[Value]) -> None:
    """Refuse a node whose operand's data was written after the node was computed from it."""
    for node in nodes:
        for parent in node._prev:
            if parent._stamp > node._stamp:
                raise StaleGraphError(node, parent)


class StaleGraphError(RuntimeError):
    """A Value's data was changed after a node was computed from it: its gradient would be wrong."""

    def __init__(self, node: Value, parent: Value) -> None:
        index = node._prev.index(parent)
        if node._stamp < 0:
            what = f"the data of {node!r} itself was changed after the {node.op} op computed it"
        else:
            what = (
                f"operand {index} of the {node.op} node, {parent!r}, had its data changed after "
                "the node was computed from it"
            )
        super().__init__(
            f"backward through {node.op}: {what}, so the graph mixes two points and its gradients "
            "would be wrong. Change data only between steps, then build the graph again"
        )
        self.node = node
        self.operand = index


# --- views of the same loop: stand-ins for the nodes, so no .grad changes ---------------------


class _StandIn:
    """A node's stand-in in a view: the same op, data and parents (as stand-ins), its own grad.

    For ``grad(create_graph=True)`` its data is the Value itself, so each local derivative is
    computed with Values and builds the graph of the derivative.
    """

    __slots__ = ("_consts", "_data", "_entry", "_prev", "grad", "node")

    def __init__(self, node: Value, data: Any, grad: Any, stand_in: dict[Value, _StandIn]) -> None:
        self.node = node
        self._data = data
        self._entry = node._entry
        self._consts = node._consts
        self._prev = tuple([stand_in[p] for p in node._prev])
        self.grad = grad


def _view(root: Value, seed: Any, create_graph: bool, watchers: Sequence[Any]) -> list[_StandIn]:
    """Run the chain-rule loop on stand-ins of root's graph; return them, root last."""
    leaves, made = _start_pass(root)
    try:
        order = leaves + made
        start = _NO_GRADIENT if create_graph else 0.0
        stand_in: dict[Value, _StandIn] = {}
        for node in order:
            stand_in[node] = _StandIn(node, node if create_graph else node._data, start, stand_in)
        stand_ins = list(stand_in.values())
        stand_ins[-1].grad = seed
        nodes: Iterable[_StandIn] = [s for s in reversed(stand_ins) if s._prev]
        if create_graph:  # a local that reads data as a float would cut the new graph
            refuse = _ReadRefuser()
            nodes = _watched_by(nodes, refuse)
        if watchers:
            nodes = _watched(nodes, watchers, _real_node)
        with watch_data_reads(refuse) if create_graph else contextlib.nullcontext():
            backpropagate(nodes)
        return stand_ins
    finally:
        _pass_lock.release()


_real_node = operator.attrgetter("node")


class _ReadRefuser:
    """A data-read hook for local derivatives that build a graph: only comparisons may read."""

    def __init__(self) -> None:
        self.node: _StandIn | None = None

    def __call__(self, value: Value, how: str) -> None:
        if how not in ("<", "<=", ">", ">=") and self.node is not None:
            entry = self.node._entry
            local = getattr(entry.local, "__wrapped__", entry.local)  # a custom op's own
            name = getattr(local, "__name__", "its local derivative")
            raise TypeError(
                f"{entry.name}: {name} read a Value's data ({how}) while grad(create_graph=True) "
                "builds the derivative as a graph, so the second derivative would treat it as a "
                "constant. Write the local with +, -, *, /, ** and the helpers in "
                "micrograd_like.ops (ops.cos, ops.exp, ...), which take numbers and Values"
            )


def _watched_by(nodes: Iterable[_StandIn], refuse: _ReadRefuser) -> Iterator[_StandIn]:
    """The nodes, the refuser told which one's local derivative runs next."""
    for node in nodes:
        refuse.node = node
        yield node


class _NoGradient:
    """The gradient of a node nothing has flowed into yet: adding to it gives the addend."""

    def __add__(self, other: Any) -> Any:
        return other


_NO_GRADIENT = _NoGradient()


@dataclass(frozen=True)
class BackwardStep:
    """One edge of backpropagation: how much of ``node``'s gradient flowed into ``parent``.

    ``grad_before`` and ``grad_after`` are the parent's gradient within this pass (leaves start
    at 0 here, whatever their ``.grad`` holds from earlier calls).
    """

    node: Value
    op: str
    parent: Value
    parent_index: int
    upstream: float
    local: float
    contribution: float
    grad_before: float
    grad_after: float

    @classmethod
    def of(
        cls, node: Value, index: int, upstream: Any, local: Any, before: Any, after: Any
    ) -> BackwardStep:
        """The record of one edge, in plain numbers even when the pass builds a graph."""
        up, slope = _number(upstream), _number(local)
        start = 0.0 if before is _NO_GRADIENT else _number(before)
        return cls(node, node.op, node._prev[index], index, up, slope, slope * up, start,
                   _number(after))  # fmt: skip


def backward_steps(root: Value, seed: float = 1.0) -> Iterator[BackwardStep]:
    """backward(), one edge at a time, as records; it changes no ``.grad`` (a view, not a pass)."""
    root, seed = _checked_root(root, "backward_steps"), checked_float(seed, "backward_steps(seed)")
    steps: list[BackwardStep] = []
    _view(root, seed, False, (steps.append, *_step_hooks()))
    return iter(steps)


def _step_hooks() -> tuple[Any, ...]:
    return recording.get().step_hooks if someone_watches[0] else ()


def grad(
    output: Value, inputs: Iterable[Value] | Value, *, create_graph: bool = False
) -> list[Value]:
    """d(output)/d(input) for each input (or one Value, as PyTorch), leaving every ``.grad`` as is.

    With ``create_graph=True`` the results are Values wired into a graph of their own, so they can
    be differentiated again (second derivatives, Hessian-vector products, Newton steps).
    """
    wanted = list(inputs) if isinstance(inputs, Iterable) else [inputs]  # one Value, as PyTorch
    if not isinstance(output, Value) or not all(isinstance(x, Value) for x in wanted):
        raise TypeError(f"grad: output and inputs must be Values, got {output!r} and {wanted!r}")
    with recording_changed(build_graph=create_graph):
        seed = Value(1.0) if create_graph else 1.0
        stand_ins = {s.node: s for s in _view(output, seed, create_graph, _step_hooks())}
        return [_as_value(stand_ins[x].grad if x in stand_ins else 0.0) for x in wanted]


def _as_value(gradient: Any) -> Value:
    """A gradient as a Value: the graph itself when there is one, otherwise a new leaf."""
    return gradient if isinstance(gradient, Value) else Value(gradient)


# --- n-ary ops: a neuron's weighted sum and a long sum, one node each -----------------------


def linear_local(out: Any, *operands: Any) -> Derivatives:
    """d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1; operands are w_1..w_n, x_1..x_n, bias"""
    n = (len(operands) - 1) // 2
    return (*operands[n : 2 * n], *operands[:n], 1.0)


def linear_const_local(out: Any, *operands: Any) -> Derivatives:
    """d/dw_i = x_i, d/dbias = 1; operands are w_1..w_n, bias, then the constant inputs x_i"""
    n = (len(operands) - 1) // 2
    return (*operands[n + 1 :], 1.0)


def _weighted(ws: Iterable[float], xs: Iterable[float], total: float) -> float:
    """total + w_1*x_1 + w_2*x_2 + ...: the bias first, then each product, as micrograd sums."""
    for w, x in zip(ws, xs, strict=True):
        total += w * x
    return total


def _check_layout(numbers: Sequence[float], layout: str) -> None:
    """A weighted sum takes 2n + 1 operands; any other count would silently drop one."""
    if len(numbers) % 2 == 0:
        raise ValueError(f"linear: takes 2n + 1 operands ({layout}), got {len(numbers)}")


def _weighted_sum(*numbers: float) -> float:
    """linear's forward on w_1..w_n, x_1..x_n, bias."""
    _check_layout(numbers, "w_1..w_n, x_1..x_n, bias")
    n = (len(numbers) - 1) // 2
    return _weighted(numbers[:n], numbers[n : 2 * n], numbers[-1])


def _weighted_sum_const(*numbers: float) -> float:
    """linear_const's forward on w_1..w_n, bias, x_1..x_n."""
    _check_layout(numbers, "w_1..w_n, bias, x_1..x_n")
    n = (len(numbers) - 1) // 2
    return _weighted(numbers[:n], numbers[n + 1 :], numbers[n])


_LINEAR = register(Op("linear", optable.VARIADIC, _weighted_sum, linear_local, "linear",
                      doc="bias + sum(w_i * x_i): a neuron's weighted sum, one node"))  # fmt: skip
_LINEAR_CONST = register(Op("linear_const", optable.VARIADIC, _weighted_sum_const,
                            linear_const_local, "linear",
                            doc="linear() whose inputs are constants (a first layer)"))  # fmt: skip


_ONLY_VALUES = frozenset({Value})


def _refuse_non_values(op: str, operands: Sequence[object]) -> None:
    """Refuse the first operand that is not a Value (a weight a gradient must reach)."""
    for index, operand in enumerate(operands):
        if not isinstance(operand, Value):
            raise TypeError(
                f"{op}: weight or bias {index} is {operand!r} of type {type(operand).__name__}; "
                "weights and the bias are Values (parameters get gradients)"
            )


def linear(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """bias + sum(w*x) as one node: fewer nodes than micrograd's neuron, the same numbers.

    The sum runs in micrograd's order (bias first, then each product), so values match it bit for
    bit; inputs that are plain numbers stay constants instead of becoming nodes.
    """
    if not (isinstance(weights, Collection) and isinstance(inputs, Collection)):  # arrays too
        raise TypeError(f"linear: weights and inputs are lists, got {weights!r} and {inputs!r}")
    if len(weights) != len(inputs):
        raise ValueError(
            f"linear: {len(weights)} weights but {len(inputs)} inputs; they must match"
        )
    if not (_ONLY_VALUES.issuperset(map(type, weights)) and type(bias) is Value):
        _refuse_non_values("linear", [*weights, bias])
    # The sums below are _weighted's, written on the nodes' data: building a list of floats
    # first cost a fused neuron 43% more instructions (callgrind), 7% of a moons step.
    total = bias._data
    for x in inputs:
        if isinstance(x, Value):  # some inputs are nodes: all become operands
            xs = [x if type(x) is Value else _lift(x, "linear") for x in inputs]
            rank = bias._rank  # the parents' highest rank, found on the way (max() costs 15%)
            for w, v in zip(weights, xs, strict=True):
                total += w._data * v._data
                rank = w._rank if w._rank > rank else rank
                rank = v._rank if v._rank > rank else rank
            return _node(total, (*weights, *xs, bias), _LINEAR, rank=rank + 1)
    constants = tuple([checked_float(x, "linear input") for x in inputs])
    for w, c in zip(weights, constants, strict=True):
        total += w._data * c
    return _node(total, (*weights, bias), _LINEAR_CONST, constants)


def sum_local(out: Any, *terms: Any) -> Derivatives:
    """d(sum)/d(term) = 1 for every term"""
    return (1.0,) * len(terms)


def _sum_left_to_right(*terms: float) -> float:
    """0.0 + t_1 + t_2 + ...: plain left-to-right float addition, on every Python version."""
    total = 0.0
    for term in terms:
        total += term
    return total


_SUM = register(Op("sum", optable.VARIADIC, _sum_left_to_right, sum_local, "Σ",
            doc="t_1 + t_2 + ... as one node"))  # fmt: skip


def sum_of(values: Iterable[Operand]) -> Value:
    """The sum of many values as one node, added left to right from 0.0 in plain float arithmetic.

    Python 3.12's ``sum()`` of floats compensates rounding; this sum never does, so the number is
    the same on every Python and equals ``((0.0 + t1) + t2) + ...``.
    """
    if not isinstance(values, Iterable) or isinstance(values, Value):
        raise TypeError(f"sum_of: expected an iterable of Values or numbers, got {values!r}")
    terms: tuple[Any, ...] = tuple(values)
    if not _ONLY_VALUES.issuperset(map(type, terms)):  # numbers among them: constant leaves
        terms = tuple([_lift(v, "sum") for v in terms])
    return _compute(_SUM, terms)


# --- number helpers that locals use: the same formula works on numbers and on Values --------


def sin(x: Any) -> Any:
    """sin of a number or a Value; nan at ±inf, as IEEE (math.sin raises there)."""
    return x.sin() if isinstance(x, Value) else math.sin(x) if x - x == 0 else math.nan


def cos(x: Any) -> Any:
    """cos of a number or a Value; nan at ±inf, as IEEE (math.cos raises there)."""
    return x.cos() if isinstance(x, Value) else math.cos(x) if x - x == 0 else math.nan


def _power(x: Any, k: Any) -> Any:
    """x ** k for numbers or Values, refusing what has no real value and naming both numbers."""
    if isinstance(x, Value) or isinstance(k, Value):
        return x**k
    if x == 0 and k < 0:
        raise ZeroDivisionError(f"**: {x!r} ** {k!r} divides by zero")
    if x < 0 and not float(k).is_integer():
        raise ValueError(
            f"**: {x!r} ** {k!r} is not a real number (a negative base needs an integer exponent)"
        )
    try:
        return float(x**k)
    except OverflowError:
        error = OverflowError(f"**: {x!r} ** {k!r} is too large for a float")
        error.names_the_op = True  # type: ignore[attr-defined]
        raise error from None


def _base_slope(a: Any, b: Any) -> Any:
    """d(a**b)/da = b * a**(b-1), as PyTorch where a = 0: 0 for b = 0, inf for 0 < b < 1."""
    if not isinstance(a, Value) and not isinstance(b, Value) and a == 0 and 0 <= b < 1:
        return 0.0 if b == 0 else math.inf
    return b * _power(a, b - 1)


def _exponent_slope(out: Any, a: Any) -> Any:
    """d(a**b)/db = a**b * log(a): 0 where a = 0 (0**b does not move), nan where a < 0."""
    base = _number(a)
    if base > 0:
        return out * (a.log() if isinstance(a, Value) else math.log(a))
    if base < 0 and isinstance(a, Value):  # a graph cannot hold nan: say so instead
        raise ValueError(
            f"pow_value: d(a**b)/db = a**b * log(a) is undefined at a = {base!r} (backward gives "
            "nan there); grad(create_graph=True) cannot build it. If the exponent is a constant, "
            "pass it as a plain number: x ** 2.0"
        )
    return 0.0 if base == 0 else math.nan


def _number(x: Any) -> float:
    """The float inside a Value, or the number itself."""
    return float(x._data) if isinstance(x, Value) else float(x)


def _number_of(other: object, how: str) -> float:
    """The other side of a comparison as a float: a Value's data or a real number."""
    if isinstance(other, Value):
        return _read(other, how)
    return checked_float(other, f"Value {how} ...")


def _read(value: Value, how: str) -> float:
    """A read of data from outside the engine: compile_fn's tracer sees it (a branch on data)."""
    hook = data_read_hook.get()
    if hook is not None:
        hook(value, how)
    return value._data


# --- checking what users pass in -------------------------------------------------------------


def _lift(other: object, op: str, where: str = "") -> Value:
    """A Value for an operand of ``op``: a number becomes a constant leaf, as in micrograd."""
    if isinstance(other, Value):
        return other
    if not (type(other) is float and other - other == 0):  # the common case needs no check
        other = checked_float(other, where or f"Value {_SYMBOL_OF.get(op, op)} ...")
    constant = _new_value(Value)  # Value(other), the number checked once
    constant._data, constant.grad, constant._prev = other, 0.0, ()
    constant._entry, constant._stamp, constant._rank = CONSTANT, 0, 0
    return constant


_SYMBOL_OF = {"add": "+", "mul": "*", "div": "/", "pow_value": "**", "pow": "**"}


def _negated(other: object, op: str) -> Operand:
    """-other, staying a plain number when it is one (so ``x - 1`` makes no extra node)."""
    return -other if isinstance(other, Value) else -checked_float(other, f"Value {op} ...")


# --- pickle and copy.deepcopy: a graph node by node, ancestors first, so any depth works ------
from weakref import WeakSet  # noqa: E402

_pickling: WeakSet[Value] = WeakSet()  # nodes saved after their parents: they list none


def _reduce(self: Value) -> tuple[Any, ...]:
    """A graph's nodes in pickle's memo, parents first: no recursion as deep as the graph."""
    ancestors: Sequence[Value] = ()
    if self._prev and self not in _pickling:  # the first node met lists those before it
        ancestors = topological_order(self)[:-1]
        _pickling.update(ancestors)  # each is saved after its parents, never inside them
    _pickling.discard(self)
    op = None if self._entry is CONSTANT else self._entry.name
    fields = (self._data, self.grad, op, self._prev)  # label and k travel in __dict__
    return _unpickled, (type(self), ancestors, (*fields, self._stamp)), self.__dict__ or None


def _unpickled(cls: type[Value], ancestors: Sequence[Value], fields: tuple[Any, ...]) -> Value:
    """A node from its pickle, its op found by name (a leaf's is ""); ancestors came first."""
    global _writes
    value: Value = _new_value(cls)
    value._data, value.grad, op, value._prev, value._stamp = fields
    value._entry = optable.op_named(op) if op else LEAF if op == "" else CONSTANT
    value._rank = 1 + max(map(_rank_of, value._prev), default=-1)
    _writes = max(_writes, abs(value._stamp))  # a later write is newer than any this graph saw
    return value


def _copy(self: Value) -> Value:
    """copy.copy: a node with the same fields and parents (pickle's path would mark ancestors)."""
    twin: Value = _new_value(type(self))
    for field in ("_data", "grad", "_prev", "_entry", "_stamp", "_rank"):
        setattr(twin, field, getattr(self, field))
    twin.__dict__.update(self.__dict__)
    return twin


Value.__reduce__ = _reduce  # type: ignore[method-assign,assignment]
Value.__copy__ = _copy  # type: ignore[attr-defined]


# Part of the engine's API, kept in a module of their own so that this one opens with Value.
from micrograd_like.recording import is_grad_enabled as is_grad_enabled  # noqa: E402
from micrograd_like.recording import no_grad as no_grad  # noqa: E402
from micrograd_like.recording import watch as watch  # noqa: E402
