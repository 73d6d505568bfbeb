"""The architecture as rules that can fail: which module may import what, and what loads when."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "micrograd_like"
CORE = {"micrograd_like.engine", "micrograd_like.optable", "micrograd_like.recording",
        "micrograd_like.checks"}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is loaded: module level, outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                break  # a function's imports run only when it is called
            if isinstance(inner, ast.Import):
                names.update(alias.name for alias in inner.names)
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                base = module_name(path).rsplit(".", inner.level)[0] if inner.level else ""
                module = f"{base}.{inner.module}" if base else inner.module
                names.update(_submodule_or_module(module, alias.name) for alias in inner.names)
    return names


def _submodule_or_module(module: str, name: str) -> str:
    """``from micrograd_like import optable`` imports the module micrograd_like.optable."""
    folder = ROOT.joinpath(*module.split("."))
    is_module = (folder / f"{name}.py").exists() or (folder / name / "__init__.py").exists()
    return f"{module}.{name}" if is_module else module


def imports_by_module() -> dict[str, set[str]]:
    """Every module of the package, found recursively, with what it imports at load time."""
    return {module_name(path): top_level_imports(path) for path in PACKAGE.rglob("*.py")}


def test_the_package_walk_finds_subpackages() -> None:
    modules = imports_by_module()
    assert "micrograd_like.commands.demo" in modules and "micrograd_like.engine" in modules


def test_the_core_imports_nothing_else_of_ours() -> None:
    for module, imported in imports_by_module().items():
        if module in CORE:
            ours = {name for name in imported if name.startswith("micrograd_like")}
            assert ours <= CORE, f"{module} imports {sorted(ours - CORE)}"


def test_only_viz_imports_graphviz() -> None:
    for module, imported in imports_by_module().items():
        if any(name.split(".")[0] == "graphviz" for name in imported):
            assert module == "micrograd_like.viz", module


def test_only_the_strategies_import_hypothesis() -> None:
    for module, imported in imports_by_module().items():
        if any(name.split(".")[0] == "hypothesis" for name in imported):
            assert module == "micrograd_like.strategies", module


def test_programs_sit_above_the_library() -> None:
    for module, imported in imports_by_module().items():
        if not module.startswith(("micrograd_like.commands", "micrograd_like.__main__")):
            assert not any(name.startswith("micrograd_like.commands") for name in imported), module


def test_the_walker_sees_a_planted_import_but_not_one_for_type_checkers_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    planted = tmp_path / "micrograd_like" / "engine.py"
    planted.parent.mkdir()
    planted.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import hypothesis\n"
        "import graphviz\nfrom .viz import draw_dot\ndef later():\n    import json\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert top_level_imports(planted) == {"typing", "graphviz", "micrograd_like.viz"}


def loaded_modules(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``statement``, ours and third-party."""
    script = f"import sys; old = set(sys.modules); {statement}; print(*set(sys.modules) - old)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(result.stdout.split())


def test_importing_the_engine_loads_only_the_core() -> None:
    loaded = loaded_modules("import micrograd_like.engine")
    ours = {name for name in loaded if name.startswith("micrograd_like")}
    assert ours == CORE | {"micrograd_like"}
    assert not {"graphviz", "hypothesis", "micrograd_like.compiled"} & loaded


def test_importing_the_package_loads_nothing_but_its_root() -> None:
    loaded = loaded_modules("import micrograd_like")
    assert {name for name in loaded if name.startswith("micrograd_like")} == {"micrograd_like"}


@pytest.mark.parametrize(
    "name", ["Value", "compile_fn", "gradcheck", "custom_op", "steps_table", "explain"]
)
def test_the_root_re_exports_lazily(name: str) -> None:
    loaded = loaded_modules(f"import micrograd_like; micrograd_like.{name}")
    assert "graphviz" not in loaded and "hypothesis" not in loaded
    if name == "Value":
        assert "micrograd_like.compiled" not in loaded
