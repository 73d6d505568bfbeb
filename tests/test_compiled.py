"""The compiled path: same values and gradients as the eager engine, and clear refusals."""

from __future__ import annotations

import linecache
import math
import operator
import random
import re
import traceback
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_like import ops
from micrograd_like.compiled import CompiledCache, CompiledFunction, TracingError, compile_fn
from micrograd_like.data import make_moons
from micrograd_like.engine import Value, linear, no_grad, sum_of
from micrograd_like.nn import MLP
from micrograd_like.ops import custom_op, softplus
from micrograd_like.optable import all_ops, builtin_names


def assert_close(compiled: Sequence[float], eager: Sequence[float]) -> None:
    assert len(compiled) == len(eager)
    for index, (c, e) in enumerate(zip(compiled, eager, strict=True)):
        assert math.isclose(c, e, rel_tol=1e-12, abs_tol=1e-12), (
            f"entry {index}: compiled {c!r}, eager {e!r}"
        )


def assert_matches_eager(
    f: Callable[..., Value], inputs: Sequence[float], params: Sequence[Value]
) -> CompiledFunction:
    """Compile f, then compare its value and gradients with the eager engine's at ``inputs``."""
    compiled = compile_fn(f, inputs, params)
    value, grads = compiled.value_and_grad(*inputs)
    for p in params:
        p.grad = 0.0
    out = f(*(Value(x) for x in inputs))
    out.backward()
    assert_close([value, *grads], [out.data, *(p.grad for p in params)])
    return compiled


# A recipe step is (op, operand a, operand b, constant); operands index earlier nodes. Ops whose
# domain is limited get an operand that is in it by construction (log of a*a + 0.5, say).
OPS = (
    "add", "sub", "mul", "div", "neg", "addc", "pow", "pow_value", "relu", "tanh",
    "sigmoid", "exp", "log", "sin", "cos", "sqrt", "abs", "linear", "linear_const", "sum",
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
        "log": lambda: positive.log(), "sin": lambda: a.sin(), "cos": lambda: a.cos(),
        "sqrt": lambda: positive.sqrt(), "abs": lambda: a.abs(),
        "linear": lambda: linear([a, b], [b, c], a),
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


def score(model: MLP, x: Sequence[Value | float]) -> Value:
    out = model(x)
    assert isinstance(out, Value)  # the model ends in one neuron
    return out


def hinge_loss(model: MLP, data: Sequence[tuple[Sequence[Value | float], Value | float]]) -> Value:
    losses = [(1 + -y * score(model, x)).relu() for x, y in data]
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
    assert lines[1:] == [
        "# inputs: 1",
        "(v0,) = inputs",
        "# params: 1",
        "(v1,) = params",
        "v2 = v0 * v1  # mul",  # the table's formula for mul
        "v3 = tanh_forward(v2)  # tanh",  # math.tanh cannot be written out: the entry's forward
        "g3 = 1.0  # seed",
        "g2 = (1 - v3 * v3) * g3  # tanh_local",  # tanh_local's own arithmetic, run on names
        "g1 = v0 * g2  # mul_local",  # the input x needs no gradient, so no g0 line
        "return v3, [",
        "g1,",
        "]",
    ]


def test_compiled_calls_a_local_derivative_it_cannot_read_and_writes_a_declared_one() -> None:
    w = Value(3.0)
    lines = compile_fn(lambda x: (x * w).sin(), [2.0], [w]).source.splitlines()
    assert "    d = sin_local(v3, v2)  # sin_local" in lines  # calls math: no formula to read
    assert "    g2 = d[0] * g3" in lines
    lines = compile_fn(lambda x: (x * w).relu(), [2.0], [w]).source.splitlines()
    assert "    g2 = (0.0 if v2 <= 0 else 1.0) * g3  # relu_local" in lines  # its local_formula


# --- every op of the table compiles, built-in and custom alike --------------------------------

Builder = Callable[[Value, Value, Value], Value]  # (input x, parameter a, parameter b) -> graph

BUILDERS: dict[str, Builder] = {
    "add": lambda x, a, b: x + a,
    "mul": lambda x, a, b: x * a,
    "div": lambda x, a, b: x / (a + b),
    "neg": lambda x, a, b: -(x * a),
    "relu": lambda x, a, b: (x * a - 1.0).relu(),
    "tanh": lambda x, a, b: (x * a).tanh(),
    "sigmoid": lambda x, a, b: (x * a).sigmoid(),
    "exp": lambda x, a, b: (x * a).exp(),
    "log": lambda x, a, b: (x * a).log(),
    "sin": lambda x, a, b: (x * a).sin(),
    "cos": lambda x, a, b: (x * a).cos(),
    "sqrt": lambda x, a, b: (x * a).sqrt(),
    "abs": lambda x, a, b: (x - a).abs(),  # 0.9 - 1.3 < 0: the slope is -1
    "pow": lambda x, a, b: (x * a) ** 1.5,
    "pow_value": lambda x, a, b: (x * a) ** b,
    "linear": lambda x, a, b: linear([a, b], [x, 2.0], b),
    "linear_const": lambda x, a, b: linear([a, b], [1.5, -2.0], x * b),
    "sum": lambda x, a, b: sum_of([x, a, x * b, 4.0]),
}


def test_every_builtin_op_has_a_builder() -> None:
    # A new op in the table fails here until it gets a line in BUILDERS, so it gets compiled.
    assert sorted(BUILDERS) == sorted(builtin_names())
    assert [op.name for op in all_ops() if op.builtin] == builtin_names()


@pytest.mark.parametrize("name", builtin_names())
def test_compiled_handles_every_builtin_op(name: str) -> None:
    a, b = Value(1.3), Value(0.7)
    build = BUILDERS[name]
    compiled = assert_matches_eager(lambda x: build(x, a, b), [0.9], [a, b])
    lines = [line.strip() for line in compiled.source.splitlines()]
    assert any(line.endswith(f"  # {name}") for line in lines), compiled.source  # the op is there
    assert f"  # {name}_local" in compiled.source  # and so is its derivative, by name


def log_add_exp_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # d/da log(e**a + e**b) = e**a / (e**a + e**b) = e**(a - out), and the same for b
    return ops.exp(a - out), ops.exp(b - out)


def log_add_exp_forward(a: float, b: float) -> float:
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


def test_compiled_custom_ops_match_eager() -> None:
    # A name that is not a Python identifier, to check the generated code names it safely.
    log_add_exp = custom_op(log_add_exp_local, name="log-add-exp")(log_add_exp_forward)
    w, v = Value(0.8), Value(-1.1)

    def f(x: Value) -> Value:
        return log_add_exp(softplus(x * w), x * v) * w

    for x in (0.3, -1.7, 2.5):
        compiled = assert_matches_eager(f, [x], [w, v])
    assert "= softplus_forward(" in compiled.source
    assert "= softplus_local(" in compiled.source
    assert "  # log-add-exp" in compiled.source
    assert "d = log_add_exp_local(" in compiled.source
    value, grads = compiled.value_and_grad(0.3)  # compiled once, called at another point
    w.grad = v.grad = 0.0
    eager = f(Value(0.3))
    eager.backward()
    assert_close([value, *grads], [eager.data, w.grad, v.grad])


def risky_local(out: Any, x: Any) -> tuple[Any, ...]:
    # d sqrt(x)/dx = 1 / (2 sqrt(x))
    return (0.5 / out,)


def risky_forward(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan  # a careless forward: nan, not an error


def test_compiled_custom_op_forward_is_checked_as_eager_checks_it() -> None:
    risky = custom_op(risky_local, name="compiled_test_risky")(risky_forward)
    with pytest.raises(ValueError, match="returned nan") as eager:
        risky(Value(-1.0))
    compiled = compile_fn(risky, [4.0], [])
    assert compiled.value_and_grad(4.0) == (2.0, [])
    expected = re.escape(str(eager.value)) + r" at .* line 4: v1 = compiled_test_risky_forward"
    with pytest.raises(ValueError, match=expected):
        compiled.value_and_grad(-1.0)  # never a silent nan


@pytest.mark.parametrize("name", ["one_off_softplus", "softplus"])
def test_compiled_refuses_from_op_nodes_and_points_to_custom_op(name: str) -> None:
    # "softplus" is also the name of a declared custom op, whose entry this node does not have.
    def one_off(x: Value) -> Value:
        return Value.from_op(math.log1p(math.exp(x._data)), [x], name, ops.softplus_local)

    assert one_off(Value(0.5)).data == math.log1p(math.exp(0.5))  # eager runs it
    expected = rf"node 1 was made by '{name}' through Value\.from_op.*ops\.custom_op"
    with pytest.raises(TracingError, match=expected):
        compile_fn(one_off, [0.5], [])


# --- f may not read data: refused while tracing, naming the line ------------------------------


def reads_data(x: Value, y: Value) -> Value:
    return x * x.data


def reads_float(x: Value, y: Value) -> Value:
    return x * float(x)


def compares_to_number(x: Value, y: Value) -> Value:
    return x * 2 if x < 50 else x * 3


def compares_values(x: Value, y: Value) -> Value:
    return x if x >= y else y


def formats(x: Value, y: Value) -> Value:
    return x * len(format(x, ".2f"))


def rounds(x: Value, y: Value) -> Value:
    return x * round(x)


def calls_item(x: Value, y: Value) -> Value:
    return x * x.item()


def at_line(f: Callable[..., Value], offset: int = 1) -> str:
    """``FILE:LINE: CODE`` of the line ``offset`` lines below the ``def`` of f, escaped."""
    filename, line = f.__code__.co_filename, f.__code__.co_firstlineno + offset
    return re.escape(f"{filename}:{line}: {linecache.getline(filename, line).strip()}")


@pytest.mark.parametrize(
    ("how", "f"),
    [
        (".data", reads_data),
        ("float()", reads_float),
        ("<", compares_to_number),
        (">=", compares_values),
        ("format()", formats),
        ("round()", rounds),
        (".item()", calls_item),
    ],
)
def test_compiled_refuses_data_reads_naming_the_line(how: str, f: Callable[..., Value]) -> None:
    expected = rf"reads a Value's data \({re.escape(how)} of Value\(data=1\.5.*\) at {at_line(f)}"
    with pytest.raises(TracingError, match=expected):
        compile_fn(f, [1.5, 2.5], [], checks=0)


def test_compiled_refuses_reading_a_parameters_data() -> None:
    w = Value(2.0)

    def scaled(x: Value) -> Value:
        return x * w.data

    with pytest.raises(TracingError, match=rf"\(\.data of Value\(data=2\.0.* at {at_line(scaled)}"):
        compile_fn(scaled, [1.0], [w], checks=0)


def below_fifty(x: Value) -> Value:
    return x * 2 if x.data < 50 else x * 3


@pytest.mark.parametrize("example", [25.0, 60.0])
def test_compiled_refuses_the_issues_branch_on_data_at_compile_time(example: float) -> None:
    # Eager follows the branch at every call; code compiled from one trace would keep a single
    # branch, so at 25 a version traced at 60 would give 75 instead of 50.
    assert below_fifty(Value(25.0)).data == 50.0
    assert below_fifty(Value(60.0)).data == 180.0
    expected = rf"reads a Value's data \(\.data of .*\) at {at_line(below_fifty)}"
    with pytest.raises(TracingError, match=expected):
        compile_fn(below_fifty, [example], [], checks=0)  # refused by the trace, not the checks


def test_compiled_allows_what_does_not_read_data() -> None:
    def labelled(x: Value) -> Value:
        assert x == x and x is not None and repr(x) and f"{x}"  # identity, repr: no data
        return x * 2

    assert compile_fn(labelled, [1.5], []).value_and_grad(4.0) == (8.0, [])


# --- retracing at other points: a second line of defence, for reads of the private _data -------


def branches_privately(x: Value) -> Value:
    if x._data > 0:  # the private field escapes the trace-time guard
        return x.tanh()
    return x.relu()


def test_compiled_retrace_catches_private_branching_at_the_sign_flipped_point() -> None:
    assert compile_fn(branches_privately, [1.0], [], checks=0).value_and_grad(-1.0)[0] != 0.0
    expected = r"branches on data.*node 1 is tanh\[0\]\[\] in one trace and relu\[0\]\[\]"
    with pytest.raises(TracingError, match=expected):
        compile_fn(branches_privately, [1.0], [], checks=1)  # the first point flips every sign


def test_compiled_retrace_flips_the_parameters_too() -> None:
    w = Value(2.0)

    def f(x: Value) -> Value:
        return x * w if w._data > 0 else x - w

    with pytest.raises(TracingError, match="branches on data"):
        compile_fn(f, [1.0], [w], checks=1)
    assert w.data == 2.0  # put back after the retrace


def test_compiled_refuses_private_branching_seen_at_given_check_inputs() -> None:
    with pytest.raises(TracingError, match="branches on data"):
        compile_fn(branches_privately, [1.0], [], check_inputs=[[-1.0]], checks=0)


def test_compiled_refuses_constant_computed_from_private_data() -> None:
    with pytest.raises(TracingError, match=r"node 1 is the constant 3\.0 .*computed from data"):
        compile_fn(lambda x: x * Value(x._data * 2), [1.5], [], checks=1)


def test_compiled_refuses_negative_checks() -> None:
    with pytest.raises(ValueError, match=r"checks must be a whole number >= 0, got -1"):
        compile_fn(branches_privately, [1.0], [], checks=-1)


# --- refusals at call time, and errors that name the generated line ----------------------------


def test_compiled_source_is_registered_with_linecache_for_tracebacks() -> None:
    compiled = compile_fn(lambda x: x.log(), [2.0], [])
    assert compiled.filename.startswith("<micrograd_like compiled ")
    assert linecache.getline(compiled.filename, 4) == compiled.source.splitlines(True)[3]
    with pytest.raises(ValueError, match="defined for positive numbers only") as caught:
        compiled.value_and_grad(-1.0)
    cause = caught.value.__cause__
    assert cause is not None
    shown = "".join(traceback.format_exception(cause))
    assert f'File "{compiled.filename}", line 4' in shown
    assert "v1 = log_forward(v0)  # log" in shown  # the generated line itself, as pdb would show it
    assert "v1 = log_forward(v0)  # log" in str(caught.value)


def test_compiled_refuses_negative_base_to_fractional_power() -> None:
    compiled = compile_fn(lambda x: x**0.5, [4.0], [])
    assert compiled.value_and_grad(9.0)[0] == 3.0
    with pytest.raises(ValueError, match="not a real number"):
        compiled.value_and_grad(-4.0)  # plain Python would return a complex number


def test_compiled_refuses_wrong_number_of_inputs() -> None:
    compiled = compile_fn(lambda x, y: x * y, [1.0, 2.0], [])
    with pytest.raises(TypeError, match="expected 2 inputs, got 1"):
        compiled.value_and_grad(1.0)


@pytest.mark.parametrize(
    ("bad", "error", "says"),
    [
        (Value(3.0), TypeError, "got a Value"),
        (10**400, OverflowError, "got an integer of 401 digits, which is too large for a float"),
        ("3", TypeError, "got '3' of type str; expected a real number"),
        (math.nan, ValueError, "got nan; data must be finite"),
    ],
    ids=["Value", "10**400", "str", "nan"],
)
def test_compiled_refuses_bad_inputs_naming_the_function_and_index(
    bad: Any, error: type[Exception], says: str
) -> None:
    w = Value(2.0)
    compiled = compile_fn(lambda x, y: x * y * w, [1.0, 2.0], [w])
    expected = "^" + re.escape(f"{compiled.filename}: input 1 {says}")
    with pytest.raises(error, match=expected):
        compiled.value_and_grad(1.0, bad)
    with pytest.raises(error, match=expected):
        compiled(1.0, bad)
    assert w.grad == 0.0  # nothing accumulated by a refused call
    with pytest.raises(error, match="^" + re.escape(f"compile_fn: example input 1 {says}")):
        compile_fn(lambda x, y: x * y, [1.0, bad], [])


def test_compiled_refuses_tracing_inside_no_grad() -> None:
    with no_grad(), pytest.raises(TracingError, match="no_grad"):
        compile_fn(lambda x: x * 2, [1.0], [])


def test_compiled_refuses_parameters_that_are_not_leaves() -> None:
    w = Value(2.0)
    doubled = w * 2
    with pytest.raises(TypeError, match="params must be leaves"):
        compile_fn(lambda x: x * doubled, [1.0], [doubled])


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


GENERATED = r"at <micrograd_like compiled \d+> line \d+: "


def test_compiled_value_power_at_zero_gives_eagers_infinite_slope() -> None:
    a, b = Value(0.0), Value(0.5)
    compiled = compile_fn(lambda x: (a + x) ** b, [1.0], [a, b])
    value, (d_a, d_b) = compiled.value_and_grad(0.0)  # d/da = 0.5 * 0 ** -0.5, infinite
    (a**b).backward()
    assert (value, d_a, d_b) == (0.0, math.inf, 0.0) == (0.0, a.grad, b.grad)


def test_compiled_constant_power_refuses_infinite_slope_at_zero_by_name() -> None:
    w = Value(4.0)
    compiled = compile_fn(lambda x: (w * x) ** 0.5, [1.0], [w])
    assert compiled.value_and_grad(1.0) == (2.0, [0.25])  # d/dw sqrt(w x) = x / (2 sqrt(w x))
    expected = rf"\*\*: 0\.0 \*\* -0\.5 divides by zero {GENERATED}d = pow_local\(v3, v2, 0\.5\)"
    with pytest.raises(ZeroDivisionError, match=expected):
        compiled.value_and_grad(0.0)


def test_compiled_sqrt_refuses_infinite_slope_at_zero_by_name() -> None:
    w = Value(4.0)
    compiled = compile_fn(lambda x: (w * x).sqrt(), [1.0], [w])
    assert compiled.value_and_grad(1.0) == (2.0, [0.25])
    with pytest.raises(ZeroDivisionError, match=rf"{GENERATED}g2 = 0\.5 / v3 \* g3  # sqrt_local"):
        compiled.value_and_grad(0.0)


def test_compiled_negative_power_of_zero_names_the_op() -> None:
    w = Value(2.0)
    compiled = compile_fn(lambda x: (w * x) ** -1, [1.0], [w])
    assert compiled.value_and_grad(1.0) == (0.5, [-0.25])  # d/dw 1/(w x) = -x / (w x)**2
    expected = rf"0\.0 \*\* -1\.0 divides by zero {GENERATED}v3 = pow_forward\(v2, \(-1\.0\)\)"
    with pytest.raises(ZeroDivisionError, match=expected):
        compiled.value_and_grad(0.0)


def test_compiled_keeps_custom_ops_whose_names_clean_to_one_identifier_apart() -> None:
    doubled = custom_op(lambda out, x: (2.0,), name="p-q")(lambda x: 2 * x)
    tripled = custom_op(lambda out, x: (3.0,), name="p_q")(lambda x: 3 * x)
    w = Value(1.6)
    compiled = compile_fn(lambda x: doubled(x * w) + tripled(x * w), [1.0], [w])
    value, (slope,) = compiled.value_and_grad(1.0)
    assert (value, slope) == pytest.approx((8.0, 5.0), rel=1e-12)


# --- the op's own functions, run on names, write the generated code --------------------------


def test_local_source_is_read_off_the_entrys_local_derivative() -> None:
    from micrograd_like.optable import forward_source, local_source, op_named

    assert local_source(op_named("tanh"), 1) == ("(1 - {out} * {out})",)  # a sum: parenthesized
    assert local_source(op_named("div"), 2) == ("1 / {1}", "-{out} / {1}")
    assert local_source(op_named("sin"), 1) == ()  # sin_local calls math: it stays a call
    assert forward_source(op_named("sum"), 3) == "0.0 + {0} + {1} + {2}"  # the engine's order
    assert forward_source(op_named("log"), 1) == ""  # a domain to check: a call


def test_local_formula_declared_with_an_entry_is_written_instead_of_a_call() -> None:
    from micrograd_like.optable import Op, local_source, op_named

    relu = op_named("relu")
    declared = Op("relu_declared", 1, relu.forward, relu.local, formula=relu.formula,
                  local_formula=("(0.0 if {0} <= 0 else 1.0)",))  # fmt: skip
    assert local_source(declared, 1) == ("(0.0 if {0} <= 0 else 1.0)",)
    assert local_source(relu, 1) == ("(0.0 if {0} <= 0 else 1.0)",)  # the engine's relu too


def test_written_source_keeps_the_order_of_float_operations() -> None:
    from micrograd_like.optable import Op, forward_source, local_source

    def grouped_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return a - (b - out), -(a * b) / (a + b)

    entry = Op("grouped", 2, lambda a, b: (a + b) * (a - -1.5), grouped_local)  # not registered
    assert forward_source(entry, 2) == "({0} + {1}) * ({0} - -1.5)"
    assert local_source(entry, 2) == ("({0} - ({1} - {out}))", "-({0} * {1}) / ({0} + {1})")


def test_compiled_gradients_equal_eagers_exactly_on_the_moons_model() -> None:
    model, flat, data = moons_setup()
    params = model.parameters()

    def f(*xs: Value) -> Value:
        return hinge_loss(model, [((xs[i], xs[i + 1]), xs[i + 2]) for i in range(0, len(xs), 3)])

    value, grads = compile_fn(f, flat, params).value_and_grad(*flat)
    eager = hinge_loss(model, data)
    eager.backward()
    assert [value, *grads] == [eager.data, *(p.grad for p in params)]  # the same float operations


# --- a cache of compiled shapes, and weights kept in a list -----------------------------------


def test_compiled_cache_traces_each_shape_once_and_serves_it_again() -> None:
    w = Value(0.5)
    built: list[int] = []

    def build(length: Hashable) -> tuple[Callable[..., Value], list[float]]:
        assert isinstance(length, int)
        built.append(length)
        return (lambda *xs: sum_of([x * w for x in xs]).tanh()), [1.0] * length

    cache = CompiledCache(build, [w], checks=0)
    two, three = cache(2), cache(3)
    assert cache(2) is two and built == [2, 3] and len(cache) == 2
    value, (slope,) = three.value_and_grad(1.0, 2.0, 3.0)
    out = sum_of([Value(x) * w for x in (1.0, 2.0, 3.0)]).tanh()
    out.backward()
    assert (value, slope) == (out.data, w.grad)


def test_compiled_weights_replace_the_parameters_data_for_one_call() -> None:
    w = Value(3.0)
    compiled = compile_fn(lambda x: x * w * w, [2.0], [w])
    assert compiled.value_and_grad(2.0, weights=[5.0]) == (50.0, [20.0])  # d/dw x w**2 = 2 x w
    assert (w.data, w.grad) == (3.0, 0.0)  # the Value is not read, not written
    with pytest.raises(TypeError, match="weights has 2 numbers for 1 parameters"):
        compiled.value_and_grad(2.0, weights=[5.0, 6.0])


def test_compiled_gpt_step_gives_the_eager_loss_and_gradients() -> None:
    # bench's microgpt-size model on one short name: one-hot inputs keep the graph the same
    # for every name of a length, and pick the same numbers as the eager lookups.
    from micrograd_like.commands import bench

    params = [Value(w) for w in bench.gpt_weights()]
    matrices = bench.gpt_matrices(params)
    ids = bench.gpt_tokens("ava")
    f, example = bench.gpt_compiled_loss(matrices)(len(ids) - 1)
    compiled = compile_fn(f, example, params, checks=0)
    one_hot = bench.gpt_one_hot(ids[:-1]) + bench.gpt_one_hot(ids[1:])
    value, grads = compiled.value_and_grad(*one_hot)
    same_graph = f(*map(Value, one_hot))
    same_graph.backward()
    assert [value, *grads] == [same_graph.data, *(p.grad for p in params)]  # bit for bit
    for p in params:
        p.grad = 0.0
    rows = [matrices[0][t] for t in ids[:-1]]
    lookups = bench.gpt_loss(matrices, rows, [operator.itemgetter(t) for t in ids[1:]])
    lookups.backward()  # a repeated letter's row sums its gradients in another order
    assert value == lookups.data
    assert_close(grads, [p.grad for p in params])


def test_written_source_puts_numbers_on_the_left_where_the_function_did() -> None:
    from micrograd_like.optable import Op, forward_source, local_source

    def reflected_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return 2.0 * a - 3 / b, 1 - (a - b) - 0.5 + -(a * b)

    def forward(a: Any, b: Any) -> Any:
        return 0.5 + a - b - 2 / (a * b) + -1.5 * -a

    entry = Op("reflected", 2, forward, reflected_local)  # not registered
    assert forward_source(entry, 2) == "0.5 + {0} - {1} - 2 / ({0} * {1}) + -1.5 * -{0}"
    assert local_source(entry, 2) == (
        "(2.0 * {0} - 3 / {1})",
        "(1 - ({0} - {1}) - 0.5 + -({0} * {1}))",
    )


def test_compiled_runs_a_custom_op_after_another_op_took_its_name() -> None:
    # The README's example declares its own "softplus"; ops.softplus must still compile after it.
    from micrograd_like.optable import op_named, register

    original = op_named("softplus")

    def half_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (0.5,)

    try:
        custom_op(half_local, name="softplus")(lambda x: 0.5 * x)  # the table's "softplus" now
        compiled = compile_fn(lambda x: softplus(x * 2.0), [0.0], [])
        value, grads = compiled.value_and_grad(0.0)
    finally:
        register(original)
    assert value == math.log(2.0)  # softplus(0) = log 2, not the other op's 0.0
    assert grads == []


def test_compiled_refuses_two_different_ops_of_one_name_in_a_graph() -> None:
    def one_local(out: Any, x: Any) -> tuple[Any, ...]:
        return (1.0,)

    first = custom_op(one_local, name="twice_named")(lambda x: x + 1.0)
    second = custom_op(one_local, name="twice_named")(lambda x: x + 2.0)
    with pytest.raises(TracingError, match=r"second op named 'twice_named'.*another name"):
        compile_fn(lambda x: second(first(x)), [0.0], [])
