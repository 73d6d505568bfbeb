"""Neural networks on Value: Module, Neuron, Layer and MLP; models saved to and loaded from JSON.

The classes keep micrograd's constructors, ``parameters()`` order (per neuron: weights, then bias)
and call conventions, so micrograd's demo runs unchanged; each neuron's weighted sum is one fused
``linear`` node instead of 2n, which is most of why a training step is faster than micrograd's.
Initial weights come from ``rng=``, never the global ``random``, so ``random.seed(1337)`` does not
fix them as it does in micrograd: pass ``rng=random.Random(1337)`` to get micrograd's weights.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from numbers import Real
from typing import Any, cast

from micrograd_like import model_files
from micrograd_like.arguments import checked_rng
from micrograd_like.checks import is_real
from micrograd_like.engine import Value, is_grad_enabled, linear
from micrograd_like.model_files import (
    FILE_FORMAT,
    FILE_VERSION,
    MAX_FILE_PARAMETERS,
    ModelFileError,
    read_model_file,
)

__all__ = [  # the model-file names stay importable from here, where they used to live
    "ACTIVATIONS",
    "FILE_FORMAT",
    "FILE_VERSION",
    "MAX_FILE_PARAMETERS",
    "MLP",
    "Layer",
    "ModelFileError",
    "Module",
    "Neuron",
    "read_model_file",
]

Input = Value | float | int
# What a model may be called with: a sequence of inputs, or one input. Any real number will do
# (Fraction, numpy scalars); the engine turns it into a float.
Inputs = Sequence[Input | Real] | Value | Real | float | int


def _identity(x: Value) -> Value:
    """The linear 'activation': the weighted sum itself."""
    return x


ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "linear": _identity,
}
_NEURON_NAMES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}


class Module:
    """Anything with parameters: zero their gradients, save them to JSON and load them back."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def architecture(self) -> dict[str, Any]:
        """What a saved file must describe for its parameters to fit this module."""
        return {"module": type(self).__name__, "parameters": len(self.parameters())}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.parameters())} parameters)"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and every parameter to ``path`` as JSON (never pickle).

        Atomic and safe on a shared disk (see ``model_files.replace_atomically``); a non-finite
        parameter (after a diverging run) raises ValueError and writes nothing.
        """
        numbers = [p.data for p in self.parameters()]
        model_files.write_model_file(
            path, self.architecture(), numbers, f"{type(self).__name__}.save"
        )

    def load(self, path: str | os.PathLike[str]) -> None:
        """Set the parameters from a file written by ``save``.

        The file is untrusted: everything is checked before any parameter changes, and any problem
        raises ``ModelFileError`` (a ValueError) naming the file and the problem.
        """
        document = read_model_file(path, f"{type(self).__name__}.load")
        model_files.check_architecture(path, document["architecture"], self.architecture())
        count = len(self.parameters())
        found = document["parameters"]
        self._set_parameters(model_files.parameter_list(path, found, count, "the model has"))

    def _set_parameters(self, numbers: list[float]) -> None:
        for p, number in zip(self.parameters(), numbers, strict=True):
            p.data = number
            p.grad = 0.0  # a gradient of the old weights means nothing for the new ones


class Neuron(Module):
    """activation(w . x + b), with micrograd's constructor: ``nonlin=True`` is ReLU, False linear.

    ``activation`` ("relu", "tanh", "sigmoid" or "linear") overrides ``nonlin``. Weights start
    uniform in [-1, 1] and the bias at 0, as in micrograd; pass ``rng`` for reproducible weights.
    Parameters are labelled ``w1``.. and ``b``, inside a Layer ``N2.w1`` and inside an MLP
    ``L1.N2.w1`` (all numbered from 1), so pictures name them; a label changes no number.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_size(nin, "Neuron", "nin")
        _check_parameter_count(nin + 1, "Neuron")
        chosen = activation if activation is not None else ("relu" if nonlin else "linear")
        if not isinstance(chosen, str) or chosen not in ACTIVATIONS:
            raise ValueError(
                f"Neuron: unknown activation {chosen!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        if not nonlin and chosen != "linear":
            raise ValueError(
                f"Neuron: nonlin=False asks for a linear neuron but activation={chosen!r}; "
                "pass only one of them"
            )
        draw = checked_rng(rng, "Neuron").uniform
        self.w = [Value(draw(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self._name_parameters("")
        self.activation = chosen
        self._activate = ACTIVATIONS[chosen]

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def __call__(self, x: Inputs) -> Value:
        return self._forward(_as_inputs(x, len(self.w), self.__repr__))

    def _forward(self, inputs: Sequence[Input]) -> Value:
        """The neuron on inputs already checked by its caller (a Layer checks them once)."""
        return self._activate(linear(self.w, inputs, self.b))

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def _name_parameters(self, prefix: str) -> None:
        """Label the weights ``<prefix>w1``.. and the bias ``<prefix>b``, for pictures."""
        for i, w in enumerate(self.w, start=1):
            w.label = f"{prefix}w{i}"
        self.b.label = f"{prefix}b"

    def architecture(self) -> dict[str, Any]:
        return {"module": "Neuron", "nin": len(self.w), "activation": self.activation}

    def __repr__(self) -> str:
        return f"{_NEURON_NAMES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons that all see the same inputs; keyword arguments go to each Neuron.

    Calling it returns a list of Values, except that a layer with one neuron returns that neuron's
    Value itself: micrograd does the same, and its demo relies on it for the final score.
    """

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        _check_size(nin, "Layer", "nin")
        _check_size(nout, "Layer", "nout")
        _check_parameter_count((nin + 1) * nout, "Layer")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
        self._name_parameters("")

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def __call__(self, x: Inputs) -> Value | list[Value]:
        inputs = _as_inputs(x, self.nin, self.__repr__)
        if not is_grad_enabled():  # evaluation: read each input's number once, not per neuron
            inputs = [v.data if isinstance(v, Value) else v for v in inputs]
        out = [n._forward(inputs) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def _name_parameters(self, prefix: str) -> None:
        """Label neuron j's parameters ``<prefix>N<j>.w1``.. (numbered from 1), for pictures."""
        for j, neuron in enumerate(self.neurons, start=1):
            neuron._name_parameters(f"{prefix}N{j}.")

    def architecture(self) -> dict[str, Any]:
        return {
            "module": "Layer",
            "nin": self.nin,
            "nout": len(self.neurons),
            "activation": self.activation,
        }

    def __repr__(self) -> str:
        return f"Layer({self.nin} -> {len(self.neurons)}, {self.activation})"


class MLP(Module):
    """Layers in a row: hidden layers use ``activation`` (ReLU, as micrograd), the last is linear.

    Calling it returns a single Value when the last layer has one neuron, else a list (as
    micrograd). A hidden layer of one neuron works here; in micrograd it breaks the next layer.
    ``random.seed`` does not fix the initial weights: pass ``rng=random.Random(seed)`` instead.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "linear",
        rng: random.Random | None = None,
    ) -> None:
        _check_size(nin, "MLP", "nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        for size in nouts:
            _check_size(size, "MLP", "each of nouts")
        sizes = [nin, *nouts]
        _check_parameter_count(sum((a + 1) * b for a, b in itertools.pairwise(sizes)), "MLP")
        _check_activation(activation, "activation")
        _check_activation(output_activation, "output_activation")
        rng = checked_rng(rng, "MLP")
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation=output_activation if i == last else activation,
                rng=rng,
            )
            for i in range(len(nouts))
        ]
        for k, layer in enumerate(self.layers, start=1):
            layer._name_parameters(f"L{k}.")  # L2.N3.w1: layer, neuron and weight, from 1

    def __call__(self, x: Inputs) -> Value | list[Value]:
        out: Inputs = _as_inputs(x, self.layers[0].nin, self._summary)
        for layer in self.layers:
            out = layer(out)  # a bare Value from a one-neuron layer is accepted by the next
        return out  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def architecture(self) -> dict[str, Any]:
        return {
            "module": "MLP",
            "nin": self.layers[0].nin,
            "nouts": [len(layer.neurons) for layer in self.layers],
            "activations": [layer.activation for layer in self.layers],
        }

    def _summary(self) -> str:
        """The first line of the repr: what error messages call this model."""
        sizes = " -> ".join(str(n) for n in [self.layers[0].nin, *self.architecture()["nouts"]])
        return f"MLP({sizes}, {len(self.parameters())} parameters)"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MLP:
        """Build the MLP a file describes and load its parameters (checked as in ``load``).

        The parameters are checked against the size the architecture implies before any is built,
        and architectures of more than ``MAX_FILE_PARAMETERS`` parameters are refused.
        """
        document = read_model_file(path, "MLP.from_file")
        architecture = document["architecture"]
        nin, nouts, activations = model_files.mlp_shape(path, architecture, ACTIVATIONS)
        count = model_files.mlp_parameter_count(path, nin, nouts)
        found = document["parameters"]
        numbers = model_files.parameter_list(path, found, count, "its architecture needs")
        hidden = activations[0] if len(activations) > 1 else "relu"
        model = cls(nin, nouts, activation=hidden, output_activation=activations[-1])
        # e.g. mixed hidden activations, which no MLP built here has
        model_files.check_architecture(path, architecture, model.architecture())
        model._set_parameters(numbers)
        return model

    def __repr__(self) -> str:
        lines = [f"{self._summary()}("]
        lines += [f"  {layer!r}" for layer in self.layers]
        return "\n".join([*lines, ")"])


def _check_size(size: object, where: str, name: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {size!r}")


def _check_parameter_count(count: int, where: str) -> None:
    """Refuse a size typo (nin=10**9) before it fills memory with Values; the limit is what a
    model file may hold, so every model built here can be saved and loaded back."""
    if count > MAX_FILE_PARAMETERS:
        raise ValueError(
            f"{where}: these sizes make {count:,} parameters; at most {MAX_FILE_PARAMETERS:,} "
            "are allowed (the most a model file holds)"
        )


def _check_activation(name: object, argument: str) -> None:
    """An MLP's activation by name: None would make a Neuron fall back to ReLU, silently."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"MLP: {argument}={name!r} is not one of {sorted(ACTIVATIONS)}")


def _as_inputs(x: Inputs, expected: int, name: Callable[[], str]) -> Sequence[Input]:
    """The inputs as a sequence: a lone Value or real number counts as one input.

    ``name`` gives what messages call the module, only when there is a message to write.
    """
    if type(x) is list or type(x) is tuple:  # the common case, before any ABC check
        inputs: Sequence[object] = x
    elif isinstance(x, (Value, Real)) or is_real(x):  # is_real: a 0-d numpy array too
        inputs = [x]
    else:
        inputs = _other_inputs(x, name)
    if len(inputs) != expected:
        raise ValueError(f"{name()} takes {expected} inputs, got {len(inputs)}")
    return cast("Sequence[Input]", inputs)  # each element is checked by the engine as it is used


def _other_inputs(x: object, name: Callable[[], str]) -> Sequence[object]:
    """Inputs given as another ordered collection (a numpy array, say); no dict, set or string.

    A dict would give its keys and a set an arbitrary order, so either would silently feed the
    model the wrong numbers; a string would give characters.
    """
    if isinstance(x, (str, bytes, Mapping, Set)):
        pass
    elif isinstance(x, Sequence):
        return x
    elif isinstance(x, Iterable):
        with contextlib.suppress(TypeError):  # a 0-d numpy array is "iterable" until iterated
            return list(x)
    raise TypeError(
        f"{name()} takes a list or tuple of numbers or Values, or one number or Value; "
        f"got {type(x).__name__}"
    )
