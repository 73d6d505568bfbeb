"""The compiled path: same values and gradients as the eager engine, and clear refusals."""

from __future__ import annotations

import linecache
import math
import random
import traceback
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_like.compiled import TracingError, compile_fn
from micrograd_like.data import make_moons
from micrograd_like.engine import Value, linear, sum_of
from micrograd_like.nn import MLP
from micrograd_like.ops import custom_op


def assert_close(compiled: Sequence[float], eager: Sequence[float]) -> None:
    assert len(compiled) == len(eager)
    for index, (c, e) in enumerate(zip(compiled, eager, strict=True)):
        assert math.isclose(c, e, rel_tol=1e-12, abs_tol=1e-12), (
            f"entry {index}: compiled {c!r}, eager {e!r}"
        )


# A recipe step is (op, operand a, operand b, constant); operands index earlier nodes. Ops whose
# domain is limited get an operand that is in it by construction (log of a*a + 0.5, say).
OPS = (
    "add", "sub", "mul", "div", "neg", "addc", "pow", "pow_value", "relu", "tanh",
    "sigmoid", "exp", "log", "linear", "linear_const", "sum",
)  # fmt: skip
Recipe = list[tuple[str, int, int, float]]


def apply(op: str, a: Value, b: Value, c: float) -> Value:
    positive = a * a + 0.5
    table = {
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "div": lambda: a / (b * b + 1.0), "neg": lambda: -a, "addc": lambda: a + c,
        "pow": lambda: positive ** round(c * 2) if c > 0 else positive**-0.5,
        "pow_value": lambda: positive ** b.tanh(), "relu": lambda: a.relu(),
        "tanh": lambda: a.tanh(), "sigmoid": lambda: a.sigmoid(), "exp": lambda: a.exp(),
        "log": lambda: positive.log(), "linear": lambda: linear([a, b], [b, c], a),
        "linear_const": lambda: linear([a, b], [c, 2.0], b), "sum": lambda: sum_of([a, b, c]),
    }  # fmt: skip
    return table[op]()


def replay(recipe: Recipe, leaves: Sequence[Value]) -> Value:
    nodes = list(leaves)
    for op, i, j, c in recipe:
        nodes.append(apply(op, nodes[i], nodes[j], c))
    return nodes[-1]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[float], Recipe]:
    """Leaves and a recipe over them; a tanh follows any value too large to keep going."""
    leaves = draw(st.lists(st.floats(-2, 2), min_size=1, max_size=4))
    nodes = [Value(x) for x in leaves]
    recipe: Recipe = []
    for _ in range(draw(st.integers(1, 10))):
        count = len(nodes)
        step = (
            draw(st.sampled_from(OPS)),
            draw(st.integers(0, count - 1)),
            draw(st.integers(0, count - 1)),
            draw(st.floats(-2, 2)),
        )
        recipe.append(step)
        nodes.append(apply(step[0], nodes[step[1]], nodes[step[2]], step[3]))
        if abs(nodes[-1].data) > 20:
            recipe.append(("tanh", len(nodes) - 1, 0, 0.0))
            nodes.append(nodes[-1].tanh())
    return leaves, recipe


@settings(max_examples=80, deadline=None)
@given(graph=graphs(), split=st.integers(0, 4))
def test_compiled_matches_eager_on_random_graphs(
    graph: tuple[list[float], Recipe], split: int
) -> None:
    # The first `split` leaves are parameters (differentiated), the rest compiled inputs.
    leaves, recipe = graph
    split = min(split, len(leaves))
    params = [Value(x) for x in leaves[:split]]
    inputs = leaves[split:]

    def f(*xs: Value) -> Value:
        return replay(recipe, [*params, *xs])

    compiled = compile_fn(f, inputs, params)  # also: no false alarm at the check points
    value, grads = compiled.value_and_grad(*inputs)

    out = replay(recipe, [*params, *(Value(x) for x in inputs)])
    out.backward()
    assert_close([value, *grads], [out.data, *(p.grad for p in params)])


def moons_setup() -> tuple[MLP, list[float], list[tuple[list[float], int]]]:
    points, labels = make_moons(12, noise=0.1, rng=3)
    model = MLP(2, [6, 5, 1], rng=random.Random(7))
    flat = [v for (a, b), y in zip(points, labels, strict=True) for v in (a, b, float(y))]
    return model, flat, list(zip(points, labels, strict=True))


def hinge_loss(model: MLP, data: Sequence[tuple[Sequence[Value | float], Value | float]]) -> Value:
    losses = [(1 + -y * model(x)).relu() for x, y in data]  # type: ignore[operator]
    regularization = 1e-4 * sum_of([p * p for p in model.parameters()])
    return sum_of(losses) * (1.0 / len(losses)) + regularization


def test_compiled_matches_eager_on_moons_model_across_sgd_steps() -> None:
    model, flat, data = moons_setup()
    params = model.parameters()

    def f(*xs: Value) -> Value:
        return hinge_loss(model, [((xs[i], xs[i + 1]), xs[i + 2]) for i in range(0, len(xs), 3)])

    compiled = compile_fn(f, flat, params)
    for _ in range(3):  # the compiled code reads the parameters' current data on every call
        model.zero_grad()
        eager = hinge_loss(model, data)
        eager.backward()
        value, grads = compiled.value_and_grad(*flat)
        assert_close([value, *grads], [eager.data, *(p.grad for p in params)])
        for p in params:
            p.data -= 0.1 * p.grad


def test_compiled_call_accumulates_into_parameter_grads() -> None:
    w = Value(3.0)
    compiled = compile_fn(lambda x: x * w + w, [2.0], [w])
    assert compiled(5.0) == 18.0  # 5*3 + 3
    assert w.grad == 6.0  # d/dw (x*w + w) = x + 1
    compiled(5.0)
    assert w.grad == 12.0  # parameters accumulate, as with backward()


def test_compiled_source_has_one_named_line_per_op() -> None:
    w = Value(3.0)
    source = compile_fn(lambda x: (x * w).tanh(), [2.0], [w]).source
    lines = [line.strip() for line in source.splitlines()]
    # trace order: x (node 0), w (node 1), x*w (node 2), tanh (node 3)
    assert lines[1:7] == [
        "v0 = inputs[0]  # input 0",
        "v1 = params[0]  # param 0",
        "v2 = v0 * v1  # mul",
        "v3 = tanh(v2)  # tanh",
        "g3 = 1.0  # seed",
        "g2 = (1 - v3 * v3) * g3  # tanh_local",
    ]
    assert "g1 = v0 * g2  # mul_local" in lines  # the input x needs no gradient, so no g0 line


def test_compiled_handles_every_builtin_op() -> None:
    a, b = Value(1.3), Value(0.7)
    ops: list[Callable[[Value], Value]] = [
        lambda x: x + a, lambda x: x * a, lambda x: -x * a, lambda x: (x * a) ** 2,
        lambda x: (x * a) ** 0.5, lambda x: (x * a) ** b, lambda x: (x * a).relu(),
        lambda x: (x * a).tanh(), lambda x: (x * a).sigmoid(), lambda x: (x * a).exp(),
        lambda x: (x * a).log(), lambda x: x / a - 2.0 ** b,
    ]  # fmt: skip
    ops += [lambda x: linear([a, b], [x, 2.0], b), lambda x: linear([a, b], [1.5, -2.0], x * b)]
    ops += [lambda x: sum_of([x, a, x * b, 4.0])]
    for op in ops:
        a.grad = b.grad = 0.0
        compiled = compile_fn(op, [0.9], [a, b])
        out = op(Value(0.9))
        out.backward()
        value, grads = compiled.value_and_grad(0.9)
        assert_close([value, *grads], [out.data, a.grad, b.grad])


def branching(x: Value) -> Value:
    if x.data > 0:  # data-dependent control flow: compiled code cannot follow it
        return x.tanh()
    return x.relu()


def test_compiled_refuses_branching_on_data() -> None:
    with pytest.raises(TracingError, match="branches on data"):
        compile_fn(branching, [1.0], [])


def test_compiled_refuses_branching_seen_at_given_check_inputs() -> None:
    with pytest.raises(TracingError, match="branches on data"):
        compile_fn(branching, [1.0], [], check_inputs=[[-1.0]], checks=0)


def test_compiled_refuses_constant_computed_from_data() -> None:
    with pytest.raises(TracingError, match="computed from data"):
        compile_fn(lambda x: x * Value(x.data * 2), [1.5], [])


def test_compiled_refuses_unknown_ops() -> None:
    def softplus(x: Value) -> Value:
        def softplus_local(out: float, x: float) -> tuple[float]:
            return (1 / (1 + math.exp(-x)),)

        return Value.from_op(math.log1p(math.exp(x.data)), [x], "softplus", softplus_local)

    with pytest.raises(TracingError, match=r"'softplus'.*does not know"):
        compile_fn(softplus, [0.5], [])


def test_compiled_source_is_registered_with_linecache_for_tracebacks() -> None:
    compiled = compile_fn(lambda x: x.log(), [2.0], [])
    assert compiled.filename.startswith("<micrograd_like compiled ")
    assert linecache.getline(compiled.filename, 3) == compiled.source.splitlines(True)[2]
    with pytest.raises(ValueError) as caught:
        compiled.value_and_grad(-1.0)
    cause = caught.value.__cause__
    assert cause is not None
    shown = "".join(traceback.format_exception(cause))
    assert f'File "{compiled.filename}", line 3' in shown
    assert "v1 = log(v0)  # log" in shown  # the generated line itself, as pdb would show it
    assert "v1 = log(v0)  # log" in str(caught.value)


def test_compiled_refuses_negative_base_to_fractional_power() -> None:
    compiled = compile_fn(lambda x: x**0.5, [4.0], [])
    assert compiled.value_and_grad(9.0)[0] == 3.0
    with pytest.raises(ValueError, match="not a real number"):
        compiled.value_and_grad(-4.0)  # plain Python would return a complex number


def test_compiled_refuses_wrong_inputs() -> None:
    compiled = compile_fn(lambda x, y: x * y, [1.0, 2.0], [])
    with pytest.raises(TypeError, match="expected 2 inputs, got 1"):
        compiled.value_and_grad(1.0)
    with pytest.raises(ValueError, match="nan"):
        compiled.value_and_grad(1.0, math.nan)


def test_compiled_refuses_tracing_inside_no_grad() -> None:
    from micrograd_like.engine import no_grad

    with no_grad(), pytest.raises(TracingError, match="no_grad"):
        compile_fn(lambda x: x * 2, [1.0], [])


def test_compiled_refuses_parameters_that_are_not_leaves() -> None:
    w = Value(2.0)
    doubled = w * 2
    with pytest.raises(TypeError, match="params must be leaves"):
        compile_fn(lambda x: x * doubled, [1.0], [doubled])


# --- ops are told apart by name and derivative together, and checked by value -------------------


def twice_exp_forward(x: float) -> float:
    return 2 * math.exp(x)


def test_compiled_refuses_custom_op_that_reuses_a_builtin_derivative() -> None:
    twice_exp = custom_op(Value.exp_local, name="twice_exp")(twice_exp_forward)
    w = Value(0.5)
    assert twice_exp(Value(1.0) * w).data == 2 * math.exp(0.5)  # eager: 3.2974...
    with pytest.raises(TracingError, match=r"node 3 was made by op 'twice_exp'"):
        compile_fn(lambda x: twice_exp(x * w), [1.0], [w])


def test_compiled_refuses_custom_op_posing_as_builtin_by_name_and_derivative() -> None:
    def fake_exp(x: Value) -> Value:  # Value.from_op, unlike custom_op, lets a name be reused
        return Value.from_op(twice_exp_forward(x.data), (x,), "exp", Value.exp_local)

    w = Value(0.5)
    expected = rf"node 3 \(op 'exp'\) is {2 * math.exp(0.5)!r} in f.* computes {math.exp(0.5)!r}"
    with pytest.raises(TracingError, match=expected):
        compile_fn(lambda x: fake_exp(x * w), [1.0], [w])


def add_one_more(x: Value, p: Value, op: str) -> Value:
    return Value.from_op(x.data + p.data + 1, (x, p), op, Value.add_local)


@pytest.mark.parametrize("op", ["add1", "+"])
def test_compiled_refuses_custom_add_built_on_add_local(op: str) -> None:
    p = Value(2.0)
    assert add_one_more(Value(1.0), p, op).data == 4.0  # eager: 1 + 2 + 1
    message = "op 'add1'.*does not know" if op == "add1" else r"node 2 \(op '\+'\) is 4.0.* 3.0"
    with pytest.raises(TracingError, match=message):
        compile_fn(lambda x: add_one_more(x, p, op), [1.0], [p])


@pytest.mark.parametrize("op", ["five_minus", "neg"])
def test_compiled_refuses_custom_five_minus_built_on_neg_local(op: str) -> None:
    def five_minus(x: Value) -> Value:
        return Value.from_op(5 - x.data, (x,), op, Value.neg_local)  # d(5-x)/dx is -1, as -x

    message = "op 'five_minus'.*does not know" if op == "five_minus" else r"is 4.0.* -1.0"
    with pytest.raises(TracingError, match=message):
        compile_fn(five_minus, [1.0], [])


def test_compiled_refuses_custom_op_that_differs_from_builtin_only_at_other_points() -> None:
    def abs_as_relu(x: Value) -> Value:  # equals relu for x >= 0: the example point cannot tell
        return Value.from_op(abs(x.data), (x,), "ReLU", Value.relu_local)

    with pytest.raises(TracingError, match=r"node 1 \(op 'ReLU'\) is 2.0 in f.* computes 0.0"):
        compile_fn(abs_as_relu, [2.0], [])  # the first check point flips the sign: x = -2


def test_compiled_refuses_local_derivative_that_is_not_a_function() -> None:
    class Slope:
        def __call__(self, out: float, x: float) -> tuple[float]:
            return (2.0,)

    def double(x: Value) -> Value:
        return Value.from_op(2 * x.data, (x,), "double", Slope())

    with pytest.raises(TracingError, match=r"op 'double'.*does not know"):
        compile_fn(double, [1.0], [])


def test_compiled_sum_keeps_the_engines_sign_of_zero() -> None:
    compiled = compile_fn(lambda x: sum_of([x]), [-0.0], [])  # the engine adds -0.0 to 0.0
    value, _ = compiled.value_and_grad(-0.0)
    assert math.copysign(1.0, value) == 1.0  # IEEE: 0.0 + -0.0 is +0.0


# --- powers follow the engine's rules, including where they are refused -----------------------


def test_compiled_value_power_with_zero_exponent_matches_hand_derivatives() -> None:
    a, b = Value(2.0), Value(0.0)
    compiled = compile_fn(lambda x: (a * x) ** b, [1.5], [a, b])
    value, (d_a, d_b) = compiled.value_and_grad(1.5)
    assert value == 1.0  # 3 ** 0
    assert d_a == 0.0  # x * b * (a*x) ** (b-1) with b = 0
    assert d_b == pytest.approx(math.log(3.0), rel=1e-15)  # (a*x) ** b * log(a*x)


def test_compiled_value_power_refuses_infinite_slope_at_zero_by_name() -> None:
    a, b = Value(0.0), Value(0.5)
    compiled = compile_fn(lambda x: (a + x) ** b, [1.0], [a, b])
    with pytest.raises(ZeroDivisionError, match=r"\*\*: the derivative of a \*\* b at a = 0"):
        compiled.value_and_grad(0.0)  # d/da = 0.5 * 0 ** -0.5, infinite


def test_compiled_constant_power_refuses_infinite_slope_at_zero_by_name() -> None:
    w = Value(4.0)
    compiled = compile_fn(lambda x: (w * x) ** 0.5, [1.0], [w])
    assert compiled.value_and_grad(1.0) == (2.0, [0.25])  # d/dw sqrt(w x) = x / (2 sqrt(w x))
    with pytest.raises(ZeroDivisionError, match=r"derivative of x \*\* 0.5 at x = 0 is infinite"):
        compiled.value_and_grad(0.0)


def test_compiled_negative_power_of_zero_names_the_op() -> None:
    w = Value(2.0)
    compiled = compile_fn(lambda x: (w * x) ** -1, [1.0], [w])
    assert compiled.value_and_grad(1.0) == (0.5, [-0.25])  # d/dw 1/(w x) = -x / (w x)**2
    with pytest.raises(ZeroDivisionError, match=r"\*\*: 0.0 \*\* -1.0 divides by zero"):
        compiled.value_and_grad(0.0)
