"""The engine against the references: micrograd's README numbers and PyTorch in float64."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings

from micrograd_like.engine import Value
from micrograd_like.optable import builtin_names
from micrograd_like.strategies import BUILTIN_OPS, Expression, Slot, expressions
from tests.support import require_torch
from tests.test_second_derivatives import TORCH, torch_counterpart


def micrograd_readme_expression(value: Callable[[float], Any]) -> tuple[float, float, float]:
    """Every idiom of micrograd's README example, for whichever Value class is passed in."""
    a = value(-4.0)
    b = value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


def test_micrograd_readme_example_gives_micrograds_numbers() -> None:
    from micrograd.engine import Value as MicrogradValue

    ours = micrograd_readme_expression(Value)
    theirs = micrograd_readme_expression(MicrogradValue)
    # micrograd keeps parents in a set, so its accumulation order (and the last bit of its
    # gradients) changes from run to run with memory addresses; ours is fixed.
    assert ours == pytest.approx(theirs, rel=1e-13)
    assert ours == micrograd_readme_expression(Value)
    # The values micrograd's README prints, to the digits it prints them.
    assert [round(n, 4) for n in ours] == [24.7041, 138.8338, 645.5773]


def test_micrograd_readme_example_matches_torch() -> None:
    require_torch()
    import torch

    def tensor(x: float) -> Any:
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    a, b = tensor(-4.0), tensor(2.0)
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    ours = micrograd_readme_expression(Value)
    assert ours[0] == pytest.approx(g.item(), rel=1e-14)
    assert ours[1] == pytest.approx(a.grad.item(), rel=1e-14)
    assert ours[2] == pytest.approx(b.grad.item(), rel=1e-14)


def torch_replay(torch: Any, expression: Expression, leaves: list[Any]) -> Any:
    """The expression's graph built again from torch tensors, step by step, through TORCH."""
    nodes = list(leaves)
    for step in expression.steps:
        args = [nodes[a.index] if isinstance(a, Slot) else a for a in step.args]
        nodes.append(torch_counterpart(step.op)(torch, args))
    return nodes[-1]


# Values, then gradients: 1 ulp of libm against PyTorch's kernels, carried through up to 15 ops
# whose slopes strategies.expressions bounds, stays far below these.
GRAPH_RTOL, GRAPH_ATOL = 1e-9, 1e-9


@settings(max_examples=60, deadline=None)
@given(expressions(ops=BUILTIN_OPS, max_ops=15))  # every op of the op table (BUILTIN_OPS)
def test_random_graphs_of_every_op_match_torch_float64(expression: Expression) -> None:
    require_torch()
    import torch

    leaves = [Value(x) for x in expression.inputs]
    out = expression(leaves)
    out.backward()
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expression.inputs]
    expected = torch_replay(torch, expression, tensors)
    expected.backward()

    assert out.data == pytest.approx(expected.item(), rel=GRAPH_RTOL, abs=GRAPH_ATOL)
    for leaf, tensor in zip(leaves, tensors, strict=True):
        theirs = 0.0 if tensor.grad is None else tensor.grad.item()  # None: an unused input
        assert leaf.grad == pytest.approx(theirs, rel=GRAPH_RTOL, abs=GRAPH_ATOL)
        assert math.isfinite(leaf.grad)


def test_random_graphs_draw_every_op_of_the_table() -> None:
    # the graphs above cover the table: BUILTIN_OPS is read off it (linear_const is drawn as
    # linear with constant inputs), and every name there has a torch counterpart
    assert set(BUILTIN_OPS) >= set(builtin_names()) - {"linear_const"}
    assert [op for op in BUILTIN_OPS if op not in TORCH] == []
