"""Tests for model_files: saving safely on a shared disk, reading only what a model file can be."""

from __future__ import annotations

import ast
import errno
import os
import random
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from micrograd_like import model_files, nn
from micrograd_like.model_files import ModelFileError, NotARegularFileError
from micrograd_like.nn import MLP

ROOT = Path(__file__).resolve().parent.parent


def small_model(seed: int = 0) -> MLP:
    return MLP(2, [3, 1], rng=random.Random(seed))


def parameters_of(model: MLP) -> list[float]:
    return [p.data for p in model.parameters()]


def make_device(folder: Path) -> Path:
    """A character device to aim at: a copy of /dev/null's node when we may make one.

    As root the test must not aim save() at /dev/null itself: a regression would replace it.
    """
    if os.geteuid() != 0:
        return Path("/dev/null")  # /dev is not ours to write, so a regression cannot harm it
    device = folder / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return device


NOT_REGULAR = {
    "FIFO": "is a FIFO (named pipe)",
    "directory": "is a directory",
    "character device": "is a character device",
    "socket": "is a socket",
}


def not_regular_file(folder: Path, kind: str) -> Path:
    """A FIFO, socket, directory or device in ``folder`` (a device may be elsewhere: see above)."""
    if kind == "character device":
        return make_device(folder)
    path = folder / f"{kind}.json"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(path))  # the socket file stays after the socket is closed
    else:
        path.mkdir()
    return path


def test_model_file_names_stay_importable_from_nn() -> None:
    assert nn.ModelFileError is ModelFileError  # so `except nn.ModelFileError` catches load's
    assert (nn.FILE_FORMAT, nn.MAX_FILE_PARAMETERS) == ("micrograd_like.model", 1_000_000)
    assert nn.read_model_file is model_files.read_model_file


def test_model_files_does_not_import_the_networks() -> None:
    """nn builds on model_files; an import the other way would be a cycle."""
    tree = ast.parse((ROOT / "micrograd_like" / "model_files.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    assert not [name for name in imported if name.startswith("micrograd_like.nn")]


# --- saving ------------------------------------------------------------------------------------


def test_save_never_writes_through_a_fixed_tmp_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file", encoding="utf-8")
    path = tmp_path / "model.json"
    (tmp_path / "model.json.tmp").symlink_to(victim)  # planted by another user of the disk
    small_model().save(path)
    assert victim.read_text(encoding="utf-8") == "someone else's file"
    assert (tmp_path / "model.json.tmp").is_symlink()
    assert parameters_of(MLP.from_file(path)) == parameters_of(small_model())


def test_save_does_not_follow_a_symlink_planted_at_its_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = iter(["guessed", "fresh"])
    monkeypatch.setattr(secrets, "token_hex", lambda _: next(names))
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file", encoding="utf-8")
    (tmp_path / ".model.json.guessed.tmp").symlink_to(victim)
    small_model().save(tmp_path / "model.json")
    assert victim.read_text(encoding="utf-8") == "someone else's file"
    assert (tmp_path / ".model.json.guessed.tmp").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".model.json.guessed.tmp",
        "model.json",
        "victim.txt",
    ]


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("an older model", encoding="utf-8")
    path.chmod(0o640)
    small_model().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o604)  # not what any umask gives: the old mode is copied, not recomputed
    small_model().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_save_keeps_the_mode_where_the_os_has_no_fchmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows before Python 3.13 has no os.fchmod; CI cannot run Windows, so take it away here
    monkeypatch.delattr(os, "fchmod")
    path = tmp_path / "model.json"
    path.write_text("an older model", encoding="utf-8")
    path.chmod(0o604)
    small_model().save(path)
    small_model().save(path)  # the demo's second run, which crashed there
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    loaded = small_model(seed=1)
    loaded.load(path)
    assert loaded.parameters()[0].data == small_model().parameters()[0].data


def test_save_drops_set_id_bits_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("an older model", encoding="utf-8")
    path.chmod(0o4755)
    small_model().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_save_gives_a_new_file_the_mode_the_umask_allows(
    tmp_path: Path, umask: int, mode: int
) -> None:
    old = os.umask(umask)
    try:
        small_model().save(tmp_path / "model.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.json").stat().st_mode) == mode


def test_save_replaces_a_symlink_and_leaves_what_it_pointed_to(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("not to be overwritten", encoding="utf-8")
    path = tmp_path / "model.json"
    path.symlink_to(elsewhere)
    small_model().save(path)
    assert not path.is_symlink()
    assert elsewhere.read_text(encoding="utf-8") == "not to be overwritten"
    assert parameters_of(MLP.from_file(path)) == parameters_of(small_model())


@pytest.mark.parametrize("kind", sorted(NOT_REGULAR))
def test_save_refuses_to_replace_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    target = not_regular_file(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(NotARegularFileError) as caught:
        small_model().save(target)
    message = str(caught.value)
    assert message.startswith(f"{target}: {NOT_REGULAR[kind]}, not a regular file")
    assert "not a regular file" in message and "nothing was saved" in message
    assert isinstance(caught.value, OSError) and caught.value.filename == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary file left
    assert stat.S_IFMT(os.lstat(target).st_mode) != stat.S_IFREG


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]
)
def test_save_removes_its_temporary_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    path = tmp_path / "model.json"
    path.write_text("the previous model", encoding="utf-8")

    def fail(descriptor: int) -> None:
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(type(failure)):
        small_model().save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]
    assert path.read_text(encoding="utf-8") == "the previous model"


def test_save_syncs_the_data_before_renaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(descriptor: int) -> None:
        calls.append("fsync directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "fsync")
        fsync(descriptor)

    def recording_replace(source: str, target: str) -> None:
        calls.append("replace")
        replace(source, target)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    small_model().save(tmp_path / "model.json")
    assert calls == ["fsync", "replace", "fsync directory"]


def test_save_into_a_missing_folder_names_the_model_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "model.json"
    with pytest.raises(FileNotFoundError) as caught:
        small_model().save(path)
    assert caught.value.filename == str(path)
    assert f"{path}" in str(caught.value) and ".tmp" not in str(caught.value)


def test_save_works_for_a_name_as_long_as_the_file_system_allows(tmp_path: Path) -> None:
    path = tmp_path / ("m" * 250 + ".json")  # 255 bytes: a temporary name must be shorter
    small_model().save(path)
    assert parameters_of(MLP.from_file(path)) == parameters_of(small_model())
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# --- concurrent saves: no writer fails and no reader sees a partial file -----------------------

SAVER = """
import random, sys
from micrograd_like.nn import MLP
model = MLP(2, [16, 16, 1], rng=random.Random(int(sys.argv[2])))
for _ in range(int(sys.argv[3])):
    model.save(sys.argv[1])
"""
SAVES = 50


class Reader(threading.Thread):
    """Loads ``path`` until told to stop; every load must give one writer's whole model."""

    def __init__(self, path: Path, allowed: list[list[float]]) -> None:
        super().__init__()
        self.path, self.allowed = path, allowed
        self.running = threading.Event()
        self.running.set()
        self.loads = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        model = MLP(2, [16, 16, 1])
        try:
            while self.running.is_set() or self.loads == 0:
                model.load(self.path)  # a torn or half-written file raises ModelFileError here
                assert parameters_of(model) in self.allowed, "a model no writer saved"
                self.loads += 1
        except BaseException as error:  # reported by the test: a thread's exception is lost
            self.failure = error

    def stop(self) -> None:
        self.running.clear()
        self.join(timeout=60)


def test_concurrent_saves_from_processes_never_fail_nor_tear(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    MLP(2, [16, 16, 1], rng=random.Random(0)).save(path)
    allowed = [parameters_of(MLP(2, [16, 16, 1], rng=random.Random(seed))) for seed in (0, 1, 2)]
    reader = Reader(path, allowed)
    reader.start()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", SAVER, str(path), str(seed), str(SAVES)],
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            for seed in (1, 2)
        ]
        errors = [writer.communicate(timeout=120)[1] for writer in writers]
    finally:
        reader.stop()
    assert [writer.returncode for writer in writers] == [0, 0], errors
    assert reader.failure is None and reader.loads > 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_concurrent_saves_from_threads_never_fail_nor_tear(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    models = [MLP(2, [16, 16, 1], rng=random.Random(seed)) for seed in (0, 1, 2)]
    models[0].save(path)
    failures: list[BaseException] = []

    def save_many(model: MLP) -> None:
        try:
            for _ in range(SAVES):
                model.save(path)
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            failures.append(error)

    reader = Reader(path, [parameters_of(model) for model in models])
    reader.start()
    writers = [threading.Thread(target=save_many, args=(model,)) for model in models[1:]]
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
    finally:
        reader.stop()
    assert failures == []
    assert reader.failure is None and reader.loads > 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


# --- loading: regular files only, and never more than a model file can need ---------------------


def finishes_quickly(call: Callable[[], object], seconds: float = 5.0) -> BaseException | None:
    """Run ``call`` in a thread; fail if it blocks (as opening a FIFO without O_NONBLOCK does)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # handed back to the test
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return raised[0] if raised else None


LOADERS: dict[str, Callable[[Path], object]] = {
    "load": lambda path: small_model().load(path),
    "from_file": MLP.from_file,
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("kind", sorted(NOT_REGULAR))
def test_load_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str, loader: str) -> None:
    path = not_regular_file(tmp_path, kind)
    error = finishes_quickly(lambda: LOADERS[loader](path))
    assert isinstance(error, ModelFileError)
    assert str(error) == (
        f"{path}: {NOT_REGULAR[kind]}, not a regular file; model files are read from regular files"
    )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_load_refuses_a_device_at_once(device: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=f"^{device}: is a character device, not a regular"):
        MLP.from_file(device)
    assert time.perf_counter() - started < 1.0


def test_load_checks_the_opened_file_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = not_regular_file(tmp_path, "FIFO")
    regular = tmp_path / "regular.json"
    small_model().save(regular)
    real_stat = os.stat

    def swapped_after_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        """stat() saw a regular file; by the time of open() the name is a FIFO (a race)."""
        return real_stat(regular if Path(path) == fifo else path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", swapped_after_stat)
    error = finishes_quickly(lambda: MLP.from_file(fifo))
    assert isinstance(error, ModelFileError)
    assert "is a FIFO (named pipe), not a regular file" in str(error)


def test_load_refuses_a_file_larger_than_any_model_file_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as stream:
        stream.truncate(65_048_577)  # sparse: 1,000,000 parameters * 64 bytes + 1 MiB, plus one
    read_calls: list[int] = []
    real_read = os.read

    def recording_read(descriptor: int, size: int) -> bytes:
        read_calls.append(size)
        return real_read(descriptor, size)

    monkeypatch.setattr(os, "read", recording_read)
    with pytest.raises(ModelFileError) as caught:
        MLP.from_file(path)
    assert str(caught.value) == (
        f"{path}: the file has 65,048,577 bytes; a model file may have at most 65,048,576 bytes "
        "(1,000,000 parameters at 64 bytes each, and the rest)"
    )
    assert read_calls == []


def test_load_reads_no_more_than_the_bound_when_the_size_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.json"
    path.write_bytes(b" " * 5_000)
    monkeypatch.setattr(model_files, "MAX_FILE_BYTES", 1_000)
    real_fstat, real_read = os.fstat, os.read
    received: list[int] = []

    def small_size(descriptor: int) -> os.stat_result:
        """As if the file grew after fstat(), or sat on a file system that reports size 0."""
        fields = list(real_fstat(descriptor))
        fields[stat.ST_SIZE] = 0
        return os.stat_result(fields)

    def recording_read(descriptor: int, size: int) -> bytes:
        data = real_read(descriptor, size)
        received.append(len(data))
        return data

    monkeypatch.setattr(os, "fstat", small_size)
    monkeypatch.setattr(os, "read", recording_read)
    with pytest.raises(ModelFileError, match=r"has more than 1,000 bytes; .* at most 1,000 bytes"):
        MLP.from_file(path)
    assert sum(received) == 1_001


def test_load_follows_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    saved = small_model(seed=4)
    saved.save(tmp_path / "real.json")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert parameters_of(MLP.from_file(tmp_path / "link.json")) == parameters_of(saved)
