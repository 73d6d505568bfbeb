"""README sentences that no other test held: each test quotes its line and fails if it breaks.

The expected numbers are worked out by hand in the comments, never read off the code under test.
"""

from __future__ import annotations

import http.client
import importlib
import importlib.util
import inspect
import json
import random
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from micrograd_like.engine import Value, sum_of, topological_order
from micrograd_like.nn import MLP
from tests.support import require, require_dot

# tomllib from 3.11 on; the test extra installs its backport tomli on 3.10
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def said(text: str) -> bool:
    """Whether the README says ``text``, however its lines are wrapped."""
    return " ".join(text.split()) in " ".join(README.split())


def section(title: str) -> str:
    """The README's text under the heading ``title`` (any level), up to the next ``## `` heading."""
    start = re.search(rf"^#+ {re.escape(title)}\n", README, flags=re.MULTILINE)
    assert start is not None, f"the README has a section {title!r}"
    rest = README[start.end() :]
    end = re.search(r"^## ", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in ``text`` ("" for blocks with no language)."""
    found: list[str] = []
    opened: str | None = None  # the language of the block we are in
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith("```"):
            lines.append(line)
        elif opened is None:
            opened, lines = line[3:].strip(), []
        else:
            if opened == language:
                found.append("\n".join(lines))
            opened = None
    return found


# --- What backward() means here --------------------------------------------------------------


def test_the_ops_the_readme_lists_are_exactly_the_op_tables_builtin_ops() -> None:
    """ "The ops: `+ * / -x ** relu ... abs`, and `linear` and `sum_of` as one node each": a
    new built-in op, or one taken out, must show in that list."""
    from micrograd_like.optable import builtin_names

    found = re.search(r"The ops: `([^`]+)`, and `linear` and `sum_of`", README)
    assert found is not None, "the README lists the ops"
    spelled = {"+": ["add"], "*": ["mul"], "/": ["div"], "-x": ["neg"], "**": ["pow", "pow_value"]}
    listed = [name for token in found[1].split() for name in spelled.get(token, [token])]
    listed += ["linear", "linear_const", "sum"]  # linear (with number inputs too) and sum_of
    assert sorted(listed) == sorted(builtin_names())


@pytest.mark.slow
def test_a_chain_a_million_nodes_deep_backpropagates() -> None:
    """ "a chain a million nodes deep works" (and the table: "1,000,000 deep works"); the fast
    suite holds 100,000, this holds the number the README gives."""
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0  # each node adds 1: y = 0.5 + 1e6, and dy/dx = 1
    y.backward()
    assert (y.data, x.grad) == (1_000_000.5, 1.0)


def test_an_intermediate_shows_the_last_passs_gradient_and_a_leaf_the_sum_of_all() -> None:
    """ "What an *intermediate* node's `.grad` shows afterwards is the last pass's", while leaves
    get every pass's sum. h = 2x feeds a = 3h and b = 5h: a's pass gives h 3 and x 6, b's gives
    h 5 and x 10, so h shows 5 (not 8) and x 16."""
    x = Value(1.0)
    h = x * 2.0
    a, b = h * 3.0, h * 5.0
    a.backward()
    b.backward()
    assert (h.grad, x.grad) == (5.0, 16.0)


def test_backward_calls_each_local_on_floats_and_create_graph_on_values() -> None:
    """ "The ordinary `backward()` path does not pay for this: it calls each op's local derivative
    on plain floats", and `grad(..., create_graph=True)` calls the same function on Values."""
    from micrograd_like.engine import grad
    from micrograd_like.ops import custom_op

    seen: list[tuple[type, type]] = []

    def readme_square_local(out: Any, x: Any) -> tuple[Any]:
        seen.append((type(out), type(x)))
        return (2.0 * x,)  # d(x*x)/dx = 2x

    @custom_op(readme_square_local)
    def readme_square(x: float) -> float:
        return x * x

    x = Value(3.0)
    y = readme_square(x)
    seen.clear()  # custom_op tries the local once on numbers when a node is made
    y.backward()
    assert (x.grad, seen) == (6.0, [(float, float)])
    seen.clear()
    (slope,) = grad(y, [x], create_graph=True)
    assert (slope.data, seen) == (6.0, [(Value, Value)])


def made(data: Any, label: Any = "") -> Value:
    """``Value(data, label=label)`` with arguments of any type, as a mistaken caller writes it."""
    return Value(data, label=label)


def plus(value: Value, other: Any) -> object:
    return value + other


# Each bad input the README lists: its name, the call, the error, the op and the value named.
BAD_INPUTS: list[tuple[str, Callable[[], object], type[Exception], str, str]] = [
    ('Value("3")', partial(made, "3"), TypeError, "Value()", "'3'"),
    ("Value(Value(2.0))", partial(made, Value(2.0)), TypeError, "Value()", "data=2.0"),
    ('Value(2.0) + "a"', partial(plus, Value(2.0), "a"), TypeError, "+", "'a'"),
    ("label=3", partial(made, 1.0, 3), TypeError, "label", "3"),
    ("log(0)", lambda: Value(0.0).log(), ValueError, "log()", "0.0"),
    ("log(-2)", lambda: Value(-2.0).log(), ValueError, "log()", "-2.0"),
    ("sqrt(-4)", lambda: Value(-4.0).sqrt(), ValueError, "sqrt()", "-4.0"),
    ("0 ** -1", lambda: Value(0.0) ** -1, ZeroDivisionError, "**", "0.0 ** -1.0"),
    ("1 / 0", lambda: Value(1.0) / 0, ZeroDivisionError, "/", "1.0 / 0.0"),
    ("1 / Value(0)", lambda: 1.0 / Value(0.0), ZeroDivisionError, "/", "1.0 / 0.0"),
    ("(-8) ** 0.5", lambda: Value(-8.0) ** 0.5, ValueError, "**", "-8.0 ** 0.5"),
    ("exp(1000)", lambda: Value(1000.0).exp(), OverflowError, "exp()", "1000.0"),
    *[
        (f"Value({number})", partial(made, float(number)), ValueError, "Value()", number)
        for number in ("nan", "inf", "-inf")
    ],
]


@pytest.mark.parametrize(
    ("call", "error", "op", "value"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_every_bad_input_the_readme_lists_is_refused_naming_the_op_and_the_value(
    call: Callable[[], object], error: type[Exception], op: str, value: str
) -> None:
    """ "Bad input is refused where it happens, with a message that names the operation and the
    value": the op and the value must both be in the message, not only the error's type."""
    with pytest.raises(error) as refusal:
        call()
    message = str(refusal.value)
    assert op in message and value in message, message


# --- micrograd compatibility: the differences table -------------------------------------------


def test_backward_twice_gives_micrograd_5x_on_a_neuron_and_us_exactly_2x() -> None:
    """The table's first row: micrograd's intermediates pile up, "5x for w1 in relu(x1*w1 + x2*w2
    + b)"; ours are exactly twice. By hand, micrograd's second call: relu's grad is reset to 1,
    the sum above b gets 1 + 1 = 2, the sum below gets 1 + 2 = 3, x1*w1 gets 1 + 3 = 4, so w1
    gets x1 * 4 = 8 more than the first call's x1 * 1 = 2: 10, five times 2."""
    assert said("5x for `w1` in `relu(x1*w1 + x2*w2 + b)`")
    require(
        importlib.util.find_spec("micrograd") is not None,
        "micrograd",
        "pip install micrograd==0.1.0",
    )
    from micrograd.engine import Value as TheirValue

    for make, twice in ((TheirValue, 10.0), (Value, 4.0)):
        x1, x2, w1, w2, b = make(2.0), make(-1.0), make(0.5), make(0.3), make(0.1)
        out = (x1 * w1 + x2 * w2 + b).relu()  # 1.0 - 0.3 + 0.1 = 0.8 > 0: relu passes
        out.backward()
        assert w1.grad == 2.0  # d(out)/d(w1) = x1
        out.backward()
        assert w1.grad == twice, make


def test_micrograd_fails_where_the_table_says_and_we_do_not() -> None:
    """The table's rows "a hidden layer of one neuron: breaks the next layer | works" and
    "`log(-1)`, `0 ** -1`, `(-8) ** 0.5`: no `log`; Python's own errors or a complex number | an
    error naming the op and the value" (ours: test_every_bad_input_...)."""
    require(
        importlib.util.find_spec("micrograd") is not None,
        "micrograd",
        "pip install micrograd==0.1.0",
    )
    from micrograd.engine import Value as TheirValue
    from micrograd.nn import MLP as TheirMLP

    with pytest.raises(TypeError):  # its one-neuron layer returns a Value, not a list
        TheirMLP(2, [1, 1])([0.5, -1.0])
    assert isinstance(MLP(2, [1, 1], rng=random.Random(0))([0.5, -1.0]), Value)
    assert not hasattr(TheirValue(1.0), "log")
    with pytest.raises(ZeroDivisionError) as theirs:
        TheirValue(0.0) ** -1
    assert "**" not in str(theirs.value)  # Python's own message, naming no op
    assert isinstance((TheirValue(-8.0) ** 0.5).data, complex)


# --- Pictures -----------------------------------------------------------------------------------


def test_render_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    """ "`render(picture, "graph.svg")`: the suffix picks the format: .svg .png .pdf .dot";
    each file starts with its format's own magic bytes."""
    from micrograd_like.viz import draw_dot, render

    require_dot()
    picture = draw_dot(Value(2.0, label="x") * 3.0)
    starts = {".svg": b"<?xml", ".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}
    for suffix, magic in starts.items():
        assert render(picture, tmp_path / f"graph{suffix}").read_bytes().startswith(magic), suffix
    dot = render(picture, tmp_path / "graph.dot").read_text(encoding="utf-8")
    assert dot == picture.source


def test_draw_dot_displays_itself_in_jupyter_as_svg() -> None:
    """ "In Jupyter, `draw_dot(o)` displays itself": Jupyter asks the object for a mime bundle."""
    from micrograd_like.viz import draw_dot

    require_dot()
    bundle = draw_dot(Value(2.0, label="x").tanh())._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and ">x<" in bundle["image/svg+xml"]


def test_draw_dot_counts_300_value_nodes_and_a_layout_cost_of_30000_by_default() -> None:
    """ "`draw_dot` counts the value nodes of the picture (`max_nodes=300`) and the work its
    layout costs dot (`max_cost=30000`)": 299 leaves and their sum are 300 values, one more
    leaf is too many."""
    from micrograd_like.viz import GraphTooLargeError, draw_dot

    assert draw_dot(sum_of([Value(float(k)) for k in range(299)])).source
    with pytest.raises(GraphTooLargeError, match="301"):
        draw_dot(sum_of([Value(float(k)) for k in range(300)]))
    assert inspect.signature(draw_dot).parameters["max_cost"].default == 30_000


def test_a_name_of_24_characters_is_kept_and_one_of_25_is_shortened() -> None:
    """ "a name over 24 characters is shortened to the op's shape": 10 + 3 + 11 = 24 characters
    stay as written, 10 + 3 + 12 = 25 do not."""
    from micrograd_like.names import node_names

    def name_of_sum(left: str, right: str) -> str:
        root = Value(1.0, label=left) + Value(2.0, label=right)
        return node_names(topological_order(root))[root]

    assert name_of_sum("a" * 10, "b" * 11) == "aaaaaaaaaa + bbbbbbbbbbb"
    shortened = name_of_sum("a" * 10, "b" * 12)
    assert "…" in shortened and len(shortened) <= 24


def test_the_stepper_example_prints_every_line_the_readme_shows() -> None:
    """The steps_table/explain block: every "# " line under a print is printed, the header and
    step 2 included (tests/test_readme.py checks some of them); a line the README cuts short
    with "..." is a prefix. By hand: z = x*y + x at x = 2, y = 3 is 8; x gets 1 from the sum and
    y = 3 through x*y, 4 in all."""
    from micrograd_like.debug import explain, steps_table

    (block,) = [b for b in blocks(README, "python") if "print(steps_table(z))" in b]
    shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    assert len(shown) == 5 + 5
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    z = x * y + x
    printed = f"{steps_table(z)}\n{explain(x, z)}".splitlines()
    assert len(printed) >= len(shown)
    for want, got in zip(shown, printed[: len(shown)], strict=True):
        if want.endswith(" ..."):
            assert got.startswith(want.removesuffix(" ...")), (want, got)
        else:
            assert got.rstrip() == want.rstrip(), (want, got)


def test_the_anomaly_example_says_what_its_comment_shows() -> None:
    """The detect_anomaly block, saved as file.py: its error holds each part of the comment
    "AnomalyError: ... log -> operand 0: log_local gave inf ... made at file.py:4" (the log
    node is made on the block's fourth line)."""
    from micrograd_like.debug import AnomalyError

    (block,) = [b for b in blocks(README, "python") if "with detect_anomaly():" in b]
    comment = block.split("# AnomalyError: ", 1)[1].splitlines()[0]
    parts = [part for part in comment.split("...") if part.strip()]
    assert len(parts) == 2
    with pytest.raises(AnomalyError) as anomaly:
        exec(compile(block, "file.py", "exec"), {"Value": Value})  # our own README's code
    for part in parts:
        assert part.strip() in str(anomaly.value), (part, str(anomaly.value))


def test_the_readme_draw_command_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's draw command line, with and without its optional [...] flags, draws
    graph.svg showing the expression's names."""
    from micrograd_like.commands import draw

    require_dot()
    (line,) = blocks(section("Pictures, stepping through backward, anomaly mode"), "bash")
    words = shlex.split(line)
    assert words[:4] == ["python", "-m", "micrograd_like", "draw"]
    required: list[str] = []
    optional: list[str] = []
    bracketed = False
    for word in words[4:]:
        bracketed = bracketed or word.startswith("[")
        (optional if bracketed else required).append(word.strip("[]"))
        bracketed = bracketed and not word.endswith("]")
    assert optional == ["--rankdir", "TB", "--show-local"]
    monkeypatch.chdir(tmp_path)
    for argv in (required, required + optional):
        assert draw.main(argv) == 0, capsys.readouterr().err
        svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
        assert all(f">{name}<" in svg for name in ("x", "w", "b")), argv
        (tmp_path / "graph.svg").unlink()


def test_colour_edges_draws_positive_gradients_blue_and_negative_ones_purple() -> None:
    """ "`colour_edges=True` colours each edge by the sign of the gradient it carries back (blue
    for positive, purple for negative)": out = x*y at x = 2, y = -3 sends -3 back to x and 2 to
    y. Blue has blue well above red and green; purple has red and blue both above green."""
    from micrograd_like.viz import draw_dot

    x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    out = x * y
    out.backward()
    source = draw_dot(out, colour_edges=True).source
    ids = dict(re.findall(r"(\w+) \[label=\"\{ ?([xy]) ", source))
    assert set(ids.values()) == {"x", "y"}, source

    def colour_into(name: str) -> tuple[int, int, int]:
        node = next(k for k, v in ids.items() if v == name)
        found = re.search(rf"{node} -> \w+[^\n]*color=\"#(\w\w)(\w\w)(\w\w)\"", source)
        assert found is not None, source
        red, green, blue = (int(c, 16) for c in found.groups())
        return red, green, blue

    red, green, blue = colour_into("y")  # gradient 2: blue
    assert blue > red + 64 and blue > green + 32
    red, green, blue = colour_into("x")  # gradient -3: purple
    assert min(red, blue) > green + 32


# --- Check your own engine ----------------------------------------------------------------------


def check_engine_lines() -> list[list[str]]:
    """Each check-engine command line the README shows, continuation lines joined, as argv."""
    text = section("Check your own engine")
    lines = "\n".join(blocks(text, "bash")).replace("\\\n", " ").splitlines()
    prefix = ["python", "-m", "micrograd_like", "check-engine"]
    argvs = [shlex.split(line, comments=True) for line in lines]
    assert argvs and all(argv[:4] == prefix for argv in argvs)
    return [argv[4:] for argv in argvs]


def test_every_check_engine_command_the_readme_shows_is_accepted() -> None:
    """The README's check-engine lines (files, several targets, --json, --format, --points,
    --output, --class) use only options the command takes, with values it accepts."""
    from micrograd_like.commands import check_engine

    argvs = check_engine_lines()
    assert len(argvs) == 6
    for argv in argvs:
        check_engine._parser().parse_args(argv)  # a usage error raises


def test_every_check_the_readme_names_is_a_check_of_the_kit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The check names the README cites (`op:rpow`, `reuse:tanh`, `deep-chain`, ...) are listed
    by `--list-checks`, so a points file or --leave-out written from the README works."""
    from micrograd_like.commands import check_engine

    assert check_engine.main(["--list-checks"]) == 0
    listed = set(capsys.readouterr().out.split())
    cited = set(
        re.findall(
            r"`((?:op|reuse):[a-z]+|[a-z]+-[a-z]+|diamond)`", section("Check your own engine")
        )
    )
    cited -= {"check-engine", "leave-out", "list-checks"}
    assert cited >= {"op:mul", "op:rpow", "reuse:tanh", "diamond", "off-path", "deep-chain"}
    assert cited <= listed, sorted(cited - listed)


def test_the_readme_points_file_gives_the_points_its_comments_say(tmp_path: Path) -> None:
    """The TOML block: every check 1 point, every op check 2, and tanh required and shown only
    after the due date."""
    from micrograd_like.kit.formats import Weight, load_points

    (toml,) = blocks(section("Check your own engine"), "toml")
    path = tmp_path / "points.toml"
    path.write_text(toml, encoding="utf-8")
    points = load_points(path)
    assert points.weight("diamond") == Weight(points=1)
    assert points.weight("op:mul") == Weight(points=2)
    assert points.weight("op:tanh") == Weight(2, "after_due_date", required=True)


# --- A GPT on scalars ---------------------------------------------------------------------------


def test_the_gpt_commands_learning_rate_falls_linearly_to_zero() -> None:
    """ "Adam with lr 0.01 falling linearly to 0": over 4 steps 0.01 * (1 - k/4) for k = 0..3."""
    from micrograd_like.commands import gpt as command

    rates: list[float] = []

    def record(model: object, optimizer: object, tokens: object, lr: float) -> float:
        rates.append(lr)
        return 1.0

    command.train(["ab", "ba"], steps=4, seed=0, step_function=record)
    assert rates == pytest.approx([0.01, 0.0075, 0.005, 0.0025], rel=1e-12, abs=0)


def test_a_names_file_of_256_distinct_characters_is_taken_and_257_refused(tmp_path: Path) -> None:
    """ "a file ... with more than 256 distinct characters is refused", and 256 is not."""
    from micrograd_like.gpt import NamesFileError, read_names

    path = tmp_path / "names.txt"
    for count, taken in ((256, True), (257, False)):
        path.write_text("\n".join(chr(0x4E00 + k) for k in range(count)), encoding="utf-8")
        if taken:
            assert len(read_names(path)) == count
        else:
            with pytest.raises(NamesFileError, match="uses 257 distinct characters"):
                read_names(path)


# --- Watch a network learn, live ----------------------------------------------------------------


def small_session(points: int) -> object:
    from micrograd_like.live.session import Session

    model = MLP(2, [2, 1], rng=random.Random(0))
    return Session(model, [[0.0, 0.0]] * points, [1] * points)


def test_live_speed_is_1_to_100_steps_a_second_on_the_page_and_in_the_session() -> None:
    """ "a speed slider (1 to 100 steps a second)" and `steps_per_second: 1..100`."""
    from importlib import resources

    from micrograd_like.live.session import CommandError, Session

    page = resources.files("micrograd_like.live").joinpath("static/index.html").read_text("utf-8")
    assert re.search(r'id="speed" type="range" min="1" max="100"', page)
    session = small_session(1)
    assert isinstance(session, Session)
    for speed in (1, 100):
        session.command("speed", {"steps_per_second": speed})
        assert session.speed == speed
    for speed in (0, 101):
        with pytest.raises(CommandError):
            session.command("speed", {"steps_per_second": speed})
    assert session.speed == 100


def test_live_points_lie_within_100_and_a_run_holds_at_most_2000() -> None:
    """ "coordinates within ±100, at most 2,000 points": ±100 is taken, 100.5 is not, and the
    2,001st point is refused with 409 (the run is full), changing nothing."""
    from micrograd_like.live.session import CommandError, Session

    session = small_session(1_998)
    assert isinstance(session, Session)
    for x, y in ((100, -100), (-100.0, 100.0)):
        session.command("add_point", {"x": x, "y": y, "label": -1})
    assert len(session.points) == 2_000
    with pytest.raises(CommandError) as full:
        session.command("add_point", {"x": 0, "y": 0, "label": 1})
    assert full.value.status == 409 and len(session.points) == 2_000
    roomy = small_session(1)
    assert isinstance(roomy, Session)
    with pytest.raises(CommandError, match="100"):
        roomy.command("add_point", {"x": 100.5, "y": 0, "label": 1})
    assert len(roomy.points) == 1


def test_live_takes_a_command_of_1_kib_and_refuses_one_byte_more() -> None:
    """ "It answers with a 4xx ... a body over 1 KiB": 1,024 bytes are a command, 1,025 are not."""
    from micrograd_like.live import live

    with live(MLP(2, [2, 1], rng=random.Random(0)), ([[0.0, 0.0]], [1])) as view:
        port = view.server.port
        for size, status in ((1024, 200), (1025, 413)):
            body = b'{"command": "pause"}'.ljust(size)  # JSON allows trailing spaces
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {
                "Origin": f"http://127.0.0.1:{port}",
                "Content-Type": "application/json",
                "Content-Length": str(size),
            }
            connection.request("POST", "/api/command", body, headers)
            assert connection.getresponse().status == status, size
            connection.close()


def test_the_live_server_has_the_six_routes_the_readme_counts() -> None:
    """ "six routes (four files, `/api/state` and `/api/command`)": each answers, and a new
    file route would make the README's count wrong."""
    from micrograd_like.live import live, server

    assert said("six routes (four files, `/api/state` and `/api/command`)")
    assert len(server.STATIC) == 4
    with live(MLP(2, [2, 1], rng=random.Random(0)), ([[0.0, 0.0]], [1])) as view:
        port = view.server.port
        body = b'{"command": "pause"}'
        headers = {
            "Origin": f"http://127.0.0.1:{port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        }
        requests: list[tuple[str, str, bytes | None, dict[str, str]]] = [
            ("GET", path, None, {}) for path in [*server.STATIC, "/api/state"]
        ]
        for method, path, sent, extra in [*requests, ("POST", "/api/command", body, headers)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(method, path, sent, extra)
            assert connection.getresponse().status == 200, path
            connection.close()


def test_the_readme_live_command_line_is_taken_as_written() -> None:
    """The bash line under "Watch a network learn, live" parses to what it says."""
    from micrograd_like.commands import live as live_command

    (line,) = blocks(section("Watch a network learn, live"), "bash")
    words = shlex.split(line)
    assert words[:3] == [".venv/bin/python", "-m", "micrograd_like"] and words[3] == "live"
    args = live_command.parse_arguments(words[4:])
    assert (args.dataset, args.layers, args.lr, args.seed) == ("spirals", [16, 16], 0.05, 0)


def test_live_refuses_more_than_1000_points_on_the_command_line() -> None:
    """ "`--points` (1 to 1,000)": 1,000 is taken (tests/test_live.py), 1,001 is refused."""
    from micrograd_like.commands import live as live_command

    with pytest.raises(SystemExit) as refused:  # argparse's way: exit status 2
        live_command.parse_arguments(["--points", "1001"])
    assert refused.value.code == 2
    assert live_command.parse_arguments(["--points", "1000"]).points == 1000


# --- Notebooks ----------------------------------------------------------------------------------


def test_each_notebook_has_what_its_readme_line_names() -> None:
    """Each "- [NN Title](notebooks/...): ..." line names code (`draw_dot`, `MLP(2, [16, 16, 1])`,
    `stop_in`, `tanh_local`...); the notebook uses or shows each, so the list stays true when a
    notebook changes. A call is looked for without its closing parenthesis (`no_grad(`)."""
    lines = re.findall(
        r"^- \[\d\d [^\]]+\]\((notebooks/[^)]+)\): (.+)$",
        section("Notebooks"),
        flags=re.MULTILINE,
    )
    assert len(lines) == len(list((ROOT / "notebooks").glob("*.ipynb"))) == 6
    for path, description in lines:
        cells = json.loads((ROOT / path).read_text(encoding="utf-8"))["cells"]
        text = json.dumps(cells, ensure_ascii=False).replace("\\n", "\n").replace('\\"', '"')
        for code in re.findall(r"`([^`]+)`", description):
            assert code.removesuffix(")") in text, (path, code)


# --- Working on micrograd_like ------------------------------------------------------------------


def test_the_readme_layout_names_only_files_and_folders_that_exist() -> None:
    """The layout block under "Working on micrograd_like": every module and folder it names is
    there, so a rename shows in the README."""
    (layout,) = blocks(section("Working on micrograd_like"), "")
    package = ROOT / "micrograd_like"
    modules = re.findall(r"\b(\w+\.py)\b", layout)
    folders = re.findall(r"\b(\w+)/", layout)
    assert len(modules) >= 15 and "static" in folders
    for name in modules:
        assert any(package.rglob(name)), name
    for name in folders:
        assert name == "micrograd_like" or any(p.is_dir() for p in package.rglob(name)), name


def test_the_run_time_dependency_is_graphviz_and_the_readme_lists_every_extra() -> None:
    """ "Dependencies: `graphviz` at run time; everything else sits in the extras ...": the
    README's list of extras is pyproject's, and nothing else is needed to import the package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert [re.split(r"[<>=!~ ;]", d, maxsplit=1)[0] for d in project["dependencies"]] == [
        "graphviz"
    ]
    found = re.search(r"everything else sits in the extras ([^.]+)\.", README)
    assert found is not None
    assert sorted(re.findall(r"`(\w+)`", found[1])) == sorted(project["optional-dependencies"])


def test_the_dev_extra_adds_ruff_mypy_and_micrograd() -> None:
    """ "`pip install -q -e ".[dev]"  # adds ruff, mypy and micrograd`" (micrograd through the
    `bench` extra it includes)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]

    def names(extra: str) -> set[str]:
        found = set()
        for requirement in extras[extra]:
            included = re.fullmatch(r"micrograd_like\[([\w,]+)\]", requirement)
            if included:
                found |= {n for e in included[1].split(",") for n in names(e)}
            else:
                found.add(re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0])
        return found

    assert said("adds ruff, mypy and micrograd")
    assert {"ruff", "mypy", "micrograd"} <= names("dev")


def test_ci_runs_the_readme_lint_and_type_commands() -> None:
    """The "Working on" block's ruff and mypy lines are what CI runs (on at least those
    folders), so a clean run of them is a clean CI lint stage."""
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("not a git checkout: an sdist carries no .ci/run")
    ci_lines = [line.strip() for line in ci.read_text(encoding="utf-8").splitlines()]
    (block,) = [b for b in blocks(section("Working on micrograd_like"), "bash") if "mypy" in b]
    commands = [
        part.strip()
        for line in block.splitlines()
        if line.startswith((".venv/bin/ruff", ".venv/bin/mypy"))
        for part in line.split("&&")
    ]
    assert len(commands) == 3
    for command in commands:
        assert any(line.startswith(command) for line in ci_lines), command


def test_importing_the_engine_loads_nothing_third_party() -> None:
    """ "`import micrograd_like.engine` loads only the engine and its three helper modules,
    nothing third-party": every module it loads is ours or the standard library's."""
    script = (
        "import sys; old = set(sys.modules); import micrograd_like.engine; "
        "print(*set(sys.modules) - old)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    ours = {name for name in loaded if name.split(".")[0] == "micrograd_like"}
    assert len(ours - {"micrograd_like", "micrograd_like.engine"}) == 3, sorted(ours)
    others = {name.split(".")[0] for name in loaded} - {"micrograd_like"}
    assert others <= set(sys.stdlib_module_names), sorted(others - set(sys.stdlib_module_names))


def test_every_json_block_of_the_readme_is_json() -> None:
    """The README's JSON (the VS Code launch configuration) can be pasted as it is."""
    found = blocks(README, "json")
    assert found
    for text in found:
        assert isinstance(json.loads(text), dict)
