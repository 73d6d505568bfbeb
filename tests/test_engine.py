"""Engine tests: each op against hand-derived derivatives, the classic traps, and bad input."""

from __future__ import annotations

import gc
import math

import pytest

from micrograd_like.engine import Value, backward_steps, linear, sum_of, topological_order
from micrograd_like.optable import builtin_names


def grads_of(build: object, *data: float) -> tuple[float, list[float]]:
    """Run ``build`` on fresh leaves, backpropagate, and return (output, leaf gradients)."""
    leaves = [Value(d) for d in data]
    out = build(*leaves)  # type: ignore[operator]
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


# --- each op against its derivative worked out by hand ------------------------------------------


def test_add_value_and_grads() -> None:
    assert grads_of(lambda a, b: a + b, 2.0, -3.0) == (-1.0, [1.0, 1.0])


def test_mul_value_and_grads() -> None:
    # d(ab)/da = b = -4, d(ab)/db = a = 3
    assert grads_of(lambda a, b: a * b, 3.0, -4.0) == (-12.0, [-4.0, 3.0])


def test_sub_value_and_grads() -> None:
    assert grads_of(lambda a, b: a - b, 5.0, 2.0) == (3.0, [1.0, -1.0])


def test_div_value_and_grads() -> None:
    # d(a/b)/da = 1/b = 0.5, d(a/b)/db = -a/b**2 = -0.75
    out, (da, db) = grads_of(lambda a, b: a / b, 3.0, 2.0)
    assert out == 1.5
    assert da == pytest.approx(0.5, rel=1e-15)
    assert db == pytest.approx(-0.75, rel=1e-15)


def test_numbers_on_either_side() -> None:
    x = Value(4.0)
    results = [x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 2 / x, x**2, 2**x]
    assert [r.data for r in results] == [5.0, 5.0, 3.0, -3.0, 8.0, 8.0, 2.0, 0.5, 16.0, 16.0]


def test_rsub_and_rdiv_grads() -> None:
    # d(1 - x)/dx = -1; d(2/x)/dx = -2/x**2 = -0.125 at x = 4
    assert grads_of(lambda x: 1 - x, 4.0)[1] == [-1.0]
    assert grads_of(lambda x: 2 / x, 4.0)[1][0] == pytest.approx(-0.125, rel=1e-15)


@pytest.mark.parametrize(
    ("x", "k", "value", "slope"),
    [
        (3.0, 3, 27.0, 27.0),  # d(x**3)/dx = 3x**2
        (4.0, 0.5, 2.0, 0.25),  # d(sqrt x)/dx = 1/(2 sqrt x)
        (2.0, -2, 0.25, -0.25),  # d(x**-2)/dx = -2x**-3
        (-2.0, 3, -8.0, 12.0),  # a negative base with an integer exponent is fine
        (5.0, 0, 1.0, 0.0),
    ],
)
def test_pow_number_exponent(x: float, k: float, value: float, slope: float) -> None:
    out, (dx,) = grads_of(lambda v: v**k, x)
    assert out == pytest.approx(value, rel=1e-15)
    assert dx == pytest.approx(slope, rel=1e-15)


def test_pow_value_exponent() -> None:
    # a**b at a=2, b=3: d/da = b*a**(b-1) = 12, d/db = a**b * ln a = 8 ln 2
    out, (da, db) = grads_of(lambda a, b: a**b, 2.0, 3.0)
    assert out == 8.0
    assert da == pytest.approx(12.0, rel=1e-15)
    assert db == pytest.approx(8 * math.log(2), rel=1e-15)


def test_rpow_number_base() -> None:
    # d(2**x)/dx = 2**x ln 2
    out, (dx,) = grads_of(lambda x: 2**x, 3.0)
    assert out == 8.0
    assert dx == pytest.approx(8 * math.log(2), rel=1e-15)


def test_pow_zero_base_positive_exponent_has_zero_exponent_slope() -> None:
    # 0**b = 0 for all b > 0, so d/db = 0; d/da = b * 0**(b-1) = 0 for b = 2
    assert grads_of(lambda a, b: a**b, 0.0, 2.0) == (0.0, [0.0, 0.0])


def test_neg_value_and_grad() -> None:
    assert grads_of(lambda x: -x, 3.0) == (-3.0, [-1.0])


@pytest.mark.parametrize(
    ("x", "value", "slope"), [(2.0, 2.0, 1.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
)
def test_relu_value_and_grad(x: float, value: float, slope: float) -> None:
    assert grads_of(lambda v: v.relu(), x) == (value, [slope])


def test_tanh_value_and_grad() -> None:
    t = math.tanh(0.5)
    out, (dx,) = grads_of(lambda v: v.tanh(), 0.5)
    assert out == t
    assert dx == pytest.approx(1 - t * t, rel=1e-15)


def test_sigmoid_value_and_grad() -> None:
    # sigmoid(0) = 1/2, its slope s(1-s) = 1/4; at x = 2: s = 1/(1+e**-2)
    assert grads_of(lambda v: v.sigmoid(), 0.0) == (0.5, [0.25])
    s = 1 / (1 + math.exp(-2.0))
    out, (dx,) = grads_of(lambda v: v.sigmoid(), 2.0)
    assert out == pytest.approx(s, rel=1e-15)
    assert dx == pytest.approx(s * (1 - s), rel=1e-14)


def test_exp_value_and_grad() -> None:
    out, (dx,) = grads_of(lambda v: v.exp(), 1.0)
    assert out == pytest.approx(math.e, rel=1e-15)
    assert dx == pytest.approx(math.e, rel=1e-15)


def test_log_value_and_grad() -> None:
    out, (dx,) = grads_of(lambda v: v.log(), 2.0)
    assert out == pytest.approx(math.log(2), rel=1e-15)
    assert dx == 0.5


def test_linear_with_value_inputs() -> None:
    # b + w1 x1 + w2 x2 = 5 + 3 + 8 = 16; d/dw = x, d/dx = w, d/db = 1
    w1, w2, x1, x2, b = (Value(v) for v in (1.0, 2.0, 3.0, 4.0, 5.0))
    out = linear([w1, w2], [x1, x2], b)
    out.backward()
    assert out.data == 16.0
    assert [v.grad for v in (w1, w2, x1, x2, b)] == [3.0, 4.0, 1.0, 2.0, 1.0]
    assert out.parents == (w1, w2, x1, x2, b)


def test_linear_with_number_inputs_keeps_them_out_of_the_graph() -> None:
    w1, w2, b = Value(1.0), Value(2.0), Value(5.0)
    out = linear([w1, w2], [3.0, 4.0], b)
    out.backward()
    assert (out.data, w1.grad, w2.grad, b.grad) == (16.0, 3.0, 4.0, 1.0)
    assert out.parents == (w1, w2, b)


def test_linear_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match=r"linear: 2 weights but 1 inputs"):
        linear([Value(1.0), Value(2.0)], [1.0], Value(0.0))


def test_sum_of_value_and_grads() -> None:
    a, b = Value(1.5), Value(-2.0)
    out = sum_of([a, b, a, 3])
    out.backward()
    assert out.data == 4.0
    assert (a.grad, b.grad) == (2.0, 1.0)


def test_sum_of_adds_left_to_right_from_zero_on_every_python() -> None:
    # Python 3.12's sum() of floats compensates rounding; sum_of never does, on any version.
    data = [0.1, 0.2, 0.3, 1e16, -1e16, 0.7]
    expected = (((((0.0 + 0.1) + 0.2) + 0.3) + 1e16) + -1e16) + 0.7  # written out: 0.0
    assert expected == 0.7  # 0.1 + 0.2 + 0.3 vanished into 1e16; a compensated sum keeps 1.3
    assert sum_of(Value(d) for d in data).data == expected


# --- saturating functions do not overflow -------------------------------------------------------


def test_sigmoid_and_tanh_saturate_without_overflow() -> None:
    for x, s, t in ((1000.0, 1.0, 1.0), (-1000.0, 0.0, -1.0)):
        v = Value(x)
        sig, th = v.sigmoid(), v.tanh()
        (sig + th).backward()
        assert (sig.data, th.data) == (s, t)
        assert v.grad == 0.0


def test_exp_overflow_names_exp_and_input() -> None:
    with pytest.raises(OverflowError, match=r"exp\(\) of 1000\.0"):
        Value(1000.0).exp()


def test_pow_overflow_is_named() -> None:
    with pytest.raises(OverflowError, match=r"\*\*: 1e\+200 \*\* 3\.0"):
        Value(1e200) ** 3


# --- the classic traps ---------------------------------------------------------------------------


def test_reused_node_accumulates() -> None:
    # y = x*x + x, dy/dx = 2x + 1 = 7 at x = 3
    assert grads_of(lambda x: x * x + x, 3.0) == (12.0, [7.0])


def test_diamond() -> None:
    # d = (2a)(a + 3) = 2a**2 + 6a, dd/da = 4a + 6 = 14 at a = 2
    assert grads_of(lambda a: (a * 2) * (a + 3), 2.0) == (20.0, [14.0])


def test_a_plus_a_keeps_both_edges() -> None:
    a = Value(3.0)
    out = a + a
    out.backward()
    assert out.parents == (a, a)
    assert a.grad == 2.0


def test_deep_chain_backpropagates() -> None:
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert y.data == 100_000.5
    assert x.grad == 1.0


def test_backward_twice_doubles_leaves_exactly() -> None:
    x, w = Value(0.3), Value(-1.2)
    hidden = x * w
    out = (hidden + x).tanh()
    out.backward()
    once = (x.grad, w.grad, hidden.grad)
    out.backward()
    assert (x.grad, w.grad) == (2 * once[0], 2 * once[1])
    assert hidden.grad == once[2]  # intermediates start fresh on each call


def test_backward_on_a_leaf_accumulates_the_seed() -> None:
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_backward_seed_scales_every_gradient() -> None:
    x = Value(3.0)
    (x * x).backward(seed=0.5)
    assert x.grad == 3.0  # 0.5 * 2x


def test_topological_order_puts_every_node_after_its_parents() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = (c + a).tanh() * c + b
    order = topological_order(d)
    position = {node: i for i, node in enumerate(order)}
    assert order[-1] is d
    assert len(order) == len(set(order))
    for node in order:
        assert all(position[p] < position[node] for p in node.parents)


def test_dropped_graph_is_freed_without_the_cycle_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        y = x
        for _ in range(1000):
            y = (y * 1.0001 + x).tanh()
        y.backward()
        del y
        assert gc.collect() == 0, "some nodes were only reachable through a reference cycle"
    finally:
        gc.enable()


def test_backward_steps_end_with_backward_gradients() -> None:
    def build() -> tuple[list[Value], Value]:
        a, b = Value(0.7), Value(-1.3)
        return [a, b], ((a * b + a).tanh() * b).sigmoid()

    leaves, out = build()
    out.backward()
    expected = [leaf.grad for leaf in leaves]
    leaves, out = build()
    steps = list(backward_steps(out))
    assert [leaf.grad for leaf in leaves] == [0.0, 0.0]  # a view: no .grad changes
    last = {s.parent: s.grad_after for s in steps}
    assert [last[leaf] for leaf in leaves] == expected
    assert all(s.grad_after == s.grad_before + s.contribution for s in steps)


# --- what a debugger shows -----------------------------------------------------------------------


def test_repr_is_short_and_names_op_and_label() -> None:
    x = Value(2.0, label="x")
    y = x * 3
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    assert repr(y) == "Value(data=6.0, grad=0.0, op='mul')"
    deep = x
    for _ in range(10_000):
        deep = deep + 1.0
    assert len(repr(deep)) < 80


def test_local_functions_are_named_after_their_op() -> None:
    x, y = Value(0.5), Value(2.0)
    made = {
        "add": x + y,
        "mul": x * y,
        "div": x / y,
        "neg": -x,
        "pow": x**2,
        "pow_value": x**y,
        "relu": x.relu(),
        "tanh": x.tanh(),
        "sigmoid": x.sigmoid(),
        "exp": x.exp(),
        "log": x.log(),
        "sin": x.sin(),
        "cos": x.cos(),
        "sqrt": x.sqrt(),
        "abs": abs(x),
        "linear": linear([x], [y], y),
        "linear_const": linear([x], [2.0], y),
        "sum": sum_of([x, y]),
    }
    assert sorted(made) == sorted(builtin_names())  # every op of the table, and no other
    for name, node in made.items():
        assert node.op == name
        assert node.op_entry.local.__name__ == f"{name}_local"


def test_detach_copies_data_without_parents() -> None:
    x = Value(2.0, label="x")
    y = (x * 3).detach()
    assert (y.data, y.parents, y.op) == (6.0, (), "")


# --- bad input is refused where it happens -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ("3", TypeError, r"Value\(\) got '3' of type str"),
        (None, TypeError, r"Value\(\) got None of type NoneType"),
        (True, TypeError, r"Value\(\) got True of type bool"),
        (float("nan"), ValueError, r"Value\(\) got nan"),
        (float("inf"), ValueError, r"Value\(\) got inf"),
        (complex(1, 2), TypeError, r"expected a real number"),
    ],
)
def test_constructor_refuses_bad_data(data: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Value(data)  # type: ignore[arg-type]


def test_constructor_refuses_a_value() -> None:
    with pytest.raises(TypeError, match=r"Value\(\) got a Value \(Value\(data=2\.0"):
        Value(Value(2.0))  # type: ignore[arg-type]


def test_constructor_takes_ints_and_other_reals() -> None:
    from fractions import Fraction

    assert Value(3).data == 3.0
    assert type(Value(3).data) is float
    assert Value(Fraction(1, 4)).data == 0.25  # type: ignore[arg-type]  # any real number works


@pytest.mark.parametrize(
    "combine",
    [
        lambda v: v + "a",
        lambda v: "a" + v,
        lambda v: v * "a",
        lambda v: v - "a",
        lambda v: v / "a",
        lambda v: v ** "a",
    ],
)
def test_ops_refuse_non_numbers(combine: object) -> None:
    with pytest.raises(TypeError, match=r"got 'a' of type str"):
        combine(Value(2.0))  # type: ignore[operator]


def test_add_names_the_operation() -> None:
    with pytest.raises(TypeError, match=r"Value \+"):
        Value(2.0) + "a"  # type: ignore[arg-type]


@pytest.mark.parametrize("x", [0.0, -2.0])
def test_log_refuses_non_positive(x: float) -> None:
    with pytest.raises(
        ValueError, match=rf"log\(\) of {x!r}: the logarithm is defined for positive"
    ):
        Value(x).log()


def test_zero_to_a_negative_power_is_refused() -> None:
    with pytest.raises(ZeroDivisionError, match=r"\*\*: 0\.0 \*\* -1\.0 divides by zero"):
        Value(0.0) ** -1


@pytest.mark.parametrize(
    "divide",
    [lambda: Value(1.0) / Value(0.0), lambda: Value(1.0) / 0, lambda: 1.0 / Value(0.0)],
)
def test_division_by_zero_is_refused(divide: object) -> None:
    with pytest.raises(ZeroDivisionError, match=r"/: division by zero"):
        divide()  # type: ignore[operator]


def test_negative_base_to_fractional_power_is_refused() -> None:
    with pytest.raises(ValueError, match=r"-8\.0 \*\* 0\.5 is not a real number"):
        Value(-8.0) ** 0.5
    with pytest.raises(ValueError, match=r"-8\.0 \*\* 0\.5 is not a real number"):
        Value(-8.0) ** Value(0.5)


def test_infinite_slope_of_sqrt_at_zero_is_refused_in_backward() -> None:
    root = Value(0.0) ** 0.5
    assert root.data == 0.0
    with pytest.raises(ZeroDivisionError, match=r"pow: its derivative at \(0\.0, 0\.5\) is not a"):
        root.backward()


def test_power_of_a_negative_base_gives_the_base_its_gradient_and_the_exponent_nan() -> None:
    # As PyTorch: d(e**2)/de = 2e = -14 at e = -7; d(e**b)/db needs log(e), undefined for e < 0
    e, b = Value(-7.0), Value(2.0)
    out = e**b
    out.backward()
    assert out.data == 49.0
    assert e.grad == -14.0
    assert math.isnan(b.grad)


def test_power_of_zero_gives_the_exponent_gradient_zero() -> None:
    # 0 ** y is 0 for every y > 0, so it does not change with y (HIPS autograd and PyTorch agree)
    zero, y = Value(0.0), Value(3.0)
    (zero**y).backward()
    assert y.grad == 0.0
    assert zero.grad == 0.0  # 3 * 0**2


def test_custom_op_whose_derivative_count_changes_later_is_an_error_not_a_wrong_gradient() -> None:
    calls = []

    def fickle_local(out: float, a: float, b: float) -> tuple[float, ...]:
        calls.append(a)
        return (1.0, 1.0) if len(calls) == 1 else (1.0,)  # right when made, wrong afterwards

    x, y = Value(1.0), Value(2.0)
    out = Value.from_op(3.0, (x, y), "fickle", fickle_local)
    with pytest.raises(ValueError, match=r"fickle: fickle_local gave 1 derivative\(s\) for 2"):
        out.backward()
    assert (x.grad, y.grad) == (0.0, 0.0)  # nothing half-done


def test_overflowing_derivative_of_a_power_names_the_power() -> None:
    # x**-1.9 at 1e-160 is 1e304, but its slope -1.9 x**-2.9 is about 1e464: too large for a float
    out = Value(1e-160) ** -1.9
    with pytest.raises(OverflowError, match=r"\*\*: 1e-160 \*\* -2\.9 is too large for a float"):
        out.backward()


def test_an_int_too_large_for_a_float_is_refused_by_name() -> None:
    with pytest.raises(
        OverflowError,
        match=r"Value\(\) got an integer of 401 digits, which is too large for a float",
    ):
        Value(10**400)


def test_a_leaf_has_no_local_derivatives() -> None:
    leaf = Value(1.5)
    assert leaf.local_grads() == ()
    assert leaf.op_entry.local.__name__ == "leaf_local"


def test_from_op_refuses_a_wrong_number_of_derivatives_when_made() -> None:
    x = Value(1.0)
    with pytest.raises(ValueError, match=r"myop: <lambda>\(3\.0, 1\.0\) returned 2 derivative"):
        Value.from_op(3.0, (x,), "myop", lambda out, a: (1.0, 2.0))


@pytest.mark.parametrize(("data", "error"), [(float("nan"), ValueError), ("3", TypeError)])
def test_from_op_refuses_bad_data(data: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"myop: from_op data got"):
        Value.from_op(data, (Value(1.0),), "myop", lambda out, a: (1.0,))  # type: ignore[arg-type]


@pytest.mark.parametrize(("seed", "error"), [(float("nan"), ValueError), ("1", TypeError)])
def test_backward_refuses_a_bad_seed(seed: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"backward\(seed\) got"):
        (Value(2.0) * 3).backward(seed)  # type: ignore[arg-type]


def test_infinite_slope_of_a_value_power_at_zero_is_inf_and_anomaly_mode_names_it() -> None:
    from micrograd_like.debug import AnomalyError, detect_anomaly

    base, y = Value(0.0), Value(0.5)
    (base**y).backward()  # as PyTorch: d/dbase = inf, d/dy = 0 (0 ** y does not move)
    assert (base.grad, y.grad) == (math.inf, 0.0)
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"pow_value_local gave inf"):
        (Value(0.0) ** Value(0.5)).backward()


def test_exponent_gradient_at_a_constant_negative_base_is_nan_and_anomaly_mode_names_it() -> None:
    from micrograd_like.debug import AnomalyError, detect_anomaly

    b = Value(2.0, label="b")
    ((-2.0) ** b).backward()
    assert math.isnan(b.grad)
    with (
        detect_anomaly(),
        pytest.raises(AnomalyError, match=r"pow_value -> operand 1: pow_value_local gave nan"),
    ):
        ((-2.0) ** b).backward()


def test_from_op_under_no_grad_makes_a_leaf_without_calling_the_derivative() -> None:
    from micrograd_like.engine import no_grad

    calls: list[float] = []

    def counting_local(out: float, a: float) -> tuple[float, ...]:
        calls.append(out)
        return (1.0,)

    with no_grad():
        out = Value.from_op(2.0, (Value(1.0),), "myop", counting_local)
    assert (out.parents, calls) == ((), [])
    Value.from_op(2.0, (Value(1.0),), "myop", counting_local)
    assert calls == [2.0]


def test_linear_is_ordered_after_a_computed_weight_deeper_than_its_inputs() -> None:
    # the weight is 4 ops deep, the input a leaf: linear's rank must come from the weight
    x, b, leaf = Value(3.0, label="x"), Value(0.5, label="b"), Value(2.0, label="leaf")
    w = ((leaf * 1.0) * 1.0 + 0.0) * 1.0  # 2.0, made by ops
    out = linear([w], [x], b)  # 0.5 + 2 * 3
    order = topological_order(out)
    assert order.index(w) < order.index(out) and order[-1] is out
    out.backward()
    assert (out.data, x.grad, leaf.grad, b.grad) == (6.5, 2.0, 3.0, 1.0)
