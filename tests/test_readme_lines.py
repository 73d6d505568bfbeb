"""README sentences that no other test held: each test quotes its line and fails if it breaks.

The expected numbers are worked out by hand in the comments, never read off the code under test.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from micrograd_like.engine import Value
from tests.support import require

# tomllib from 3.11 on; the test extra installs its backport tomli on 3.10
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_backward_twice_gives_micrograd_5x_on_a_neuron_and_us_exactly_2x() -> None:
    """The table's first row: micrograd's intermediates pile up, "5x for w1 in relu(x1*w1 + x2*w2
    + b)"; ours are exactly twice. By hand, micrograd's second call: relu's grad is reset to 1,
    the sum above b gets 1 + 1 = 2, the sum below gets 1 + 2 = 3, x1*w1 gets 1 + 3 = 4, so w1
    gets x1 * 4 = 8 more than the first call's x1 * 1 = 2: 10, five times 2."""
    assert "5x for `w1` in `relu(x1*w1 + x2*w2 + b)`" in README
    require(
        importlib.util.find_spec("micrograd") is not None,
        "micrograd",
        "pip install micrograd==0.1.0",
    )
    from micrograd.engine import Value as TheirValue

    for make, twice in ((TheirValue, 10.0), (Value, 4.0)):
        x1, x2, w1, w2, b = make(2.0), make(-1.0), make(0.5), make(0.3), make(0.1)
        out = (x1 * w1 + x2 * w2 + b).relu()  # 1.0 - 0.3 + 0.1 = 0.8 > 0: relu passes
        out.backward()
        assert w1.grad == 2.0  # d(out)/d(w1) = x1
        out.backward()
        assert w1.grad == twice, make


def test_the_run_time_dependency_is_graphviz_and_the_readme_lists_every_extra() -> None:
    """ "Dependencies: `graphviz` at run time; everything else sits in the extras ...": the
    README's list of extras is pyproject's, and nothing else is needed to import the package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert [re.split(r"[<>=!~ ;]", d, maxsplit=1)[0] for d in project["dependencies"]] == [
        "graphviz"
    ]
    found = re.search(r"everything else sits in the extras ([^.]+)\.", README)
    assert found is not None
    assert sorted(re.findall(r"`(\w+)`", found[1])) == sorted(project["optional-dependencies"])
