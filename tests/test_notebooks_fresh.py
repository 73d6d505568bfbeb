"""The notebooks' stored outputs are what the current code prints: each notebook in notebooks/
(every one, those added later too) is executed afresh as a copy, in a new python3 kernel of this
interpreter with the notebook's folder as working directory, and every code cell's outputs and
execution count must equal the committed ones. A cell that raises fails the test (as with nbmake,
the ``raises-exception`` and ``skip-execution`` tags are honoured), and so does a notebook that runs
but shows an error in its outputs: an ``error`` output (outside a ``raises-exception`` cell), or in
any text a Python traceback (``Traceback (most recent call last):``) or a pdb error line (``*** ``,
as in ``*** NameError: name 'before' is not defined``). A notebook that teaches an error catches it
and prints its type and message, which is not a traceback. (tests/test_notebooks_meta.py refuses
the same in the stored outputs, without running anything.)

What may differ in text, and nothing else (applied alike to both sides before comparing):

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
  number is normalised; a cell that prints one must carry the tag. Nor is any Python version's
  wording normalised: a notebook that shows something a version words differently (pdb's stops,
  say) prints it the same way on every version itself.

Pictures are compared as a reader sees them:

- Graphviz's SVG byte for byte (after the text rules above): the same dot draws the same bytes
  whatever the Python, so a picture that changes is a change a reader sees.
- matplotlib's SVG without its ``<metadata>`` (a date and matplotlib's version) and with every
  ``id`` numbered in order of appearance (matplotlib names markers and clip paths by a random hash,
  and glyphs differently by version); then every number within 0.01 (of a point) and all else
  byte for byte.
- PNG by its pixels, never its bytes (which carry metadata, and compression a reader never sees).
  Drawn by the same program (the PNG's ``Software`` text: matplotlib and its version), the two must
  have the same size and the same RGBA pixels, every one. Drawn by another matplotlib version (pip
  picks matplotlib 3.10 on Python 3.10, 3.11 elsewhere), the same figure comes out a few pixels
  taller or narrower (the tight bounding box), with lines a pixel over and sometimes other tick
  labels; then each side may differ by 4 pixels, and laid over each other where they differ least,
  at most 1% of either picture's pixels may lack a pixel of like colour (every channel within
  96 of 255) within 2 pixels in the other. That keeps a new colour, a missing series or a
  different figure a failure; 3.10 against 3.11 measured up to 0.44% (notebook 03's log axis).
  A fresh picture that passes keeps the stored bytes when outputs are written (below).

Without Graphviz's dot, a notebook that imports ``micrograd_like.viz`` (or ``graphviz``) is not run:
a skip on a developer machine, naming the install line, and a failure in CI; so is one that imports
matplotlib when matplotlib is missing. The others run and are compared as usual.

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

import ast
import copy
import difflib
import hashlib
import importlib.util
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support import require, require_dot

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
            if isinstance(data.get("image/svg+xml"), str):
                data["image/svg+xml"] = svg_as_seen(data["image/svg+xml"])
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


# Pictures. Graphviz's SVG is compared as drawn: the same dot draws the same bytes on every Python.
# matplotlib's pictures carry what a reader cannot see (a date, random names, the version) and,
# from another matplotlib version, other pixels for the same figure; see the module's docstring.
MATPLOTLIB_SVG = re.compile(r"<dc:title>Matplotlib v|<metadata>matplotlib's</metadata>")
SVG_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
SVG_NUMBER_SLACK = 0.01  # a hundredth of a point: far below what a screen shows
SIZE_SLACK = 4  # pixels a side may grow or shrink by in another matplotlib's tight bounding box
NEAR = 2  # pixels: how far a pixel's match may sit in the other picture
COLOUR_SLACK = 96  # of 255, per channel: anti-aliased edges of a line one pixel over
UNMATCHED_SHARE = 0.01  # of the pixels; matplotlib 3.10 against 3.11 measured up to 0.44%


def svg_as_seen(svg: str) -> str:
    """A matplotlib SVG without its <metadata> (date, version), its ids numbered as they appear.

    matplotlib names markers and clip paths by a random hash, and glyphs differently by version;
    a reader sees none of it. Any other SVG (Graphviz's) is returned as it is.
    """
    if not MATPLOTLIB_SVG.search(svg):
        return svg
    svg = re.sub(r"<metadata>.*?</metadata>", "<metadata>matplotlib's</metadata>", svg, flags=re.S)
    names: dict[str, str] = {}
    for name in re.findall(r'\bid="([^"]+)"', svg):
        names.setdefault(name, f"id{len(names) + 1}")

    def renamed(match: re.Match[str]) -> str:
        return match[1] + names.get(match[2], match[2])

    return re.sub(r'(\bid="|#)([^"()#\s]+)(?=[")])', renamed, svg)


def svg_difference(stored: str, fresh: str) -> str:
    """'' when two normalised matplotlib SVGs differ by no number more than SVG_NUMBER_SLACK."""
    if not (MATPLOTLIB_SVG.search(stored) and MATPLOTLIB_SVG.search(fresh)):
        return "the SVG differs"  # Graphviz's: byte for byte, the diff shows where
    old, new = SVG_NUMBER.split(stored), SVG_NUMBER.split(fresh)
    old_numbers, new_numbers = SVG_NUMBER.findall(stored), SVG_NUMBER.findall(fresh)
    if old != new or len(old_numbers) != len(new_numbers):
        return "the SVG draws other shapes or text"
    pairs = zip(old_numbers, new_numbers, strict=True)
    moved = [(a, b) for a, b in pairs if abs(float(a) - float(b)) > SVG_NUMBER_SLACK]
    if not moved:
        return ""
    first, second = moved[0]
    return f"{len(moved)} numbers moved more than {SVG_NUMBER_SLACK}, one from {first} to {second}"


class Picture:
    """A PNG as a reader sees it: its size in pixels, its pixels (RGBA), and what drew it."""

    def __init__(self, encoded: str) -> None:
        import base64
        import io

        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            self.width, self.height = image.size
            self.drawn_by = str(image.info.get("Software", ""))
            self.pixels = np.asarray(image.convert("RGBA"), dtype=np.int16)

    def __str__(self) -> str:
        by = f", drawn by {self.drawn_by}" if self.drawn_by else ""
        return f"{self.width}x{self.height} pixels{by}"


def described(encoded: object) -> str:
    """A PNG's size and what drew it, for a diff; what is wrong with it if it is no PNG."""
    try:
        return str(Picture(str(encoded)))
    except (OSError, ValueError) as error:  # not base64, or not a picture
        return f"not a PNG ({error})"


def png_difference(stored: str, fresh: str) -> str:
    """'' when two PNGs look the same to a reader (see the module's docstring), else how not."""
    old, new = Picture(stored), Picture(fresh)
    sizes = f"{old.width}x{old.height} pixels stored, {new.width}x{new.height} fresh"
    if old.drawn_by == new.drawn_by:  # the same program draws the same pixels
        if old.pixels.shape != new.pixels.shape:
            return sizes
        differing = int((old.pixels != new.pixels).any(axis=2).sum())
        return f"{differing} of {old.width * old.height} pixels differ" if differing else ""
    if abs(old.width - new.width) > SIZE_SLACK or abs(old.height - new.height) > SIZE_SLACK:
        return f"{sizes} (drawn by {old.drawn_by!r} and {new.drawn_by!r})"
    share = unmatched_share(old.pixels, new.pixels)
    if share <= UNMATCHED_SHARE:
        return ""
    return (
        f"{share:.2%} of the pixels have no pixel of like colour within {NEAR} pixels in the other "
        f"picture (drawn by {old.drawn_by!r} and {new.drawn_by!r}; at most {UNMATCHED_SHARE:.0%})"
    )


def unmatched_share(first: Any, second: Any) -> float:
    """The larger share, either way, of pixels that have no pixel of like colour within NEAR pixels
    in the other picture, the two laid over each other where they differ least."""
    import numpy as np

    height, width = max(first.shape[0], second.shape[0]), max(first.shape[1], second.shape[1])

    def placed(pixels: Any, top: int, left: int) -> Any:  # grown to the larger size by its edges
        below, right = height - pixels.shape[0] - top, width - pixels.shape[1] - left
        return np.pad(pixels, ((top, below), (left, right), (0, 0)), mode="edge")

    def offsets(pixels: Any) -> list[tuple[int, int]]:
        return [
            (top, left)
            for top in range(height - pixels.shape[0] + 1)
            for left in range(width - pixels.shape[1] + 1)
        ]

    layouts = (
        (placed(first, *here), placed(second, *there))
        for here in offsets(first)
        for there in offsets(second)
    )
    a, b = min(layouts, key=lambda pair: int(np.abs(pair[0] - pair[1]).sum()))

    def unmatched(these: Any, those: Any) -> float:
        padded = np.pad(those, ((NEAR, NEAR), (NEAR, NEAR), (0, 0)), mode="edge")
        closest = np.full(these.shape[:2], 255, dtype=np.int16)
        for dy in range(2 * NEAR + 1):
            for dx in range(2 * NEAR + 1):
                nearby = padded[dy : dy + height, dx : dx + width]
                np.minimum(closest, np.abs(these - nearby).max(axis=2), out=closest)
        return float((closest > COLOUR_SLACK).mean())

    return max(unmatched(a, b), unmatched(b, a))


def reconciled(before: list[Output], after: list[Output]) -> tuple[list[Output], list[str]]:
    """``after`` with each picture that looks the same as the stored one at its place taken back
    to the stored one, so they compare equal; and a note for each that does not look the same."""
    notes = []
    for number, (old, new) in enumerate(zip(before, after, strict=False), start=1):
        old_data, new_data = old.get("data"), new.get("data")
        if not (isinstance(old_data, dict) and isinstance(new_data, dict)):
            continue  # not a display output, or an output-varies cell's shape
        for mime, difference in (("image/png", png_difference), ("image/svg+xml", svg_difference)):
            stored, fresh = old_data.get(mime), new_data.get(mime)
            if isinstance(stored, str) and isinstance(fresh, str) and stored != fresh:
                found = difference(stored, fresh)
                if found:
                    notes.append(f"output {number}, {mime}: {found}")
                else:
                    new_data[mime] = stored
    return after, notes


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
                picture = f"{described(value)}, " if mime == "image/png" else ""
                lines.append(f"  {mime}: {picture}{len(blob)} characters, sha256 {digest}...")
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


def compared(old: Any, new: Any) -> tuple[list[Output], list[Output], list[str]]:
    """A code cell's committed and fresh outputs, normalised as its tags say, the fresh pictures
    that look the same as the stored ones taken back to them; and a note per picture that does not.
    """
    varies = VARIES_TAG in old.metadata.get("tags", [])
    before = normalised(old.get("outputs", []), varies)
    after, notes = reconciled(before, normalised(new.get("outputs", []), varies))
    return before, after, notes


def drifted_cells(committed: Any, fresh: Any) -> list[str]:
    """One message per code cell whose fresh outputs differ from the committed ones."""
    problems = []
    code_number = 0
    for index, (old, new) in enumerate(zip(committed.cells, fresh.cells, strict=True)):
        if old.cell_type != "code":
            continue
        code_number += 1
        before, after, notes = compared(old, new)
        counts = (old.get("execution_count"), new.get("execution_count"))
        if before == after and counts[0] == counts[1]:
            continue
        first_line = next((line for line in source_of(old).splitlines() if line.strip()), "")
        header = f"cell {index} (code cell {code_number}: {first_line.strip()[:60]!r})"
        if counts[0] != counts[1]:
            header += f", execution_count {counts[0]} stored, {counts[1]} fresh"
        problems.append("\n".join([header, *notes, short_diff(before, after)]))
    return problems


# Python's traceback (its last line names the error) and pdb's error lines ("*** NameError: ...").
ERROR_IN_TEXT = re.compile(
    r"^Traceback \(most recent call last\):\n(?:[ \t].*\n|\n)*(.*)|^(\*\*\* .*)", re.MULTILINE
)


def errors_shown(cell: Any) -> list[str]:
    """The errors a code cell's outputs show: error outputs, and in any text a Python traceback or a
    pdb error line (``*** ...``). A cell tagged ``raises-exception`` may show its own error output.
    """
    errors = []
    tagged = "raises-exception" in cell.get("metadata", {}).get("tags", [])
    for output in cell.get("outputs", []):
        if output["output_type"] == "error" and not tagged:
            errors.append(f"{output['ename']}: {output['evalue']}")
        texts = [output.get("text", ""), *output.get("data", {}).values()]
        for text in texts:
            if isinstance(text, (str, list)):
                errors += [a or b for a, b in ERROR_IN_TEXT.findall(joined(text))]
    return errors


def errors_in(notebook: Any) -> list[str]:
    """``code cell N: <error>`` for each error the notebook's outputs show (see errors_shown)."""
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    numbered = enumerate(cells, start=1)
    return [f"code cell {n}: {error}" for n, cell in numbered for error in errors_shown(cell)]


def imported_modules(notebook: Any) -> set[str]:
    """The modules a notebook's code imports; ``from a import b`` counts as ``a`` and ``a.b``."""
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = source_of(cell).splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # running it reports that
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def require_the_tools_it_imports(notebook: Any) -> None:
    """Skip (fail in CI) a notebook whose imports need a missing tool: viz needs Graphviz's dot."""
    modules = imported_modules(notebook)
    if any(name == "graphviz" or name.startswith("micrograd_like.viz") for name in modules):
        require_dot()
    if any(name.split(".")[0] == "matplotlib" for name in modules):
        found = importlib.util.find_spec("matplotlib") is not None
        require(found, "matplotlib", "pip install -e '.[test]'")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_are_what_the_code_prints_today(path: Path) -> None:
    kernel_runs_this_python()
    from nbclient.exceptions import CellExecutionError

    committed = load(path)
    require_the_tools_it_imports(committed)
    try:
        fresh = executed(path)
    except CellExecutionError as error:
        failure = without_colours(str(error))
    else:
        failure = ""
    if failure:  # outside the except block, so the report shows the cell's error only once
        pytest.fail(f"notebooks/{path.name} no longer runs:\n{failure}", pytrace=False)
    problems = []
    errors = errors_in(fresh)
    if errors:
        problems.append(f"it runs, but shows {len(errors)} error(s):\n" + "\n".join(errors))
    drifted = drifted_cells(committed, fresh)
    if drifted:
        problems.append(
            f"{len(drifted)} code cell(s) print something other than their stored outputs "
            f"(regenerate: .venv/bin/python -m tests.test_notebooks_fresh notebooks/{path.name}):"
            "\n\n" + "\n\n".join(drifted)
        )
    if problems:
        pytest.fail(f"notebooks/{path.name}: " + "\n\n".join(problems), pytrace=False)


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


MATPLOTLIB_3_11 = "Matplotlib version3.11.2, https://matplotlib.org/"
MATPLOTLIB_3_10 = "Matplotlib version3.10.9, https://matplotlib.org/"
ORANGE, GREEN = (213, 94, 0), (0, 158, 115)


def png_of(pixels: Any, drawn_by: str = MATPLOTLIB_3_11, **text: str) -> str:
    """A base64 PNG of RGBA pixels, with tEXt chunks as matplotlib writes them."""
    import base64
    import io

    import numpy as np
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in {"Software": drawn_by, **text}.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGBA").save(buffer, "PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode()


def scatter(
    height: int = 90, shift: int = 0, colour: tuple[int, ...] = ORANGE, axis: bool = True
) -> Any:
    """Pixels of a small scatter plot over an axis line: eleven 4x4 markers on white."""
    import numpy as np

    pixels = np.full((height, 120, 4), 255)
    for k in range(11):
        x, y = 10 + 9 * k + shift, 20 + (37 * k) % 50 + shift
        pixels[y - 2 : y + 2, x - 2 : x + 2, :3] = colour
    if axis:
        pixels[80 + shift : 82 + shift, 5:115, :3] = 0
    return pixels


def test_a_png_from_the_same_matplotlib_must_have_the_same_pixels_not_bytes() -> None:
    stored = png_of(scatter())
    assert png_difference(stored, png_of(scatter(), Title="metadata a reader never sees")) == ""
    one_pixel_off = scatter()
    one_pixel_off[0, 0, :3] = 0
    assert png_difference(stored, png_of(one_pixel_off)) == "1 of 10800 pixels differ"
    assert png_difference(stored, png_of(scatter(height=91))) == (
        "120x90 pixels stored, 120x91 fresh"
    )


def test_a_png_from_another_matplotlib_may_move_by_pixels_but_not_change_what_it_shows() -> None:
    stored = png_of(scatter())
    assert png_difference(stored, png_of(scatter(height=92, shift=1), MATPLOTLIB_3_10)) == ""
    assert png_difference(stored, png_of(scatter(height=92, shift=2), MATPLOTLIB_3_10)) == ""
    for changed in (scatter(colour=GREEN), scatter(axis=False)):
        found = png_difference(stored, png_of(changed, MATPLOTLIB_3_10))
        assert "of the pixels have no pixel of like colour within 2 pixels" in found
    assert png_difference(stored, png_of(scatter(height=95), MATPLOTLIB_3_10)).startswith(
        "120x90 pixels stored, 120x95 fresh (drawn by"
    )


def test_a_picture_that_looks_the_same_keeps_its_stored_bytes_and_one_that_does_not_is_shown() -> (
    None
):
    def cell(png: str) -> Any:
        import nbformat

        output = {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}
        return nbformat.from_dict({"metadata": {}, "outputs": [output]})  # type: ignore[no-untyped-call]

    stored = cell(png_of(scatter()))
    before, after, notes = compared(stored, cell(png_of(scatter(shift=1), MATPLOTLIB_3_10)))
    assert before == after and notes == []
    before, after, notes = compared(stored, cell(png_of(scatter(colour=GREEN))))
    assert before != after and notes == ["output 1, image/png: 176 of 10800 pixels differ"]
    assert "image/png: 120x90 pixels, drawn by Matplotlib version3.11.2" in short_diff(
        before, after
    )


def matplotlib_svg(title: str) -> str:
    import io

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 1.5))
    axes.plot([1, 2, 3], [1, 4, 2], "o-")
    axes.set_title(title)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")  # a fresh date and random marker and clip-path ids
    plt.close(figure)
    return buffer.getvalue()


def test_a_matplotlib_svg_is_compared_without_its_date_and_random_ids_and_graphviz_as_drawn() -> (
    None
):
    first, second = matplotlib_svg("loss"), matplotlib_svg("loss")
    assert first != second and svg_as_seen(first) == svg_as_seen(second)
    assert "<dc:date>" not in svg_as_seen(first)
    assert svg_as_seen(first) != svg_as_seen(matplotlib_svg("lass"))
    shown = svg_as_seen(first)

    def moved_text(by: float) -> str:  # the first text's x, moved
        x = re.search(r"translate\(([\d.]+) ", shown)
        assert x is not None
        return shown.replace(x[0], f"translate({float(x[1]) + by:f} ", 1)

    assert svg_difference(shown, moved_text(0.0008)) == ""  # another version's rounding
    assert svg_difference(shown, moved_text(1.0)).startswith("1 numbers moved more than 0.01")
    graphviz = '<!-- Generated by graphviz version 2.43.0 -->\n<svg><g id="node1"></g></svg>'
    assert svg_as_seen(graphviz) == graphviz
    assert svg_difference(graphviz, graphviz.replace("node1", "node2")) == "the SVG differs"


def test_errors_shown_are_error_outputs_tracebacks_and_pdb_errors_not_a_printed_message() -> None:
    traceback = (
        "Traceback (most recent call last):\n  File \"x.py\", line 1\n    f()\nKeyError: 'a'\n"
    )
    cell: dict[str, Any] = {
        "metadata": {},
        "outputs": [
            {
                "output_type": "stream",
                "name": "stdout",
                "text": ["(Pdb) p before\n", "*** NameError: name 'before' is not defined\n"],
            },
            {"output_type": "stream", "name": "stderr", "text": traceback},
            {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []},
            {"output_type": "execute_result", "metadata": {}, "data": {"text/plain": traceback}},
        ],
    }
    assert errors_shown(cell) == [
        "*** NameError: name 'before' is not defined",
        "KeyError: 'a'",
        "ValueError: bad",
        "KeyError: 'a'",
    ]
    caught = (
        "ZeroDivisionError: float division by zero\n  sqrt_local  engine.py  return (0.5 / out,)\n"
    )
    printed = {"output_type": "stream", "name": "stdout", "text": caught}
    assert errors_shown({"metadata": {}, "outputs": [printed]}) == []  # a message it printed
    tagged = {"metadata": {"tags": ["raises-exception"]}, "outputs": cell["outputs"][2:3]}
    assert errors_shown(tagged) == []


def test_a_notebook_that_imports_viz_skips_without_dot_on_a_developer_machine_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    from tests import support

    def notebook(source: str) -> Any:
        cell: dict[str, Any] = {
            "cell_type": "code",
            "source": source,
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
        return nbformat.from_dict({"cells": [cell]})  # type: ignore[no-untyped-call]

    monkeypatch.setenv("PATH", str(tmp_path))  # no dot
    viz = (
        "from micrograd_like.viz import draw_dot",
        "from micrograd_like import viz",
        "import graphviz",
    )
    for source in viz:
        monkeypatch.setattr(support, "IN_CI", False)
        with pytest.raises(pytest.skip.Exception, match="apt-get install graphviz"):
            require_the_tools_it_imports(notebook(source))
        monkeypatch.setattr(support, "IN_CI", True)
        with pytest.raises(pytest.fail.Exception, match="must install it"):
            require_the_tools_it_imports(notebook(source))
    require_the_tools_it_imports(
        notebook("%matplotlib inline\nfrom micrograd_like.engine import Value")
    )


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
            before, after, _ = compared(old, new)
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
