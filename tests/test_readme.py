"""The README's Python examples run, and print what the README says they print."""

from __future__ import annotations

import contextlib
import html
import io
import re
from pathlib import Path

import pytest

from micrograd_like.debug import AnomalyError
from tests.support import require_dot

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.+?)\n```", README, flags=re.DOTALL)

# Output the README shows beside its examples; each must appear in the README and in the output.
PROMISED_OUTPUT = [
    "Value(data=0.7071067811865477, grad=1.0, op='tanh')",
    "0.9999999999999996",
    "0.8553410237429735 1.2094644752400612",
    "minimum at x = 1.251757931391",
    "    v1176 = v4 + v2 * v539 + v3 * v540  # linear",
    "loss after 50 steps: 0.2086",
    "0.92 ['backward-twice', 'deep-chain']",
]
PROMISED_PICTURE_OUTPUT = [
    "1     x*y + x  8     +   x*y (#0)    1         1      1             0 -> 1  1",
    "3     x*y      6     *   x (#0)      1         3      3             1 -> 4  1 + 3 = 4",
    "4     x*y      6     *   y (#1)      1         2      2             0 -> 2  2",
    "x.grad = 4: x is used 2 times on the way to x*y + x",
    "  in x*y, as operand 0: d(x*y)/d(x) * (x*y).grad = 3 * 1 = 3",
    "  sum: 1 + 3 = 4",
    "['L2.N1.w1', 'L2.N1.w2', 'L2.N1.b']",
]


def run_block(source: str, namespace: dict[str, object]) -> str:
    """Execute one README block (it is our own documentation, not untrusted input)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "<README>", "exec"), namespace)
    return printed.getvalue()


def run_blocks(blocks: list[str]) -> str:
    """Run blocks in order in one namespace, as a reader pasting them would; returns the output."""
    namespace: dict[str, object] = {"__name__": "readme"}
    output = ""
    for block in blocks:
        if "detect_anomaly()" in block:
            with pytest.raises(AnomalyError, match=r"log_local"):
                run_block(block, namespace)
            continue
        output += run_block(block, namespace)
    return output


def test_readme_has_the_examples_this_test_expects() -> None:
    assert len(BLOCKS) >= 5
    for text in PROMISED_OUTPUT + PROMISED_PICTURE_OUTPUT:
        assert text in README, text


def test_readme_examples_without_pictures_print_what_they_promise() -> None:
    output = run_blocks([b for b in BLOCKS if "micrograd_like.viz" not in b])
    for text in PROMISED_OUTPUT:
        assert text in output, text


def test_readme_picture_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_dot()
    monkeypatch.chdir(tmp_path)
    output = run_blocks(BLOCKS)
    for text in PROMISED_PICTURE_OUTPUT:
        assert text in output, text
    assert (tmp_path / "graph.svg").read_text(encoding="utf-8").startswith("<?xml")
    network = html.unescape((tmp_path / "network.svg").read_text(encoding="utf-8"))
    assert ">L1.N2.w1<" in network and ">w1<" in network and ">x = (0.5, -1.2)<" in network
    expanded = html.unescape((tmp_path / "micrograd.svg").read_text(encoding="utf-8"))
    assert ">b + w1*x1<" in expanded and ">L2.N1.b<" in expanded
    assert (tmp_path / "steps" / "index.html").exists()


def test_readme_property_tests_pass_for_the_correct_op() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    block = next(b for b in BLOCKS if "custom_op" in b)
    run_block(block, namespace)
    for name in ("test_softplus_slope", "test_softplus_in_random_graphs"):
        test = namespace[name]
        assert callable(test)
        test()
