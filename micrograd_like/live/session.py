"""One training run that a page watches: a model, its points, a thread that steps it, and commands.

There is one training thread per session, never one per page or request: pages only poll, so a
refresh, a second tab or a closed tab starts and leaves nothing. A run nobody has looked at for
``idle_pause`` seconds pauses itself, and ``stop()`` ends the thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from micrograd_like.engine import Value, grad, no_grad
from micrograd_like.losses import hinge_loss, l2_regularization
from micrograd_like.nn import MLP
from micrograd_like.optim import Adam

ALPHA = 1e-4  # weight of the L2 penalty, as in micrograd's demo
MAX_POINTS = 2_000  # a step's graph has about 400 nodes per point: 2,000 points is ~1 s a step
MAX_COORDINATE = 100.0  # the datasets are about 2 across; a point far outside is a mistake
MAX_SPEED = 100  # steps per second asked for; a 2-16-16-1 step on 100 points takes ~25 ms
MAX_HISTORY = 100_000  # losses kept; older ones are dropped half at a time
IDLE_PAUSE = 60.0  # seconds without a page asking before a playing run pauses itself


class CommandError(ValueError):
    """A command the session refuses; ``status`` is the HTTP status the server answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Session:
    """A model trained on (points, labels) with Adam and micrograd's demo loss, step by step."""

    def __init__(
        self,
        model: MLP,
        points: Sequence[Sequence[float]],
        labels: Sequence[int],
        *,
        lr: float = 0.05,
        idle_pause: float = IDLE_PAUSE,
    ) -> None:
        _check_model(model)
        if len(points) != len(labels) or not points:
            raise ValueError(
                f"live: {len(points)} points and {len(labels)} labels; "
                "give one -1/+1 label per point, and at least one point"
            )
        self.model = model
        self.points: list[list[float]] = []
        self.labels: list[int] = []
        for k, (point, label) in enumerate(zip(points, labels, strict=True)):
            try:
                self._append(_checked_point(point), _checked_label(label))
            except ValueError as problem:
                raise ValueError(f"live: point {k}: {problem}") from None
        self.optimizer = Adam(model.parameters(), lr=lr)
        self.idle_pause = idle_pause
        self.steps = 0
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.first_kept = 0  # the step number of losses[0]
        self.scores = self._scores()
        self.playing = False
        self.speed = 10
        self.error = ""
        self._pending = 0  # single steps asked for
        self._stopping = False
        self._last_seen = time.monotonic()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="micrograd_like-live", daemon=True)

    # --- the training thread -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end after its current step and wait for it."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        due = 0.0
        while True:
            with self._wake:
                if not self._wait_for_work(due):
                    return
                self._step()
                due = time.monotonic() + 1.0 / self.speed

    def _wait_for_work(self, due: float) -> bool:
        """Sleep until a step is due or asked for; False when the session is stopping."""
        while not self._stopping:
            if self.playing and time.monotonic() - self._last_seen > self.idle_pause:
                self.playing = False  # nobody is looking: every page was closed
            if self._pending:
                self._pending -= 1
                return True
            if not self.playing:
                self._wake.wait()
                continue
            delay = due - time.monotonic()
            if delay <= 0:
                return True
            self._wake.wait(delay)
        return False

    def _step(self) -> None:
        """One full-batch step; a step that makes a parameter inf or nan pauses the run."""
        try:
            scores = [_score(self.model, x) for x in self.points]
            data_loss = hinge_loss(scores, self.labels)
            loss = data_loss + l2_regularization(self.model.parameters(), ALPHA)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            scores_after = self._scores()
        except (ValueError, OverflowError) as problem:  # a parameter or a score went inf or nan
            self.playing, self._pending = False, 0
            self.error = f"training stopped at step {self.steps + 1}: {problem}"
            return
        self.steps += 1
        self.losses.append(loss.data)
        self.scores = scores_after
        self.accuracies.append(_fraction_right(self.scores, self.labels))
        if len(self.losses) > MAX_HISTORY:
            drop = MAX_HISTORY // 2
            del self.losses[:drop], self.accuracies[:drop]
            self.first_kept += drop

    def _scores(self) -> list[float]:
        """The model's score for every point after the last update (no graph built)."""
        with no_grad():
            return [_score(self.model, x).data for x in self.points]

    # --- commands ------------------------------------------------------------------------------

    def command(self, name: str, arguments: dict[str, Any]) -> None:
        """Apply one of the page's commands; CommandError for anything else, changing nothing."""
        handler = _COMMANDS.get(name)
        if handler is None:
            raise CommandError(f"unknown command {name!r}; known: {sorted(_COMMANDS)}")
        expected, apply = handler
        if set(arguments) != expected:
            raise CommandError(
                f"command {name!r} takes {sorted(expected) or 'no arguments'}, "
                f"got {sorted(arguments)}"
            )
        with self._wake:
            apply(self, arguments)
            self._wake.notify_all()

    def _play(self, _: dict[str, Any]) -> None:
        self.playing, self.error = True, ""
        self._last_seen = time.monotonic()

    def _pause(self, _: dict[str, Any]) -> None:
        self.playing, self._pending = False, 0

    def _single_step(self, _: dict[str, Any]) -> None:
        self.playing, self.error = False, ""
        self._pending += 1

    def _set_speed(self, arguments: dict[str, Any]) -> None:
        speed = arguments["steps_per_second"]
        if not _is_int(speed) or not 1 <= speed <= MAX_SPEED:
            raise CommandError(f"speed: steps_per_second must be 1 to {MAX_SPEED}, got {speed!r}")
        self.speed = speed

    def _add_point(self, arguments: dict[str, Any]) -> None:
        if len(self.points) >= MAX_POINTS:
            raise CommandError(f"add_point: the run already has {MAX_POINTS} points", 409)
        try:
            point = _checked_point([arguments["x"], arguments["y"]])
            label = _checked_label(arguments["label"])
        except ValueError as problem:
            raise CommandError(f"add_point: {problem}") from None
        self._append(point, label)
        with no_grad():
            self.scores.append(_score(self.model, point).data)

    def _append(self, point: list[float], label: int) -> None:
        if len(self.points) >= MAX_POINTS:
            raise ValueError(f"at most {MAX_POINTS} points, got more")
        self.points.append(point)
        self.labels.append(label)

    # --- what a page sees ----------------------------------------------------------------------

    def snapshot(self, since: int, example: int) -> dict[str, Any]:
        """All a page draws: losses from step ``since`` on, and the graph of point ``example``."""
        with self._wake:
            self._last_seen = time.monotonic()
            if not _is_int(since) or not 0 <= since <= self.steps:
                raise CommandError(f"state: since must be 0 to {self.steps}, got {since!r}")
            if not _is_int(example) or not 0 <= example < len(self.points):
                raise CommandError(
                    f"state: example must be 0 to {len(self.points) - 1}, got {example!r}"
                )
            start = max(since, self.first_kept) - self.first_kept
            shown: dict[str, Any] = _without_infinities(
                {
                    "step": self.steps,
                    "playing": self.playing,
                    "speed": self.speed,
                    "error": self.error,
                    "since": start + self.first_kept,
                    "losses": self.losses[start:],
                    "accuracies": self.accuracies[start:],
                    "points": self.points,
                    "labels": self.labels,
                    "scores": self.scores,
                    "layers": [_layer_json(layer) for layer in self.model.layers],
                    "example": self._example_or_none(example),
                }
            )
            return shown

    def _example_or_none(self, index: int) -> dict[str, Any] | None:
        """The example's graph, or None when the model no longer computes (a diverged run)."""
        try:
            example = self._example(index)
        except (ValueError, OverflowError):
            return None
        return example if _all_finite(example) else None

    def _example(self, index: int) -> dict[str, Any]:
        """The graph of one point's loss term, neuron by neuron, with data and gradient.

        Gradients come from ``grad()``, so the parameters' ``.grad`` (the batch's) stays as is.
        """
        point, label = self.points[index], self.labels[index]
        inputs = [Value(point[0], label="x1"), Value(point[1], label="x2")]
        layers: list[list[Value]] = []
        values: Sequence[Value] = inputs
        for layer in self.model.layers:
            values = [neuron(values) for neuron in layer.neurons]
            layers.append(list(values))
        term = (1 + -label * values[0]).relu()  # this point's share of the hinge loss, times n
        outs = [v for layer in layers for v in layer]
        pres = [_pre_activation(v) for v in outs]
        found = [g.data for g in grad(term, [*inputs, *outs, *pres])]
        grads = dict(zip([*inputs, *outs], found, strict=False))
        pre_grads = dict(zip(pres, found[len(inputs) + len(outs) :], strict=True))

        def node(v: Value) -> dict[str, float]:
            pre = _pre_activation(v)
            return {"data": v.data, "grad": grads[v], "pre": pre.data, "pre_grad": pre_grads[pre]}

        return {
            "index": index,
            "label": label,
            "inputs": [{"data": v.data, "grad": grads[v]} for v in inputs],
            "layers": [[node(v) for v in layer] for layer in layers],
            "loss": {"data": term.data, "grad": 1.0},
        }

    def seen_now(self) -> None:
        with self._wake:
            self._last_seen = time.monotonic()


_COMMANDS = {
    "play": (set(), Session._play),
    "pause": (set(), Session._pause),
    "step": (set(), Session._single_step),
    "speed": ({"steps_per_second"}, Session._set_speed),
    "add_point": ({"x", "y", "label"}, Session._add_point),
}
COMMANDS = {name: sorted(arguments) for name, (arguments, _) in _COMMANDS.items()}


def _check_model(model: object) -> None:
    """The view draws a plane: an MLP with two inputs and one output score."""
    if not isinstance(model, MLP):
        raise TypeError(f"live: model must be a micrograd_like.nn.MLP, got {model!r}")
    shape = model.architecture()
    if shape["nin"] != 2 or shape["nouts"][-1] != 1:
        raise ValueError(
            f"live: the model must take 2 inputs and give 1 score, got {shape['nin']} inputs "
            f"and {shape['nouts'][-1]} outputs"
        )


def _checked_point(point: object) -> list[float]:
    if not isinstance(point, Sequence) or len(point) != 2:
        raise ValueError(f"a point is two numbers [x, y], got {point!r}")
    for number in point:
        if not _is_number(number) or not abs(number) <= MAX_COORDINATE:
            raise ValueError(
                f"coordinates must be numbers within +-{MAX_COORDINATE:g}, got {point!r}"
            )
    return [float(point[0]), float(point[1])]


def _checked_label(label: object) -> int:
    if not _is_int(label) or label not in (-1, 1):
        raise ValueError(f"a label is -1 or +1, got {label!r}")
    return int(label)


def _is_int(number: object) -> bool:
    return isinstance(number, int) and not isinstance(number, bool)


def _is_number(number: object) -> bool:
    return (_is_int(number) or isinstance(number, float)) and math.isfinite(number)  # type: ignore[arg-type]


def _score(model: MLP, point: Sequence[float] | Sequence[Value]) -> Value:
    out = model(point)
    assert isinstance(out, Value)  # _check_model: one output
    return out


def _pre_activation(out: Value) -> Value:
    """The neuron's weighted sum: the activation's operand, or the output of a linear neuron."""
    return out.parents[0] if out.op in ("relu", "tanh", "sigmoid") else out


def _fraction_right(scores: Sequence[float], labels: Sequence[int]) -> float:
    right = sum((s > 0) == (y > 0) for s, y in zip(scores, labels, strict=True))
    return right / len(labels)


def _all_finite(document: Any) -> bool:
    return bool(_without_infinities(document) == document)


def _without_infinities(document: Any) -> Any:
    """The document with every inf or nan (a diverged gradient) as None, which JSON can carry."""
    if isinstance(document, float):
        return document if math.isfinite(document) else None
    if isinstance(document, list):
        return [_without_infinities(item) for item in document]
    if isinstance(document, dict):
        return {key: _without_infinities(item) for key, item in document.items()}
    return document


def _layer_json(layer: Any) -> dict[str, Any]:
    return {
        "activation": layer.activation,
        "weights": [[w.data for w in n.w] for n in layer.neurons],
        "biases": [n.b.data for n in layer.neurons],
        "weight_grads": [[w.grad for w in n.w] for n in layer.neurons],
        "bias_grads": [n.b.grad for n in layer.neurons],
    }
