"""Value: a scalar that remembers how it was made, so backward() can apply the chain rule.

Every operation records its parents (an ordered tuple) and a local-derivative function named after
the op (``mul_local``, ``tanh_local``). That function takes the op's output and operands as plain
numbers and returns d(out)/d(operand) for each operand; backward() multiplies by the upstream
gradient in one loop. Because the same function also accepts ``Value`` arguments, calling it with
Values builds the derivative as a graph, which is how ``grad(..., create_graph=True)`` gives
higher-order gradients. The idea of a node plus a chain-rule closure comes from Karpathy's
micrograd; the iterative topological order from HIPS autograd.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Union, overload

Operand = Union["Value", float, int]
LocalDerivative = Callable[..., tuple[Any, ...]]
NodeHook = Callable[["Value"], None]
StepHook = Callable[["BackwardStep"], None]

_data_of = attrgetter("data")
_new_value = object.__new__


@dataclass(frozen=True)
class _Recording:
    """What operations do besides computing: build a graph, and tell watchers about it."""

    build_graph: bool = True
    node_hooks: tuple[NodeHook, ...] = ()
    step_hooks: tuple[StepHook, ...] = ()


_NORMAL = _Recording()
_NO_GRAPH = _Recording(build_graph=False)
_SHARED_STATES = {_NORMAL: _NORMAL, _NO_GRAPH: _NO_GRAPH}  # states _make recognises by identity
_recording: ContextVar[_Recording] = ContextVar("micrograd_like_recording", default=_NORMAL)


@contextmanager
def _recording_changed(
    build_graph: bool | None = None,
    on_node: NodeHook | None = None,
    on_step: StepHook | None = None,
) -> Iterator[None]:
    """Change what ops record for the duration of a with-block, in this thread or task only."""
    current = _recording.get()
    changed = _Recording(
        current.build_graph if build_graph is None else build_graph,
        current.node_hooks + ((on_node,) if on_node else ()),
        current.step_hooks + ((on_step,) if on_step else ()),
    )
    token = _recording.set(_SHARED_STATES.get(changed, changed))  # keep _make's fast paths
    try:
        yield
    finally:
        _recording.reset(token)


def no_grad() -> AbstractContextManager[None]:
    """Compute without building a graph (evaluation, optimizer updates); safe across threads.

    A value made inside is a leaf: backward() from it reaches none of the values it came from.
    """
    return _recording_changed(build_graph=False)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _recording.get().build_graph


def watch(
    on_node: NodeHook | None = None, on_step: StepHook | None = None
) -> AbstractContextManager[None]:
    """Call ``on_node(v)`` for every Value an op makes and ``on_step(s)`` for every backward edge.

    This is how anomaly mode and tracers observe the engine without slowing it down when unused.
    """
    return _recording_changed(on_node=on_node, on_step=on_step)


def leaf_local(out: Any) -> tuple[Any, ...]:
    """A leaf has no operands, so no local derivatives."""
    return ()


def _checked_float(data: object, where: str) -> float:
    """Turn user data into a finite float, or say exactly what is wrong with it."""
    if type(data) is float and math.isfinite(data):  # the common case, without the ABC check
        return data
    if isinstance(data, Value):
        raise TypeError(
            f"{where} got a Value ({data!r}); pass the Value itself, "
            "or Value(v.data) for an unconnected copy"
        )
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(
            f"{where} got {data!r} of type {type(data).__name__}; expected a real number"
        )
    try:
        number = float(data)
    except OverflowError:
        raise OverflowError(f"{where} got {data!r}, which is too large for a float") from None
    if not math.isfinite(number):
        raise ValueError(
            f"{where} got {number!r}; data must be finite, since every gradient computed from "
            "a nan or inf is meaningless (anomaly mode finds where a computation makes one)"
        )
    return number


def _lift(other: object, op: str) -> Value:
    """A Value for the other operand of ``op``: numbers become constant leaves, as in micrograd."""
    if isinstance(other, Value):
        return other
    return Value(_checked_float(other, f"Value {op} ..."))


def _is_integer(number: float) -> bool:
    return float(number).is_integer()


def _log(x: Any) -> Any:
    """log for a number or a Value, so local derivatives can build graphs too."""
    return x.log() if isinstance(x, Value) else math.log(x)


class Value:
    """A scalar node: data, grad, the parents it was made from and its local derivatives."""

    __slots__ = ("_local", "_op", "_prev", "data", "grad", "label")

    data: float
    grad: float
    _prev: tuple[Value, ...]
    _op: str
    _local: LocalDerivative
    label: str

    def __init__(self, data: float, label: str = "") -> None:
        self.data = (
            data if type(data) is float and math.isfinite(data) else _checked_float(data, "Value()")
        )
        self.grad = 0.0
        self._prev = ()
        self._op = ""
        self._local = leaf_local
        self.label = label

    @classmethod
    def from_op(
        cls,
        data: float,
        parents: Sequence[Value],
        op: str,
        local: LocalDerivative,
    ) -> Value:
        """Make the result of a new operation: ``local(out, *operands)`` gives one derivative each.

        This is the public door for custom operations (the built-in ops build the same kind of
        node). ``local`` is evaluated once here (outside ``no_grad()``), so a wrong number of
        derivatives is refused at the point of the mistake rather than in some later backward().
        """
        value = _checked_float(data, f"{op}: from_op data")
        operands = tuple(parents)
        if not all(isinstance(p, Value) for p in operands):
            raise TypeError(f"{op}: every parent must be a Value, got {list(operands)!r}")
        if not callable(local):
            raise TypeError(f"{op}: the local derivative must be callable, got {local!r}")
        if not _recording.get().build_graph:  # the derivative is thrown away: do not check it
            return _make(value, operands, op, local)
        derivatives = local(value, *map(_data_of, operands))
        if not isinstance(derivatives, tuple) or len(derivatives) != len(operands):
            raise ValueError(
                f"{op}: the local derivative must return a tuple of {len(operands)} derivatives "
                f"(one per operand), got {derivatives!r}"
            )
        return _make(value, operands, op, local)

    # --- what a debugger and a picture want to see -------------------------------------------

    def __repr__(self) -> str:
        extra = (f", op={self._op!r}" if self._op else "") + (
            f", label={self.label!r}" if self.label else ""
        )
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this value was computed from, in order (``a + a`` lists ``a`` twice)."""
        return self._prev

    @property
    def op(self) -> str:
        """The name of the operation that made this value; empty for a leaf."""
        return self._op

    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(parent) for each parent, evaluated at the current data."""
        return tuple(self._local(self.data, *map(_data_of, self._prev)))

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self.data, self.label)

    # --- primitive operations: each local derivative sits right above the op that uses it ------
    # The locals are staticmethods rather than closures made per node: a function object per node
    # would add a third garbage-collected object to every op, and the collector's scans of them
    # cost more than the arithmetic. Only ops that must remember a constant make a closure.

    @staticmethod
    def add_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # d(a+b)/da = 1, d(a+b)/db = 1
        return 1.0, 1.0

    def __add__(self, other: Operand) -> Value:
        other = _lift(other, "+")
        return _make(self.data + other.data, (self, other), "+", Value.add_local)

    @staticmethod
    def mul_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # d(a*b)/da = b, d(a*b)/db = a
        return b, a

    def __mul__(self, other: Operand) -> Value:
        other = _lift(other, "*")
        return _make(self.data * other.data, (self, other), "*", Value.mul_local)

    @staticmethod
    def neg_local(out: Any, a: Any) -> tuple[Any, ...]:
        # d(-a)/da = -1
        return (-1.0,)

    def __neg__(self) -> Value:
        return _make(-self.data, (self,), "neg", Value.neg_local)

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, Value):
            return _pow_values(self, exponent)
        k = _checked_float(exponent, "Value ** ...")
        x = self.data
        _check_power(x, k)

        def pow_local(out: Any, x: Any) -> tuple[Any, ...]:
            # d(x**k)/dx = k * x**(k-1); at x = 0 with k < 1 the slope is infinite
            if k == 0:
                return (0.0,)
            if k < 1 and _number(x) == 0:
                raise ZeroDivisionError(f"**: the derivative of x ** {k!r} at x = 0 is infinite")
            return (k * _power(x, k - 1),)

        return _make(_power(x, k), (self,), f"**{_format_number(k)}", pow_local)

    @staticmethod
    def relu_local(out: Any, x: Any) -> tuple[Any, ...]:
        # d relu(x)/dx = 1 if x > 0 else 0 (a step: its own derivative is 0)
        return (1.0 if _number(x) > 0 else 0.0,)

    def relu(self) -> Value:
        """max(0, x); its slope at exactly 0 is taken as 0, as in micrograd and PyTorch."""
        x = self.data
        return _make(x if x > 0 else 0.0, (self,), "ReLU", Value.relu_local)

    @staticmethod
    def tanh_local(out: Any, x: Any) -> tuple[Any, ...]:
        # d tanh(x)/dx = 1 - tanh(x)**2
        return (1 - out * out,)

    def tanh(self) -> Value:
        """tanh(x); saturates to ±1.0 for large inputs instead of overflowing."""
        return _make(math.tanh(self.data), (self,), "tanh", Value.tanh_local)

    @staticmethod
    def sigmoid_local(out: Any, x: Any) -> tuple[Any, ...]:
        # d sigmoid(x)/dx = sigmoid(x) * (1 - sigmoid(x))
        return (out * (1 - out),)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), computed so neither tail overflows: sigmoid(±1000) is 1.0 and 0.0."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _make(s, (self,), "sigmoid", Value.sigmoid_local)

    @staticmethod
    def exp_local(out: Any, x: Any) -> tuple[Any, ...]:
        # d e**x/dx = e**x
        return (out,)

    def exp(self) -> Value:
        """e**x; raises OverflowError naming the input when the result is too large for a float."""
        x = self.data
        try:
            e = math.exp(x)
        except OverflowError:
            raise OverflowError(
                f"exp() of {x!r}: the result is too large for a float (the limit is about 709.78)"
            ) from None
        return _make(e, (self,), "exp", Value.exp_local)

    @staticmethod
    def log_local(out: Any, x: Any) -> tuple[Any, ...]:
        # d log(x)/dx = 1/x
        return (1 / x,)

    def log(self) -> Value:
        """Natural logarithm; refuses zero and negative numbers instead of returning nan or -inf."""
        x = self.data
        if x <= 0:
            raise ValueError(f"log() of {x!r}: the logarithm is defined for positive numbers only")
        return _make(math.log(x), (self,), "log", Value.log_local)

    # --- derived operations: one line each, built from the primitives ------------------------

    def __radd__(self, other: Operand) -> Value:
        return self + other  # other + self

    def __sub__(self, other: Operand) -> Value:
        return self + _negated(other, "-")  # self - other

    def __rsub__(self, other: Operand) -> Value:
        return _lift(other, "-") + (-self)  # other - self

    def __rmul__(self, other: Operand) -> Value:
        return self * other  # other * self

    def __truediv__(self, other: Operand) -> Value:
        return self * _reciprocal(other, self)  # self / other, as micrograd: self * other**-1

    def __rtruediv__(self, other: Operand) -> Value:
        return _reciprocal(self, other) * other  # other / self

    def __rpow__(self, base: Operand) -> Value:
        return _lift(base, "**") ** self  # base ** self

    # --- backpropagation ----------------------------------------------------------------------

    def backward(self, seed: float = 1.0) -> None:
        """Fill in d(self)/d(node) for every node: leaves accumulate, intermediates start at 0."""
        seed = _checked_float(seed, "backward(seed)")
        hooks = _recording.get().step_hooks
        if hooks:
            for step in backward_steps(self, seed):
                for hook in hooks:
                    hook(step)
            return
        order = topological_order(self)
        _start_fresh(order, self, seed)
        for node in reversed(order):  # every node comes after all the nodes that consume it
            parents = node._prev
            if not parents:
                continue
            upstream = node.grad
            # local[i] = d(node)/d(parents[i]), from the op's *_local function
            local = node._local(node.data, *map(_data_of, parents))
            for parent, derivative in zip(parents, local, strict=True):
                parent.grad += derivative * upstream  # the chain rule


def _make(data: float, parents: tuple[Value, ...], op: str, local: LocalDerivative) -> Value:
    """Create an op's result node without re-validating data the op computed itself."""
    out: Value = _new_value(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    recording = _recording.get()
    if recording is _NORMAL:
        out._prev, out._op, out._local = parents, op, local
        return out
    if recording is _NO_GRAPH:
        out._prev, out._op, out._local = (), "", leaf_local
        return out
    if recording.build_graph:
        out._prev, out._op, out._local = parents, op, local
    else:
        out._prev, out._op, out._local = (), "", leaf_local
    for hook in recording.node_hooks:
        hook(out)
    return out


def _format_number(k: float) -> str:
    return str(int(k)) if _is_integer(k) and abs(k) < 1e15 else repr(k)


def _check_power(x: float, k: float) -> None:
    """Refuse powers with no real value, naming both numbers."""
    if x == 0 and k < 0:
        raise ZeroDivisionError(f"**: {x!r} ** {k!r} divides by zero")
    if x < 0 and not _is_integer(k):
        raise ValueError(
            f"**: {x!r} ** {k!r} is not a real number (a negative base needs an integer exponent)"
        )


def _power(x: Any, k: Any) -> Any:
    """x ** k for numbers or Values; a float result too large for a float raises, naming both."""
    if isinstance(x, Value) or isinstance(k, Value):
        return x**k
    try:
        return float(x**k)
    except OverflowError:
        raise OverflowError(f"**: {x!r} ** {k!r} is too large for a float") from None


def _number(x: Any) -> float:
    """The float inside a Value, or the number itself."""
    return float(x.data) if isinstance(x, Value) else float(x)


def _negated(other: object, op: str) -> Operand:
    """-other, staying a plain number when it is one (so ``x - 1`` makes no extra node)."""
    return -other if isinstance(other, Value) else -_checked_float(other, f"Value {op} ...")


@overload
def _reciprocal(denominator: Value, numerator: object) -> Value: ...
@overload
def _reciprocal(denominator: object, numerator: object) -> Operand: ...
def _reciprocal(denominator: object, numerator: object) -> Operand:
    """denominator ** -1, refusing zero with a message that shows the whole division."""
    if isinstance(denominator, Value):
        if denominator.data == 0:
            raise ZeroDivisionError(f"/: division by zero ({numerator!r} / {denominator!r})")
        return denominator**-1
    number = _checked_float(denominator, "Value / ...")
    if number == 0:
        raise ZeroDivisionError(f"/: division by zero ({numerator!r} / {denominator!r})")
    return number**-1


def _pow_values(base: Value, exponent: Value) -> Value:
    """base ** exponent where both are Values, so both get gradients."""
    a, b = base.data, exponent.data
    _check_power(a, b)

    def pow_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # d(a**b)/da = b * a**(b-1), d(a**b)/db = a**b * log(a)
        a_number, b_number = _number(a), _number(b)
        if a_number > 0:
            d_exponent = out * _log(a)
        elif a_number == 0 and b_number > 0:
            d_exponent = 0.0  # 0**b is 0 for every b > 0, so it does not change with b
        else:
            raise ValueError(
                f"**: d(a**b)/db needs log(a), which is undefined at a = {a_number!r}: with a "
                "Value exponent, a**b is differentiable only where a > 0 (if the exponent is "
                "really a constant, pass it as a plain number)"
            )
        if a_number == 0 and b_number < 1:
            raise ZeroDivisionError(
                f"**: the derivative of a ** b at a = 0 with b = {b_number!r} is infinite"
            )
        return b * _power(a, b - 1), d_exponent

    return _make(_power(a, b), (base, exponent), "**", pow_local)


def _start_fresh(order: list[Value], root: Value, seed: float) -> None:
    """Zero every intermediate gradient (leaves keep accumulating) and seed the root."""
    for node in order:
        if node._prev:
            node.grad = 0.0
    root.grad += seed


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from root, each after all its parents; iterative, so any depth works."""
    order: list[Value] = []
    seen = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent._prev)))
                break
        else:  # all parents placed: the node can follow them
            stack.pop()
            order.append(node)
    return order


@dataclass(frozen=True)
class BackwardStep:
    """One edge of backpropagation: how much of ``node``'s gradient flowed into ``parent``."""

    node: Value
    op: str
    parent: Value
    parent_index: int
    upstream: float
    local: float
    contribution: float
    grad_before: float
    grad_after: float


def backward_steps(root: Value, seed: float = 1.0) -> Iterator[BackwardStep]:
    """backward(), one edge at a time: run it to the end and the gradients equal backward()'s."""
    order = topological_order(root)
    _start_fresh(order, root, seed)
    for node in reversed(order):
        if not node._prev:
            continue
        upstream = node.grad
        for index, (parent, local) in enumerate(zip(node._prev, node.local_grads(), strict=True)):
            before = parent.grad
            parent.grad += local * upstream
            yield BackwardStep(
                node=node,
                op=node._op,
                parent=parent,
                parent_index=index,
                upstream=upstream,
                local=local,
                contribution=local * upstream,
                grad_before=before,
                grad_after=parent.grad,
            )


def linear(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """bias + sum(w*x) as one node: fewer nodes than micrograd's neuron, the same numbers.

    The sum runs in micrograd's order (bias first, then each product), so values match it bit for
    bit; inputs that are plain numbers stay constants instead of becoming nodes.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"linear: {len(weights)} weights but {len(inputs)} inputs; they must match"
        )
    if not _recording.get().build_graph:  # evaluation: only the number is wanted
        return _make(_weighted_sum(weights, inputs, bias), (), "linear", linear_local)
    if all(not isinstance(x, Value) for x in inputs):
        return _linear_of_numbers(
            weights, [_checked_float(x, "linear input") for x in inputs], bias
        )
    values = [x if type(x) is Value else _lift(x, "linear") for x in inputs]
    return _linear_of_values(weights, values, bias)


def _weighted_sum(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> float:
    """bias + sum(w*x) on floats, in the same order as the graph-building paths."""
    total = bias.data
    for w, x in zip(weights, inputs, strict=True):
        if type(x) is not float:
            x = x.data if isinstance(x, Value) else _checked_float(x, "linear input")
        total += w.data * x
    return total


def _linear_of_numbers(weights: Sequence[Value], xs: Sequence[float], bias: Value) -> Value:
    """linear() whose inputs are constants (a first layer): only weights and bias are parents."""
    total = bias.data
    for w, x in zip(weights, xs, strict=True):
        total += w.data * x
    constants = tuple(xs)

    def linear_local(out: Any, *operands: Any) -> tuple[Any, ...]:
        # operands are w_1..w_n, bias: d/dw_i = x_i (a constant), d/dbias = 1
        return (*constants, 1.0)

    return _make(total, (*weights, bias), "linear", linear_local)


def linear_local(out: Any, *operands: Any) -> tuple[Any, ...]:
    """Local derivatives of linear() when its inputs are Values."""
    # operands are w_1..w_n, x_1..x_n, bias: d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1
    n = (len(operands) - 1) // 2
    return (*operands[n : 2 * n], *operands[:n], 1.0)


def _linear_of_values(weights: Sequence[Value], xs: Sequence[Value], bias: Value) -> Value:
    """linear() whose inputs are Values too: they get gradients as well."""
    total = bias.data
    for w, x in zip(weights, xs, strict=True):
        total += w.data * x.data
    return _make(total, (*weights, *xs, bias), "linear", linear_local)


def sum_local(out: Any, *terms: Any) -> tuple[Any, ...]:
    """Local derivatives of sum_of()."""
    # d(sum)/d(term) = 1 for every term
    return (1.0,) * len(terms)


def sum_of(values: Iterable[Operand]) -> Value:
    """The sum of many values as one node; adds left to right, like Python's sum()."""
    terms = tuple(_lift(v, "sum") for v in values)
    total = 0.0
    for term in terms:
        total += term.data
    return _make(total, terms, "sum", sum_local)


def grad(output: Value, inputs: Sequence[Value], *, create_graph: bool = False) -> list[Value]:
    """d(output)/d(input) for each input, leaving every ``.grad`` untouched.

    With ``create_graph=True`` the results are Values wired into a graph of their own, so they can
    be differentiated again (second derivatives, Hessian-vector products, Newton steps).
    """
    if not isinstance(output, Value) or not all(isinstance(x, Value) for x in inputs):
        raise TypeError(
            f"grad: output and inputs must be Values, got {output!r} and {list(inputs)!r}"
        )
    hooks = _recording.get().step_hooks
    order = topological_order(output)
    gradients: dict[Value, Any] = {output: Value(1.0) if create_graph else 1.0}
    with _recording_changed(build_graph=create_graph):
        for node in reversed(order):
            upstream = gradients.get(node)
            if upstream is None or not node._prev:
                continue
            operands = node._prev if create_graph else tuple(map(_data_of, node._prev))
            out = node if create_graph else node.data
            local = node._local(out, *operands)
            for index, (parent, derivative) in enumerate(zip(node._prev, local, strict=True)):
                contribution = derivative * upstream
                known = gradients.get(parent)
                gradients[parent] = contribution if known is None else known + contribution
                if hooks:  # anomaly mode and other watchers see grad() as they see backward()
                    step = _grad_step(node, index, upstream, derivative, known, gradients[parent])
                    for hook in hooks:
                        hook(step)
    return [_as_value(gradients.get(x, 0.0), create_graph) for x in inputs]


def _grad_step(
    node: Value, index: int, upstream: Any, derivative: Any, known: Any, updated: Any
) -> BackwardStep:
    """The record of one edge of grad(), as backward_steps() would give it, in plain numbers."""
    return BackwardStep(
        node=node,
        op=node._op,
        parent=node._prev[index],
        parent_index=index,
        upstream=_number(upstream),
        local=_number(derivative),
        contribution=_number(derivative) * _number(upstream),
        grad_before=0.0 if known is None else _number(known),
        grad_after=_number(updated),
    )


def _as_value(gradient: Any, create_graph: bool) -> Value:
    """A gradient as a Value: the graph itself when asked for, otherwise a plain leaf."""
    if isinstance(gradient, Value) and create_graph:
        return gradient
    leaf: Value = _new_value(Value)
    leaf.data, leaf.grad, leaf.label = _number(gradient), 0.0, ""
    leaf._prev, leaf._op, leaf._local = (), "", leaf_local
    return leaf
