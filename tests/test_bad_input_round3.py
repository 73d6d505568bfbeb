"""Bad input, third sweep: each call is refused where it is made, naming the call and the value.

Before these checks each one escaped as a bare Python error from inside the library (an
AttributeError, an IndexError, a '<' between str and int) or, worse, gave a wrong number silently.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from micrograd_like import compiled, data, debug, engine, gpt, losses, ops, optim
from micrograd_like.engine import Value
from micrograd_like.nn import MLP, Neuron

Call = Callable[[], object]


def values(n: int = 2) -> list[Value]:
    return [Value(0.5) for _ in range(n)]


def refused(call: Call, error: type[Exception], *fragments: str) -> None:
    """``call`` raises ``error`` and its message holds every fragment."""
    with pytest.raises(error) as caught:
        call()
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))


# --- rng: a seed or a string where a random.Random goes -----------------------------------------

RNG_CALLS: dict[str, Call] = {
    "Neuron": lambda: Neuron(2, rng=5),  # type: ignore[arg-type]
    "MLP": lambda: MLP(2, [2], rng="x"),  # type: ignore[arg-type]
    "GPT": lambda: gpt.GPT(3, n_embd=4, n_head=1, rng=5),  # type: ignore[arg-type]
    "compile_fn": lambda: compiled.compile_fn(lambda a: a * 2, [1.0], rng=5),  # type: ignore[arg-type]
    "sample": lambda: gpt.sample(tiny_gpt(), 5),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("where", RNG_CALLS)
def test_rng_that_is_not_a_random_is_refused_by_name(where: str) -> None:
    refused(RNG_CALLS[where], TypeError, f"{where}: rng must be a random.Random", "random.Random(")


def tiny_gpt() -> gpt.GPT:
    return gpt.GPT.of(gpt.Tokenizer("ab"), n_embd=4, n_head=1, block_size=4, rng=random.Random(0))


# --- nn: activations by name ----------------------------------------------------------------


def test_mlp_refuses_an_activation_of_none_that_a_neuron_would_read_as_relu() -> None:
    refused(lambda: MLP(2, [1], output_activation=None), ValueError, "output_activation=None")  # type: ignore[arg-type]
    refused(lambda: MLP(2, [2, 1], activation=None), ValueError, "MLP: activation=None")  # type: ignore[arg-type]


def test_neuron_refuses_an_unhashable_activation_by_name() -> None:
    refused(lambda: Neuron(2, activation=[]), ValueError, "Neuron: unknown activation []")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "where"),
    [(lambda: Neuron(10**9), "Neuron"), (lambda: MLP(2, [10**5, 10**5]), "MLP"),
     (lambda: gpt.GPT(10**6, n_embd=10**3, n_head=1), "GPT")],
)  # fmt: skip
def test_a_size_typo_is_refused_before_it_fills_memory(call: Call, where: str) -> None:
    """MLP(2, [10**5, 10**5]) began building ten billion Values (the sweep was OOM-killed)."""
    refused(call, ValueError, f"{where}: these sizes make", "at most 1,000,000")


# --- losses: a model's outputs must be Values, the targets a list --------------------------

LOSS_CALLS: dict[str, tuple[Call, str]] = {
    "hinge floats": (lambda: losses.hinge_loss([0.5, 0.2], [1, -1]), "hinge_loss"),  # type: ignore[list-item]
    "hinge one Value": (lambda: losses.hinge_loss(Value(1.0), [1]), "hinge_loss"),  # type: ignore[arg-type]
    "hinge generator": (lambda: losses.hinge_loss(iter(values()), [1, -1]), "hinge_loss"),  # type: ignore[arg-type]
    "hinge labels None": (lambda: losses.hinge_loss(values(), None), "hinge_loss"),  # type: ignore[arg-type]
    "mse floats": (lambda: losses.mse_loss([0.5], [1.0]), "mse_loss"),  # type: ignore[list-item]
    "bce floats": (lambda: losses.binary_cross_entropy_with_logits([0.5], [1.0]), "binary"),  # type: ignore[list-item]
    "logsumexp floats": (lambda: losses.logsumexp([1.0, 2.0]), "logsumexp"),  # type: ignore[list-item]
    "logsumexp Value": (lambda: losses.logsumexp(Value(1.0)), "logsumexp"),  # type: ignore[arg-type]
    "sce floats": (lambda: losses.softmax_cross_entropy([1.0, 2.0], 0), "softmax_cross"),  # type: ignore[list-item]
    "sce one Value": (lambda: losses.softmax_cross_entropy(Value(1.0), 0), "softmax_cross"),  # type: ignore[arg-type]
    "softplus float": (lambda: losses.softplus(2.0), "softplus"),  # type: ignore[arg-type]
    "l2 of an int": (lambda: losses.l2_regularization(5, 0.1), "l2_regularization"),  # type: ignore[arg-type]
    "l2 alpha str": (lambda: losses.l2_regularization(values(), "x"), "l2_regularization"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", LOSS_CALLS)
def test_losses_refuse_numbers_for_outputs_and_non_lists_by_name(case: str) -> None:
    call, where = LOSS_CALLS[case]
    refused(call, TypeError, where)


def test_l2_regularization_refuses_a_negative_or_nan_alpha() -> None:
    refused(lambda: losses.l2_regularization(values(), -1.0), ValueError, "alpha", "-1.0")
    refused(lambda: losses.l2_regularization(values(), math.nan), ValueError, "alpha", "nan")


def test_a_target_too_large_for_a_float_is_refused_by_name() -> None:
    refused(lambda: losses.mse_loss(values(1), [10**400]), OverflowError, "mse_loss: target")


# --- optim: huge numbers and parameters that are not a list of Values ------------------------


@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay"])
def test_optimizer_refuses_an_integer_too_large_for_a_float(name: str) -> None:
    kwargs: dict[str, Any] = {"lr": 0.1, name: 10**400}
    refused(lambda: optim.Adam(values(), **kwargs), ValueError, f"Adam: {name} must be", "digits")


@pytest.mark.parametrize("params", [5, Value(1.0), MLP(2, [1], rng=random.Random(0))])
def test_optimizer_refuses_params_that_are_not_an_iterable_of_values(params: object) -> None:
    refused(lambda: optim.SGD(params, lr=0.1), TypeError, "SGD: params must be an iterable")  # type: ignore[arg-type]


def test_optimizer_given_a_model_says_to_pass_its_parameters() -> None:
    model = MLP(2, [1], rng=random.Random(0))
    refused(lambda: optim.SGD(model, lr=0.1), TypeError, "model.parameters()")  # type: ignore[arg-type]


# --- data: numbers that are not numbers ------------------------------------------------------

DATA_CALLS: dict[str, tuple[Call, type[Exception], str]] = {
    "factor str": (lambda: data.make_circles(5, factor="x"), TypeError, "make_circles: factor"),  # type: ignore[arg-type]
    "factor None": (lambda: data.make_circles(5, factor=None), TypeError, "make_circles: factor"),  # type: ignore[arg-type]
    "factor Value": (
        lambda: data.make_circles(5, factor=Value(0.5)),  # type: ignore[arg-type]
        TypeError,
        "make_circles: factor must be a number",
    ),
    "fraction str": (
        lambda: data.train_test_split([[0.0, 0.0]], [1], test_fraction="x"),  # type: ignore[arg-type]
        TypeError,
        "train_test_split: test_fraction",
    ),
    "fraction Value": (
        lambda: data.train_test_split([[0.0, 0.0]], [1], test_fraction=Value(0.5)),  # type: ignore[arg-type]
        TypeError,
        "train_test_split: test_fraction must be a number",
    ),
    "points int": (lambda: data.train_test_split(5, [1]), TypeError, "train_test_split: points"),  # type: ignore[arg-type]
    "points generator": (
        lambda: data.train_test_split(iter([[0.0, 0.0]]), [1]),  # type: ignore[arg-type]
        TypeError,
        "train_test_split: points",
    ),
}


@pytest.mark.parametrize("case", DATA_CALLS)
def test_data_refuses_non_numbers_and_non_lists_by_name(case: str) -> None:
    call, error, message = DATA_CALLS[case]
    refused(call, error, message)


def test_data_still_takes_a_fraction_as_a_number() -> None:
    assert len(data.make_circles(4, factor=Fraction(1, 2), rng=0)[0]) == 4  # type: ignore[arg-type]


# --- gpt: token ids, heads, empty vectors --------------------------------------------------


def test_tokenizer_decode_refuses_a_negative_token_that_would_wrap_round() -> None:
    tokenizer = gpt.Tokenizer("ab")
    refused(lambda: tokenizer.decode([-1]), ValueError, "Tokenizer.decode: token 0 is -1")
    refused(lambda: tokenizer.decode([99]), ValueError, "Tokenizer.decode: token 0 is 99")
    refused(lambda: tokenizer.decode(["a"]), ValueError, "Tokenizer.decode: token 0 is 'a'")  # type: ignore[list-item]


def test_tokenizer_refuses_names_that_are_not_strings() -> None:
    tokenizer = gpt.Tokenizer("ab")
    refused(lambda: tokenizer.encode(5), TypeError, "Tokenizer.encode", "5")  # type: ignore[arg-type]
    refused(lambda: gpt.Tokenizer.of([1, 2]), TypeError, "Tokenizer.of: names[0] is 1")  # type: ignore[list-item]


@pytest.mark.parametrize("bad", [99, -1, 2.0])
def test_compiled_loss_refuses_a_token_outside_the_vocabulary(bad: object) -> None:
    """one_hot of such a token is all zeros, so the loss came out silently wrong."""
    loss = gpt.CompiledLoss(tiny_gpt())
    refused(lambda: loss.value_and_grad([0, bad]), ValueError, "token 1 is", repr(bad))  # type: ignore[list-item]
    refused(lambda: gpt.one_hot([bad], 3), ValueError, "one_hot: token 0")  # type: ignore[list-item]


def test_gpt_loss_refuses_tokens_that_are_not_a_list_of_ids() -> None:
    model = tiny_gpt()
    refused(lambda: model.loss(None), TypeError, "GPT.loss: tokens")  # type: ignore[arg-type]
    refused(lambda: model.loss("ab"), TypeError, "GPT.loss: tokens")  # type: ignore[arg-type]
    refused(lambda: model(0, 0, None), TypeError, "GPT: cache must be a KVCache")  # type: ignore[arg-type]
    refused(lambda: gpt.KVCache("x"), TypeError, "KVCache: n_layer")  # type: ignore[arg-type]


@pytest.mark.parametrize("n_head", [3, 5])
def test_attention_refuses_heads_that_do_not_split_the_vector(n_head: int) -> None:
    """With 3 heads of 4 dimensions the last 'head' had 1 dimension, silently."""
    q = values(4)
    refused(lambda: gpt.attention(q, [q], [q], n_head), ValueError, f"n_head={n_head}")
    refused(lambda: gpt.attention(q, [q], [q], 0), ValueError, "attention: n_head")


def test_gpt_pieces_refuse_empty_vectors_and_bad_numbers_by_name() -> None:
    refused(lambda: gpt.softmax([]), ValueError, "softmax: no logits")
    refused(lambda: gpt.rmsnorm([]), ValueError, "rmsnorm: x is empty")
    refused(lambda: gpt.rmsnorm(values(), eps=-1.0), ValueError, "rmsnorm: eps")
    refused(lambda: gpt.sample(tiny_gpt(), random.Random(0), "x"), TypeError, "sample: temperature")  # type: ignore[arg-type]


# --- compiled: the arguments of compile_fn and of a compiled function ----------------------


def double(a: Value) -> Value:
    return a * 2


COMPILE_CALLS: dict[str, tuple[Call, type[Exception], str]] = {
    "f None": (lambda: compiled.compile_fn(None, [1.0]), TypeError, "compile_fn: f"),  # type: ignore[arg-type]
    "example int": (lambda: compiled.compile_fn(double, 5), TypeError, "example_inputs"),  # type: ignore[arg-type]
    "params int": (lambda: compiled.compile_fn(double, [1.0], 5), TypeError, "params"),  # type: ignore[arg-type]
    "check flat": (
        lambda: compiled.compile_fn(double, [1.0], check_inputs=[1.0]),  # type: ignore[list-item]
        TypeError,
        "check_inputs",
    ),
    "check long": (
        lambda: compiled.compile_fn(double, [1.0], check_inputs=[[1.0, 2.0]]),
        ValueError,
        "has 2 numbers",
    ),
    "cache build": (lambda: compiled.CompiledCache(None, []), TypeError, "CompiledCache: build"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", COMPILE_CALLS)
def test_compile_fn_refuses_malformed_arguments_by_name(case: str) -> None:
    call, error, message = COMPILE_CALLS[case]
    refused(call, error, message)


def test_compiled_function_refuses_weights_that_are_not_finite_numbers() -> None:
    """A nan weight gave a nan value and gradients silently; the inputs were already checked."""
    w = Value(2.0)
    cf = compiled.compile_fn(lambda a: a * w, [1.0], [w])
    refused(lambda: cf.value_and_grad(1.0, weights=[math.nan]), ValueError, "weight 0", "nan")
    refused(lambda: cf.value_and_grad(1.0, weights=["x"]), TypeError, "weight 0", "'x'")  # type: ignore[list-item]
    refused(lambda: cf.value_and_grad(1.0, weights=5), TypeError, "weights must be a list")  # type: ignore[arg-type]
    refused(lambda: cf.warm_up([1.0], calls="x"), TypeError, "warm_up: calls")  # type: ignore[arg-type]
    assert cf.value_and_grad(1.0, weights=[3]) == (3.0, [1.0])


# --- paths: None, bytes and file descriptors ------------------------------------------------


@pytest.mark.parametrize("path", [None, 3, b"model.json"])
def test_model_files_refuse_a_path_that_is_not_a_name(path: object, tmp_path: Path) -> None:
    """An int is a file descriptor to os.stat and os.open: load(3) read whatever fd 3 was."""
    model = MLP(1, [1], rng=random.Random(0))
    os.chdir(tmp_path)
    refused(lambda: model.save(path), TypeError, "MLP.save: path must be a str")  # type: ignore[arg-type]
    refused(lambda: model.load(path), TypeError, "MLP.load: path must be a str")  # type: ignore[arg-type]
    refused(lambda: MLP.from_file(path), TypeError, "MLP.from_file: path")  # type: ignore[arg-type]
    refused(lambda: gpt.GPT.from_file(path), TypeError, "GPT.from_file: path")  # type: ignore[arg-type]
    refused(lambda: gpt.read_names(path), TypeError, "read_names: path")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_model_files_still_take_a_pathlib_path(tmp_path: Path) -> None:
    model = MLP(1, [1], rng=random.Random(0))
    model.save(tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["version"] == 1
    model.load(tmp_path / "m.json")


# --- viz, debug and ops ------------------------------------------------------------------


def test_draw_dot_refuses_malformed_options_by_name() -> None:
    viz = pytest.importorskip("micrograd_like.viz")
    root = Value(1.0) * Value(2.0)
    refused(lambda: viz.draw_dot(root, max_nodes="x"), TypeError, "draw_dot: max_nodes")
    refused(lambda: viz.draw_dot(root, max_cost="x"), TypeError, "draw_dot: max_cost")
    refused(lambda: viz.draw_dot(root, parameters=5), TypeError, "draw_dot: parameters")
    refused(lambda: viz.draw_dot(root, highlight=root), TypeError, "draw_dot: highlight")
    refused(lambda: viz.draw_dot(root, tooltip=5), TypeError, "draw_dot: tooltip")
    refused(lambda: viz.graph_summary(5), TypeError, "graph_summary")
    refused(lambda: viz.render(5, "x.svg"), TypeError, "render: expected a picture")
    refused(lambda: viz.render(viz.draw_dot(root), None), TypeError, "render: path")


def test_render_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    """render() wrote with Path.write_text, following a link planted where the picture goes."""
    viz = pytest.importorskip("micrograd_like.viz")
    (tmp_path / "other.txt").write_text("keep me")
    (tmp_path / "p.dot").symlink_to(tmp_path / "other.txt")
    viz.render(viz.draw_dot(Value(1.0)), tmp_path / "p.dot")
    assert (tmp_path / "other.txt").read_text() == "keep me"
    assert not (tmp_path / "p.dot").is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["other.txt", "p.dot"]  # no temporary file left


def test_format_number_refuses_bad_digits_and_strings_by_name() -> None:
    refused(lambda: debug.format_number(1.0, -1), ValueError, "format_number: digits", "-1")
    refused(lambda: debug.format_number(1.0, True), ValueError, "format_number: digits")
    refused(lambda: debug.format_number("x"), TypeError, "format_number", "'x'")  # type: ignore[arg-type]


def test_stepper_refuses_a_root_that_is_not_a_value() -> None:
    refused(lambda: debug.steps_table(5), TypeError, "steps_table: root must be a Value")  # type: ignore[arg-type]
    refused(lambda: debug.step_rows(5), TypeError, "step_rows: root must be a Value")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kinks", "error", "fragment"),
    [("ab", TypeError, "kinks must be a list"), (5, TypeError, "kinks must be a list"),
     ([math.nan], ValueError, "kinks[0]"), ([10**400], OverflowError, "kinks[0]")],
)  # fmt: skip
def test_custom_op_refuses_kinks_that_are_not_finite_numbers(
    kinks: object, error: type[Exception], fragment: str
) -> None:
    declare = ops.custom_op(lambda out, x: (1.0,), name="round3_kinks", kinks=kinks)  # type: ignore[arg-type]
    refused(lambda: declare(lambda x: x), error, "custom_op 'round3_kinks'", fragment)


# --- gradcheck, strategies and data: numbers too large for a float, a bound of nan ------------


def product(xs: list[Value]) -> Value:
    return xs[0] * xs[1]


GRADCHECK_CALLS: dict[str, tuple[Call, type[Exception], str]] = {
    "input 10**400": (
        lambda: gradcheck_module().gradcheck(product, [10**400, 1.0]),
        TypeError,
        "gradcheck: input 0 is an integer of 401 digits",
    ),
    "eps 10**400": (
        lambda: gradcheck_module().gradcheck(product, [1.0, 2.0], eps=10**400),
        OverflowError,
        "gradcheck: eps is an integer of 401 digits",
    ),
    "atol 10**400": (
        lambda: gradcheck_module().gradgradcheck(product, [1.0, 2.0], atol=10**400),
        OverflowError,
        "gradgradcheck: atol",
    ),
    "inputs 5": (lambda: gradcheck_module().gradcheck(product, 5), TypeError, "gradcheck: inputs"),
    "f None": (
        lambda: gradcheck_module().numerical_grad(None, [1.0]),
        TypeError,
        "numerical_grad: f",
    ),
    "root 5": (lambda: gradcheck_module().local_mismatches(5), TypeError, "local_mismatches: root"),
    "noise 10**400": (lambda: data.make_moons(5, noise=10**400), ValueError, "make_moons: noise"),
}


def gradcheck_module() -> Any:
    """The module: ``from micrograd_like import gradcheck`` may give the function of that name."""
    return importlib.import_module("micrograd_like.gradcheck")


@pytest.mark.parametrize("case", GRADCHECK_CALLS)
def test_gradcheck_and_data_refuse_huge_numbers_and_non_lists_by_name(case: str) -> None:
    call, error, message = GRADCHECK_CALLS[case]
    refused(call, error, message)


def test_strategies_refuse_a_bad_magnitude_when_called_not_when_drawn() -> None:
    """domain('log', magnitude=nan) drew numbers of 1e16 silently; -1 failed inside hypothesis."""
    strategies = pytest.importorskip("micrograd_like.strategies")
    refused(lambda: strategies.domain("log", magnitude=math.nan), ValueError, "magnitude")
    refused(lambda: strategies.operands("add", magnitude=-1.0), ValueError, "operands: magnitude")
    refused(
        lambda: strategies.expressions(magnitude=math.inf), ValueError, "expressions: magnitude"
    )
    refused(lambda: strategies.expressions(ops="add"), TypeError, "expressions: ops must be a list")


# --- the core's public functions: a non-Value where a Value or a list of them goes ------------

CORE_CALLS: dict[str, tuple[Call, str]] = {
    "topological_order(5)": (lambda: engine.topological_order(5), "topological_order"),  # type: ignore[arg-type]
    "backward_steps(5)": (lambda: list(engine.backward_steps(5)), "backward_steps"),  # type: ignore[arg-type]
    "linear(5, ...)": (lambda: engine.linear(5, [1.0], Value(0.0)), "linear"),  # type: ignore[arg-type]
    "grad(v, 5)": (lambda: engine.grad(Value(1.0) * 2, 5), "grad"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", CORE_CALLS)
def test_core_refuses_a_non_value_by_name(case: str) -> None:
    call, where = CORE_CALLS[case]
    refused(call, TypeError, f"{where}")


def test_linear_still_takes_a_numpy_array_of_inputs() -> None:
    """The refusal of linear(5, ...) must not refuse an array, which has a length and items."""
    numpy = pytest.importorskip("numpy")
    out = engine.linear([Value(2.0)], numpy.array([3.0]), Value(0.5))
    assert out.data == 6.5  # 0.5 + 2 * 3
