"""The project's promises about itself: its shape, its commands and its import rules."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "micrograd_like"


def readme_commands() -> list[str]:
    """The shell commands in the README's fenced bash blocks under 'The two commands'."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_a_demo_command_and_a_test_command() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("python -m micrograd_like demo")
    assert tests.endswith("python -m pytest")
    for command in (demo, tests):
        assert command.startswith("python3 -m venv .venv && "), "each command makes its own venv"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci_lines


def test_top_level_is_exactly_the_agreed_shape() -> None:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    tracked = listed.stdout.split()
    if listed.returncode != 0 or not tracked:
        pytest.skip("not a git checkout (an unpacked sdist, say)")
    top = {name.split("/", 1)[0] for name in tracked if not name.startswith(".")}
    assert top <= {"pyproject.toml", "README.md", "micrograd_like", "tests", "notebooks", "LICENSE"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports; relative imports count as imports of micrograd_like."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                names.add(f"micrograd_like.{node.module or ''}")
            elif node.module:
                names.add(node.module)
    return names


def names_imported_from(path: Path, module: str) -> set[str]:
    """The names a file takes with ``from module import ...``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module and node.level == 0
        for alias in node.names
    }


def modules_importing(top_level: str) -> set[str]:
    """The package's files that import ``top_level`` or one of its submodules."""
    return {
        path.name
        for path in PACKAGE.glob("*.py")
        if any(m.split(".")[0] == top_level for m in imported_modules(path))
    }


def test_only_viz_imports_graphviz() -> None:
    assert modules_importing("graphviz") <= {"viz.py"}


def test_only_the_testing_toolkit_imports_hypothesis() -> None:
    assert modules_importing("hypothesis") <= {"strategies.py"}


def calls_on_the_random_module(path: Path) -> list[str]:
    """Calls such as random.uniform(...) or random.seed(...): the global state, not a Random."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "random"
        and node.func.attr != "Random"
    ]


def test_nothing_uses_pickle_or_the_global_random_state() -> None:
    for path in PACKAGE.glob("*.py"):
        assert "pickle" not in imported_modules(path), path.name
        assert not calls_on_the_random_module(path), f"{path.name} uses the global random"
        assert names_imported_from(path, "random") <= {"Random"}, path.name


def test_engine_stays_readable_in_one_sitting() -> None:
    lines = (PACKAGE / "engine.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 700, f"engine.py has {len(lines)} lines; keep the core small"


def test_package_ships_py_typed() -> None:
    assert (PACKAGE / "py.typed").exists()
