"""The conformance kit: check any micrograd-style engine's gradients, and say what is wrong.

An engine is a class with micrograd's contract: ``Value(data)``, ``.data``, ``.grad``,
``.backward()`` and whichever of ``+ - * / **``, unary ``-``, the reflected forms (``2.0 - v``,
``2.0 ** v``) and the methods ``relu() tanh() exp() log() ...`` it has; an op it lacks is
skipped as "not provided". Only that public surface is used, so micrograd's engines
(``Value(data, _children, _op)`` with ``_backward``) and microgpt's (``Value(data, children,
local_grads)``, no ``_backward``) are checked alike.

Each op is checked alone, then for ``+=`` into a value used twice, then in graphs, comparing
``backward()`` with the exact derivative and with central differences of the engine's forward;
a failure comes with the simplest formula found and a hint at the kind of bug that fits.

The modules, by role:
  reference    the ops, their exact math and the classic slips; formulas
  search       seeded draws and shrinking (same seed, same examples, on any machine)
  engine_side  the only kit code in the engine's process: numbers, no verdicts
  process      the engine's process, treated as hostile; answers read with caps
  checks       each op alone, and its += into a value used twice
  graphs       the graph's shape: two paths, off the path, backward twice, deep chains
  hints        from wrong numbers to the likely bug
  report       report cards and summaries
  formats      Gradescope, PrairieLearn, JUnit XML, and points per check
  run          the list of checks; check_engines: one process per engine, Ctrl-C safe
"""

from micrograd_like.kit.process import EngineLoadError
from micrograd_like.kit.report import CheckResult, Report, render_summary
from micrograd_like.kit.run import CHECKS, assert_engine_correct, check_engine, check_engines

__all__ = [
    "CHECKS",
    "CheckResult",
    "EngineLoadError",
    "Report",
    "assert_engine_correct",
    "check_engine",
    "check_engines",
    "render_summary",
]
