"""The project's promises about itself: its shape, its commands and its import rules."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "micrograd_like"


def readme_commands(language: str = "bash") -> list[str]:
    """The commands in the README's fenced ``language`` blocks under 'The two commands'."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.+?)\n```", section)


def test_readme_has_a_demo_command_and_a_test_command() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("python -m micrograd_like demo")
    assert tests.endswith("python -m pytest")
    for command in (demo, tests):
        assert command.startswith("python3 -m venv .venv && "), "each command makes its own venv"


def test_readme_windows_commands_are_the_posix_ones_spelled_for_windows() -> None:
    spelled = [
        command.replace("python3 -m venv", "py -m venv").replace(".venv/bin/", ".venv\\Scripts\\")
        for command in readme_commands()
    ]
    assert readme_commands("bat") == spelled


def tracked_files() -> list[str] | None:
    """The files git tracks here; None outside a git checkout (in an unpacked sdist, say)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return listed.stdout.split() if listed.returncode == 0 and listed.stdout else None


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    if tracked_files() is None:
        pytest.skip("not a git checkout: an sdist carries no .ci/run")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci_lines


def switches_read(path: Path) -> set[str]:
    """The environment variables a file reads by name."""
    pattern = r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["'](\w+)["']"""
    return set(re.findall(pattern, path.read_text(encoding="utf-8")))


def test_the_readme_test_command_runs_every_test_on_every_python_with_no_quick_mode() -> None:
    # CI=true turns a missing tool into a failure; CI_WITHOUT_TORCH=1 says PyTorch has no wheel for
    # this Python. Nothing else may change what runs: no switch that skips slow tests or examples.
    read = set().union(*(switches_read(path) for path in (ROOT / "tests").rglob("*.py")))
    assert read <= {"CI", "CI_WITHOUT_TORCH"}, f"tests read {sorted(read)}"
    if tracked_files() is None:
        return  # an unpacked sdist: no .ci/run
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for line in ci.splitlines():
        if "-m pytest" in line:
            options = line.split("-m pytest", 1)[1].split()
            assert options in ([], ["-p", "no:cacheprovider"]), f".ci/run: {line.strip()}"


def test_top_level_is_exactly_the_agreed_shape() -> None:
    tracked = tracked_files()
    if tracked is None:
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
    for path in PACKAGE.rglob("*.py"):
        assert "pickle" not in imported_modules(path), path.name
        assert not calls_on_the_random_module(path), f"{path.name} uses the global random"
        assert names_imported_from(path, "random") <= {"Random"}, path.name


def test_engine_stays_readable_in_one_sitting() -> None:
    lines = (PACKAGE / "engine.py").read_text(encoding="utf-8").splitlines()
    # 18 ops with their derivatives, the chain rule, topological order and flat pickling, and
    # since the lean core: the per-pass guards (_Pass) and the views' stand-ins, which moved out
    # of the chain-rule loop so that it is as short to step through as micrograd's; and since
    # round three: constants marked, nan where math refuses ±inf, an overflowing add-back told,
    # and non-Values refused by name at the public entry points (topological_order, linear, grad)
    assert len(lines) <= 1190, f"engine.py has {len(lines)} lines; keep the core small"


def test_engine_opens_with_value_and_its_first_derivative() -> None:
    lines = (PACKAGE / "engine.py").read_text(encoding="utf-8").splitlines()
    first_class = next(i for i, line in enumerate(lines) if line.startswith("class "))
    first_local = next(i for i, line in enumerate(lines) if re.match(r"\s+def \w+_local\(", line))
    assert lines[first_class].startswith("class Value"), "Value is the first class a reader meets"
    assert first_local < 70, f"the first op's derivative is on line {first_local + 1}"


def test_package_ships_py_typed() -> None:
    assert (PACKAGE / "py.typed").exists()


def python_after_conftest(code: str, **env: str) -> str:
    """Run ``code`` in a fresh Python that first imports tests/conftest.py; returns its output."""
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "CI_WITHOUT_TORCH")}
    result = subprocess.run(
        [sys.executable, "-c", f"import tests.conftest\n{code}"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


SHOW_SETTINGS = """
from hypothesis import settings
own = settings(max_examples=7)  # what an existing @settings(max_examples=7) decorator gets
for s in (settings(), own):
    print(s.max_examples, s.derandomize, s.deadline, "no-database" if s.database is None else "")
"""


def test_ci_profile_is_derandomized_so_ci_runs_repeat() -> None:
    assert python_after_conftest(SHOW_SETTINGS, CI="true").splitlines() == [
        "200 True None no-database",
        "7 True None no-database",  # a test's own count stands; the rest of the profile applies
    ]


def test_dev_profile_is_hypothesis_default_without_a_deadline() -> None:
    assert python_after_conftest(SHOW_SETTINGS).splitlines() == ["100 False None ", "7 False None "]


CALL_REQUIREMENTS = """
import sys
sys.modules["torch"] = None  # as if PyTorch were not installed
from tests import support
for name in ("require_torch", "require_dot", "require_chromium"):
    try:
        getattr(support, name)()
    except BaseException as outcome:  # pytest's skip and fail are not Exceptions
        print(name, type(outcome).__name__)
"""


def test_ci_without_torch_skips_only_the_torch_checks() -> None:
    missing_all = {"CI": "true", "PATH": ""}  # no dot, no Chromium, no torch
    in_ci = python_after_conftest(CALL_REQUIREMENTS, **missing_all)
    without_torch = python_after_conftest(CALL_REQUIREMENTS, **missing_all, CI_WITHOUT_TORCH="1")
    assert in_ci.splitlines() == [
        "require_torch Failed",
        "require_dot Failed",
        "require_chromium Failed",
    ]
    assert without_torch.splitlines() == [
        "require_torch Skipped",
        "require_dot Failed",
        "require_chromium Failed",
    ]
