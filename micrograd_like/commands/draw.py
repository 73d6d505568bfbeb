"""The ``draw`` command: picture the graph of a small expression after backward().

``python -m micrograd_like draw "tanh(x*w + b)" --set x=2 w=-3 b=6.88 --params w b -o graph.svg``

An expression that starts with a minus (``"-x*w"``) works as it is, or after ``--``.

The expression is parsed with ``ast`` and walked against a whitelist (names, numbers, ``+ - * /
**``, unary minus and calls of tanh, relu, sigmoid, exp and log); it is never evaluated as Python.
"""

from __future__ import annotations

import argparse
import ast
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from micrograd_like.engine import Value
from micrograd_like.optable import all_ops
from micrograd_like.pictures.folds import FOLDS, SHOWS

EXIT_USAGE = 2
EXIT_FAILED = 1
SHOWN_CHARACTERS = 60  # how much of a long expression an error message repeats
SHORT_OPTIONS = ("-h", "-o")  # argparse's and ours: "-o" alone is the option, not minus o
_LONG_OPTION = re.compile(r"--([A-Za-z]|$)")  # --set, --out=g.svg, and -- itself

# The functions an expression may call: every built-in one-operand op of the op table (neg is
# written -x). Custom ops are left out: which of them exist depends on what was imported first.
FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    entry.name: entry
    for entry in all_ops()
    if entry.builtin and entry.arity == 1 and not entry.constants and entry.name != "neg"
}
_BINARY: dict[type[ast.operator], Callable[[Value, Value | float], Value]] = {
    ast.Add: Value.__add__,
    ast.Sub: Value.__sub__,
    ast.Mult: Value.__mul__,
    ast.Div: Value.__truediv__,
    ast.Pow: Value.__pow__,
}
_REFLECTED: dict[type[ast.operator], Callable[[Value, float], Value]] = {
    ast.Add: Value.__radd__,
    ast.Sub: Value.__rsub__,
    ast.Mult: Value.__rmul__,
    ast.Div: Value.__rtruediv__,
    ast.Pow: Value.__rpow__,
}
ALLOWED = (
    "names, numbers, + - * / **, unary -, parentheses and calls with one argument of "
    + ", ".join(FUNCTIONS)
)


class ExpressionError(ValueError):
    """The expression uses something outside the whitelist, or names with no value."""


class TooDeepError(ExpressionError):
    """The expression is nested too deeply for Python's parser or for checking it."""


def parse_expression(text: str) -> ast.expr:
    """Parse text and check every node against the whitelist; nothing is evaluated.

    Whatever the text, the only error is an ExpressionError, a one-line message: Python's parser
    fails on deep nesting with RecursionError or MemoryError, and on a decimal literal past its
    4,300-digit limit for ints; a hexadecimal one parses, but ``ast.unparse`` fails on it.
    """
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        why = _too_many_digits(source) or error.msg
        raise ExpressionError(f"cannot parse {_shortened(text)!r}: {why}") from None
    except (RecursionError, MemoryError):
        raise TooDeepError("the expression is nested too deeply to parse") from None
    try:
        for node in ast.walk(tree.body):
            _check_allowed(node, source)
    except (RecursionError, MemoryError):  # a last resort: _shown guards what it knows of
        raise TooDeepError("the expression is nested too deeply to check") from None
    return tree.body


def _digit_limit() -> int:
    """Python's limit on the digits of an int read from a string (0: none, before 3.10.7)."""
    limit: int = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return limit


def _too_many_digits(source: str) -> str:
    """Why a whole-number literal of the source cannot be read, if it has more digits than
    Python reads into an int (its own message is about sys.set_int_max_str_digits); else ''."""
    limit = _digit_limit()
    for literal in re.finditer(r"(?<![\w.])\d[\d_]*(?![\w.])", source) if limit else ():
        if sum(c.isdigit() for c in literal.group()) > limit:
            return (
                f"the number {_shortened(literal.group())} has more than {limit} digits; "
                "no float holds it (the limit is 1.8e308)"
            )
    return ""


def _check_allowed(node: ast.AST, source: str) -> None:
    if isinstance(node, (ast.Name, ast.operator, ast.unaryop, ast.expr_context)):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return
    constant = node.value if isinstance(node, ast.Constant) else None
    if isinstance(constant, (int, float)) and not isinstance(constant, bool):
        _check_fits_a_float(node, constant, source)
        return
    if isinstance(node, ast.Call):
        _check_call(node, source)
        return
    raise ExpressionError(f"{_describe(node, source)} is not allowed; use only {ALLOWED}")


def _check_fits_a_float(node: ast.AST, number: float, source: str) -> None:
    try:
        fits = math.isfinite(float(number))
    except OverflowError:
        fits = False
    if not fits:
        raise ExpressionError(
            f"the number {_shown(node, source)} is too large for a float (the limit is 1.8e308)"
        )


def _shown(node: ast.AST, source: str = "") -> str:
    """The node as Python writes it (``1e309`` for ``1e999``), shortened; where Python cannot
    write it (an int past 4,300 digits, nesting deeper than the recursion limit), as it was
    typed in ``source``, the text the node was parsed from."""
    try:
        return _shortened(ast.unparse(node))
    except (ValueError, RecursionError, MemoryError):
        typed = ast.get_source_segment(source, node) if source else None
        return _shortened(typed) if typed else f"a {type(node).__name__} too large to show"


def _shortened(text: str) -> str:
    """The text, or its start and '...' when it is too long to repeat in a message."""
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def _check_call(call: ast.Call, source: str) -> None:
    if not isinstance(call.func, ast.Name) or call.func.id not in FUNCTIONS:
        raise ExpressionError(
            f"calling {_shown(call.func, source)!r} is not allowed; the functions are "
            + ", ".join(FUNCTIONS)
        )
    if call.keywords or len(call.args) != 1 or isinstance(call.args[0], ast.Starred):
        raise ExpressionError(
            f"{call.func.id}() takes exactly one positional argument, as in {call.func.id}(x)"
        )


def _describe(node: ast.AST, source: str = "") -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripting",
        ast.Lambda: "a lambda",
        ast.Constant: "a constant that is not a number",
        ast.Compare: "a comparison",
        ast.BoolOp: "'and'/'or'",
        ast.IfExp: "a conditional expression",
        ast.NamedExpr: "the walrus operator",
        ast.BinOp: "this operator",
        ast.UnaryOp: "this unary operator",
    }
    comprehension = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    kind = "a comprehension" if isinstance(node, comprehension) else kinds.get(type(node))
    shown = _shown(node, source) if isinstance(node, ast.expr) else type(node).__name__
    return f"{kind or type(node).__name__} ({shown!r})"


def variables(expression: ast.expr) -> list[str]:
    """The names the expression needs values for, in order of first appearance."""
    called = {id(n.func) for n in ast.walk(expression) if isinstance(n, ast.Call)}
    names = [n for n in ast.walk(expression) if isinstance(n, ast.Name) and id(n) not in called]
    names.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in names))


def evaluate(expression: ast.expr, values: Mapping[str, Value]) -> Value:
    """Build the graph of a checked expression from Values; numbers stay constants."""
    result = _build(expression, values)
    return result if isinstance(result, Value) else Value(result)


def _build(node: ast.expr, values: Mapping[str, Value]) -> Value | float:
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        return -_build(node.operand, values)
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in FUNCTIONS:
            raise ExpressionError(f"calling {_shown(node.func)!r} is not allowed")
        return FUNCTIONS[name](_as_value(_build(node.args[0], values)))
    if isinstance(node, ast.BinOp):
        left, right = _build(node.left, values), _build(node.right, values)
        if isinstance(left, Value):
            return _BINARY[type(node.op)](left, right)
        if isinstance(right, Value):
            return _REFLECTED[type(node.op)](right, left)
        return _BINARY[type(node.op)](Value(left), right)  # never float ** float: no complex
    raise ExpressionError(f"{_describe(node)} is not allowed; use only {ALLOWED}")


def _as_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(x)


def parse_assignments(items: Sequence[str]) -> dict[str, float]:
    """``["x=2", "w=-3"]`` as ``{"x": 2.0, "w": -3.0}``; says which item is malformed."""
    values = {}
    for item in items:
        name, equals, number = item.partition("=")
        name, number = name.strip(), number.strip()
        if not equals or not name.isidentifier():
            raise ExpressionError(f"--set {item!r}: expected NAME=NUMBER, as in x=2.5")
        try:
            value = float(number)
        except ValueError:
            raise ExpressionError(f"--set {item!r}: {number!r} is not a number") from None
        if not math.isfinite(value):
            raise ExpressionError(f"--set {item!r}: the value must be finite")
        values[name] = value
    return values


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m micrograd_like draw",
        allow_abbrev=False,  # "--colour red" is a mistake, not --colour-edges
        description="Draw the computation graph of an expression, with data and gradients "
        "after backward(). Allowed: " + ALLOWED + ".",
        epilog='example: draw "tanh(x*w + b)" --set x=2 w=-3 b=6.88 --params w b -o graph.svg',
    )
    parser.add_argument(
        "expression",
        nargs="?",  # _take_expression may have taken it out already
        help="for example 'tanh(x*w + b)'; one that starts with '-' may also follow '--'",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=NUMBER",
        help="a value for each name in the expression",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="graph.svg",
        help="the file to write; its suffix picks the format: .svg, .png, .pdf or .dot "
        "(default: graph.svg)",
    )
    parser.add_argument(
        "--rankdir",
        choices=("LR", "TB", "RL", "BT"),
        default="LR",
        help="layout direction (default: LR, left to right)",
    )
    parser.add_argument(
        "--show-local", action="store_true", help="label each edge with its local derivative"
    )
    parser.add_argument(
        "--params",
        dest="parameters",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="names to colour as parameters (as draw_dot's parameters=); other names are inputs",
    )
    _slide_options(parser)
    return parser


def _slide_options(parser: argparse.ArgumentParser) -> None:
    """draw_dot's options for pictures on slides, spelled for the command line."""
    parser.add_argument(
        "--highlight-path",
        metavar="NAME",
        help="draw every edge from this name to the output strong, with the numbers on it",
    )
    parser.add_argument(
        "--fold", choices=FOLDS, help="draw each sum of products (sums) as one node"
    )
    parser.add_argument(
        "--show", choices=SHOWS, default="both", help="what each value shows (default: both)"
    )
    parser.add_argument(
        "--precision", type=_whole, default=4, help="significant digits (default: 4)"
    )
    parser.add_argument("--font-size", type=float, default=11.0, help="in points (default: 11)")
    parser.add_argument(
        "--colour-edges",
        action="store_true",
        help="colour each edge by the sign of the gradient it carries back",
    )
    parser.add_argument("--no-legend", action="store_true", help="leave out the legend")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def main(argv: Sequence[str]) -> int:
    """Run the draw command; 0 on success, 2 for a bad command line, 1 if drawing failed."""
    undecodable = next((a for a in argv if not _is_text(a)), None)
    if undecodable is not None:  # bytes the locale could not decode arrive as lone surrogates
        shown = _shortened(
            undecodable.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        )
        say(f"draw: the argument {shown!r} is not valid text in this terminal's encoding")
        return EXIT_USAGE
    try:
        options = _parse(list(argv))
    except SystemExit as stop:  # argparse exits on --help (0) and on bad options (2)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        expression = parse_expression(options.expression)
        numbers = parse_assignments(options.assignments)
        _check_output_suffix(Path(options.output))
        values = _leaves(variables(expression), numbers)
        _check_parameters(options.parameters, values)
        if options.highlight_path is not None:
            _check_parameters([options.highlight_path], values, "--highlight-path")
    except ExpressionError as error:
        say(f"draw: {error}")
        return EXIT_USAGE
    return _draw(expression, values, options)


def _parse(argv: list[str]) -> argparse.Namespace:
    """argparse, plus an expression that starts with '-', which argparse reads as an option."""
    parser = _arguments()
    taken, rest = _take_expression(argv)
    options = parser.parse_args(rest)
    if taken is not None and options.expression is not None:
        both = f"{_shortened(taken)!r} and {_shortened(options.expression)!r}"
        parser.error(f"one expression please, got {both}")
    options.expression = taken if taken is not None else options.expression
    if options.expression is None:
        parser.error("the following arguments are required: expression")
    return options


def _take_expression(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take out the expression that follows ``--``, or else the first argument that starts with
    a single '-', is no option and parses as an expression (``-x*w``); the rest is for argparse."""
    if "--" in argv:
        at = argv.index("--")
        if at + 1 == len(argv):
            return None, argv[:at]
        return argv[at + 1], argv[:at] + argv[at + 2 :]
    for index, argument in enumerate(argv):
        if _is_negated_expression(argument):
            return argument, argv[:index] + argv[index + 1 :]
    return None, argv


def _is_negated_expression(argument: str) -> bool:
    if not argument.startswith("-") or argument in SHORT_OPTIONS or _LONG_OPTION.match(argument):
        return False
    if not argument.startswith(("-h", "-o")):
        return True  # "-x.y", "---x": no option of ours starts so; the whitelist names the problem
    try:
        parse_expression(argument)
    except TooDeepError:
        return True  # "--" * 50000 + "x" is no option; main says it is too deep, in one line
    except ExpressionError:
        return False  # an option such as -ograph.svg or --set, or a mistake argparse will name
    return True


def _check_output_suffix(path: Path) -> None:
    if path.suffix.lower() not in (".svg", ".png", ".pdf", ".dot", ".gv"):
        raise ExpressionError(
            f"-o {str(path)!r}: the suffix picks the format; use .svg, .png, .pdf or .dot"
        )


def _leaves(names: Sequence[str], numbers: Mapping[str, float]) -> dict[str, Value]:
    missing = [name for name in names if name not in numbers]
    if missing:
        listed = ", ".join(missing)
        example = " ".join(f"{name}=..." for name in missing)
        raise ExpressionError(f"no value for {listed}; pass --set {example}")
    unused = [name for name in numbers if name not in names]
    if unused:
        say(f"draw: note: {', '.join(unused)} not used in the expression")
    return {name: Value(numbers[name], label=name) for name in names}


def _check_parameters(
    parameters: Sequence[str], values: Mapping[str, Value], option: str = "--params"
) -> None:
    unknown = [name for name in parameters if name not in values]
    if unknown:
        names = ", ".join(values) or "none"
        raise ExpressionError(
            f"{option} {' '.join(unknown)}: not a name in the expression (its names: {names})"
        )


def _draw(expression: ast.expr, values: Mapping[str, Value], options: argparse.Namespace) -> int:
    from micrograd_like import viz  # graphviz is imported only when drawing

    try:
        output = evaluate(expression, values)
        output.backward()
        picture = viz.draw_dot(
            output,
            rankdir=options.rankdir,
            show_local=options.show_local,
            parameters=[values[name] for name in options.parameters],
            highlight_path=values.get(options.highlight_path or ""),
            fold=options.fold,
            show=options.show,
            precision=options.precision,
            font_size=options.font_size,
            colour_edges=options.colour_edges,
            legend=not options.no_legend,
        )
        path = viz.render(picture, options.output)
    except viz.GraphTooLargeError as error:
        hint = f" (here: --fold {error.fold})" if error.fold else ""
        say(f"draw: {error}{hint}")
        return EXIT_FAILED
    except (ArithmeticError, ValueError, viz.GraphvizNotFoundError, viz.RenderError) as error:
        say(f"draw: {error}")
        return EXIT_FAILED
    except OSError as error:  # the output file: no such folder, no permission, disk full
        say(f"draw: cannot write {options.output!r}: {error.strerror or error}")
        return EXIT_FAILED
    except RecursionError:  # the expression's fault, like one too deep to parse: a usage error
        say("draw: the expression is nested too deeply to build")
        return EXIT_USAGE
    say(f"wrote {path}: output {_number(output.data)}", sys.stdout)
    for name, leaf in values.items():
        say(f"  d(output)/d({name}) = {_number(leaf.grad)}", sys.stdout)
    return 0


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one line that any terminal can take: what its encoding lacks is escaped."""
    target = stream or sys.stderr
    encoding = getattr(target, "encoding", None) or "utf-8"
    target.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")


def _is_text(argument: str) -> bool:
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number(x: float) -> str:
    return format(x, ".6g")
