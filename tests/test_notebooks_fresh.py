"""The notebooks' stored outputs are what the current code prints: each notebook in notebooks/
(every one, those added later too) is executed afresh as a copy, in a new python3 kernel of this
interpreter with the notebook's folder as working directory, and every code cell's outputs and
execution count must equal the committed ones. A cell that raises fails the test (as with nbmake,
the ``raises-exception`` and ``skip-execution`` tags are honoured).

What may differ, and nothing else (applied alike to both sides before comparing):

- how a stream is cut into chunks: consecutive ``stream`` outputs of one name are joined, because
  the kernel's chunking follows flush timing, not the code;
- in text (streams, ``text/*``, JSON and ``image/svg+xml`` data, error tracebacks): memory
  addresses (``0x`` and 6 to 16 hex digits, as in ``<GraphPicture at 0x7f...>``) become ``0x?``;
  ``tmp...`` folders of the temporary directory become ``<tmp>``; this checkout, ``sys.prefix``
  (site-packages) and ``sys.base_prefix`` become ``<root>``, ``<prefix>`` and ``<base-prefix>``;
  IPython's cell files (``ipykernel_<pid>/<n>.py``) become ``<cell>``. (tests/test_notebooks_meta.py
  still refuses stored outputs that show this checkout's path or a cell file: notebooks shorten
  paths themselves, so these rules only matter for a notebook that forgets to.)
- a cell tagged ``output-varies`` is compared by shape only: the same outputs, of the same types,
  stream names and MIME types, in the same order. No notebook prints a timing today, so no timing
  number is normalised; a cell that prints one must carry the tag.

Pictures are compared byte for byte, SVG and PNG alike: Graphviz and matplotlib draw the same bytes
from the same input, so a picture that changes is a change a reader sees. Another version of either
draws other bytes: store outputs made with the versions CI installs. Without dot or matplotlib the
notebooks still run here (errors fail) but their outputs are not compared: a skip on a developer
machine, a failure in CI.

A failure names the notebook and the cell and shows a short diff. To store fresh outputs after a
deliberate change, run ``.venv/bin/python -m tests.test_notebooks_fresh [NOTEBOOK ...]``: the same
execution, written in place; a cell whose outputs only differ by what is normalised keeps its
stored bytes, so a second run changes nothing.

This test replaces nbmake's pass over notebooks/ in the default ``pytest`` run (testpaths lists
tests/ only): it executes the same notebooks the same way (nbclient, a fresh kernel per notebook,
errors fail) and checks their outputs too, and running both executed every notebook twice.
``pytest --nbmake notebooks`` still runs nbmake alone, for a quick "does it run" check.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support import require

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))  # every notebook, the ones added later too
KERNEL = "python3"
CELL_TIMEOUT = 600  # seconds; a training cell takes a few
VARIES_TAG = "output-varies"
MAX_DIFF_LINES = 30

Output = dict[str, Any]


def _text_rules() -> list[tuple[re.Pattern[str], str]]:
    """The substitutions applied to every text output, longest paths first."""
    temporary = re.escape(str(Path(tempfile.gettempdir()).resolve()))
    rules = [
        (r"\S*ipykernel_\d+[/\\]\d+\.py", "<cell>"),
        (rf"(?:{temporary}|/tmp|/var/folders/[\w/]+?)[/\\]tmp[\w-]+", "<tmp>"),
    ]
    paths = {str(ROOT): "<root>", sys.prefix: "<prefix>", sys.base_prefix: "<base-prefix>"}
    for path in sorted(paths, key=len, reverse=True):
        if len(path) > 1:
            rules.append((re.escape(path), paths[path]))
    rules.append((r"\b0x[0-9a-fA-F]{6,16}\b", "0x?"))
    # Hypothesis adds this line when it sees a CI variable (its own "ci" profile): not ours.
    rules.append((r"\n?You can reproduce this test case by temporarily adding @reproduce_failure"
                  r"\([^)]*\) as a decorator on your test function\n", ""))  # fmt: skip
    return [(re.compile(pattern), replacement) for pattern, replacement in rules]


TEXT_RULES = _text_rules()


def normalised_text(text: str) -> str:
    for pattern, replacement in TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def joined(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def is_text(mime: str) -> bool:
    return mime.startswith("text/") or mime == "image/svg+xml" or mime.endswith("json")


def streams_joined(outputs: Sequence[Output]) -> list[Output]:
    """Copies of the outputs, each run of stream outputs of one name joined into one."""
    result: list[Output] = []
    for output in outputs:
        output = copy.deepcopy(dict(output))
        if output["output_type"] == "stream":
            output["text"] = joined(output["text"])
            last = result[-1] if result else None
            if last and last["output_type"] == "stream" and last["name"] == output["name"]:
                last["text"] += output["text"]
                continue
        result.append(output)
    return result


def normalised(outputs: Sequence[Output], varies: bool = False) -> list[Output]:
    """The outputs with only what must vary taken out (see the module's docstring)."""
    result: list[Output] = []
    for output in streams_joined(outputs):
        kind = output["output_type"]
        if kind == "stream":
            output["text"] = normalised_text(output["text"])
        elif kind == "error":
            output["traceback"] = [normalised_text(line) for line in output["traceback"]]
            output["evalue"] = normalised_text(output["evalue"])
        else:
            data = output.get("data", {})
            for mime, value in data.items():
                if is_text(mime) and not isinstance(value, dict):
                    data[mime] = normalised_text(joined(value))
                elif isinstance(value, list):
                    data[mime] = joined(value)
        result.append(output)
    if varies:
        return [shape_of(output) for output in result]
    return result


def shape_of(output: Output) -> Output:
    """What an output-varies cell must keep: the output's type, stream name and MIME types."""
    return {
        "output_type": output["output_type"],
        "name": output.get("name"),
        "data": sorted(output.get("data", {})),
    }


def shown(outputs: Sequence[Output]) -> list[str]:
    """Outputs as lines for a diff: text as text, binary pictures by size and hash."""
    lines: list[str] = []
    for number, output in enumerate(outputs, start=1):
        kind = output["output_type"]
        header = f"[output {number}: {kind}"
        if kind == "stream":
            lines.append(f"{header} {output['name']}]")
            lines += output["text"].splitlines()
            continue
        if kind == "error":
            lines.append(f"{header} {output['ename']}: {output['evalue']}]")
            lines += without_colours("\n".join(output["traceback"])).splitlines()
            continue
        extra = {k: v for k, v in output.items() if k not in ("output_type", "data")}
        lines.append(f"{header}] {json.dumps(extra, sort_keys=True)}")
        for mime, value in sorted(output.get("data", {}).items()):
            if isinstance(value, str) and is_text(mime):
                lines.append(f"  {mime}:")
                lines += ["    " + line for line in value.splitlines()]
            else:
                blob = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
                lines.append(f"  {mime}: {len(blob)} characters, sha256 {digest}...")
    return lines


def without_colours(text: str) -> str:
    """Text without the terminal colour codes IPython puts in tracebacks."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def short_diff(committed: Sequence[Output], fresh: Sequence[Output]) -> str:
    diff = list(
        difflib.unified_diff(shown(committed), shown(fresh), "committed", "fresh", lineterm="", n=2)
    )
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    if not diff:  # the same lines, so some detail of an output's JSON differs
        diff = ["committed: " + json.dumps(committed, sort_keys=True)[:500],
                "fresh:     " + json.dumps(fresh, sort_keys=True)[:500]]  # fmt: skip
    return "\n".join(diff)


def source_of(cell: dict[str, Any]) -> str:
    return joined(cell["source"])


def load(path: Path) -> Any:
    import nbformat

    return nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]


def kernel_runs_this_python() -> None:
    """The python3 kernel must be this interpreter (the venv's), not some other Python."""
    from jupyter_client.kernelspec import KernelSpecManager

    program = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    this = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if program not in this and Path(program).resolve() != Path(sys.executable).resolve():
        pytest.fail(
            f"the {KERNEL!r} Jupyter kernel runs {program}, not this Python ({sys.executable}); "
            "remove the other kernel spec (jupyter kernelspec list) or install ipykernel here"
        )


def executed(path: Path) -> Any:
    """A fresh copy of the notebook, run top to bottom in a new kernel in the notebook's folder.

    Cells run as nbmake runs them (``raises-exception`` and ``skip-execution`` tags honoured), and
    no timing metadata is recorded, so writing the result back changes only what the code changed.
    """
    from nbclient import NotebookClient

    notebook = load(path)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def compared(old: Any, new: Any) -> tuple[list[Output], list[Output]]:
    """A code cell's committed and fresh outputs, normalised as its tags say."""
    varies = VARIES_TAG in old.metadata.get("tags", [])
    return normalised(old.get("outputs", []), varies), normalised(new.get("outputs", []), varies)


def drifted_cells(committed: Any, fresh: Any) -> list[str]:
    """One message per code cell whose fresh outputs differ from the committed ones."""
    problems = []
    code_number = 0
    for index, (old, new) in enumerate(zip(committed.cells, fresh.cells, strict=True)):
        if old.cell_type != "code":
            continue
        code_number += 1
        before, after = compared(old, new)
        counts = (old.get("execution_count"), new.get("execution_count"))
        if before == after and counts[0] == counts[1]:
            continue
        first_line = next((line for line in source_of(old).splitlines() if line.strip()), "")
        header = f"cell {index} (code cell {code_number}: {first_line.strip()[:60]!r})"
        if counts[0] != counts[1]:
            header += f", execution_count {counts[0]} stored, {counts[1]} fresh"
        problems.append(f"{header}\n{short_diff(before, after)}")
    return problems


def missing_tools() -> list[str]:
    """What the notebooks draw with that is not installed: without it their pictures differ."""
    missing = [] if shutil.which("dot") else ["Graphviz's dot"]
    if importlib.util.find_spec("matplotlib") is None:
        missing.append("matplotlib")
    return missing


@pytest.mark.slow  # and tracebacks or reprs may word things differently on other Pythons
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_are_what_the_code_prints_today(path: Path) -> None:
    kernel_runs_this_python()
    from nbclient.exceptions import CellExecutionError

    committed = load(path)
    try:
        fresh = executed(path)
    except CellExecutionError as error:
        failure = without_colours(str(error))
    else:
        failure = ""
    if failure:  # outside the except block, so the report shows the cell's error only once
        pytest.fail(f"notebooks/{path.name} no longer runs:\n{failure}", pytrace=False)
    missing = missing_tools()  # it ran without errors; comparing pictures needs the tools
    require(
        not missing, " and ".join(missing), "apt-get install graphviz; pip install -e '.[test]'"
    )
    problems = drifted_cells(committed, fresh)
    if problems:
        pytest.fail(
            f"notebooks/{path.name}: {len(problems)} code cell(s) print something other than "
            f"their stored outputs (regenerate: .venv/bin/python -m tests.test_notebooks_fresh "
            f"notebooks/{path.name}):\n\n" + "\n\n".join(problems),
            pytrace=False,
        )


def test_normalisation_keeps_what_a_reader_sees_and_drops_only_what_varies() -> None:
    stream = [
        {"output_type": "stream", "name": "stdout", "text": "a at 0x7f3a12bc45d0\n"},
        {"output_type": "stream", "name": "stdout", "text": f"{ROOT}/x.py {sys.prefix}/y\n"},
    ]
    (merged,) = normalised(stream)
    assert merged["text"] == "a at 0x?\n<root>/x.py <prefix>/y\n"
    picture = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBO"}}]
    assert normalised(picture) != normalised([{**picture[0], "data": {"image/png": "iVBP"}}])
    assert normalised_text("0x1.8p+1 and 0x10") == "0x1.8p+1 and 0x10"  # float.hex, small ints
    number = [{"output_type": "execute_result", "data": {"text/plain": "0.4999"}, "metadata": {}}]
    other = [{**number[0], "data": {"text/plain": "0.5"}}]
    assert normalised(number) != normalised(other)
    assert normalised(number, varies=True) == normalised(other, varies=True)
    assert "-    0.4999\n+    0.5" in short_diff(normalised(number), normalised(other))


def write_fresh(paths: Sequence[Path], log: Callable[[str], object] = print) -> None:
    """Execute each notebook as the test does and store the fresh outputs in place.

    A cell whose fresh outputs equal its stored ones but for what the test normalises (a memory
    address, say) keeps its stored outputs, so running this twice changes no byte the second time.
    """
    import nbformat

    for path in paths:
        start = time.perf_counter()
        committed = load(path)
        fresh = executed(path)
        kept = 0
        for old, new in zip(committed.cells, fresh.cells, strict=True):
            if new.cell_type != "code":
                continue
            before, after = compared(old, new)
            if before == after:
                new.outputs = old.outputs
                kept += 1
            else:
                joined_outputs = streams_joined(new.outputs)
                new.outputs = [nbformat.from_dict(o) for o in joined_outputs]  # type: ignore[no-untyped-call]
        nbformat.write(fresh, str(path))  # type: ignore[no-untyped-call]
        log(f"{path.name}: executed in {time.perf_counter() - start:.1f} s, written "
            f"({kept} code cells kept their stored outputs)")  # fmt: skip


if __name__ == "__main__":
    write_fresh([Path(arg).resolve() for arg in sys.argv[1:]] or NOTEBOOKS)
