"""What we ship: the wheel holds the whole package, the sdist everything its own tests need."""

from __future__ import annotations

import email.message
import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "micrograd_like"
LEFTOVERS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}
# Not copied before building: setuptools reads a stale *.egg-info/SOURCES.txt as a file list,
# which would hide a package left out of the configuration.
NOT_SOURCES = (
    *LEFTOVERS,
    ".git",
    ".venv*",
    "*.egg-info",
    "build",
    "dist",
    "*_cache",
    "demo_output",
)

# Building runs setuptools twice (the sdist, then the wheel from the sdist): about 20-40 s.
# CI runs it; `pytest -m "not slow"` leaves it out on a developer machine.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Dists:
    """The names of the files in the built sdist (relative to its top folder) and wheel."""

    sdist: frozenset[str]
    wheel: frozenset[str]
    metadata: email.message.Message


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """Build the sdist from a clean copy of the sources and, from the sdist, the wheel."""
    source = tmp_path_factory.mktemp("source") / "micrograd_like"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist_path,) = out.glob("*.tar.gz")
    (wheel_path,) = out.glob("*.whl")
    with tarfile.open(sdist_path) as sdist:
        sdist_names = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    with zipfile.ZipFile(wheel_path) as wheel:
        wheel_names = set(wheel.namelist())
        (metadata_name,) = (n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(wheel.read(metadata_name).decode("utf-8"))
    return Dists(frozenset(sdist_names), frozenset(wheel_names), metadata)


def source_files(folder: str, pattern: str = "*") -> set[str]:
    """Files under ``folder`` (relative to ROOT): git's list in a checkout, else the disk's."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True
    )
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == ROOT:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", f"{folder}/{pattern}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return set(filter(None, listed.split("\0")))
    # An unpacked sdist (as .ci/run tests one): whatever is on disk, less test leftovers.
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob(pattern)
        if path.is_file() and not LEFTOVERS & set(path.parts) and path.suffix != ".pyc"
    }


def test_wheel_has_every_subpackage_module_and_py_typed(dists: Dists) -> None:
    subpackages = {
        path.parent.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("__init__.py")
        if not LEFTOVERS & set(path.parts)
    }
    wheel_folders = {name.rsplit("/", 1)[0] for name in dists.wheel if "/" in name}
    assert subpackages - wheel_folders == set(), "subpackages missing from the wheel"
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if not LEFTOVERS & set(path.parts)
    }
    assert modules - dists.wheel == set(), "modules missing from the wheel"
    assert "micrograd_like/py.typed" in dists.wheel


def test_wheel_holds_only_the_package_and_its_metadata(dists: Dists) -> None:
    tops = {name.split("/", 1)[0] for name in dists.wheel}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"micrograd_like"}
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in dists.wheel)


def test_sdist_has_every_file_its_tests_need(dists: Dists) -> None:
    needed = source_files("tests") | source_files("notebooks", "*.ipynb")
    assert any(name.startswith("tests/") for name in needed)
    assert any(name.startswith("notebooks/") for name in needed)
    needed |= {"README.md", "LICENSE", "pyproject.toml"}
    assert needed - dists.sdist == set(), "files missing from the sdist"


def test_metadata_has_an_spdx_license_and_the_supported_pythons(dists: Dists) -> None:
    assert dists.metadata["License-Expression"] == "MIT"
    assert dists.metadata["License-File"] == "LICENSE"
    classifiers = dists.metadata.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")], "SPDX expression instead"
    python = "Programming Language :: Python :: "
    versions = [c.removeprefix(python) for c in classifiers if c.startswith(python + "3.")]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    assert dists.metadata["Requires-Python"] == f">={versions[0]}"


def test_console_script_is_installed_and_prints_the_usage() -> None:
    name = "micrograd-like.exe" if os.name == "nt" else "micrograd-like"
    script = Path(sysconfig.get_path("scripts")) / name
    assert script.exists(), f"{script} is missing: install the package (pip install -e .)"
    by_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    by_module = subprocess.run(
        [sys.executable, "-m", "micrograd_like", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert by_script.returncode == 0, by_script.stderr
    assert by_script.stdout.startswith("usage:")
    assert by_script.stdout == by_module.stdout
