"""A GPT on scalars: microgpt's code on our Value, micrograd_like.gpt, and the gpt command."""

from __future__ import annotations

import importlib.resources
import io
import json
import math
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from micrograd_like import __main__ as dispatcher
from micrograd_like import gpt
from micrograd_like.commands import gpt as command
from micrograd_like.commands import minimal_engine
from micrograd_like.engine import Value
from micrograd_like.gpt import (
    GPT,
    CompiledLoss,
    KVCache,
    NamesFileError,
    Tokenizer,
    one_hot,
    one_hot_loss,
)
from micrograd_like.model_files import ModelFileError
from micrograd_like.optim import Adam
from tests import microgpt_reference as reference

# Short names keep the microgpt-style runs fast: a step costs about its name's length.
NAMES = ["jo", "bo", "al", "ed", "ty", "cy", "lu", "mo", "ava", "mia", "eli", "kai"]
CHARS = "".join(sorted(set("".join(NAMES))))
STEPS = 20
SEED = 7


def documents() -> list[list[int]]:
    bos = len(CHARS)
    return [[bos, *(CHARS.index(c) for c in name), bos] for name in NAMES]


def microgpt_run(value: Any) -> tuple[list[float], list[float]]:
    """STEPS of microgpt's training loop on ``value``: the losses and the first step's gradients."""
    trainer = reference.Trainer(value, reference.initial_weights(len(CHARS) + 1, SEED), STEPS)
    docs = documents()
    losses = [trainer.step(0, docs[0])]
    first_gradients = trainer.gradients
    losses += [trainer.step(step, docs[step % len(docs)]) for step in range(1, STEPS)]
    return losses, first_gradients


@pytest.fixture(scope="module")
def minimal_run() -> tuple[list[float], list[float]]:
    """The minimal microgpt-style engine's numbers: the reference for everything below."""
    return microgpt_run(minimal_engine.Value)


def assert_close(ours: Sequence[float], theirs: Sequence[float], rel: float, what: str) -> None:
    """Each pair within ``rel`` of the larger magnitude; zeros must be zeros on both sides."""
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert abs(a - b) <= rel * max(abs(a), abs(b)), f"{what} {i}: ours {a!r}, theirs {b!r}"


# --- item 1: microgpt's code, unchanged, on our Value --------------------------------------------


def test_microgpt_code_on_our_value_gives_the_minimal_engines_gradients_and_losses(
    minimal_run: tuple[list[float], list[float]],
) -> None:
    losses, gradients = microgpt_run(Value)
    their_losses, their_gradients = minimal_run
    assert_close(gradients, their_gradients, 1e-10, "first-step gradient of parameter")
    assert_close(losses, their_losses, 1e-9, "loss of step")
    assert sum(g != 0 for g in gradients) > len(gradients) // 2  # most weights got a gradient
    assert losses[-1] < losses[0]  # it learns


def test_microgpt_user_code_idioms_work_on_our_value() -> None:
    """What microgpt's loop does to a Value besides its ops, one idiom at a time."""
    p = Value(2.0)
    total = sum([p, p, Value(1.0)])  # sum() starts from the int 0
    assert isinstance(total, Value) and total.data == 5.0
    assert (p**-0.5).data == 2.0**-0.5
    assert p.log().data == math.log(2.0) and p.exp().data == math.exp(2.0)
    assert Value(-1.0).relu().data == 0.0 and p.relu().data == 2.0
    loss = -(p * 3.0).log() * (1 / 2)
    loss.backward()
    assert p.grad == pytest.approx(-0.25)
    p.data -= 0.1 * p.grad  # Adam's update, written by hand
    p.grad = 0  # an int, as microgpt writes it
    assert p.data == 2.025
    (p * p).backward()  # a new graph after the update: no stale-data complaint
    assert p.grad == pytest.approx(4.05)


# --- item 2: micrograd_like.gpt -----------------------------------------------------------------


def model_from_reference_weights() -> GPT:
    model = GPT.of(Tokenizer(CHARS), rng=random.Random(0))
    weights = reference.initial_weights(len(CHARS) + 1, SEED)
    for name, rows in weights.items():
        for row_values, row in zip(model.state_dict[name], rows, strict=True):
            for p, number in zip(row_values, row, strict=True):
                p.data = number
    return model


def test_gpt_module_gives_microgpts_gradients_and_losses_from_the_same_weights(
    minimal_run: tuple[list[float], list[float]],
) -> None:
    model = model_from_reference_weights()
    optimizer = Adam(model.parameters(), lr=reference.LEARNING_RATE, betas=(0.85, 0.99))
    losses: list[float] = []
    gradients: list[float] = []
    docs = documents()
    for step in range(STEPS):
        lr = reference.LEARNING_RATE * (1 - step / STEPS)
        losses.append(command.training_step(model, optimizer, docs[step % len(docs)], lr))
        gradients = gradients or [p.grad for p in model.parameters()]
    their_losses, their_gradients = minimal_run
    assert_close(gradients, their_gradients, 1e-10, "first-step gradient of parameter")
    assert_close(losses, their_losses, 1e-9, "loss of step")


def test_gpt_parameters_are_microgpts_matrices_in_microgpts_order() -> None:
    model = GPT(27, rng=random.Random(1))
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == len(model.parameters()) == 27 * 16 * 2 + 16 * 16 + 12 * 16 * 16 == 4192
    assert names[0] == "wte[0][0]" and names[16] == "wte[1][0]"
    assert names[27 * 16] == "wpe[0][0]"
    assert names[-1] == "layer0.mlp_fc2[15][63]"
    assert list(model.state_dict) == reference.MATRICES
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert [p.label for p in model.parameters()] == names  # pictures name them so
    draws = random.Random(1)
    assert model.parameters()[0].data == draws.gauss(0.0, 0.08)  # microgpt's init, in its order


def test_rmsnorm_softmax_and_attention_on_numbers_worked_by_hand() -> None:
    x = rmsed = gpt.rmsnorm([Value(3.0), Value(4.0)], eps=0.0)
    assert [v.data for v in rmsed] == pytest.approx([3 / math.sqrt(12.5), 4 / math.sqrt(12.5)])
    probs = gpt.softmax([Value(1000.0), Value(1000.0 + math.log(3.0))])  # no overflow
    assert [p.data for p in probs] == pytest.approx([0.25, 0.75])
    one = [Value(1.0), Value(2.0)]
    # one position: its weight is 1, so each head returns the value vector itself
    assert [v.data for v in gpt.attention(one, [one], [x], n_head=2)] == [x[0].data, x[1].data]
    keys = [[Value(0.0)], [Value(math.log(3.0))]]  # q = 1: logits 0 and log 3, weights 1/4, 3/4
    out = gpt.attention([Value(1.0)], keys, [[Value(4.0)], [Value(8.0)]], n_head=1)
    assert out[0].data == pytest.approx(4.0 / 4 + 8.0 * 3 / 4)


def test_gpt_refuses_bad_tokens_positions_and_sizes_by_name() -> None:
    model = GPT(5, n_embd=4, n_head=2, block_size=2, rng=random.Random(0))
    with pytest.raises(ValueError, match=r"embedding: index 5 is not a row of a 5-row table"):
        model(5, 0, KVCache(1))
    with pytest.raises(ValueError, match=r"GPT: position 1 with 0 positions cached"):
        model(0, 1, KVCache(1))
    cache = KVCache(1)
    model(0, 0, cache), model(1, 1, cache)
    with pytest.raises(ValueError, match=r"position 2 .* \(block size 2\)"):
        model(0, 2, cache)
    with pytest.raises(ValueError, match=r"GPT: n_embd 6 does not split into 4 heads"):
        GPT(5, n_embd=6)
    with pytest.raises(ValueError, match=r"GPT: n_layer must be a positive integer, got 0"):
        GPT(5, n_layer=0)
    with pytest.raises(ValueError, match=r"GPT.loss: needs at least two tokens"):
        model.loss([0])
    with pytest.raises(ValueError, match=r"outside the vocabulary \['z'\]"):
        Tokenizer("ab").encode("abz")


def test_gpt_loss_reads_at_most_block_size_positions() -> None:
    model = GPT(3, n_embd=4, n_head=1, block_size=2, rng=random.Random(0))
    long, cut = model.loss([2, 0, 1, 0, 1, 2]), model.loss([2, 0, 1])
    assert long.data == cut.data


def test_gpt_saved_and_loaded_predicts_the_same_and_keeps_its_characters(tmp_path: Path) -> None:
    model = GPT.of(Tokenizer("abc"), n_embd=8, n_head=2, rng=random.Random(3))
    model.save(tmp_path / "m.json")
    loaded = GPT.from_file(tmp_path / "m.json")
    assert loaded.architecture() == model.architecture() and loaded.chars == "abc"
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    assert loaded.loss([3, 0, 1, 3]).data == model.loss([3, 0, 1, 3]).data
    assert gpt.sample(loaded, random.Random(5)) == gpt.sample(model, random.Random(5))


def test_gpt_from_file_refuses_what_does_not_describe_a_gpt(tmp_path: Path) -> None:
    model = GPT.of(Tokenizer("ab"), n_embd=4, n_head=2, rng=random.Random(0))
    path = tmp_path / "m.json"
    model.save(path)
    document = json.loads(path.read_text())

    def refused(change: dict[str, Any], match: str) -> None:
        architecture = {**document["architecture"], **change}
        path.write_text(json.dumps({**document, "architecture": architecture}))
        with pytest.raises(ModelFileError, match=match):
            GPT.from_file(path)

    refused({"module": "MLP"}, "holds a 'MLP', not a GPT")
    refused({"n_embd": "4"}, "n_embd must be a positive integer, found '4'")
    refused({"n_layer": 10**6}, r"asks for .* parameters; more than 1,000,000 are refused")
    refused({"chars": "abc"}, "3 chars and BOS make 4 tokens, not vocab_size 3")
    refused({"n_head": 3}, "n_embd 4 does not split into 3 heads")
    refused({"vocab_size": 4}, "the file has 280 parameters, but a GPT of its sizes needs 288")


def test_sample_is_the_same_for_the_same_rng_and_stops_at_bos_or_the_block() -> None:
    model = GPT.of(Tokenizer("ab"), n_embd=4, n_head=2, block_size=3, rng=random.Random(0))
    draws = [gpt.sample(model, random.Random(9), temperature=2.0) for _ in range(2)]
    assert draws[0] == draws[1]
    lengths = {len(gpt.sample(model, random.Random(s), temperature=5.0)) for s in range(40)}
    assert max(lengths) == 3 and min(lengths) < 3
    with pytest.raises(ValueError, match="sample: temperature must lie in"):
        gpt.sample(model, random.Random(0), temperature=0.0)
    with pytest.raises(ValueError, match="built without chars"):
        gpt.sample(GPT(3, n_embd=4, n_head=1), random.Random(0))


# --- names files ---------------------------------------------------------------------------------


def test_read_names_takes_one_name_per_line(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffemma\r\n  olivia \n\n\nzoë\n".encode())
    assert gpt.read_names(path) == ["emma", "olivia", "zoë"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "has no names; give one name per line"),
        (b" \n\t\n", "has no names"),
        (b"emma\x00\x01\x02", r"looks binary \(it has NUL bytes\)"),
        (b"emma\n\xff\xfe", r"is not UTF-8 text \(byte 5\)"),
        ("".join(chr(0x4E00 + i) for i in range(300)).encode(), "uses 300 distinct characters"),
    ],
    ids=["empty", "blank", "binary", "not-utf8", "too-many-characters"],
)
def test_read_names_refuses_a_bad_file_in_one_line(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes(content)
    with pytest.raises(NamesFileError, match=problem) as refusal:
        gpt.read_names(path)
    assert str(refusal.value).startswith(f"{path}: ") and "\n" not in str(refusal.value)


def test_read_names_refuses_a_huge_file_unread_and_what_is_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as file:
        file.truncate(gpt.MAX_NAMES_BYTES + 1)  # sparse: no disk is written
    with pytest.raises(NamesFileError, match=r"has 10,485,761 bytes; .* at most 10,485,760"):
        gpt.read_names(huge)
    with pytest.raises(NamesFileError, match="is not a regular file"):
        gpt.read_names(tmp_path)
    with pytest.raises(NamesFileError, match="cannot be read: No such file"):
        gpt.read_names(tmp_path / "missing.txt")


def test_census_names_are_the_names_packages_first_names() -> None:
    names = gpt.census_names()
    assert len(names) == len(set(names)) > 5000
    assert {"james", "mary", "emma", "olivia"} <= set(names)
    assert "".join(sorted(set("".join(names)))) == "abcdefghijklmnopqrstuvwxyz"


def test_census_names_without_the_package_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(package: str) -> Any:
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(LookupError, match=r'pip install "micrograd_like\[gpt\]", or pass --data'):
        gpt.census_names()


# --- the gpt command -----------------------------------------------------------------------------


def run_command(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = dispatcher.main(["gpt", *args])
    out, err = capsys.readouterr()
    return status, out, err


def names_file(tmp_path: Path) -> Path:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(NAMES) + "\n")
    return path


def test_gpt_command_trains_samples_and_saves_a_loadable_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "model.json"
    args = ["--data", str(names_file(tmp_path)), "--steps", "4", "--samples", "3"]
    status, out, err = run_command([*args, "--save", str(saved)], capsys)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("[#####...............] step 1/4  loss ")
    assert lines[3].startswith("[####################] step 4/4  loss ")
    assert lines[3].endswith(" tokens/s")
    assert lines[4].startswith("final loss ") and lines[4].endswith(f"; wrote {saved}")
    assert [line.split(":")[0] for line in lines[5:]] == ["sample 1", "sample 2", "sample 3"]
    loaded = GPT.from_file(saved)
    assert loaded.chars == CHARS == "abcdeijklmotuvy"  # 15 letters and BOS: 16 tokens
    assert len(loaded.parameters()) == (2 * 16 + 16) * 16 + 12 * 16 * 16


def test_gpt_command_same_seed_same_run_other_seed_other_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(names_file(tmp_path))
    runs = []
    for seed, name in (("3", "a"), ("3", "b"), ("4", "c")):
        saved = tmp_path / f"{name}.json"
        args = ["--data", data, "--steps", "3", "--samples", "5", "--seed", seed]
        status, out, _ = run_command([*args, "--save", str(saved)], capsys)
        assert status == 0
        losses = [line.split("loss ")[1].split()[0] for line in out.splitlines() if "loss" in line]
        samples = [line for line in out.splitlines() if line.startswith("sample")]
        runs.append((losses, samples, saved.read_bytes()))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0] and runs[0][2] != runs[2][2]


def test_gpt_command_default_data_is_the_census_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = command.parse_arguments([])
    assert (args.data, args.steps, args.seed, args.samples) == (None, 1000, 42, 20)
    assert args.save == Path("gpt_model.json")
    assert (command.LEARNING_RATE, command.BETAS, command.TEMPERATURE) == (0.01, (0.85, 0.99), 0.5)
    model, losses = command.train(gpt.census_names(), steps=1, seed=42)
    assert model.chars == "abcdefghijklmnopqrstuvwxyz" and len(losses) == 1


def test_gpt_command_without_names_says_how_to_get_them_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> list[str]:
        raise LookupError("the default names come from the 'names' package: ...")

    monkeypatch.setattr(gpt, "census_names", missing)
    monkeypatch.chdir(tmp_path)
    status, out, err = run_command(["--steps", "1"], capsys)
    assert (status, out) == (1, "")
    assert err == "gpt: the default names come from the 'names' package: ...\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "problem"), [(b"", "has no names"), (b"\x00\x01", "looks binary")]
)
def test_gpt_command_bad_data_is_one_line_and_leaves_the_old_model_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    data, saved = tmp_path / "names.txt", tmp_path / "model.json"
    data.write_bytes(content)
    saved.write_text("the old model")
    status, out, err = run_command(["--data", str(data), "--save", str(saved)], capsys)
    assert (status, out) == (1, "")
    assert err.startswith(f"gpt: {data}: ") and problem in err and err.count("\n") == 1
    assert saved.read_text() == "the old model"
    assert sorted(os.listdir(tmp_path)) == ["model.json", "names.txt"]


def test_gpt_command_refuses_a_save_path_it_cannot_write_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "missing" / "model.json"
    status, out, err = run_command(
        ["--data", str(names_file(tmp_path)), "--save", str(saved)], capsys
    )
    assert (status, out) == (1, "")
    assert err == f"gpt: cannot write {saved}: {saved.parent} is not a folder\n"
    assert sorted(os.listdir(tmp_path)) == ["names.txt"]
    status, out, err = run_command(["--data", str(tmp_path / "names.txt"), "--save", "."], capsys)
    assert (status, out, err) == (1, "", "gpt: cannot write .: it is a folder\n")


def test_gpt_command_stopped_by_ctrl_c_says_so_in_one_line_and_keeps_the_old_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "training_step", interrupted)
    saved = tmp_path / "model.json"
    saved.write_text("the old model")
    args = ["--data", str(names_file(tmp_path)), "--save", str(saved)]
    status, _, err = run_command(args, capsys)
    assert (status, err) == (130, "gpt: interrupted\n")
    assert saved.read_text() == "the old model"


def test_gpt_command_refuses_a_bad_command_line_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for args, says in (
        (["--steps", "0"], "gpt: --steps: expected a whole number from 1 to 1,000,000, got '0'"),
        (["--samples", "x"], "gpt: --samples: expected a whole number from 0 to 10,000, got 'x'"),
    ):
        status, out, err = run_command(args, capsys)
        assert (status, out, err) == (2, "", says + "\n")


def test_compiled_loss_gives_gpt_loss_and_its_gradients_once_compiled_per_length() -> None:
    model = GPT(6, n_embd=4, n_head=2, block_size=4, rng=random.Random(0))
    compiled = CompiledLoss(model)
    for tokens in ([5, 1, 2, 3, 5], [5, 4, 4, 2, 5], [5, 2, 5], [5, 1, 2, 3, 4, 0, 5]):
        for p in model.parameters():
            p.grad = 0.0
        loss = model.loss(tokens)  # the eager loss, max-shifted softmaxes and row lookups
        loss.backward()
        value, grads = compiled.value_and_grad(tokens)
        assert value == pytest.approx(loss.data, rel=1e-12)
        assert grads == pytest.approx([p.grad for p in model.parameters()], rel=1e-9, abs=1e-15)
    assert len(compiled.cache) == 2  # lengths 4 and 2; the 6-token name is cut to block size
    hot = [Value(x) for x in one_hot([5, 1, 2, 3, 5][:-1], 6) + one_hot([1, 2, 3, 5], 6)]
    for p in model.parameters():
        p.grad = 0.0
    eager = one_hot_loss(model, 4)(*hot)  # the traced function, run eagerly: bit for bit
    eager.backward()
    assert compiled.value_and_grad([5, 1, 2, 3, 5]) == (
        eager.data,
        [p.grad for p in model.parameters()],
    )
    with pytest.raises(ValueError, match=r"needs at least two tokens, got \[5\]"):
        compiled.value_and_grad([5])


def test_gpt_command_compiled_trains_as_the_eager_one_to_rounding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(names_file(tmp_path))
    runs = []
    for flag in ([], ["--compiled"]):
        save = str(tmp_path / f"m{len(flag)}.json")
        args = [*flag, "--data", data, "--steps", "3", "--samples", "0", "--save", save]
        status, out, _ = run_command(args, capsys)
        assert status == 0
        runs.append(float(out.split("final loss ")[1].split(";")[0]))
    assert runs[1] == pytest.approx(runs[0], abs=1e-4)  # printed to 4 decimals


def test_progress_redraws_one_line_on_a_terminal_and_prints_tenths_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = command.Progress(20, stream)
        for step in range(1, 21):
            progress.show(step, 1.5, 4)
        progress.close()
    assert terminal.getvalue().count("\r") == 20 and terminal.getvalue().endswith(" tokens/s\n")
    assert log.getvalue().count("\n") == 10 and "\r" not in log.getvalue()
