"""Tests written to kill mutants of gradcheck.py and nn.py that the suite let survive.

Each expected value is worked out by hand. To find the survivors, point ``only_mutate`` in
pyproject.toml's ``[tool.mutmut]`` at ``*micrograd_like/gradcheck.py`` and
``*micrograd_like/nn.py``, select tests/test_gradcheck.py, tests/test_nn.py,
tests/test_model_files.py, tests/test_core_mutants.py and this file, then
``rm -rf mutants && mutmut run --max-children 2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from micrograd_like.engine import Value, no_grad
from micrograd_like.gradcheck import (
    GradcheckError,
    KinkError,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from micrograd_like.nn import MLP, Layer, Module, Neuron

# --- gradcheck: what f is given, and the names in the messages -------------------------------


def test_gradcheck_gives_f_leaves_carrying_the_input_labels() -> None:
    seen: list[list[str]] = []

    def f(xs: list[Value]) -> Value:
        seen.append([x.label for x in xs])
        return xs[0] * xs[1]

    gradcheck(f, [Value(2.0, "a"), Value(3.0, "b")])
    numerical_grad(f, [Value(2.0, "c"), 3.0])
    # gradcheck: one call for backward, one at the point, two per input; numerical_grad: 1 + 4
    assert seen == [["a", "b"]] * 6 + [["c", ""]] * 5


def test_numerical_grad_names_itself_when_there_are_no_inputs() -> None:
    with pytest.raises(ValueError, match=r"^numerical_grad: no inputs to differentiate"):
        numerical_grad(lambda xs: Value(1.0), [])


def test_gradcheck_names_itself_for_a_bad_input() -> None:
    with pytest.raises(TypeError, match=r"^gradcheck: input 1 is True; expected a finite number"):
        gradcheck(lambda xs: xs[0], [1.0, True])


def test_gradgradcheck_names_itself_for_a_bad_input() -> None:
    with pytest.raises(TypeError, match=r"^gradgradcheck: input 0 is inf; expected a finite"):
        gradgradcheck(lambda xs: xs[0], [math.inf])


def test_gradcheck_names_itself_and_the_type_when_f_returns_a_number() -> None:
    with pytest.raises(
        TypeError, match=r"^gradcheck: f must return a Value, got 3\.0 of type float$"
    ):
        gradcheck(lambda xs: 3.0, [1.0])  # type: ignore[arg-type, return-value]


def test_gradgradcheck_names_itself_when_f_returns_a_number() -> None:
    with pytest.raises(
        TypeError, match=r"^gradgradcheck: f must return a Value, got 3\.0 of type float$"
    ):
        gradgradcheck(lambda xs: 3.0, [1.0])  # type: ignore[arg-type, return-value]


def _value_then_numbers() -> object:
    """An f that returns a Value on its first call and the number 2.0 on every later one."""
    calls: list[int] = []

    def f(xs: list[Value]) -> object:
        calls.append(1)
        return xs[0] * xs[0] if len(calls) == 1 else 2.0

    return f


def test_gradcheck_blames_finite_differences_when_a_later_call_returns_a_number() -> None:
    f = _value_then_numbers()
    with pytest.raises(
        TypeError, match=r"^finite differences: f must return a Value, got 2\.0 of type float$"
    ):
        gradcheck(f, [1.0])  # type: ignore[arg-type]


def test_numerical_grad_blames_finite_differences_when_f_returns_a_number() -> None:
    with pytest.raises(
        TypeError, match=r"^finite differences: f must return a Value, got 5 of type int$"
    ):
        numerical_grad(lambda xs: 5, [1.0])  # type: ignore[arg-type, return-value]


def test_gradgradcheck_names_itself_when_a_later_call_returns_a_number() -> None:
    f = _value_then_numbers()
    with pytest.raises(
        TypeError, match=r"^gradgradcheck: f must return a Value, got 2\.0 of type float$"
    ):
        gradgradcheck(f, [1.0])  # type: ignore[arg-type]


def test_gradcheck_infinite_tolerance_message_says_how_to_loosen_the_check() -> None:
    with pytest.raises(ValueError) as info:
        gradcheck(lambda xs: xs[0], [1.0], atol=math.inf)
    message = str(info.value)
    assert message.startswith("gradcheck: atol must be finite, got inf")
    assert message.endswith(
        "derivative pass, however wrong; give a large finite number to loosen the check"
    )


def test_gradcheck_domain_edge_message_names_the_error_type_and_the_remedy() -> None:
    # log at 1e-7 moved by -1e-6 is log(-9e-7): the engine refuses it with a ValueError
    with pytest.raises(ValueError) as info:
        gradcheck(lambda xs: xs[0].log(), [1e-7])
    message = str(info.value)
    assert "input x0 moved from 1e-07 to -9e-07 (ValueError: " in message
    assert message.endswith(
        "the point is within eps of the edge of f's domain: move it or use a smaller eps"
    )


# --- gradcheck: the failure table ------------------------------------------------------------


def _stopped(x: Value) -> Value:
    """x's number as a constant: f grows with it, but backward() sees no path through it."""
    return Value(x.data)


def test_gradcheck_table_rows_for_a_failing_and_a_passing_input() -> None:
    # f = x + const(x): numeric df/dx = 2, analytic 1; y is unused: both derivatives are 0
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda xs: xs[0] + _stopped(xs[0]), [1.0, 2.0])
    assert type(info.value) is GradcheckError  # no kinked op, equal one-sided differences
    lines = str(info.value).split("\n")
    assert lines[0].startswith("gradcheck: 1 of 2 derivatives disagree")
    header = ["input", "value", "analytic", "numeric", "abs", "error", "rel", "error"]
    assert lines[1].split() == header
    assert lines[2].split() == ["x0", "1", "1", "2", "1", "0.5", "<--", "FAIL"]
    assert lines[3].split() == ["x1", "2", "0", "0", "0", "0"]  # rel error 0 when both are 0
    assert lines[3].endswith(" 0")  # a passing row has no mark
    assert lines[4] == "a row passes when |analytic - numeric| <= atol + rtol * |numeric|"
    assert lines[5].startswith("every op's local derivative agrees")  # no op is the culprit
    assert len(lines) == 6  # no explanation: nothing suggests a kink


def test_gradgradcheck_table_names_the_check_and_second_derivatives() -> None:
    # f = x * const(x): analytic df/dx = const, so d2f/dx2 = 0; numerically d/dx(x) = 1
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda xs: xs[0] * _stopped(xs[0]), [1.0])
    lines = str(info.value).split("\n")
    assert lines[0].startswith("gradgradcheck: 1 of 1 derivatives disagree")
    assert lines[1].startswith("  second derivative ")
    assert lines[2].split() == ["d2f/dx0", "dx0", "1", "0", "1", "1", "1", "<--", "FAIL"]


def test_gradcheck_kink_note_names_the_op_its_graph_node_and_the_remedy() -> None:
    # relu(x) at its kink 0: analytic 0, numeric (1e-6 - 0) / 2e-6 = 0.5; graph [x, relu]
    with pytest.raises(KinkError) as info:
        gradcheck(lambda xs: xs[0].relu(), [0.0])
    assert str(info.value).split("\n")[-1] == (
        "x0: relu input 0 (graph node 1) is within the step eps=1e-06 of its kink at 0, "
        "so the difference straddles it; move the point or use a smaller eps"
    )


def test_gradcheck_a_step_landing_exactly_on_a_kink_straddles_it() -> None:
    # x = eps: the left step puts relu's operand at exactly 0, the kink, which is not above it;
    # the graph in rank order is [const, x, relu, +], so relu is graph node 2
    with pytest.raises(KinkError) as info:
        gradcheck(lambda xs: xs[0].relu() + _stopped(xs[0]), [1e-6])
    assert "relu input 1e-06 (graph node 2) is within the step eps=1e-06" in str(info.value)


def test_gradcheck_a_kinked_op_far_from_its_kink_is_no_excuse() -> None:
    # relu's operand 1 stays above 0 on both sides: a plain failure, not a kink
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda xs: xs[0].relu() + _stopped(xs[0]), [1.0])
    assert type(info.value) is GradcheckError
    assert "kink" not in str(info.value)


def _quadratic_plus_stopped(a: float, k: float) -> object:
    """f = a x^2 + k const(x): at x = 0 the right difference is k + a eps, the left k - a eps."""
    return lambda xs: a * xs[0] * xs[0] + k * _stopped(xs[0])


def test_gradcheck_one_sided_differences_far_apart_explain_the_failure() -> None:
    # a = 25, eps = 0.01: right 1.25, left 0.75, gap 0.5 > 1e-3 * 1.25
    with pytest.raises(KinkError) as info:
        gradcheck(_quadratic_plus_stopped(25.0, 1.0), [0.0], eps=0.01)  # type: ignore[arg-type]
    assert str(info.value).split("\n")[-1] == (
        "x0: the one-sided differences disagree (0.75 from the left, 1.25 from the right): "
        "f looks non-differentiable within eps=0.01 of this point "
        "(a kink like relu or abs at 0); move the point"
    )


def test_gradcheck_one_sided_gap_is_judged_relative_to_large_differences() -> None:
    # a = 20, k = 100, eps = 0.002: right 100.04, left 99.96, gap 0.08 <= 1e-3 * 100.04
    with pytest.raises(GradcheckError) as info:
        gradcheck(_quadratic_plus_stopped(20.0, 100.0), [0.0], eps=0.002)  # type: ignore[arg-type]
    assert type(info.value) is GradcheckError


def test_gradcheck_one_sided_gap_is_judged_against_one_for_small_differences() -> None:
    # k = 0.5, eps = 0.01: a = 0.04 gives a gap of 0.0008 <= 1e-3 (the floor, not 1e-3 * 0.5004)
    with pytest.raises(GradcheckError) as info:
        gradcheck(_quadratic_plus_stopped(0.04, 0.5), [0.0], eps=0.01)  # type: ignore[arg-type]
    assert type(info.value) is GradcheckError
    # a = 0.075 gives a gap of 0.0015 > 1e-3: explained as a kink
    with pytest.raises(KinkError, match="one-sided differences disagree"):
        gradcheck(_quadratic_plus_stopped(0.075, 0.5), [0.0], eps=0.01)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1.0005, -1.0005])
def test_gradcheck_one_sided_gap_is_judged_against_the_larger_difference(k: float) -> None:
    # a = 0.001001, eps = 0.5: differences k +- 0.0005005, gap 0.001001; the larger in size is
    # 1.0010005 (right for k > 0, left for k < 0), so the bar is 0.0010010005: not a kink
    with pytest.raises(GradcheckError) as info:
        gradcheck(_quadratic_plus_stopped(0.001001, k), [0.0], eps=0.5)  # type: ignore[arg-type]
    assert type(info.value) is GradcheckError


# --- nn: architecture, repr and messages -----------------------------------------------------


class _Pair(Module):
    def __init__(self) -> None:
        self.a = Value(1.0)
        self.b = Value(2.0)

    def parameters(self) -> list[Value]:
        return [self.a, self.b]


def test_module_architecture_and_repr_name_the_subclass_and_count_parameters() -> None:
    pair = _Pair()
    assert pair.architecture() == {"module": "_Pair", "parameters": 2}
    assert repr(pair) == "_Pair(2 parameters)"


def test_module_save_and_load_round_trip_a_custom_module(tmp_path: Path) -> None:
    path = tmp_path / "pair.json"
    _Pair().save(path)
    other = _Pair()
    other.a.data, other.b.data = 7.0, 8.0
    other.load(path)
    assert (other.a.data, other.b.data) == (1.0, 2.0)


def test_neuron_architecture_is_exact() -> None:
    assert Neuron(3, activation="tanh").architecture() == {
        "module": "Neuron",
        "nin": 3,
        "activation": "tanh",
    }


def test_layer_architecture_is_exact() -> None:
    assert Layer(2, 4, activation="sigmoid").architecture() == {
        "module": "Layer",
        "nin": 2,
        "nout": 4,
        "activation": "sigmoid",
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Neuron(0), "Neuron: nin must be a positive integer, got 0"),
        (lambda: Neuron(True), "Neuron: nin must be a positive integer, got True"),
        (lambda: Layer(-1, 2), "Layer: nin must be a positive integer, got -1"),
        (lambda: Layer(2, 0), "Layer: nout must be a positive integer, got 0"),
        (lambda: MLP(0, [1]), "MLP: nin must be a positive integer, got 0"),
        (lambda: MLP(2, [3, 0]), "MLP: each of nouts must be a positive integer, got 0"),
    ],
)
def test_sizes_are_refused_naming_the_class_and_the_argument(build: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        build()  # type: ignore[operator]
    assert str(info.value) == message


def test_neuron_contradictory_activation_message_says_to_pass_one() -> None:
    with pytest.raises(ValueError) as info:
        Neuron(2, nonlin=False, activation="tanh")
    assert str(info.value) == (
        "Neuron: nonlin=False asks for a linear neuron but activation='tanh'; pass only one of them"
    )


def test_mlp_refuses_a_string_of_sizes() -> None:
    with pytest.raises(TypeError) as info:
        MLP(2, "12")  # type: ignore[arg-type]
    assert str(info.value) == "MLP: nouts must be a non-empty list of layer sizes, got '12'"


# --- nn: calling -------------------------------------------------------------------------------


def test_layer_without_grad_computes_from_values_and_numbers() -> None:
    layer = Layer(2, 2, nonlin=False)
    for p, number in zip(layer.parameters(), [1.0, 2.0, 0.5, -1.0, 3.0, 0.0], strict=True):
        p.data = number
    with no_grad():
        out = layer([Value(1.0), 2.0])
    assert isinstance(out, list)
    # 1*1 + 2*2 + 0.5 = 5.5 and -1*1 + 3*2 + 0 = 5
    assert [o.data for o in out] == [5.5, 5.0]


class _BrokenIterable:
    """An iterable that refuses to be iterated, as a 0-d numpy array does."""

    def __iter__(self) -> Iterator[float]:
        raise TypeError("iteration over a 0-d thing")


def test_an_iterable_that_cannot_be_iterated_is_refused_naming_its_type() -> None:
    with pytest.raises(TypeError) as info:
        Neuron(1)(_BrokenIterable())  # type: ignore[arg-type]
    assert str(info.value) == (
        "ReLUNeuron(1) takes a list or tuple of numbers or Values, or one number or Value; "
        "got _BrokenIterable"
    )


# --- nn: from_file -----------------------------------------------------------------------------


def test_from_file_keeps_a_two_layer_mlps_hidden_activation(tmp_path: Path) -> None:
    path = tmp_path / "tanh.json"
    MLP(2, [3, 1], activation="tanh").save(path)
    assert MLP.from_file(path).architecture() == {
        "module": "MLP",
        "nin": 2,
        "nouts": [3, 1],
        "activations": ["tanh", "linear"],
    }


def test_from_file_keeps_a_one_layer_mlps_output_activation(tmp_path: Path) -> None:
    path = tmp_path / "sigmoid.json"
    MLP(2, [1], output_activation="sigmoid").save(path)
    assert MLP.from_file(path).architecture()["activations"] == ["sigmoid"]
