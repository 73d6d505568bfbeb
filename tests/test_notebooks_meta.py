"""The teaching notebooks' promises: they exist, teach in a fixed frame, ship their outputs and
pictures, and use the package instead of redefining it (tests/test_notebooks_fresh.py executes
them; this reads them).

"No library code" is checked by a rule a reader can apply by eye: no ``class`` statements, and no
function whose body, docstring aside, runs over MAX_GLUE_LINES lines. Glue (a plotting helper, a
few lines that drive pdb) fits; a Value, a layer or a backward pass written out does not.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_notebooks_fresh import errors_in

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = (
    "01_values_and_the_chain_rule",
    "02_training_an_mlp",
    "03_property_testing_gradients",
    "04_stepping_through_backward",
    "05_check_your_own_engine",
    "06_a_gpt_on_scalars",
)
MAX_GLUE_LINES = 10
PICTURE_TYPES = ("image/svg+xml", "image/png")

Notebook = dict[str, Any]


def load(name: str) -> Notebook:
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    notebook: Notebook = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def text_of(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def code_cells(notebook: Notebook) -> list[dict[str, Any]]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def code_tree(notebook: Notebook) -> ast.Module:
    """All code cells parsed as one module (IPython magics and shell escapes left out)."""
    lines = [
        line
        for cell in code_cells(notebook)
        for line in text_of(cell).splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return ast.parse("\n".join(lines))


def outputs_of(notebook: Notebook) -> list[dict[str, Any]]:
    return [output for cell in code_cells(notebook) for output in cell.get("outputs", [])]


def output_text(output: dict[str, Any]) -> str:
    parts = [output.get("text", "")]
    parts += [value for key, value in output.get("data", {}).items() if key.startswith("text/")]
    return "".join("".join(part) if isinstance(part, list) else part for part in parts)


def body_length(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = function.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    end = function.end_lineno if function.end_lineno is not None else body[-1].lineno
    return end - body[0].lineno + 1


def test_notebooks_meta_rule_measures_function_bodies() -> None:
    short = ast.parse('def f(x):\n    """Doc."""\n    return x\n').body[0]
    long = ast.parse("def g(x):\n" + "    x += 1\n" * 12 + "    return x\n").body[0]
    assert isinstance(short, ast.FunctionDef) and isinstance(long, ast.FunctionDef)
    assert body_length(short) == 1
    assert body_length(long) == 13 > MAX_GLUE_LINES


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_exists(name: str) -> None:
    assert (NOTEBOOK_DIR / f"{name}.ipynb").is_file(), f"notebooks/{name}.ipynb is missing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_opens_with_what_you_will_learn_and_ends_with_what_to_try_next(name: str) -> None:
    cells = load(name)["cells"]
    assert cells[0]["cell_type"] == "markdown" and "What you will learn" in text_of(cells[0])
    assert cells[-1]["cell_type"] == "markdown" and "What to try next" in text_of(cells[-1])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_saved_after_one_clean_run_without_errors(name: str) -> None:
    cells = code_cells(load(name))
    counts = [cell["execution_count"] for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), "run it top to bottom in a fresh kernel"
    errors = [o for o in outputs_of(load(name)) if o["output_type"] == "error"]
    assert not errors, f"{name} was saved with an error output: {errors[0].get('ename')}"
    shown = errors_in(load(name))  # a traceback or pdb's "*** NameError" printed as text, too
    assert not shown, f"{name} was saved showing an error: {shown[0]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_stores_outputs_with_a_picture(name: str) -> None:
    outputs = outputs_of(load(name))
    assert outputs, f"{name} has no stored outputs"
    pictures = [o for o in outputs if any(t in o.get("data", {}) for t in PICTURE_TYPES)]
    assert pictures, f"{name} stores no picture ({' or '.join(PICTURE_TYPES)})"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_outputs_name_no_path_of_the_machine_that_ran_them(name: str) -> None:
    leaks = re.compile(re.escape(str(ROOT)) + r"|ipykernel_\d+")
    for output in outputs_of(load(name)):
        found = leaks.findall(output_text(output))
        assert not found, f"{name} has an output that shows {found[0]!r}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_imports_from_the_package(name: str) -> None:
    tree = code_tree(load(name))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    assert any(m.split(".")[0] == "micrograd_like" for m in modules), f"{name} never imports it"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_defines_no_library_code(name: str) -> None:
    tree = code_tree(load(name))
    classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    assert not classes, f"{name} defines classes {classes}; put library code in micrograd_like"
    long_functions = [
        f"{node.name} ({body_length(node)} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and body_length(node) > MAX_GLUE_LINES
    ]
    assert not long_functions, (
        f"{name} defines functions longer than {MAX_GLUE_LINES} lines, which is library code, "
        f"not glue: {long_functions}"
    )
