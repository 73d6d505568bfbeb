"""What to call each node of a graph, and a local derivative written as its formula with numbers.

``node_names(order)`` names intermediates by the expression that made them (``x1*w1``,
``tanh(n)``), keeps every label (``L1.N3.w2``), names an unlabelled leaf by its number (the
``-1`` of ``y - 1``), shortens long expressions to the op's shape (``tanh(…)``) and makes names
unique in one graph. ``local_formula(node, index)`` runs the op table's own local derivative on
numbers that remember how they were combined, so ``tanh_local``'s ``1 - out * out`` reads
``1 - 0.7071**2`` at the node's numbers: the formula comes from the code that computes it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from micrograd_like.engine import Value

MAX_NAME = 24  # characters: a name on a slide or in a table column stays readable
ELLIPSIS = "…"
_PRECEDENCE = {"+": 1, "Σ": 1, "linear": 1, "*": 2, "/": 2, "neg": 3, "**": 4}
_ATOM = 9  # a label, a number, a function call: never needs brackets
_SIMPLE = re.compile(r"[\w.]+|[\w.]+\([^()]*\)")  # x, L1.N3.w2, 2.5, tanh(x*w + b)


def format_number(x: float, digits: int = 4) -> str:
    """A float in 4 significant digits (or ``digits``): short and deterministic, for pictures."""
    if type(digits) is not int or not 1 <= digits <= 17:  # format() would say only 'precision'
        raise ValueError(
            f"format_number: digits must be a whole number from 1 to 17, got {digits!r}"
        )
    if isinstance(x, (str, bytes)):  # format() would say 'Unknown format code'
        raise TypeError(f"format_number: expected a number, got {x!r}")
    if x == 0:
        return "0"  # also for -0.0, which would only confuse a reader
    return format(x, f".{digits}g")


@dataclass(frozen=True)
class _Name:
    """A node's name and how tightly it binds, so a parent's expression knows to bracket it."""

    text: str
    precedence: int

    def inside(self, precedence: int, strict: bool = False) -> str:
        """The name as an operand of an op of this precedence, bracketed if it binds looser."""
        looser = self.precedence < precedence or (strict and self.precedence == precedence)
        return f"({self.text})" if looser else self.text


class NodeNames(dict[Value, str]):
    """node -> name; ``operands`` keeps how each is written inside its users' expressions."""

    def __init__(self, named: Mapping[Value, str], operands: Mapping[Value, _Name]) -> None:
        super().__init__(named)
        self.operands = dict(operands)


def node_names(order: Sequence[Value], given: Mapping[Value, str] | None = None) -> NodeNames:
    """A short name per node, unique in the graph; ``order`` lists operands before their users.

    A label wins (or a name ``given`` for an unlabelled node); an unlabelled leaf is named by its
    number; an op's result by its expression, shortened to the op's shape past MAX_NAME
    characters. Repeated names get `` #2``, `` #3``, ... in topological order, so the same graph
    always gets the same names; inside expressions a constant is still its number (``x*2``).
    """
    names: dict[Value, str] = {}
    operands: dict[Value, _Name] = {}
    taken: dict[str, int] = {}
    for node in order:
        if not node.label and given and node in given:
            name = _Name(given[node], _ATOM if _SIMPLE.fullmatch(given[node]) else 0)
        else:
            name = _name_of(node, operands)
        count = taken[name.text] = taken.get(name.text, 0) + 1
        names[node] = f"{name.text} #{count}" if count > 1 else name.text
        if count > 1 and (node.label or node.parents):  # bracketed in a user: (x*w #2) + b
            name = _Name(names[node], 0)
        operands[node] = name
    return NodeNames(names, operands)


def _name_of(node: Value, named: dict[Value, _Name]) -> _Name:
    if node.label:
        simple = _SIMPLE.fullmatch(node.label)
        return _Name(node.label, _ATOM if simple else _PRECEDENCE["+"])
    if not node.parents:  # a constant: its number, in full when that is short (1.0001, not 1)
        number = repr(node.data) if len(repr(node.data)) <= 7 else format_number(node.data)
        number = number.removesuffix(".0")
        return _Name(number, _PRECEDENCE["neg"] if number.startswith("-") else _ATOM)
    neuron = _neuron_of(node)
    if neuron:
        return _Name(neuron, _ATOM)
    operands = [named[parent] for parent in node.parents]
    full = _expression(node, operands)
    if len(full.text) <= MAX_NAME:
        return full
    hidden = _Name(ELLIPSIS, _ATOM)
    short = [o if len(o.text) <= MAX_NAME // 3 else hidden for o in operands]
    attempts = [_expression(node, short)] if any(o is not hidden for o in short) else []
    if len(operands) <= 2:
        attempts.append(_expression(node, [hidden] * len(operands)))
    for attempt in attempts:
        if len(attempt.text) <= MAX_NAME:
            return attempt
    return _Name(f"{_function(node)}({ELLIPSIS})", _ATOM)  # a sum of many terms, say


def _neuron_of(node: Value) -> str:
    """``L1.N3`` for the weighted sum of the neuron whose parameters are ``L1.N3.w1``.., else ''."""
    if node.op not in ("linear", "linear_const"):
        return ""
    n = len(node.constants) if node.op == "linear_const" else (len(node.parents) - 1) // 2
    parameters = [*node.parents[:n], node.parents[-1]]
    prefix = parameters[-1].label.rpartition(".")[0]
    if prefix and all(p.label.rpartition(".")[0] == prefix for p in parameters):
        return prefix
    return ""


def expression(node: Value, names: NodeNames) -> str:
    """The op that made node, written with its operands' names (``x*w + b``), never shortened."""
    return _expression(node, [names.operands[p] for p in node.parents]).text


def as_operand(name: str) -> str:
    """The name bracketed where it would be ambiguous next to more text: (x*y).grad."""
    return name if _SIMPLE.fullmatch(name) else f"({name})"


def _expression(node: Value, operands: list[_Name]) -> _Name:
    """The node's expression from its operands' names, in the op's usual notation."""
    entry = node.op_entry
    symbol = entry.shown_as
    if symbol in ("+", "Σ"):
        return _sum(operands)
    if symbol in ("*", "/", "**") and len(operands) == 2:
        precedence = _PRECEDENCE[symbol]
        left = operands[0].inside(precedence + (symbol == "**"))
        right = operands[1].inside(precedence, strict=True)
        joined = f"{left} {symbol} {right}" if symbol == "/" else f"{left}{symbol}{right}"
        return _Name(joined, precedence)
    if symbol == "**" and len(operands) == 1:  # x ** k keeps k as a constant
        return _Name(f"{operands[0].inside(5)}{entry.label(node.constants)}", 4)
    if symbol == "-" and len(operands) == 1:
        return _Name(f"-{operands[0].inside(3)}", 3)
    if entry.name in ("linear", "linear_const"):
        return _sum(_weighted_terms(node, operands))
    return _Name(f"{_function(node)}({', '.join(o.text for o in operands)})", _ATOM)


def _function(node: Value) -> str:
    """The op as a function's name: as pictures show it (tanh, ReLU, linear), else its name."""
    entry = node.op_entry
    shown = entry.shown_as
    return shown if shown.isascii() and shown.isidentifier() else entry.name


def _sum(terms: list[_Name]) -> _Name:
    """``a + b + c``, written ``a - b`` where a term is a negation, as a reader would."""
    text = terms[0].inside(1)
    for term in terms[1:]:
        negated = term.precedence == _PRECEDENCE["neg"] and term.text.startswith("-")
        text += f" - {term.text[1:]}" if negated else f" + {term.inside(1)}"
    return _Name(text, 1)


def _weighted_terms(node: Value, operands: list[_Name]) -> list[_Name]:
    """A neuron's weighted sum as micrograd writes it: w1*x1 + w2*x2 + b."""
    if node.op == "linear_const":
        n = len(node.constants)
        inputs = [_Name(format_number(x), _ATOM) for x in node.constants]
    else:
        n = (len(operands) - 1) // 2
        inputs = operands[n : 2 * n]
    pairs = zip(operands[:n], inputs, strict=True)
    products = [_Name(f"{w.inside(2)}*{x.inside(2, True)}", 2) for w, x in pairs]
    return [*products, operands[-1]]


# --- a local derivative as a formula with numbers ---------------------------------------------


def _operator(symbol: str, reflected: bool = False) -> Callable[[Any, Any], Any]:
    """A _Shown's arithmetic method for ``symbol``; reflected: the other operand comes first."""

    def method(self: Any, other: Any) -> Any:
        return _combine(other, self, symbol) if reflected else _combine(self, other, symbol)

    method.__name__ = f"{symbol} of remembered numbers"
    return method


@functools.total_ordering  # a local may compare its operands (relu's x <= 0)
class _Shown:
    """A number that remembers the arithmetic that made it, written with the numbers it used.

    Local derivatives are written with +, -, *, / and ** so they work on numbers and Values; run
    on these, they write themselves out. Anything else (``math.exp(x)``, a comparison) reads the
    number, and the formula shows that number.
    """

    __slots__ = ("number", "precedence", "text")

    def __init__(self, number: float, text: str | None = None, precedence: int = _ATOM) -> None:
        self.number = number
        self.text = _exact_enough(number) if text is None else text
        if text is None and self.text.startswith("-"):
            precedence = _PRECEDENCE["neg"]
        self.precedence = precedence

    def __float__(self) -> float:
        return self.number

    def __bool__(self) -> bool:
        return bool(self.number)

    def __lt__(self, other: Any) -> bool:
        return self.number < float(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (int, float, _Shown)) and self.number == float(other)

    __hash__ = None  # type: ignore[assignment]

    def __neg__(self) -> _Shown:
        return _Shown(-self.number, f"-{_bracket(self, 3)}", 3)

    def __mul__(self, other: Any) -> _Shown:
        if other is self:  # out * out reads best as out**2
            return _Shown(self.number * self.number, f"{_bracket(self, 5)}**2", 4)
        return _combine(self, other, "*")

    __add__, __radd__ = _operator("+"), _operator("+", reflected=True)
    __sub__, __rsub__ = _operator("-"), _operator("-", reflected=True)
    __rmul__ = _operator("*", reflected=True)
    __truediv__, __rtruediv__ = _operator("/"), _operator("/", reflected=True)
    __pow__, __rpow__ = _operator("**"), _operator("**", reflected=True)


def _exact_enough(x: float) -> str:
    """x in 4 digits, or 6 where 4 would round it to a whole number (0.99998 in 1 - o**2)."""
    short = format_number(x)
    if math.isfinite(x) and float(short) != x and float(short).is_integer():
        return format(x, ".6g")
    return short


_APPLY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
_BINDS = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}


def _bracket(shown: _Shown, precedence: int, strict: bool = False) -> str:
    looser = shown.precedence < precedence or (strict and shown.precedence == precedence)
    return f"({shown.text})" if looser else shown.text


def _combine(a: Any, b: Any, symbol: str) -> _Shown:
    left, right = _as_shown(a), _as_shown(b)
    binds = _BINDS[symbol]
    number = float(_APPLY[symbol](left.number, right.number))
    right_strict = symbol in ("-", "/", "*")  # a - (b + c), a / (b * c)
    text = (
        f"{_bracket(left, binds + (symbol == '**'))} {symbol} "
        f"{_bracket(right, binds, right_strict)}"
    )
    return _Shown(number, text.replace(" ** ", "**"), binds)


def _as_shown(x: Any) -> _Shown:
    return x if isinstance(x, _Shown) else _Shown(float(x))


def local_formula(node: Value, index: int, number: float) -> str:
    """d(node)/d(operand ``index``), which is ``number``, written out: ``1 - 0.7071**2 = 0.5``.

    The op's own local derivative runs on remembering numbers; where it reads a number instead
    of computing with it (relu's comparison, ``math.exp``), only the number is shown.
    """
    try:
        shown = node.op_entry.local(
            _Shown(node.data), *(_Shown(p.data) for p in node.parents), *map(_Shown, node.constants)
        )[index]
    except Exception:  # a custom op's local may do anything with its arguments; show the number
        return format_number(number)
    result = format_number(number)
    if not isinstance(shown, _Shown) or not _same(float(shown), number) or shown.text == result:
        return result
    return f"{shown.text} = {result}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
