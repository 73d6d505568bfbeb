"""The sdist command: setuptools' own, plus every file the sdist's tests need.

Setuptools puts the package and tests/test*.py in an sdist, but not the suite's helpers
(conftest.py, support modules, subfolders such as tests/engines/) nor the notebooks it executes.
The project keeps no MANIFEST.in, so pyproject.toml names this class as its `sdist` command.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.sdist import sdist as setuptools_sdist

# Folders shipped whole, less what running the tests leaves behind; the notebooks only.
FOLDERS = {"tests": "*", "notebooks": "*.ipynb"}
LEFTOVERS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}


def extra_files() -> list[str]:
    """This file and everything under FOLDERS, relative to the project root (the working folder)."""
    files = [Path(__file__).name]
    for folder, pattern in FOLDERS.items():
        for path in sorted(Path(folder).rglob(pattern)):
            if path.is_file() and not LEFTOVERS & set(path.parts) and path.suffix != ".pyc":
                files.append(path.as_posix())
    return files


class Sdist(setuptools_sdist):
    """setuptools' sdist with extra_files() added to the archive."""

    def make_distribution(self) -> None:
        self.filelist.extend(extra_files())
        self.filelist.sort()
        self.filelist.remove_duplicates()
        super().make_distribution()
