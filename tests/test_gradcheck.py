"""The gradient checker: right answers pass, wrong ones fail with a table, kinks are named."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from micrograd_like.engine import Value
from micrograd_like.gradcheck import (
    GradcheckError,
    KinkError,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from micrograd_like.ops import custom_op, sigmoid
from tests.softplus_cases import doubled_softplus, hand_sigmoid, softplus_forward

ROOT = Path(__file__).resolve().parent.parent


def numbers_only_local(out: Any, x: Any) -> tuple[Any, ...]:
    # the right slope, but computed from plain numbers, so create_graph cannot see through it
    number = x.data if isinstance(x, Value) else x
    return (hand_sigmoid(number),)


flat_softplus = custom_op(numbers_only_local, name="flat_softplus")(softplus_forward)


def test_numerical_grad_matches_hand_derivatives() -> None:
    # f = x*y + x**3: df/dx = y + 3x**2 = 15, df/dy = x = 2 at (2, 3)
    estimate = numerical_grad(lambda v: v[0] * v[1] + v[0] ** 3, [2.0, 3.0])
    assert estimate == pytest.approx([15.0, 2.0], rel=1e-8)


def test_numerical_grad_of_unused_input_is_zero() -> None:
    assert numerical_grad(lambda v: v[0].tanh(), [0.5, 7.0])[1] == 0.0


def test_gradcheck_passes_correct_gradients() -> None:
    gradcheck(lambda v: (v[0] * v[1]).tanh() + v[1].exp() / v[0], [0.7, -0.3])
    gradcheck(lambda v: (v[0] * v[0] + 1).log() * v[0].sigmoid(), [Value(-1.3, "x")])


def test_gradcheck_leaves_input_values_untouched() -> None:
    x = Value(0.5, "x")
    gradcheck(lambda v: v[0] * v[0], [x])
    assert x.grad == 0.0


def test_gradcheck_failure_is_an_assertion_error_with_a_table() -> None:
    with pytest.raises(AssertionError) as caught:
        gradcheck(lambda v: doubled_softplus(v[0]) * v[1], [Value(0.4, "x"), Value(2.0, "y")])
    assert isinstance(caught.value, GradcheckError)
    assert not isinstance(caught.value, KinkError)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("gradcheck: 1 of 2 derivatives disagree")
    header = ["input", "value", "analytic", "numeric", "abs", "error", "rel", "error"]
    assert lines[1].split() == header
    # df/dx: analytic 2 * 2 sigmoid(0.4) (the doubled op), numeric 2 sigmoid(0.4) (the truth)
    x_row, y_row = lines[2].split(), lines[3].split()
    assert x_row[0] == "x" and x_row[-1] == "FAIL"
    assert float(x_row[2]) == pytest.approx(4 * hand_sigmoid(0.4), rel=1e-7)
    assert float(x_row[3]) == pytest.approx(2 * hand_sigmoid(0.4), rel=1e-7)
    assert float(x_row[5]) == pytest.approx(0.5, rel=1e-6)  # relative error of a factor of two
    assert y_row[0] == "y" and "FAIL" not in y_row


def test_gradcheck_names_unlabelled_inputs_by_index() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda v: v[0] + doubled_softplus(v[1]), [1.0, 0.2])
    assert str(caught.value).splitlines()[3].split()[0] == "x1"


def test_gradcheck_flags_a_flipped_sign() -> None:
    def flipped_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (-sigmoid(x),)

    flipped = custom_op(flipped_local, name="flipped")(softplus_forward)
    with pytest.raises(GradcheckError, match="<-- FAIL"):
        gradcheck(lambda v: flipped(v[0]), [-0.5])


def test_gradcheck_reports_relu_kink_instead_of_failing_obscurely() -> None:
    with pytest.raises(KinkError) as caught:
        gradcheck(lambda v: (v[0] * 3).relu(), [Value(1e-7, "x")])
    message = str(caught.value)
    assert "x: relu input 3e-07" in message
    assert "kink at 0" in message and "use a smaller eps" in message


def test_gradcheck_passes_near_a_kink_with_a_smaller_step() -> None:
    gradcheck(lambda v: (v[0] * 3).relu(), [1e-7], eps=1e-9, atol=1e-4)


def test_gradcheck_reports_kink_of_custom_op() -> None:
    def sign_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0 if x > 0 else -1.0,)

    magnitude = custom_op(sign_local, name="magnitude", kinks=(0.0,))(abs)
    with pytest.raises(KinkError, match=r"magnitude input 0 .* kink at 0"):
        gradcheck(lambda v: magnitude(v[0]), [0.0])


def test_gradcheck_keeps_relu_kink_after_a_custom_op_tries_its_name() -> None:
    with pytest.raises(ValueError, match="shadows a built-in op name"):
        custom_op(lambda out, x: (1.0,), name="relu")(lambda x: x)
    with pytest.raises(KinkError, match=r"relu input 0 .* kink at 0"):
        gradcheck(lambda v: v[0].relu(), [0.0])


def test_gradcheck_keeps_a_kink_when_its_op_name_is_reused() -> None:
    def sign_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0 if x > 0 else -1.0,)

    folded = custom_op(sign_local, name="folded", kinks=(0.0,))(abs)
    custom_op(lambda out, x: (1.0,), name="folded")(lambda x: x)  # a second op, same name
    with pytest.raises(KinkError, match=r"folded input 0 .* kink at 0"):
        gradcheck(lambda v: folded(v[0]), [0.0])


def test_gradcheck_spots_an_undeclared_kink_from_one_sided_differences() -> None:
    def sign_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0 if x > 0 else -1.0,)

    undeclared = custom_op(sign_local, name="undeclared_abs")(abs)
    with pytest.raises(KinkError, match="one-sided differences disagree"):
        gradcheck(lambda v: undeclared(v[0]), [2e-7])


def test_gradcheck_explains_a_point_at_the_edge_of_the_domain() -> None:
    with pytest.raises(ValueError, match=r"moved from 1e-07 to -9e-07.*edge of f's domain"):
        gradcheck(lambda v: v[0].log(), [1e-7])


def test_gradcheck_fails_on_non_finite_analytic_gradient() -> None:
    def steep_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1e308 * x,)

    steep = custom_op(steep_local, name="steep")(lambda x: x)
    with pytest.raises(GradcheckError, match="<-- FAIL"):
        gradcheck(lambda v: steep(v[0]) * 1e10, [1.0])


def test_gradcheck_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"f must return a Value, got 2\.0"):
        gradcheck(lambda v: 2.0, [1.0])  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="input 0 is 'a'"):
        gradcheck(lambda v: v[0], ["a"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="eps must be a small positive number"):
        gradcheck(lambda v: v[0], [1.0], eps=0.0)
    with pytest.raises(ValueError, match="no inputs"):
        gradcheck(lambda v: Value(1.0), [])


CHECKS = {"gradcheck": gradcheck, "gradgradcheck": gradgradcheck}
BAD_TOLERANCES = [
    (-1e-5, ValueError, r"must be a number >= 0, got -1e-05"),
    (math.nan, ValueError, r"must be a number >= 0, got nan"),
    (math.inf, ValueError, r"must be finite, got inf"),
    (-math.inf, ValueError, r"must be a number >= 0, got -inf"),
    ("1e-5", TypeError, r"must be a real number, got '1e-5' of type str"),
    (None, TypeError, r"must be a real number, got None of type NoneType"),
    (True, TypeError, r"must be a real number, got True of type bool"),
    (1e-5j, TypeError, r"must be a real number, got 1e-05j of type complex"),
]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name", ["atol", "rtol"])
@pytest.mark.parametrize(("bad", "error", "says"), BAD_TOLERANCES)
def test_checks_refuse_bad_tolerances_naming_them(
    check: str, name: str, bad: object, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=rf"^{check}: {name} {says}"):
        CHECKS[check](lambda v: v[0] * v[0], [1.0], **{name: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name", ["atol", "rtol"])
def test_an_infinite_tolerance_cannot_pass_a_wrong_derivative(check: str, name: str) -> None:
    # doubled_softplus' derivative is twice the truth: with an infinite tolerance the call is
    # refused, never waved through (the old checker passed it silently)
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        CHECKS[check](lambda v: doubled_softplus(v[0]), [0.4], **{name: math.inf})


def test_zero_tolerances_are_allowed() -> None:
    # x * 2 has derivative exactly 2; the central difference of an exact line is exact here
    gradcheck(lambda v: v[0] * 2.0, [0.5], eps=0.25, atol=0.0, rtol=0.0)


BAD_STEPS = [
    (0.0, ValueError, r"must be a small positive number \(0 < eps < 1\), got 0\.0"),
    (-1e-6, ValueError, r"must be a small positive number \(0 < eps < 1\), got -1e-06"),
    (1.0, ValueError, r"must be a small positive number \(0 < eps < 1\), got 1\.0"),
    (math.nan, ValueError, r"must be a small positive number \(0 < eps < 1\), got nan"),
    (math.inf, ValueError, r"must be a small positive number \(0 < eps < 1\), got inf"),
    ("1e-6", TypeError, r"must be a real number, got '1e-6' of type str"),
    (None, TypeError, r"must be a real number, got None of type NoneType"),
    (False, TypeError, r"must be a real number, got False of type bool"),
]


@pytest.mark.parametrize("check", ["numerical_grad", *CHECKS])
@pytest.mark.parametrize(("bad", "error", "says"), BAD_STEPS)
def test_checks_refuse_bad_steps_naming_them(
    check: str, bad: object, error: type[Exception], says: str
) -> None:
    function = {"numerical_grad": numerical_grad, **CHECKS}[check]
    with pytest.raises(error, match=rf"^{check}: eps {says}"):
        function(lambda v: v[0] * v[0], [1.0], eps=bad)  # type: ignore[operator]


def test_gradgradcheck_passes_smooth_second_derivatives() -> None:
    gradgradcheck(lambda v: (v[0] * v[1]).tanh() + v[0].exp() * v[1] ** 3, [0.4, -0.8])


def test_gradgradcheck_catches_a_derivative_computed_from_numbers() -> None:
    # first derivatives are right, so gradcheck passes; building the second one reads .data,
    # which would make it 0: the engine refuses, naming the op, its local and the helpers to use
    gradcheck(lambda v: flat_softplus(v[0]), [0.3])
    with pytest.raises(TypeError, match=r"flat_softplus: numbers_only_local read a Value's data"):
        gradgradcheck(lambda v: flat_softplus(v[0]), [Value(0.3, "x")])


def test_gradgradcheck_reports_relu_kink() -> None:
    with pytest.raises(KinkError, match="relu input 1e-07"):
        gradgradcheck(lambda v: v[0].relu() ** 2, [1e-7])


def test_gradcheck_fails_where_the_finite_difference_overflows_to_inf() -> None:
    # f = x * 1e308 at the largest x whose f is finite: f(x + eps) is inf, so the central
    # difference is inf while the analytic slope is 1e308; |1e308 - inf| <= rtol * inf was "true"
    with pytest.raises(GradcheckError, match=r"1 of 1 derivatives disagree"):
        gradcheck(lambda xs: xs[0] * 1e308, [1.7976931348623157])


# --- the culprit: each op's local derivative checked on its own --------------------------------


def test_gradcheck_names_the_op_whose_local_derivative_is_wrong() -> None:
    x, y = Value(0.4, "x"), Value(2.0, "y")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda v: (doubled_softplus(v[0] * v[1]) + v[0]).tanh(), [x, y])
    # only doubled_softplus is wrong: at x*y = 0.8 it says 2 sigmoid(0.8), the truth is sigmoid
    [culprit] = caught.value.culprits
    assert (culprit.node, culprit.op, culprit.local) == (
        "doubled_softplus(x*y)",
        "doubled_softplus",
        "doubled_local",
    )
    assert culprit.operands == (0.8,) and culprit.operand == 0
    assert culprit.analytic == pytest.approx(2 * hand_sigmoid(0.8), rel=1e-12)
    assert culprit.numeric == pytest.approx(hand_sigmoid(0.8), rel=1e-7)
    lines = str(caught.value).splitlines()
    assert lines[-2].startswith("the culprit: each op's local derivative checked on its own")
    assert lines[-1] == (  # as the README quotes it
        "  doubled_softplus(x*y): doubled_local gives d/d(operand 0) = 1.379949 at (0.8); "
        "central differences of doubled_softplus's forward give 0.68997448"
    )


def test_gradcheck_says_when_every_op_is_right_and_f_is_wrong() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda v: v[0] * v[0].data, [Value(1.5, "x")])  # data read as a constant
    assert caught.value.culprits == ()
    assert "every op's local derivative agrees" in str(caught.value)


def test_gradcheck_hides_its_own_frames_from_pytest(tmp_path: Path) -> None:
    test_file = tmp_path / "test_planted.py"
    test_file.write_text(
        "from tests.softplus_cases import doubled_softplus\n"
        "from micrograd_like.gradcheck import gradcheck\n\n"
        "def test_wrong_op():\n"
        "    gradcheck(lambda v: doubled_softplus(v[0]) * 2, [0.3])\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(test_file),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "1 failed" in run.stdout
    assert "gradcheck(lambda v: doubled_softplus(v[0]) * 2, [0.3])" in run.stdout  # the caller
    assert "the culprit" in run.stdout
    assert "gradcheck.py" not in run.stdout  # none of gradcheck's own lines above the table


def test_gradcheck_culprit_names_unlabelled_inputs_as_the_table_does() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda v: doubled_softplus(v[0] * 2) * v[1], [0.0, 2.0])
    assert [c.node for c in caught.value.culprits] == ["doubled_softplus(x0*2)"]
