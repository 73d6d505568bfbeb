"""Promises under attack: no silently wrong gradient, whatever order, thread or mutation."""

from __future__ import annotations

import math
import random
import sys
import threading
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_like.debug import steps_table
from micrograd_like.engine import (
    StaleGraphError,
    Value,
    backward_steps,
    grad,
    linear,
    sum_of,
    topological_order,
)
from micrograd_like.nn import MLP
from micrograd_like.strategies import expressions

# --- 1. data changed after a node was made from it --------------------------------------------


def test_backward_refuses_data_changed_after_the_graph_was_built_naming_value_and_op() -> None:
    x = Value(2.0, label="x")
    z = (x * x).tanh()
    x.data = 3.0
    with pytest.raises(StaleGraphError, match=r"backward through mul: operand 0 of the mul node"):
        z.backward()
    assert x.grad == 0.0  # nothing half-applied


def test_grad_and_the_stepper_refuse_stale_data_too() -> None:
    x = Value(2.0, label="x")
    z = x.exp() * 3.0
    x.data = 1.0
    with pytest.raises(StaleGraphError, match="label='x'"):
        grad(z, [x])
    with pytest.raises(StaleGraphError):
        list(backward_steps(z))
    with pytest.raises(StaleGraphError):
        steps_table(z)


def test_rewriting_a_computed_node_is_detected_even_at_the_root() -> None:
    x = Value(0.5)
    t = x.tanh()
    t.data = 0.9  # tanh_local reads the output: its derivative would be 1 - 0.81, of no point
    with pytest.raises(StaleGraphError, match=r"the data of Value\(data=0\.9.* was changed"):
        t.backward()


def test_data_written_before_the_graph_is_built_is_fine_and_so_are_optimizer_steps() -> None:
    model = MLP(2, [3, 1], rng=random.Random(0))
    for _ in range(3):  # write, build, backward: an ordinary training loop
        model.zero_grad()
        out = model([0.5, -1.0])
        assert isinstance(out, Value)
        out.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad


def test_a_write_to_an_unrelated_value_does_not_condemn_a_graph() -> None:
    x, other = Value(2.0), Value(5.0)
    z = x * x
    other.data = 6.0  # a later write, but not to anything z was computed from
    z.backward()
    assert x.grad == 4.0


# --- 2. threads --------------------------------------------------------------------------------


def test_concurrent_backward_on_graphs_sharing_nodes_gives_every_leaf_its_exact_sum() -> None:
    # Threads switch every microsecond, so a chain rule flowing through shared .grad fields
    # mid-flight (the old engine) corrupts about half of these trials.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _share_two_graphs_between_two_threads()
    finally:
        sys.setswitchinterval(interval)


def _share_two_graphs_between_two_threads() -> None:
    for _ in range(20):
        leaves = [Value(0.1 * (i + 1)) for i in range(8)]
        shared = sum_of([leaf * leaf for leaf in leaves]).tanh()  # intermediates both graphs use
        roots = [shared * (k + 1.0) for k in range(2)]
        single = grad(roots[0], leaves) + grad(roots[1], leaves)
        expected = [a.data + b.data for a, b in zip(single[:8], single[8:], strict=True)]
        start = threading.Barrier(2)

        def run(root: Value, start: threading.Barrier = start) -> None:
            start.wait()
            for _ in range(50):
                root.backward()

        threads = [threading.Thread(target=run, args=(root,)) for root in roots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for leaf, e in zip(leaves, expected, strict=True):
            assert leaf.grad == pytest.approx(50 * e, rel=1e-12)


# --- 3. backward twice is exactly twice ----------------------------------------------------------


def test_backward_twice_is_exactly_twice_on_the_classic_counterexample() -> None:
    x = Value(0.3)
    y = x * 0.1 + x * 0.1 + x * 0.1
    y.backward()
    once = x.grad
    y.backward()
    assert x.grad == 2 * once  # bit for bit: one sum per call, added once


@settings(max_examples=100, deadline=None)
@given(expressions(min_ops=20, max_ops=50))
def test_backward_twice_gives_exactly_twice_the_leaf_gradients_on_random_graphs(
    expression: Any,
) -> None:
    leaves = [Value(x) for x in expression.inputs]
    out = expression(leaves)
    out.backward()
    once = [leaf.grad for leaf in leaves]
    intermediates = {node: node.grad for node in topological_order(out) if node.parents}
    out.backward()
    assert [leaf.grad for leaf in leaves] == [2 * g for g in once]
    assert {node: node.grad for node in intermediates} == intermediates  # fresh each call


# --- 4. pictures and the stepper never change a gradient ----------------------------------------


def test_the_stepper_after_backward_leaves_every_gradient_as_it_was() -> None:
    x, w = Value(2.0), Value(-3.0)
    out = (x * w + 1.0).tanh()
    out.backward()
    before = {node: node.grad for node in topological_order(out)}
    list(backward_steps(out))
    steps_table(out)
    assert {node: node.grad for node in topological_order(out)} == before


# --- 6. arguments are checked where they enter ---------------------------------------------------


@pytest.mark.parametrize("seed", [math.nan, math.inf, True, "1"])
def test_the_stepper_refuses_bad_seeds_as_backward_does(seed: Any) -> None:
    out = Value(2.0) * 3.0
    with pytest.raises((TypeError, ValueError), match=r"backward_steps\(seed\) got"):
        backward_steps(out, seed)
    with pytest.raises((TypeError, ValueError), match=r"backward_steps\(seed\) got"):
        steps_table(out, seed)


def test_grad_takes_any_iterable_of_inputs() -> None:
    x, y = Value(2.0), Value(3.0)
    out = x * y
    assert [g.data for g in grad(out, (v for v in (x, y)))] == [3.0, 2.0]
    assert [g.data for g in grad(out, {x: 0}.keys())] == [3.0]


@pytest.mark.parametrize(
    ("local", "error"),
    [
        (lambda out, a: (math.nan,), ValueError),
        (lambda out, a: ("1",), TypeError),
        (lambda out, a: 1.0, TypeError),
    ],
)
def test_from_op_checks_its_derivatives_as_custom_op_does(local: Any, error: type) -> None:
    with pytest.raises(error, match="myop"):
        Value.from_op(2.0, (Value(1.0),), "myop", local)


@pytest.mark.parametrize("name", ["tanh", "add", "relu", "", 3])
def test_from_op_refuses_builtin_and_empty_op_names(name: Any) -> None:
    with pytest.raises(ValueError, match="custom_op"):
        Value.from_op(2.0, (Value(1.0),), name, lambda out, a: (1.0,))


@pytest.mark.parametrize("number", [Fraction(1, 4), 3, 2.5])
def test_fractions_and_ints_are_numbers_wherever_a_number_is_accepted(number: Any) -> None:
    x = Value(number)
    assert x.data == float(number)
    assert (x + number).data == 2 * float(number)
    assert (x * Value(1.0)).data == float(number)


def test_numpy_scalars_and_zero_dimensional_arrays_are_numbers() -> None:
    numpy = pytest.importorskip("numpy")  # an optional extra; the test extra has matplotlib's
    for number in (numpy.float64(0.5), numpy.int64(3), numpy.array(0.25)):
        assert Value(number).data == float(number)
        assert (Value(1.0) * number).data == float(number)


@pytest.mark.parametrize("label", [3, None, b"x"])
def test_labels_must_be_strings(label: Any) -> None:
    with pytest.raises(TypeError, match="a label is a string"):
        Value(1.0, label=label)
    v = Value(1.0, label="v")
    with pytest.raises(TypeError, match="a label is a string"):
        v.label = label  # refused where it is set, not when a picture reads it later
    assert v.label == "v"


def test_grad_takes_one_value_as_its_inputs_as_pytorch_spells_it() -> None:
    x = Value(3.0)
    assert [g.data for g in grad(x * x, x)] == [6.0]


# --- 8. errors name the op and the value --------------------------------------------------------


def test_division_by_a_tiny_float_follows_ieee_and_two_tiny_values_divide_fine() -> None:
    assert (Value(3.0) / 1e-310).data == math.inf  # overflow, as float arithmetic does
    a, b = Value(1e-310), Value(2e-310)
    q = a / b
    q.backward()
    assert q.data == 0.5
    assert b.grad == -q.data / b.data  # -a/b**2 without forming b**2


def test_a_huge_int_is_refused_by_size_not_by_its_digits() -> None:
    with pytest.raises(OverflowError, match=r"Value\(\) got an integer of 5001 digits"):
        Value(10**5000)


def test_a_custom_local_using_math_under_create_graph_is_named_with_the_fix() -> None:
    from micrograd_like.ops import custom_op

    wave = custom_op(lambda out, x: (math.cos(x),), name="wave")(math.sin)
    x = Value(0.3)
    (first,) = grad(wave(x), [x])
    assert first.data == math.cos(0.3)  # on numbers, math is fine
    with pytest.raises(TypeError, match=r"wave: <lambda> read a Value's data.*ops\.cos"):
        grad(wave(x), [x], create_graph=True)


def test_a_kinked_custom_local_may_compare_under_create_graph() -> None:
    from micrograd_like.ops import custom_op

    bent = custom_op(lambda out, x: (1.0 if x > 0 else -1.0,), name="bent", kinks=[0.0])(abs)
    x = Value(-2.0)
    (slope,) = grad(bent(x), [x], create_graph=True)
    assert slope.data == -1.0


# --- 9. ** where PyTorch defines a gradient -------------------------------------------------------


def test_zero_to_a_value_power_gives_the_exponent_gradient_zero() -> None:
    base, y = Value(0.0), Value(2.5)
    (base**y).backward()
    assert y.grad == 0.0


def test_a_negative_base_to_an_integer_value_power_gets_its_gradient() -> None:
    e = Value(-7.0)
    (e ** Value(2.0)).backward()
    assert e.grad == -14.0


# --- 10. sum_of's order --------------------------------------------------------------------------


def test_sum_of_is_plain_left_to_right_float_addition() -> None:
    terms = [1e16, 1.0, -1e16, 1.0]
    assert sum_of(terms).data == ((((0.0 + 1e16) + 1.0) + -1e16) + 1.0)  # == 1.0, not 2.0
    assert linear([Value(1.0)], [2.0], Value(0.5)).data == 0.5 + 1.0 * 2.0


def test_sqrt_at_zero_has_an_infinite_slope_named_in_backward() -> None:
    x = Value(0.0)
    root = x.sqrt()
    assert root.data == 0.0
    with pytest.raises(ZeroDivisionError, match=r"sqrt: its derivative at \(0\.0\) is not"):
        root.backward()


def test_help_on_an_op_shows_its_formula_and_derivative() -> None:
    assert "d tanh(x)/dx = 1 - tanh(x)**2" in (Value.tanh.__doc__ or "")
    assert "d(a*b)/da = b" in (Value.__mul__.__doc__ or "")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=3, max_size=21).filter(lambda v: len(v) % 2 == 1))
def test_linear_computes_exactly_its_table_entrys_forward(numbers: list[float]) -> None:
    from micrograd_like.optable import op_named

    n = (len(numbers) - 1) // 2
    ws, xs, b = [Value(w) for w in numbers[:n]], numbers[n : 2 * n], Value(numbers[-1])
    assert linear(ws, [Value(x) for x in xs], b).data == op_named("linear").forward(*numbers)
    const = op_named("linear_const").forward(*numbers[:n], numbers[-1], *xs)
    assert linear(ws, xs, b).data == const


def test_a_pass_started_from_a_hook_inside_a_pass_is_refused_by_name() -> None:
    from micrograd_like.engine import watch

    x = Value(2.0)
    out = x * x

    def nested(step: object) -> None:
        (Value(1.0) * 3.0).backward()

    with watch(on_step=nested), pytest.raises(RuntimeError, match="from a hook inside a backward"):
        out.backward()
    out.backward()  # the refused pass let go of the lock
    assert x.grad == 4.0


@pytest.mark.parametrize("name", ["linear", "linear_const"])
def test_a_linear_entry_called_with_an_even_operand_count_is_refused(name: str) -> None:
    from micrograd_like.optable import op_named

    with pytest.raises(ValueError, match=r"linear: takes 2n \+ 1 operands .* got 4"):
        op_named(name)(1.0, 2.0, 3.0, 4.0)


def test_data_written_during_a_pass_is_refused_and_the_leaves_keep_their_gradients() -> None:
    from micrograd_like.engine import watch

    x, w = Value(2.0, label="x"), Value(3.0, label="w")
    out = (x * w).tanh()
    out.backward()
    before = (x.grad, w.grad)

    def write_once(step: object) -> None:  # a hook, or another thread, changing data mid-pass
        if x.data == 2.0:
            x.data = 5.0

    with watch(on_step=write_once), pytest.raises(StaleGraphError, match=r"operand 0 of the mul"):
        out.backward()
    assert (x.grad, w.grad) == before  # the refused pass added nothing
    x.data = 2.0
    out = (x * w).tanh()
    out.backward()  # the lock was let go, and a graph built after the write is fine
    assert x.grad == before[0] + 3.0 * (1 - math.tanh(6.0) ** 2)


@pytest.mark.parametrize("bad", [None, "0", [0.0]])
def test_a_grad_that_is_not_a_number_is_refused_before_the_pass_changes_anything(bad: Any) -> None:
    x, w = Value(2.0, label="x"), Value(3.0, label="w")
    out = x * w
    w.grad = 1.5
    x.grad = bad
    with pytest.raises(TypeError, match=r"backward: Value\(data=2\.0.*label='x'\) has grad"):
        out.backward()
    assert w.grad == 1.5 and x.grad is bad
    x.grad = 0  # an int, as microgpt's p.grad = 0, is a number
    out.backward()
    assert (x.grad, w.grad) == (3.0, 3.5)


# --- 11. nan from an overflow propagates instead of vanishing ------------------------------------


def overflowed_to_nan() -> Value:
    """inf - inf: a computation that overflowed on its own (nan is refused as data)."""
    big = Value(1e308) * 10.0
    return big - big


def test_relu_of_nan_is_nan_eager_and_compiled_and_a_hinge_loss_of_it_is_nan() -> None:
    from micrograd_like.compiled import compile_fn
    from micrograd_like.losses import hinge_loss

    assert math.isnan(overflowed_to_nan().relu().data)
    assert math.isnan(hinge_loss([overflowed_to_nan()], [1]).data)  # micrograd and PyTorch: nan
    w = Value(1.0)
    compiled = compile_fn(lambda x: ((w * x) * 10.0 - (w * x) * 10.0).relu(), [1.0], [w])
    assert math.isnan(compiled(1e308))  # inf - inf inside the compiled code
    relu = compile_fn(lambda x: (w * x).relu(), [1.0], [w])
    assert relu(-2.0) == 0.0 and relu(3.0) == 3.0  # the formula is still relu


def test_relu_passes_the_gradient_at_nan_as_pytorch_and_none_at_its_kink() -> None:
    x = overflowed_to_nan()
    assert Value.relu_local(math.nan, math.nan) == (1.0,)  # PyTorch masks with x <= 0
    assert Value.relu_local(0.0, 0.0) == (0.0,) and Value.relu_local(0.0, -1.0) == (0.0,)
    x.relu().backward()
    assert math.isnan(x.grad) is False and x.grad == 1.0


def test_zero_to_a_value_power_below_one_has_an_infinite_base_slope_as_pytorch() -> None:
    base, y = Value(0.0), Value(0.5)
    (base**y).backward()  # d/dbase = 0.5 * 0 ** -0.5: infinite, as IEEE and PyTorch give
    assert (base.grad, y.grad) == (math.inf, 0.0)
    base, y = Value(0.0), Value(0.0)
    (base**y).backward()  # 0 ** 0 = 1 for every base near 0: no slope, as PyTorch
    assert (base.grad, y.grad) == (0.0, 0.0)


# --- 12. errors named where the mistake is made -------------------------------------------------


def test_linear_refuses_a_plain_number_weight_or_bias_by_name() -> None:
    with pytest.raises(TypeError, match=r"linear: weight or bias 0 is 0\.5 of type float"):
        linear([0.5], [Value(1.0)], Value(0.0))  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"linear: weight or bias 1 is 0 of type int"):
        linear([Value(0.5)], [1.0], 0)  # type: ignore[arg-type]


def test_a_tensor_passed_as_data_is_not_called_a_value() -> None:
    class Tensorish:  # what a torch tensor offers: backward() and grad, but no _prev
        grad = None
        shape = ()

        def backward(self) -> None: ...

    with pytest.raises(TypeError, match=r"Value\(\) got .* of type Tensorish; expected a real"):
        Value(Tensorish())  # type: ignore[arg-type]


def test_compile_fn_of_a_function_that_returns_a_constant_compiles_and_runs() -> None:
    from micrograd_like.compiled import compile_fn

    w = Value(2.0)
    compiled = compile_fn(lambda x: Value(3.0), [1.0], [w])
    assert compiled(5.0) == 3.0
    assert compiled.value_and_grad(5.0) == (3.0, [0.0])
