"""Tests for the demo: end to end in a temporary folder, the default run's accuracy, its files."""

from __future__ import annotations

import importlib.util
import io
import math
import os
import random
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from micrograd_like import __main__ as dispatcher
from micrograd_like.commands import demo
from micrograd_like.data import Split, make_moons
from micrograd_like.engine import Value, watch
from micrograd_like.nn import MLP

SMALL = ["--steps", "3", "--points", "20"]


@pytest.mark.slow  # 100 training steps
def test_demo_default_run_reaches_full_training_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = demo.parse_arguments([])
    assert (settings.dataset, settings.points, settings.noise, settings.steps) == (
        "moons",
        100,
        0.1,
        100,
    )
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    assert "train accuracy 100.0%" in out
    assert "step 100/100" in out
    model = MLP.from_file(tmp_path / "demo_output" / "model.json")
    split = demo.make_split("moons", 100, 0.1, random.Random(settings.seed))
    assert len(split.train_points) == 100
    assert demo.accuracy(model, split.train_points, split.train_labels) == 1.0


def test_demo_writes_model_and_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main([*SMALL, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert out.count("step ") == 3 and "test accuracy" in out
    assert (tmp_path / "out" / "model.json").is_file()
    pictures = list((tmp_path / "out").glob("decision_boundary.*"))
    assert len(pictures) == 1
    if importlib.util.find_spec("matplotlib") is not None:
        assert pictures[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


SVG = "{http://www.w3.org/2000/svg}"


def svg_root(path: Path) -> ElementTree.Element:
    return ElementTree.parse(path).getroot()


def with_class(root: ElementTree.Element, tag: str, css: str) -> list[ElementTree.Element]:
    """Elements ``tag`` whose class attribute includes the word ``css``."""
    return [e for e in root.iter(f"{SVG}{tag}") if css in (e.get("class") or "").split()]


def test_demo_svg_has_a_cell_per_grid_square_and_a_marker_per_point(tmp_path: Path) -> None:
    assert demo.main([*SMALL, "--out", str(tmp_path), "--picture", "svg"]) == 0
    root = svg_root(tmp_path / "decision_boundary.svg")
    cells = with_class(root, "g", "cells")[0].findall(f"{SVG}rect")
    assert len(cells) == demo.GRID**2
    assert {cell.get("fill") for cell in cells} <= {"#f4c7c3", "#c6dbef"}
    points = with_class(root, "g", "points")[0]
    train, test = with_class(points, "circle", "train"), with_class(points, "rect", "test")
    assert len(train) == 20 and len(test) == 20  # 20 training points and 20 test points
    assert all(marker.get("fill") in ("#c0392b", "#2166ac") for marker in train)  # filled
    assert all(marker.get("fill") == "none" for marker in test)  # hollow
    assert {m.get("class") for m in train + test} == {
        "train label-1",
        "train label+1",
        "test label-1",
        "test label+1",
    }


def hand_made_split() -> Split:
    """Two training points and one test point at places whose pixels are easy to check."""
    return Split([[1.0, 2.0], [0.0, 0.0]], [1, -1], [[2.5, -0.5]], [1])


def test_svg_has_ticks_with_labels_on_both_axes_where_the_values_are() -> None:
    frame = demo.Frame(left=-1.0, bottom=-1.0, size=4.0)
    grid = [[1.0] * demo.GRID for _ in range(demo.GRID)]
    root = ElementTree.fromstring(demo.boundary_svg(frame, grid, hand_made_split(), "moons"))
    for axis in ("x", "y"):
        labels = [t.text for t in with_class(root, "text", "tick") if axis in t.get("class", "")]
        assert labels == ["-1", "0", "1", "2", "3"], axis  # round steps of 1 over [-1, 3]
    lines = with_class(root, "g", "axes")[0].findall(f"{SVG}line")
    x_ticks = [float(line.get("x1", "")) for line in lines if line.get("x1") == line.get("x2")]
    y_ticks = [float(line.get("y1", "")) for line in lines if line.get("y1") == line.get("y2")]
    assert len(x_ticks) == len(y_ticks) == 5
    points = with_class(root, "g", "points")[0]
    dot = next(c for c in with_class(points, "circle", "train") if "label+1" in c.get("class", ""))
    assert float(dot.get("cx", "")) == pytest.approx(x_ticks[2])  # x = 1: the tick labelled 1
    assert float(dot.get("cy", "")) == pytest.approx(y_ticks[3])  # y = 2: the tick labelled 2
    square = with_class(points, "rect", "test")[0]
    middle = float(square.get("x", "")) + float(square.get("width", "")) / 2
    assert middle == pytest.approx((x_ticks[3] + x_ticks[4]) / 2)  # x = 2.5: between 2 and 3


def test_svg_tick_labels_show_the_decimals_of_a_fractional_step() -> None:
    frame = demo.Frame(left=-0.05, bottom=0.0, size=1.2)
    root = ElementTree.fromstring(demo.boundary_svg(frame, [[0.0]], hand_made_split(), "t"))
    labels = [t.text for t in with_class(root, "text", "tick") if "x" in t.get("class", "")]
    assert labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]


def test_svg_has_a_legend_for_markers_and_shades() -> None:
    frame = demo.Frame(left=-1.0, bottom=-1.0, size=4.0)
    svg = demo.boundary_svg(frame, [[0.0]], hand_made_split(), "moons")
    legend = with_class(ElementTree.fromstring(svg), "g", "legend")[0]
    assert [t.text for t in legend.iter(f"{SVG}text")] == [
        "train, class -1",
        "train, class +1",
        "test, class -1",
        "test, class +1",
        "model predicts -1",
        "model predicts +1",
    ]
    assert [c.get("fill") for c in legend.iter(f"{SVG}circle")] == ["#c0392b", "#2166ac"]
    hollow = [r.get("stroke") for r in legend.iter(f"{SVG}rect") if r.get("fill") == "none"]
    assert hollow == ["#c0392b", "#2166ac"]
    assert "moons: decision boundary" in svg


def test_demo_falls_back_to_svg_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    assert demo.main([*SMALL, "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.glob("decision_boundary.*")] == ["decision_boundary.svg"]


def test_demo_png_without_matplotlib_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    find_spec = importlib.util.find_spec

    def without_matplotlib(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_matplotlib)
    assert demo.main([*SMALL, "--out", str(tmp_path), "--picture", "png"]) == 2
    assert "pip install micrograd_like[plot]" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_demo_saved_model_predicts_exactly_like_the_trained_one(tmp_path: Path) -> None:
    result = demo.train(steps=5, points=20, seed=3)
    path = tmp_path / "model.json"
    result.model.save(path)
    loaded = MLP.from_file(path)
    probes, _ = make_moons(50, 0.5, rng=1)
    for point in probes + result.split.train_points:
        assert demo.score(loaded, point).data == demo.score(result.model, point).data


@pytest.mark.parametrize("dataset", ["circles", "spirals"])
def test_demo_runs_every_dataset(tmp_path: Path, dataset: str) -> None:
    args = [*SMALL, "--dataset", dataset, "--noise", "0.05", "--out", str(tmp_path)]
    assert demo.main(args) == 0
    assert (tmp_path / "model.json").is_file()


def test_demo_same_seed_same_model(tmp_path: Path) -> None:
    first = demo.train(steps=2, points=10, seed=5)
    second = demo.train(steps=2, points=10, seed=5)
    assert [p.data for p in first.model.parameters()] == [p.data for p in second.model.parameters()]
    assert first.losses == second.losses


def test_demo_accuracy_builds_no_graph() -> None:
    result = demo.train(steps=1, points=10)
    made: list[Value] = []
    with watch(on_node=made.append):
        demo.accuracy(result.model, result.split.train_points, result.split.train_labels)
    assert made and all(node.parents == () for node in made)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal() -> None:
    stream = Terminal()
    progress = demo.Progress(5, stream)
    for step in range(1, 6):
        progress.show(step, 0.5, 0.75)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.count("\n") == 1 and text.endswith("\n")
    assert "step 5/5  loss 0.5000  accuracy 75%" in text


def test_progress_prints_every_tenth_step_elsewhere() -> None:
    stream = io.StringIO()
    progress = demo.Progress(100, stream)
    for step in range(1, 101):
        progress.show(step, 0.25, 1.0)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stream.getvalue()
    assert lines[0] == "step  10/100  loss 0.2500  accuracy 100%"


def test_demo_help_lists_every_flag_and_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--help"]) == 0
    usage = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag in ("--steps", "--seed", "--dataset", "--noise", "--points", "--out"):
        assert flag in usage
    assert "noise added to each point, 0 to 10;" in usage
    assert "training points, 1 to 10,000;" in usage
    assert "training steps, 1 to 1,000,000" in usage


BAD_COMMAND_LINES = {
    "noise 1e308": (
        ["--noise", "1e308"],
        "--noise: expected a number from 0.0 to 10.0, got '1e308'",
    ),
    "noise above the bound": (["--noise", "10.5"], "--noise: expected a number from 0.0 to 10.0"),
    "noise too large for a float": (["--noise", "1e999"], "got '1e999'"),
    "noise inf": (["--noise", "inf"], "--noise: expected a number from 0.0 to 10.0, got 'inf'"),
    "noise nan": (["--noise", "nan"], "--noise: expected a number from 0.0 to 10.0, got 'nan'"),
    "negative noise": (["--noise", "-0.1"], "got '-0.1'"),
    "noise not a number": (["--noise", "lots"], "got 'lots'"),
    "steps 1e3": (
        ["--steps", "1e3"],
        "--steps: expected a whole number from 1 to 1,000,000, got '1e3'",
    ),
    "no steps": (["--steps", "0"], "--steps: expected a whole number from 1 to 1,000,000, got '0'"),
    "too many steps": (["--steps", "1000001"], "got '1000001'"),
    "steps of 5000 digits": (["--steps", "9" * 5000], "got '" + "9" * 37 + "...'"),
    "too many points": (
        ["--points", "10001"],
        "--points: expected a whole number from 1 to 10,000",
    ),
    "points 2.5": (["--points", "2.5"], "--points: expected a whole number from 1 to 10,000"),
    "seed not a number": (["--seed", "x"], "--seed: expected a whole number, got 'x'"),
    "unknown dataset": (["--dataset", "iris"], "--dataset: invalid choice: 'iris'"),
    "unknown option": (["--colour", "red"], "unrecognized arguments: --colour red"),
    "missing value": (["--steps"], "--steps: expected one argument"),
}


@pytest.mark.parametrize("case", sorted(BAD_COMMAND_LINES))
def test_demo_refuses_a_bad_command_line_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    argv, message = BAD_COMMAND_LINES[case]
    assert demo.main([*argv, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("demo: --") or captured.err.startswith("demo: unrecognized")
    assert message in captured.err
    assert "Traceback" not in captured.err and "usage:" not in captured.err
    assert captured.err.count("\n") == 1 and len(captured.err) < 200
    assert captured.out == ""
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_demo_accepts_the_bounds_themselves() -> None:
    settings = demo.parse_arguments(["--noise", "10", "--points", "10000", "--steps", "1000000"])
    assert (settings.noise, settings.points, settings.steps) == (10.0, 10_000, 1_000_000)
    assert demo.parse_arguments(["--noise", "0", "--points", "1", "--seed", "-7"]).seed == -7


def test_dispatcher_runs_the_demo(tmp_path: Path) -> None:
    assert dispatcher.main(["demo", *SMALL, "--out", str(tmp_path), "--picture", "svg"]) == 0
    assert (tmp_path / "decision_boundary.svg").is_file()


def test_demo_unwritable_output_folder_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("a file, so nothing can be made under it", encoding="utf-8")
    out = tmp_path / "file.txt" / "sub"
    assert demo.main([*SMALL, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"demo: cannot write to {out}: ")
    assert "Traceback" not in captured.err
    assert "step " not in captured.out  # refused before spending time on training


def test_demo_failing_to_write_a_file_is_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.json").mkdir()  # the model file cannot replace a folder
    assert demo.main([*SMALL, "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"demo: cannot write to {tmp_path}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


# --- Ctrl-C: one line, status 130, and never a partial model file ------------------------------


def interrupting(at: int) -> Callable[..., tuple[float, float]]:
    """demo.training_step, except that step ``at`` is stopped by Ctrl-C."""
    real_step = demo.training_step

    def step(*args: Any) -> tuple[float, float]:
        if args[3] == at:  # (model, optimizer, split, step, steps)
            raise KeyboardInterrupt
        return real_step(*args)

    return step


def main_catching_ctrl_c(argv: list[str]) -> int:
    """demo.main, failing the test if Ctrl-C escapes it (pytest would stop the whole run)."""
    try:
        return demo.main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped demo.main")


def test_ctrl_c_during_training_is_one_line_and_status_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "training_step", interrupting(at=2))
    assert main_catching_ctrl_c([*SMALL, "--out", str(tmp_path)]) == 130
    captured = capsys.readouterr()
    assert captured.err == "demo: interrupted\n"
    assert captured.out.count("step ") == 2  # steps 0 and 1 ran
    assert list(tmp_path.iterdir()) == []  # no model file, whole or partial


def fsync_interrupted_at(call: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.fsync, except that its ``call``-th call (from 1) is stopped by Ctrl-C."""
    real_fsync, calls = os.fsync, [0]

    def fsync(descriptor: int) -> None:
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)


def test_ctrl_c_while_saving_keeps_the_previous_model_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main([*SMALL, "--out", str(tmp_path), "--picture", "svg"]) == 0
    before = (tmp_path / "model.json").read_bytes()
    capsys.readouterr()
    fsync_interrupted_at(1, monkeypatch)  # the new model file, written but not yet renamed
    argv = [*SMALL, "--seed", "1", "--out", str(tmp_path), "--picture", "svg"]
    assert main_catching_ctrl_c(argv) == 130
    assert capsys.readouterr().err == "demo: interrupted\n"
    assert (tmp_path / "model.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decision_boundary.svg", "model.json"]


def test_ctrl_c_while_drawing_keeps_the_new_model_and_the_old_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main([*SMALL, "--out", str(tmp_path), "--picture", "svg"]) == 0
    model_before = (tmp_path / "model.json").read_bytes()
    picture_before = (tmp_path / "decision_boundary.svg").read_bytes()
    fsync_interrupted_at(3, monkeypatch)  # model file, its folder, then the picture
    argv = [*SMALL, "--seed", "1", "--out", str(tmp_path), "--picture", "svg"]
    assert main_catching_ctrl_c(argv) == 130
    assert capsys.readouterr().err.endswith("demo: interrupted\n")
    assert (tmp_path / "model.json").read_bytes() != model_before
    MLP.from_file(tmp_path / "model.json")  # whole: it loads
    assert (tmp_path / "decision_boundary.svg").read_bytes() == picture_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decision_boundary.svg", "model.json"]


def test_progress_line_is_ended_when_training_is_interrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "training_step", interrupting(at=2))
    stream = Terminal()
    with pytest.raises(KeyboardInterrupt):
        demo.train(steps=5, points=10, progress=demo.Progress(5, stream))
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("\n")


def test_ctrl_c_from_the_keyboard_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "micrograd_like", "demo", "--steps", "10", "--points", "1000"]
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it, even when pytest itself was started with SIGINT
        # ignored (`nohup ... &` from a script), which a child would otherwise inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("step  1/10")  # training has begun
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert (process.returncode, err) == (130, "demo: interrupted\n")
    assert "wrote" not in out
    assert list(tmp_path.iterdir()) == []


def test_demo_diverged_model_is_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_train = demo.train

    def diverging(*args: Any, **kwargs: Any) -> demo.Result:
        result = real_train(*args, **kwargs)
        result.model.parameters()[0]._data = math.inf  # past Value.data, which refuses inf
        return result

    monkeypatch.setattr(demo, "train", diverging)
    assert demo.main([*SMALL, "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"demo: {tmp_path / 'model.json'}: parameter 0 is inf, not a finite number "
        "(did training diverge?); nothing was saved\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_demo_training_that_diverges_is_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "LEARNING_RATE", 1e308)  # the first Adam update overflows
    assert demo.main([*SMALL, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("demo: training diverged: Adam.step: parameter 0 (Value(")
        and "\n" not in err[:-1]
    )
    assert err.endswith("nothing was updated (is the learning rate too large?)\n")
    assert list(tmp_path.iterdir()) == []
