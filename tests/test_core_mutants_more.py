"""More tests that kill mutants of the core (engine.py, optable.py, checks.py, recording.py).

Each pins a behaviour a surviving mutant changed; every expected value is worked out by hand.
How the survivors are found and counted is in tests/test_core_mutants.py's docstring.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import pytest

from micrograd_like import checks, engine
from micrograd_like.checks import short_number
from micrograd_like.engine import Value, grad, linear
from micrograd_like.optable import Op, custom_entry


def test_short_number_shortens_integers_of_more_than_64_bits_only() -> None:
    """2**63 has 64 bits and is shown whole; 2**64 has 65 and is shown by its 20 digits."""
    assert short_number(2**63) == "9223372036854775808"
    assert short_number(2**64) == "an integer of 20 digits"  # 18446744073709551616


@pytest.mark.parametrize(("b", "slope"), [(1.0, 1.0), (1.5, 0.0)])
def test_pow_value_slope_in_the_base_at_a_zero_base_and_exponents_from_one(
    b: float, slope: float
) -> None:
    """d(a**b)/da = b * a**(b-1) at a = 0: 1 * 0**0 = 1 for b = 1, 1.5 * 0**0.5 = 0 for b = 1.5.

    Only 0 <= b < 1 is special (0 and inf): b = 1 and b = 1.5 must take the formula.
    """
    a, exponent = Value(0.0), Value(b)
    (a**exponent).backward()
    assert a.grad == slope


def test_linear_refusal_of_a_number_weight_says_weights_are_values() -> None:
    """The refusal ends by saying why: parameters get gradients, so they must be Values."""
    with pytest.raises(TypeError) as raised:
        linear([Value(1.0), 2.0], [1.0, 1.0], Value(0.0))  # type: ignore[list-item]
    assert str(raised.value) == (
        "linear: weight or bias 1 is 2.0 of type float; "
        "weights and the bias are Values (parameters get gradients)"
    )


def _peek_local(out: Any, x: Any) -> tuple[Any, ...]:
    """A local derivative that reads its operand's data (float() of a Value)."""
    return (float(x),)


def test_grad_create_graph_refusal_names_the_local_of_an_op_declared_by_hand() -> None:
    """An Op built directly (not by custom_op) has no wrapper: the refusal names its local."""
    peek = Op("peek_by_hand", 1, lambda x: x, _peek_local)
    x = Value(3.0)
    with pytest.raises(TypeError, match=r"^peek_by_hand: _peek_local read a Value's data \(float"):
        grad(peek(x), [x], create_graph=True)


class _Undocumented:
    """A forward whose ``__doc__`` cannot be read (a proxy object, say)."""

    @property
    def __doc__(self) -> NoReturn:  # type: ignore[override]
        raise AttributeError("__doc__")

    def __call__(self, x: float) -> float:
        return x


def test_custom_entry_of_a_forward_without_a_readable_doc_gets_the_default_doc() -> None:
    """A forward whose __doc__ lookup fails is documented as "the custom op <name>"."""
    entry = custom_entry("undocumented_identity", 1, _Undocumented(), lambda out, x: (1.0,))
    assert entry.doc == "the custom op undocumented_identity"


def test_grad_starts_each_input_at_plus_zero_as_backward_does() -> None:
    """d(x * -0.0)/dx is -0.0; added to a gradient that starts at +0.0 it gives +0.0.

    backward() starts a leaf at +0.0, and grad() is a view of the same loop: the same bits.
    """
    x = Value(2.0)
    (dx,) = grad(x * -0.0, [x])
    assert math.copysign(1.0, dx.data) == 1.0
    (x * -0.0).backward()
    assert math.copysign(1.0, x.grad) == 1.0


def test_a_constant_made_before_any_write_is_not_stale_after_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 3 of ``x * 3`` is a constant no write can touch: an unrelated write leaves y usable."""
    monkeypatch.setattr(engine, "_writes", 0)  # as in a new process: no data written yet
    x = Value(2.0)
    y = x * 3  # made before any write, its constant operand too
    Value(1.0).data = 4.0  # some other value is written
    y.backward()
    assert x.grad == 3.0


def _never(*arguments: object) -> NoReturn:
    raise AssertionError(f"a check ran on the common path: {arguments!r}")


def test_the_common_path_pays_for_no_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finite floats, a str label, the default seed and a graph made after the last write pass
    no checker: the guards are paid only where they can fire (each mutant that drops a fast
    path still gives the right numbers, so only this test sees it)."""
    Value(0.0).data = 1.0  # a write, so the stale-data check has a count to compare with
    monkeypatch.setattr(engine, "checked_float", _never)
    monkeypatch.setattr(engine, "checked_label", _never)
    monkeypatch.setattr(engine, "_check_fresh", _never)
    monkeypatch.setattr(checks, "is_real", _never)
    x = Value(1.5, "x")
    y = x * 2.5 + -0.5  # two number operands: constant leaves, made without a check
    y.backward()
    assert (y.data, x.grad, x.label) == (3.25, 2.5, "x")  # 1.5 * 2.5 - 0.5; d/dx = 2.5
    assert checks.checked_float(0.25, "here") == 0.25


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (engine.topological_order, "topological_order"),
        (lambda root: list(engine.backward_steps(root)), "backward_steps"),
    ],
)
def test_a_root_that_is_not_a_value_is_refused_with_its_type(call: Any, where: str) -> None:
    with pytest.raises(TypeError, match=rf"^{where}: expected a Value, got 5 of type int$"):
        call(5)
