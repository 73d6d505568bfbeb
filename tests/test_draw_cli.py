"""Tests for the draw command: whitelisted expressions only, clear refusals, the right files."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd_like.commands.draw import FUNCTIONS, main
from micrograd_like.viz import ROLE_COLOURS
from tests.support import require_dot
from tests.test_viz import node_line

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_draw_writes_dot_source_with_data_and_grads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "neuron.dot"
    argv = ["tanh(x*w + b)", "--set", "x=2", "w=-3", "b=6.8813735870195432", "-o", str(target)]
    status, out, _ = run(argv, capsys)
    assert status == 0
    source = target.read_text(encoding="utf-8")
    # by hand: tanh(2*-3 + 6.8814) = tanh(0.8814) = 0.7071; d/dx = w * (1 - 0.5) = -1.5
    assert 'label="{ x | data 2 | grad -1.5 }"' in source
    assert 'label="{ w | data -3 | grad 1 }"' in source
    assert 'label="{ b | data 6.881 | grad 0.5 }"' in source
    assert "data 0.7071 | grad 1 }" in source
    assert "rankdir=LR" in source
    assert "d(output)/d(x) = -1.5" in out


def test_draw_options_rankdir_and_show_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "g.gv"
    status, _, _ = run(
        ["x*y", "--set", "x=3", "y=5", "-o", str(target), "--rankdir", "TB", "--show-local"],
        capsys,
    )
    source = target.read_text(encoding="utf-8")
    assert status == 0
    assert "rankdir=TB" in source
    assert '[label="local 5"]' in source and '[label="local 3"]' in source  # d(xy)/dx = y


def test_draw_params_colours_the_named_leaves_as_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "g.dot"
    plain = ["tanh(x*w + b)", "--set", "x=2", "w=-3", "b=6.88", "-o", str(target)]
    status, _, err = run([*plain, "--params", "w", "b"], capsys)
    assert status == 0, err
    source = target.read_text(encoding="utf-8")
    parameter, data_input = ROLE_COLOURS["parameter"], ROLE_COLOURS["input"]
    assert f'fillcolor="{parameter}"' in node_line(source, "w")
    assert f'fillcolor="{parameter}"' in node_line(source, "b")
    assert f'fillcolor="{data_input}"' in node_line(source, "x")
    assert "legend_parameter" in source
    run(plain, capsys)  # without --params every leaf is an input
    assert parameter not in target.read_text(encoding="utf-8")


def test_draw_params_refuses_a_name_not_in_the_expression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["x*w", "--set", "x=2", "w=3", "--params", "w", "v", "-o", str(tmp_path / "g.dot")]
    status, _, err = run(argv, capsys)
    assert status == 2
    assert "--params v: not a name in the expression (its names: x, w)" in err
    assert not (tmp_path / "g.dot").exists()


def test_draw_reuses_one_leaf_per_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["x*x + x", "--set", "x=3", "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 0
    assert "d(output)/d(x) = 7" in out  # d(x**2 + x)/dx = 2x + 1 = 7


def test_draw_constants_and_functions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expression = "-exp(x) / 2 + log(y) ** 2 - sigmoid(relu(x)) + 2 ** x"
    status, out, _ = run(
        [expression, "--set", "x=0.5", "y=3", "-o", str(tmp_path / "g.dot")], capsys
    )
    assert status == 0
    x, y = 0.5, 3.0
    sigmoid = 1 / (1 + math.exp(-x))
    value = -math.exp(x) / 2 + math.log(y) ** 2 - sigmoid + 2**x
    dx = -math.exp(x) / 2 - sigmoid * (1 - sigmoid) + math.log(2) * 2**x
    dy = 2 * math.log(y) / y
    lines = out.splitlines()
    assert float(lines[0].rsplit(" ", 1)[1]) == pytest.approx(value, rel=1e-5)
    assert float(lines[1].rsplit(" ", 1)[1]) == pytest.approx(dx, rel=1e-5)
    assert float(lines[2].rsplit(" ", 1)[1]) == pytest.approx(dy, rel=1e-5)


def test_draw_renders_svg_with_the_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_dot()
    target = tmp_path / "graph.svg"
    status, _, _ = run(["tanh(x*w)", "--set", "x=1", "w=0.5", "-o", str(target)], capsys)
    svg = target.read_text(encoding="utf-8")
    assert status == 0
    assert ">tanh<" in svg and ">x<" in svg and ">w<" in svg


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("__import__('os').system('touch pwned')", 'system" is not allowed'),
        ("__import__('os')", "calling '__import__' is not allowed"),
        ("x.real", "attribute access"),
        ("(lambda: 1)()", "calling 'lambda"),  # ast.unparse spaces it differently on 3.10
        ("lambda: x", "a lambda"),
        ("[x for x in y]", "a comprehension"),
        ("{x: 1 for x in y}", "a comprehension"),
        ("x[0]", "subscripting"),
        ("tanh(x=1)", "exactly one positional argument"),
        ("tanh(x, y)", "exactly one positional argument"),
        ("tanh(*x)", "exactly one positional argument"),
        ("'a' + x", "a constant that is not a number"),
        ("True * x", "a constant that is not a number"),
        ("1j * x", "a constant that is not a number"),
        ("x if y else z", "a conditional expression"),
        ("x < y", "a comparison"),
        ("x and y", "'and'/'or'"),
        ("x // y", "this operator"),
        ("x @ y", "this operator"),
        ("+x", "this unary operator"),
        ("~x", "this unary operator"),
        ("open(x)", "calling 'open' is not allowed"),
        ("(y := x)", "the walrus operator"),
        ("x +", "cannot parse"),
        ("x = 1", "cannot parse"),
    ],
)
def test_draw_refuses_what_is_not_on_the_whitelist(
    expression: str,
    complaint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = run([expression, "--set", "x=1", "y=2", "z=3", "-o", "g.dot"], capsys)
    assert status == 2
    assert complaint in err
    assert err.startswith("draw: ")
    assert list(tmp_path.iterdir()) == []  # nothing drawn, nothing run


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["x*w + b", "--set", "x=1"], "no value for w, b; pass --set w=... b=..."),
        (["x*w"], "no value for x, w"),
        (["x", "--set", "x"], "--set 'x': expected NAME=NUMBER"),
        (["x", "--set", "2=x"], "--set '2=x': expected NAME=NUMBER"),
        (["x", "--set", "x=two"], "'two' is not a number"),
        (["x", "--set", "x=nan"], "must be finite"),
        (["x", "--set", "x=1", "-o", "g.jpeg"], "use .svg, .png, .pdf or .dot"),
    ],
)
def test_draw_names_missing_values_and_bad_options(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(argv, capsys)
    assert status == 2
    assert complaint in err


def test_draw_math_errors_exit_1_with_the_engine_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["log(x)", "--set", "x=-1", "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 1
    assert "log() of -1.0" in err


def test_draw_help_and_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    assert "--set NAME=NUMBER" in out and "--show-local" in out and "--rankdir" in out
    assert "--params NAME [NAME ...]" in out
    status, _, err = run(["x", "--colour", "red"], capsys)
    assert status == 2
    assert "unrecognized arguments: --colour" in err


def test_draw_runs_as_python_m_micrograd_like_draw(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "micrograd_like",
            "draw",
            "x*y",
            "--set",
            "x=2",
            "y=4",
            "-o",
            str(tmp_path / "g.dot"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "d(output)/d(y) = 2" in done.stdout
    assert 'label="{ y | data 4 | grad 2 }"' in (tmp_path / "g.dot").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv",
    [
        ["-x*w", "--set", "x=2", "w=3", "-o", "{dot}"],
        ["--", "-x*w", "--set", "x=2", "w=3", "-o", "{dot}"],
        ["--set", "x=2", "w=3", "-o", "{dot}", "--", "-x*w"],
        ["--set", "x=2", "w=3", "-o", "{dot}", "-x*w"],
    ],
)
def test_draw_takes_an_expression_that_starts_with_minus(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "g.dot")
    status, out, err = run([target if a == "{dot}" else a for a in argv], capsys)
    assert status == 0, err
    # by hand: -x*w = -6; d/dx = -w = -3, d/dw = -x = -2
    assert "output -6" in out
    assert "d(output)/d(x) = -3" in out and "d(output)/d(w) = -2" in out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["x", "-y", "--set", "x=1", "y=2"], "one expression please, got '-y' and 'x'"),
        (["--set", "x=1", "--"], "the following arguments are required: expression"),
        (["-o"], "argument -o/--output: expected one argument"),
    ],
)
def test_draw_minus_expression_refusals_name_the_problem(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(argv, capsys)
    assert status == 2
    assert complaint in err


def test_draw_short_help_is_still_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["-h"], capsys)
    assert status == 0
    assert "--set NAME=NUMBER" in out


def test_draw_minus_expression_from_the_command_line(tmp_path: Path) -> None:
    command = ["-m", "micrograd_like", "draw", "-x*w", "--set", "x=2", "w=3"]
    done = subprocess.run(
        [sys.executable, *command, "-o", str(tmp_path / "g.dot")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "d(output)/d(w) = -2" in done.stdout


@pytest.mark.parametrize(
    "expression",
    [
        "1" * 5000 + " * x",  # past Python's digit limit: a parse error
        "x * " + "1" * 400,  # parses, but no float holds it
        "x + (" + "2" * 400 + ").real",  # refused for the attribute access
        "x + " + "(" * 300 + "x" + ")" * 300 + " < 1",  # refused for the comparison
    ],
)
def test_draw_shortens_long_expressions_in_messages(
    expression: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run([expression, "--set", "x=1", "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 2
    assert len(err) < 500, err
    assert "..." in err and "characters)" in err


def test_draw_refuses_a_literal_too_large_for_a_float(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["x * 1e999", "--set", "x=1", "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 2
    assert "the number 1e309 is too large for a float" in err  # how Python writes 1e999


HOSTILE = {
    "a decimal literal past Python's digit limit": ("1" * 5000 + " * x", "digits; no float holds"),
    "the same inside parentheses": ("x * (" + "9" * 4400 + ")", "digits; no float holds"),
    "a hexadecimal literal past the limit": ("0x" + "f" * 5000 + " * x", "too large for a float"),
    "a refused node on a huge literal": ("(0x" + "f" * 5000 + ").real", "attribute access"),
    "100,000 minus signs": ("-" * 100_000 + "x", "nested too deeply"),
    "100,000 minus signs on a refused node": ("-" * 100_000 + "x.y", "nested too deeply"),
    "5,000 parentheses": ("(" * 5000 + "x" + ")" * 5000, "cannot parse"),
    "5,000 open parentheses": ("(" * 5000 + "x", "cannot parse"),
    "a long chain of +": ("x" + "+x" * 100_000, "nested too deeply"),
    # 3.10's parser takes 5,000 tildes, and the whitelist refuses ~; 3.11's stops first
    "5,000 tildes": ("~" * 5000 + "x", r"nested too deeply|unary operator .* is not allowed"),
    "nested lambdas, refused, too deep to write back": ("lambda: " * 2000 + "x", "a lambda"),
    "a refused comparison of a deep chain": ("-" * 1000 + "x < 1", "a comparison"),
    "a refused call of a deep chain": ("(" + "-" * 1000 + "x)(x)", "is not allowed"),
}


@pytest.mark.parametrize("after_dashes", [False, True], ids=["positional", "after --"])
@pytest.mark.parametrize(("expression", "complaint"), HOSTILE.values(), ids=list(HOSTILE))
def test_draw_refuses_hostile_expressions_in_one_line(
    expression: str,
    complaint: str,
    after_dashes: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = ["--set", "x=1", "-o", str(tmp_path / "g.dot")]
    argv = [*options, "--", expression] if after_dashes else [expression, *options]
    status, out, err = run(argv, capsys)
    assert "Traceback" not in err
    assert status == 2, err[:300]
    assert err.startswith("draw: ") and err.count("\n") == 1, err[:300]
    assert re.search(complaint, err), err[:300]
    assert len(err) < 600
    assert out == "" and list(tmp_path.iterdir()) == []


def test_draw_says_in_one_line_when_an_allowed_expression_is_too_deep_to_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # parses and passes the whitelist, but building 1,500 nested nodes outruns the recursion limit
    status, _, err = run(["x" + "+x" * 1500, "--set", "x=1", "-o", str(tmp_path / "g.dot")], capsys)
    assert "Traceback" not in err
    assert status == 2  # the expression is at fault, as with one too deep to parse
    assert err.startswith("draw: ") and err.count("\n") == 1


# --- pictures for slides, and failing in one line -------------------------------------------------


def test_draw_passes_the_slide_options_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "g.dot"
    argv = ["(x*w + b)*x", "--set", "x=2", "w=-3", "b=1", "-o", str(target)]
    extra = ["--highlight-path", "w", "--show", "grad", "--precision", "2", "--font-size", "16"]
    status, _, err = run([*argv, *extra, "--colour-edges", "--no-legend"], capsys)
    assert status == 0, err
    source = target.read_text(encoding="utf-8")
    # d/dw = x * x = 4, d/db = x = 2; x*w + b = -5, so d/dx = (w*x + b) + w*x = -5 - 6 = -11
    assert 'label="{ w | grad 4 }"' in source and 'label="{ x | grad -11 }"' in source
    assert 'label="-3 →\\n← 4"' in source  # w's way to the output, with its numbers
    assert "fontsize=16" in source and "cluster_legend" not in source
    status, _, _ = run([*argv, "--fold", "sums", "--colour-edges"], capsys)
    assert status == 0 and "Σ" in target.read_text(encoding="utf-8")
    status, _, err = run([*argv, "--highlight-path", "z"], capsys)
    assert status == 2 and "--highlight-path z: not a name in the expression" in err


def test_draw_too_big_names_the_fold_that_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expression = " + ".join(["x*x"] * 200)  # 400 value nodes, every one fed by x
    argv = [expression, "--set", "x=1", "-o", str(tmp_path / "g.dot")]
    status, _, err = run(argv, capsys)
    assert status == 1
    assert err.count("\n") == 1 and "(here: --fold sums)" in err
    status, _, err = run([*argv, "--fold", "sums"], capsys)
    assert status == 0, err


def test_draw_show_local_on_99_nodes_hands_dot_a_bounded_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expression = "x"
    for i in range(66):  # x feeds every other node: 99 values, long labelled edges
        expression = f"tanh({expression}*x)" if i % 2 else f"({expression} + x)"
    target = tmp_path / "g.dot"
    status, _, err = run([expression, "--set", "x=0.5", "--show-local", "-o", str(target)], capsys)
    assert status == 0, err
    source = target.read_text(encoding="utf-8")
    assert source.count("shape=record") == 1 + 66 + 33  # x, the sums and products, the tanhs
    assert "nslimit=0.2" in source and "splines=line" in source  # dot took minutes without


def fake_dot(folder: Path, script: str) -> None:
    """A 'dot' on PATH that runs the given shell script instead of Graphviz."""
    dot = folder / "dot"
    dot.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    dot.chmod(0o755)


@pytest.mark.parametrize(
    ("script", "said"),
    [
        ("echo 'Error: <stdin>: syntax error in line 1' >&2; exit 1", "failed with exit status 1"),
        ("kill -9 $$", "was killed by SIGKILL"),
    ],
)
def test_draw_says_in_one_line_when_dot_fails_or_is_killed(
    script: str,
    said: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dot(tmp_path, script)
    monkeypatch.setenv("PATH", str(tmp_path))
    status, _, err = run(["x*y", "--set", "x=1", "y=2", "-o", str(tmp_path / "g.svg")], capsys)
    assert status == 1
    assert err.startswith("draw: Graphviz's dot ") and said in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_draw_refuses_undecodable_bytes_in_one_line(tmp_path: Path) -> None:
    target = bytes(tmp_path) + b"/\xff.dot"  # a name this UTF-8 terminal cannot show
    for argv in ([b"x", b"--set", b"x=1", b"-o", target], [b"x\xfe", b"--set", b"x=1"]):
        done = subprocess.run(
            [sys.executable.encode(), b"-m", b"micrograd_like", b"draw", *argv],
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"},
            timeout=60,
        )
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2, err
        assert err.startswith("draw: the argument ") and "not valid text" in err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not Path(os.fsdecode(target)).exists()


def test_draw_takes_the_same_functions_whatever_was_imported_first() -> None:
    program = (
        "import micrograd_like.ops\n"  # registers custom ops (softplus, ...) in the table
        "from micrograd_like.commands.draw import FUNCTIONS\n"
        "print(' '.join(FUNCTIONS))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.stdout.split() == list(FUNCTIONS), done.stderr
    assert "softplus" not in FUNCTIONS


def test_the_readme_lists_every_function_draw_takes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"parentheses and\s+`([a-z ]+)` with\s+one argument", readme)
    assert listed is not None, "the README's draw section lists the functions"
    assert listed.group(1).split() == list(FUNCTIONS)


def test_draw_says_in_one_line_when_the_file_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "g.dot"
    status, _, err = run(["x", "--set", "x=1", "-o", str(target)], capsys)
    assert status == 1
    assert err.startswith(f"draw: cannot write {str(target)!r}: ") and err.count("\n") == 1
