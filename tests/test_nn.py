"""Tests for nn: micrograd compatibility, activations, one-neuron layers, save/load, bad files."""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import random
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from micrograd_like import model_files
from micrograd_like.data import make_moons
from micrograd_like.engine import Value, topological_order
from micrograd_like.nn import MLP, Layer, ModelFileError, Module, Neuron
from tests.support import require


def require_micrograd() -> None:
    require(
        importlib.util.find_spec("micrograd") is not None,
        "micrograd",
        "pip install micrograd==0.1.0",
    )


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    """micrograd's graphs are reference cycles; without this its steps take seconds."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def micrograd_demo_step(value: Callable[[float], Any], model: Any, xs: Any, ys: Any, k: int) -> Any:
    """micrograd's demo training loop body, as its demo notebook writes it (hence the noqa)."""
    inputs = [list(map(value, xrow)) for xrow in xs]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(ys, scores)]  # noqa: B905
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p * p for p in model.parameters()))  # noqa: UP034
    total_loss = data_loss + reg_loss
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    grads = [p.grad for p in model.parameters()]
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data, grads


def test_mlp_runs_micrograds_demo_loop_with_micrograds_numbers(no_cycle_collector: None) -> None:
    require_micrograd()
    import micrograd.engine
    import micrograd.nn

    theirs = micrograd.nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1], rng=random.Random(7))
    weights = [random.Random(3).uniform(-1, 1) for _ in theirs.parameters()]
    for mine, their, weight in zip(ours.parameters(), theirs.parameters(), weights, strict=True):
        mine.data = their.data = weight  # non-zero biases too, so every parameter matters
    xs, ys = make_moons(30, 0.1, rng=1)
    for k in range(3):
        their_loss, their_grads = micrograd_demo_step(micrograd.engine.Value, theirs, xs, ys, k)
        our_loss, our_grads = micrograd_demo_step(Value, ours, xs, ys, k)
        assert math.isclose(our_loss, their_loss, rel_tol=1e-12)
        assert any(g != 0 for g in their_grads)
        for index, (mine, their) in enumerate(zip(our_grads, their_grads, strict=True)):
            assert math.isclose(mine, their, rel_tol=1e-12, abs_tol=1e-300), (index, mine, their)


def test_mlp_makes_one_linear_node_per_neuron() -> None:
    out = MLP(2, [16, 16, 1], rng=random.Random(0))([0.5, -0.5])
    assert isinstance(out, Value)
    ops = [node.op for node in topological_order(out)]
    # 337 parameter leaves; per hidden neuron a linear and a ReLU node; one linear output
    linears = ops.count("linear") + ops.count("linear_const")  # first layer: constant inputs
    assert (ops.count(""), linears, ops.count("relu"), len(ops)) == (337, 33, 32, 402)


def test_mlp_parameters_in_micrograds_order() -> None:
    model = MLP(3, [2, 1], rng=random.Random(0))
    expected = [
        *model.layers[0].neurons[0].w,
        model.layers[0].neurons[0].b,
        *model.layers[0].neurons[1].w,
        model.layers[0].neurons[1].b,
        *model.layers[1].neurons[0].w,
        model.layers[1].neurons[0].b,
    ]
    assert [id(p) for p in model.parameters()] == [id(p) for p in expected]
    assert len(model.parameters()) == 3 * 2 + 2 + 2 * 1 + 1


def test_mlp_hidden_relu_and_linear_output_like_micrograd() -> None:
    model = MLP(2, [3, 3, 1], rng=random.Random(0))
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert all(n.nonlin for n in model.layers[0].neurons)
    assert not model.layers[2].neurons[0].nonlin


def set_weights(neuron: Neuron, weights: list[float], bias: float) -> None:
    for w, number in zip(neuron.w, weights, strict=True):
        w.data = number
    neuron.b.data = bias


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("relu", 0.0),  # w.x + b = 2*1 - 1*4 + 0.5 = -1.5
        ("linear", -1.5),
        ("tanh", math.tanh(-1.5)),
        ("sigmoid", 1 / (1 + math.exp(1.5))),
    ],
)
def test_neuron_applies_its_activation(activation: str, expected: float) -> None:
    neuron = Neuron(2, activation=activation)
    set_weights(neuron, [2.0, -1.0], 0.5)
    assert neuron([1.0, 4.0]).data == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_neuron_nonlin_flag_chooses_relu_or_linear() -> None:
    assert Neuron(2).activation == "relu"
    assert Neuron(2, nonlin=False).activation == "linear"
    assert repr(Neuron(2)) == "ReLUNeuron(2)"
    assert repr(Neuron(2, False)) == "LinearNeuron(2)"


def test_neuron_refuses_unknown_or_contradictory_activation() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Neuron(2, activation="swish")
    with pytest.raises(ValueError, match="nonlin=False"):
        Neuron(2, nonlin=False, activation="tanh")
    with pytest.raises(ValueError, match="nin must be a positive integer"):
        Neuron(0)


def test_neuron_gradient_is_input_times_slope() -> None:
    neuron = Neuron(2, activation="tanh")
    set_weights(neuron, [0.3, -0.2], 0.1)
    out = neuron([Value(1.5), Value(2.0)])
    out.backward()
    slope = 1 - math.tanh(0.3 * 1.5 - 0.2 * 2.0 + 0.1) ** 2  # d tanh(s)/ds
    assert neuron.w[0].grad == pytest.approx(1.5 * slope, rel=1e-14)
    assert neuron.w[1].grad == pytest.approx(2.0 * slope, rel=1e-14)
    assert neuron.b.grad == pytest.approx(slope, rel=1e-14)


def test_neuron_weights_reproducible_from_rng_without_global_state() -> None:
    state = random.getstate()
    first = [p.data for p in MLP(2, [4, 1], rng=random.Random(42)).parameters()]
    second = [p.data for p in MLP(2, [4, 1], rng=random.Random(42)).parameters()]
    assert random.getstate() == state
    assert first == second
    assert all(-1 <= w.data <= 1 for w in Neuron(50, rng=random.Random(1)).w)
    assert Neuron(3).b.data == 0.0


def test_layer_returns_value_for_one_neuron_and_list_otherwise() -> None:
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    out = Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_layer_refuses_wrong_number_of_inputs() -> None:
    with pytest.raises(ValueError, match=r"Layer\(2 -> 3, relu\) takes 2 inputs, got 3"):
        Layer(2, 3)([1.0, 2.0, 3.0])


def test_mlp_one_neuron_hidden_layer_computes_by_hand() -> None:
    model = MLP(2, [1, 1])  # micrograd breaks here: its next layer iterates a bare Value
    hidden, output = model.layers[0].neurons[0], model.layers[1].neurons[0]
    set_weights(hidden, [0.5, -1.0], 0.25)
    set_weights(output, [3.0], -1.0)
    out = model([2.0, 0.5])
    assert isinstance(out, Value)
    assert out.data == 3.0 * (0.5 * 2.0 - 0.5 + 0.25) - 1.0
    out.backward()
    assert hidden.w[0].grad == 3.0 * 2.0  # d out/d h * d h/d w0, relu slope 1
    assert output.w[0].grad == 0.75


def test_mlp_accepts_a_bare_number_for_one_input() -> None:
    model = MLP(1, [2, 1], rng=random.Random(0))
    assert model(0.5).data == model([0.5]).data  # type: ignore[union-attr]


def linear_neuron() -> Neuron:
    """A linear neuron whose output is easy to work out by hand: 2 x0 - x1 + 0.5."""
    neuron = Neuron(2, nonlin=False)
    set_weights(neuron, [2.0, -1.0], 0.5)
    return neuron


def real_number_kinds() -> list[tuple[object, object]]:
    """0.5 and 0.25 as other kinds of real number: Fraction always, numpy's when it is installed."""
    kinds: list[tuple[object, object]] = [(Fraction(1, 2), Fraction(1, 4)), (0.5, Fraction(1, 4))]
    if importlib.util.find_spec("numpy") is not None:  # an extra, never a skip
        import numpy

        kinds += [
            (numpy.float64(0.5), numpy.float32(0.25)),
            (numpy.float16(0.5), numpy.longdouble(0.25)),
        ]
    return kinds


@pytest.mark.parametrize("pair", real_number_kinds(), ids=lambda pair: type(pair[0]).__name__)
def test_modules_accept_any_real_number_as_an_input(pair: tuple[object, object]) -> None:
    x0, x1 = pair
    assert linear_neuron()([x0, x1]).data == 2 * 0.5 - 0.25 + 0.5  # type: ignore[list-item]
    layer = Layer(2, 1, nonlin=False)
    set_weights(layer.neurons[0], [2.0, -1.0], 0.5)
    assert layer((x0, x1)).data == 1.25  # type: ignore[union-attr, arg-type]
    single = MLP(1, [1], output_activation="linear")
    set_weights(single.layers[0].neurons[0], [4.0], 1.0)
    assert single(x0).data == 4 * 0.5 + 1  # type: ignore[union-attr, arg-type]


def test_modules_accept_integer_kinds_and_other_sequences() -> None:
    neuron = linear_neuron()
    assert neuron(range(3, 5)).data == 2 * 3 - 4 + 0.5
    assert neuron(x for x in (Fraction(3), 4)).data == 2.5  # type: ignore[arg-type]
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        assert neuron([numpy.int64(3), numpy.int8(4)]).data == 2.5
        assert neuron(numpy.array([3.0, 4.0])).data == 2.5  # type: ignore[arg-type]


UNORDERED_OR_NOT_INPUTS = {
    "dict": {0: 1.0, 1: 2.0},  # would give the keys 0 and 1 as inputs
    "set": {1.0, 2.0},  # would give them in an arbitrary order
    "frozenset": frozenset({1.0, 2.0}),
    "dict_keys": {0: 1.0, 1: 2.0}.keys(),
    "str": "12",
    "bytes": b"12",
    "NoneType": None,
}


@pytest.mark.parametrize("kind", sorted(UNORDERED_OR_NOT_INPUTS))
@pytest.mark.parametrize(
    ("module", "name"),
    [
        (Neuron(2), r"ReLUNeuron\(2\)"),
        (Layer(2, 3), r"Layer\(2 -> 3, relu\)"),
        (MLP(2, [3, 1]), r"MLP\(2 -> 3 -> 1, 13 parameters\)"),
    ],
    ids=["Neuron", "Layer", "MLP"],
)
def test_modules_refuse_dicts_sets_and_strings_as_inputs(
    module: Callable[[object], object], name: str, kind: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name} takes a list or tuple .*; got {kind}$"):
        module(UNORDERED_OR_NOT_INPUTS[kind])


def test_a_zero_dimensional_array_is_one_number_as_everywhere_else() -> None:
    numpy = pytest.importorskip("numpy")  # matplotlib, in the test extra, brings it
    neuron = Neuron(1, rng=random.Random(0))
    expected = neuron([0.5])
    out = neuron(numpy.array(0.5))
    assert isinstance(out, Value) and isinstance(expected, Value)
    assert out.data == expected.data


def test_mlp_names_itself_when_given_the_wrong_number_of_inputs() -> None:
    with pytest.raises(
        ValueError, match=r"^MLP\(2 -> 3 -> 1, 13 parameters\) takes 2 inputs, got 3$"
    ):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])


def test_mlp_refuses_bad_sizes() -> None:
    with pytest.raises(TypeError, match="nouts must be a non-empty list"):
        MLP(2, [])
    with pytest.raises(ValueError, match="each of nouts must be a positive integer"):
        MLP(2, [3, 0])


def test_module_zero_grad_clears_every_parameter() -> None:
    model = MLP(2, [3, 1], rng=random.Random(0))
    out = model([1.0, -1.0])
    assert isinstance(out, Value)
    (out * out + 1).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_mlp_repr_nests_its_layers() -> None:
    text = repr(MLP(2, [16, 16, 1]))
    assert text.splitlines() == [
        "MLP(2 -> 16 -> 16 -> 1, 337 parameters)(",
        "  Layer(2 -> 16, relu)",
        "  Layer(16 -> 16, relu)",
        "  Layer(16 -> 1, linear)",
        ")",
    ]


# --- saving and loading ----------------------------------------------------------------------


def parameters_of(module: Module) -> list[float]:
    return [p.data for p in module.parameters()]


MLP_2_2_1_LABELS = [
    *("L1.N1.w1", "L1.N1.w2", "L1.N1.b"),
    *("L1.N2.w1", "L1.N2.w2", "L1.N2.b"),
    *("L2.N1.w1", "L2.N1.w2", "L2.N1.b"),
]


def test_mlp_labels_parameters_by_layer_neuron_and_weight_from_one() -> None:
    assert [p.label for p in MLP(2, [2, 1]).parameters()] == MLP_2_2_1_LABELS


def test_neuron_and_layer_label_their_own_parameters() -> None:
    assert [p.label for p in Neuron(3).parameters()] == ["w1", "w2", "w3", "b"]
    expected = ["N1.w1", "N1.w2", "N1.b", "N2.w1", "N2.w2", "N2.b"]
    assert [p.label for p in Layer(2, 2).parameters()] == expected


def test_parameter_labels_change_no_number() -> None:
    draws = random.Random(3)
    expected = []  # micrograd's order: each neuron's weights, drawn in turn, then its bias 0
    for nin, nout in ((2, 2), (2, 1)):
        for _ in range(nout):
            expected += [draws.uniform(-1, 1) for _ in range(nin)] + [0.0]
    model = MLP(2, [2, 1], rng=random.Random(3))
    assert parameters_of(model) == expected
    w11, w12, b1, w21, w22, b2, v1, v2, c = expected  # by hand, in micrograd's order
    h1 = max(0.0, b1 + w11 * 1.5 + w12 * -2.0)
    h2 = max(0.0, b2 + w21 * 1.5 + w22 * -2.0)
    out = model([1.5, -2.0])
    assert isinstance(out, Value)
    assert out.data == c + v1 * h1 + v2 * h2


def test_load_and_from_file_keep_parameter_labels(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    MLP(2, [2, 1], rng=random.Random(0)).save(path)
    model = MLP(2, [2, 1], rng=random.Random(1))
    model.layers[1].neurons[0].b.label = "score bias"  # a user's own label survives load too
    model.load(path)
    assert [p.label for p in model.parameters()] == [*MLP_2_2_1_LABELS[:-1], "score bias"]
    assert [p.label for p in MLP.from_file(path).parameters()] == MLP_2_2_1_LABELS
    assert "label" not in path.read_text()  # the file format is unchanged


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    saved = MLP(2, [4, 3, 1], activation="tanh", rng=random.Random(5))
    path = tmp_path / "model.json"
    saved.save(path)
    other = MLP(2, [4, 3, 1], activation="tanh", rng=random.Random(6))
    other.load(path)
    assert parameters_of(other) == parameters_of(saved)
    rebuilt = MLP.from_file(path)
    assert parameters_of(rebuilt) == parameters_of(saved)
    for x in ([0.1, 0.2], [-3.0, 1e-3], [7.5, -2.25]):
        assert rebuilt(x).data == saved(x).data  # type: ignore[union-attr]


def test_save_writes_tagged_json_with_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    MLP(2, [3, 1], rng=random.Random(0)).save(path)
    document = json.loads(path.read_text())
    assert document["format"] == "micrograd_like.model"
    assert document["version"] == 1
    assert document["architecture"] == {
        "module": "MLP",
        "nin": 2,
        "nouts": [3, 1],
        "activations": ["relu", "linear"],
    }
    assert len(document["parameters"]) == 13
    assert not list(tmp_path.glob("*.tmp"))


def test_neuron_and_layer_round_trip(tmp_path: Path) -> None:
    for module, fresh in (
        (Neuron(3, activation="sigmoid", rng=random.Random(1)), Neuron(3, activation="sigmoid")),
        (Layer(2, 4, rng=random.Random(1)), Layer(2, 4)),
    ):
        path = tmp_path / f"{type(module).__name__}.json"
        module.save(path)
        fresh.load(path)
        assert parameters_of(fresh) == parameters_of(module)


def test_load_resets_gradients(tmp_path: Path) -> None:
    model = MLP(2, [2, 1], rng=random.Random(0))
    path = tmp_path / "model.json"
    model.save(path)
    for p in model.parameters():
        p.grad = 1.0
    model.load(path)
    assert all(p.grad == 0.0 for p in model.parameters())


def good_document() -> dict[str, Any]:
    model = MLP(2, [2, 1], rng=random.Random(0))
    return {
        "format": "micrograd_like.model",
        "version": 1,
        "architecture": model.architecture(),
        "parameters": parameters_of(model),
    }


def changed(**changes: Any) -> str:
    document = good_document()
    for key, value in changes.items():
        if value is _DELETE:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document)


_DELETE = object()


def with_parameter(text: str) -> str:
    """A good file whose first parameter is replaced by the raw JSON ``text``."""
    document = good_document()
    document["parameters"][0] = "@"
    return json.dumps(document).replace('"@"', text)


BAD_FILES = {
    "empty": ("", "the file is empty"),
    "truncated": (json.dumps(good_document())[:60], "looks truncated"),
    "invalid JSON": ("{format: 1}", "not valid JSON"),
    "not an object": ("[1, 2, 3]", "expected a JSON object, found list"),
    "missing key": (changed(version=_DELETE), "missing ['version']"),
    "extra key": (changed(comment="hi"), "unexpected ['comment']"),
    "duplicate key": ('{"version": 1, "version": 1}', "duplicate keys ['version']"),
    "wrong format tag": (changed(format="pickle"), "format is 'pickle'"),
    "version not an integer": (changed(version="1"), "version must be an integer"),
    "version as true": (changed(version=True), "version must be an integer"),
    "future version": (changed(version=2), "version 2 is not supported"),
    "architecture not an object": (changed(architecture=[2, 1]), "architecture must be"),
    "other architecture": (
        changed(
            architecture={
                "module": "MLP",
                "nin": 2,
                "nouts": [3, 1],
                "activations": ["relu", "linear"],
            }
        ),
        "the file describes",
    ),
    "architecture with float size": (
        changed(
            architecture={
                "module": "MLP",
                "nin": 2.0,
                "nouts": [2, 1],
                "activations": ["relu", "linear"],
            }
        ),
        "the file describes",
    ),
    "parameters not a list": (changed(parameters={"w": 1}), "parameters must be a list"),
    "too few parameters": (changed(parameters=[0.5] * 8), "has 8 parameters, but the model has 9"),
    "too many parameters": (changed(parameters=[0.5] * 10), "has 10 parameters"),
    "string parameter": (with_parameter('"0.5"'), "parameter 0 is '0.5', not a number"),
    "boolean parameter": (with_parameter("true"), "parameter 0 is True, not a number"),
    "null parameter": (with_parameter("null"), "parameter 0 is None"),
    "NaN parameter": (with_parameter("NaN"), "NaN is not a finite number"),
    "infinite parameter": (with_parameter("-Infinity"), "-Infinity is not a finite number"),
    "overflowing parameter": (with_parameter("1e999"), "parameter 0 is inf, not a finite"),
    "400-digit integer parameter": (
        with_parameter("1" + "0" * 399),
        "parameter 0 is an integer of 400 digits, too large for a float",
    ),
    "5000-digit integer parameter": (with_parameter("1" + "0" * 4999), "cannot be read as JSON"),
    "100,000 nested arrays": (with_parameter("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "nested arrays at the top": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "20,000 keys": (json.dumps({f"key{i}": 0 for i in range(20_000)}), "unexpected ['key0', "),
    "20,000 duplicate keys": (
        "{" + ", ".join(f'"key{i}": 0, "key{i}": 1' for i in range(20_000)) + "}",
        "duplicate keys ['key0', ",
    ),
    "huge version": (changed(version=10**4000), "version 1000000"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_refuses_bad_file_and_keeps_the_model(tmp_path: Path, case: str) -> None:
    text, problem = BAD_FILES[case]
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    model = MLP(2, [2, 1], rng=random.Random(9))
    before = parameters_of(model)
    with pytest.raises(ModelFileError) as caught:
        model.load(path)
    assert isinstance(caught.value, ValueError)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
    assert len(str(caught.value)) < len(str(path)) + 300  # a hostile file cannot flood the message
    assert parameters_of(model) == before


def test_load_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ModelFileError, match="not UTF-8"):
        MLP(2, [2, 1]).load(path)


def test_load_refuses_a_file_for_another_module_kind(tmp_path: Path) -> None:
    path = tmp_path / "layer.json"
    Layer(2, 2).save(path)
    with pytest.raises(ModelFileError, match=r"the file describes .*'Layer'.* model is .*'MLP'"):
        MLP(2, [2, 1]).load(path)
    with pytest.raises(ModelFileError, match="wrong keys"):
        MLP.from_file(path)


@pytest.mark.parametrize(
    ("architecture", "problem"),
    [
        ({"module": "MLP", "nin": 0, "nouts": [1], "activations": ["linear"]}, "positive integers"),
        ({"module": "MLP", "nin": 2, "nouts": [], "activations": []}, "positive integers"),
        ({"module": "MLP", "nin": 2, "nouts": "1", "activations": ["linear"]}, "positive integers"),
        ({"module": "MLP", "nin": 2, "nouts": [1], "activations": ["swish"]}, "activations must"),
        ({"module": "MLP", "nin": 2, "nouts": [1, 1], "activations": ["relu"]}, "activations must"),
        ({"module": "Net", "nin": 2, "nouts": [1], "activations": ["relu"]}, "not an MLP"),
    ],
)
def test_from_file_refuses_a_bad_architecture(
    tmp_path: Path, architecture: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(changed(architecture=architecture, parameters=[]), encoding="utf-8")
    with pytest.raises(ModelFileError, match=problem):
        MLP.from_file(path)


def test_from_file_refuses_mixed_hidden_activations(tmp_path: Path) -> None:
    architecture = {
        "module": "MLP",
        "nin": 1,
        "nouts": [1, 1, 1],
        "activations": ["relu", "tanh", "linear"],
    }
    path = tmp_path / "mixed.json"
    path.write_text(changed(architecture=architecture, parameters=[0.0] * 6), encoding="utf-8")
    with pytest.raises(ModelFileError, match="the file describes"):
        MLP.from_file(path)


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        MLP(2, [1]).load(tmp_path / "nowhere.json")


class CountedKey(str):
    """A key that counts how often it is compared for equality."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedKey.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_duplicate_key_check_compares_keys_a_linear_number_of_times() -> None:
    pairs: list[tuple[str, Any]] = [(CountedKey(f"key{i}"), i) for i in range(2_000)]
    CountedKey.comparisons = 0
    assert len(model_files.refuse_duplicates(pairs)) == 2_000
    assert CountedKey.comparisons < 2 * len(pairs)  # a pairwise check makes about 4 million


def test_from_file_checks_the_parameter_count_before_building_the_model(tmp_path: Path) -> None:
    built: list[tuple[Any, ...]] = []

    class Recording(MLP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(args)
            super().__init__(*args, **kwargs)

    architecture = {
        "module": "MLP",
        "nin": 300,
        "nouts": [300, 1],
        "activations": ["relu", "linear"],
    }
    path = tmp_path / "short.json"
    path.write_text(changed(architecture=architecture, parameters=[0.5]), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"has 1 parameters, but its architecture needs 90601"):
        Recording.from_file(path)
    assert built == []


@pytest.mark.parametrize(
    ("nin", "nouts"),
    [(20_000, [20_000, 1]), (1_000, [1_000, 1_000]), (10**400, [1]), (1, [10**4000])],
)
def test_from_file_refuses_absurd_sizes_before_building(
    tmp_path: Path, nin: int, nouts: list[int]
) -> None:
    architecture = {
        "module": "MLP",
        "nin": nin,
        "nouts": nouts,
        "activations": ["linear"] * len(nouts),
    }
    path = tmp_path / "huge.json"
    path.write_text(changed(architecture=architecture, parameters=[0.5]), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"more than 1,000,000 parameters") as caught:
        MLP.from_file(path)
    assert len(str(caught.value)) < len(str(path)) + 300


def test_from_file_refuses_a_huge_integer_parameter(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(with_parameter("9" * 309), encoding="utf-8")  # above the largest float
    with pytest.raises(ModelFileError, match="parameter 0 is an integer of 309 digits"):
        MLP.from_file(path)


def deeply_nested(depth: int) -> list[Any]:
    """A list nested ``depth`` times, built without recursion."""
    nested: list[Any] = []
    for _ in range(depth):
        nested = [nested]
    return nested


def test_error_messages_survive_data_too_deep_to_print() -> None:
    deep = deeply_nested(100_000)
    assert "list" in model_files.short(deep)
    assert model_files.canonical(deep) != model_files.canonical(MLP(2, [1]).architecture())


def test_save_refuses_a_non_finite_parameter_and_writes_nothing(tmp_path: Path) -> None:
    model = MLP(2, [2, 1], rng=random.Random(0))
    model.parameters()[4]._data = math.inf  # Value.data refuses inf; reach past it, as a bug might
    path = tmp_path / "model.json"
    path.write_text("the previous model", encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.json: parameter 4 is inf, not a finite number"):
        model.save(path)
    assert path.read_text(encoding="utf-8") == "the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_save_refuses_to_replace_a_folder_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "model.json"
    folder.mkdir()
    with pytest.raises(OSError, match=r"model\.json: is a directory, not a regular file"):
        MLP(2, [1], rng=random.Random(0)).save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_mlp_rng_gives_micrograds_weights_for_its_global_seed() -> None:
    require_micrograd()
    import micrograd.nn

    random.seed(1337)  # micrograd draws from the global state; we restore nothing else uses it
    theirs = [p.data for p in micrograd.nn.MLP(2, [16, 16, 1]).parameters()]
    ours = parameters_of(MLP(2, [16, 16, 1], rng=random.Random(1337)))
    assert ours == theirs
