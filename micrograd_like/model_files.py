"""Model files: JSON written atomically on a shared disk, and read back as untrusted input.

``write_model_file`` never leaves a partial file and never writes through a name someone else
chose: it writes a fresh, exclusively created temporary file beside the target and renames it into
place. ``read_model_file`` reads only regular files, at most ``MAX_FILE_BYTES`` of them, and checks
everything before returning. The module knows JSON and files, not networks: ``nn`` builds on it,
never the other way round.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import secrets
import stat
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

__all__ = [
    "FILE_FORMAT",
    "FILE_VERSION",
    "MAX_FILE_BYTES",
    "MAX_FILE_PARAMETERS",
    "ModelFileError",
    "NotARegularFileError",
    "checked_path",
    "read_model_file",
    "replace_atomically",
    "write_model_file",
]

FILE_FORMAT = "micrograd_like.model"
FILE_VERSION = 1
FILE_KEYS = ("format", "version", "architecture", "parameters")
MAX_FILE_PARAMETERS = 1_000_000  # a file asking for more is refused before anything is built
BYTES_PER_NUMBER = 64  # save() writes at most 28 per parameter; other writers may indent more
ARCHITECTURE_BYTES = 1 << 20  # the outer object and the architecture, with room to spare
MAX_FILE_BYTES = MAX_FILE_PARAMETERS * BYTES_PER_NUMBER + ARCHITECTURE_BYTES
_READ_CHUNK = 1 << 20
_TEMPORARY_NAME_ATTEMPTS = 100
_KEPT_NAME_CHARACTERS = 100  # of the target's name in a temporary name, to stay under NAME_MAX

PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A model file that cannot be loaded: the message names the file and what is wrong with it."""

    def __init__(self, path: PathLike, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


class NotARegularFileError(OSError):
    """``save`` found a directory, FIFO, device or socket where the model goes; nothing written."""

    def __init__(self, path: PathLike, kind: str) -> None:
        code = errno.EISDIR if kind == "a directory" else errno.EINVAL
        problem = f"is {kind}, not a regular file; saving replaces only a regular file"
        super().__init__(code, f"{problem}, so nothing was saved", os.fspath(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


# --- writing: a unique temporary file, synced, then renamed over the target ----------------------


def checked_path(path: object, where: str) -> str:
    """A file's name as a str; None, bytes and ints are refused (``open(3)`` is file descriptor 3,
    not a file named 3, so an int would read or write whatever that descriptor is)."""
    name = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(name, str):
        raise TypeError(
            f"{where}: path must be a str or a pathlib.Path, got {short(path)} "
            f"of type {type(path).__name__}"
        )
    return name


def write_model_file(
    path: PathLike,
    architecture: dict[str, Any],
    numbers: list[float],
    where: str = "write_model_file",
) -> None:
    """Save ``numbers`` for a module of this ``architecture``; refuses non-finite numbers."""
    path = checked_path(path, where)
    for index, number in enumerate(numbers):
        if not math.isfinite(number):
            raise ValueError(
                f"{os.fspath(path)}: parameter {index} is {number!r}, not a finite number "
                "(did training diverge?); nothing was saved"
            )
    document = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "architecture": architecture,
        "parameters": numbers,
    }
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    replace_atomically(path, text.encode("utf-8"))


def replace_atomically(path: PathLike, data: bytes) -> None:
    """Put ``data`` at ``path`` so that readers see the old file or the new one, never a mix.

    A symlink at ``path`` is replaced by the file, never followed: the file it points to stays as
    it was. A replaced file's permission bits are kept; a new file gets 0o666 less the umask.
    """
    target = os.fspath(path)
    mode = _mode_to_keep(target)
    descriptor, temporary = _create_temporary(target)
    try:
        try:
            if mode is not None:
                _keep_mode(descriptor, temporary, mode)
            _write_all(descriptor, data)
            os.fsync(descriptor)  # the bytes are on disk before the name points at them
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
    except BaseException:  # KeyboardInterrupt too: no stray temporary file is left behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(os.path.dirname(target))


def _mode_to_keep(target: str) -> int | None:
    """The permission bits of the regular file at ``target``; None when there is none to keep.

    Refuses anything that is neither a regular file nor a symlink. Set-id and sticky bits are
    dropped: they mean nothing on a JSON file and could only make a new file more powerful.
    """
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFileError(target, _kind(info.st_mode))
    return stat.S_IMODE(info.st_mode) & 0o777


def _create_temporary(target: str) -> tuple[int, str]:
    """A new file beside ``target``, created exclusively (O_EXCL) under a random name."""
    folder, name = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _flag("O_NOFOLLOW") | _flag("O_CLOEXEC")
    for _ in range(_TEMPORARY_NAME_ATTEMPTS):
        random_part = secrets.token_hex(8)
        temporary = os.path.join(folder, f".{name[:_KEPT_NAME_CHARACTERS]}.{random_part}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary  # the umask applies, as for open()
        except FileExistsError:
            continue
        except OSError as error:  # name the file being saved, not the temporary one
            raise OSError(
                error.errno, f"cannot create a temporary file beside it ({error.strerror})", target
            ) from None
    raise FileExistsError(
        errno.EEXIST, f"no free temporary name after {_TEMPORARY_NAME_ATTEMPTS} tries", target
    )


def _write_all(descriptor: int, data: bytes) -> None:
    """os.write until every byte is written (a single write may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _keep_mode(descriptor: int, temporary: str, mode: int) -> None:
    """The new file gets the old one's permission bits: through its descriptor where the OS can
    (os.fchmod), by its name elsewhere (Windows before Python 3.13 has no os.fchmod)."""
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, mode)
    else:
        os.chmod(temporary, mode)


def _sync_directory(folder: str) -> None:
    """fsync the folder so the rename itself survives a crash; best effort, as not every OS can."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder or ".", os.O_RDONLY | _flag("O_DIRECTORY"))
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _flag(name: str) -> int:
    """An os.O_* flag, or 0 where the platform has no such flag (O_NOFOLLOW on Windows)."""
    value: int = getattr(os, name, 0)
    return value


def _kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "a special file")


# --- reading: untrusted input, checked completely before anything is assigned -------------------


def read_model_file(path: PathLike, where: str = "read_model_file") -> dict[str, Any]:
    """Parse and check a model file's outer structure; raises ModelFileError naming the problem."""
    path = checked_path(path, where)
    try:
        text = read_bounded(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(path, f"not UTF-8 text ({error.reason})") from None
    if not text.strip():
        raise ModelFileError(path, "the file is empty")
    document = _parse(path, text)
    if not isinstance(document, dict):
        raise ModelFileError(path, f"expected a JSON object, found {type(document).__name__}")
    check_keys(path, document, FILE_KEYS, "the file")
    _check_header(path, document)
    if not isinstance(document["architecture"], dict):
        raise ModelFileError(path, "architecture must be a JSON object")
    return document


def read_bounded(path: PathLike) -> bytes:
    """The bytes of the regular file at ``path``, refusing anything longer than MAX_FILE_BYTES.

    Checked before opening (so a device is never opened) and again on the opened descriptor (in
    case the name changed in between); O_NONBLOCK keeps a FIFO swapped in from blocking the open.
    """
    _check_regular(path, os.stat(path).st_mode)
    descriptor = os.open(path, os.O_RDONLY | _flag("O_NONBLOCK") | _flag("O_CLOEXEC"))
    try:
        info = os.fstat(descriptor)
        _check_regular(path, info.st_mode)
        if info.st_size > MAX_FILE_BYTES:
            raise ModelFileError(path, _too_large(f"{info.st_size:,} bytes"))
        data = _read_at_most(descriptor, MAX_FILE_BYTES + 1)  # it may have grown since fstat
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(path, _too_large(f"more than {MAX_FILE_BYTES:,} bytes"))
    return data


def _read_at_most(descriptor: int, limit: int) -> bytes:
    """Up to ``limit`` bytes, in chunks, so a small file never costs a ``limit``-sized buffer."""
    data = bytearray()
    while len(data) < limit:
        chunk = os.read(descriptor, min(_READ_CHUNK, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _check_regular(path: PathLike, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise ModelFileError(
            path, f"is {_kind(mode)}, not a regular file; model files are read from regular files"
        )


def _too_large(size: str) -> str:
    return (
        f"the file has {size}; a model file may have at most {MAX_FILE_BYTES:,} bytes "
        f"({MAX_FILE_PARAMETERS:,} parameters at {BYTES_PER_NUMBER} bytes each, and the rest)"
    )


def _parse(path: PathLike, text: str) -> Any:
    """JSON without NaN, Infinity or duplicate keys; every parse failure is a ModelFileError."""
    try:
        return json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=refuse_duplicates
        )
    except json.JSONDecodeError as error:
        ended_early = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated")
        hint = "; the file looks truncated" if ended_early else ""
        problem = f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}){hint}"
        raise ModelFileError(path, problem) from None
    except _JsonProblem as problem:
        raise ModelFileError(path, str(problem)) from None
    except RecursionError:
        raise ModelFileError(path, "arrays or objects nested too deeply to read") from None
    except (ValueError, OverflowError) as error:  # e.g. an integer of more than 4300 digits
        raise ModelFileError(path, f"cannot be read as JSON: {short(str(error))}") from None


def _check_header(path: PathLike, document: dict[str, Any]) -> None:
    """The format tag and the version."""
    if document["format"] != FILE_FORMAT:
        raise ModelFileError(
            path, f"format is {short(document['format'])}, expected {FILE_FORMAT!r}"
        )
    version = document["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(path, f"version must be an integer, found {short(version)}")
    if version != FILE_VERSION:
        raise ModelFileError(
            path,
            f"version {short(version)} is not supported (this micrograd_like reads {FILE_VERSION})",
        )


class _JsonProblem(Exception):
    """Raised from inside the JSON parser's hooks; turned into a ModelFileError by the caller."""


def _refuse_constant(name: str) -> float:
    raise _JsonProblem(f"{name} is not a finite number; parameters must be finite")


def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's hook: a dict of the pairs, refusing repeated keys (in linear time)."""
    counts = Counter(key for key, _ in pairs)
    if len(counts) < len(pairs):
        duplicated = sorted(key for key, count in counts.items() if count > 1)
        raise _JsonProblem(f"duplicate keys {short(duplicated)}")
    return dict(pairs)


def check_keys(path: PathLike, found: dict[str, Any], expected: Sequence[str], what: str) -> None:
    """Refuse an object whose keys are not exactly ``expected``, naming the missing and extra."""
    missing = [key for key in expected if key not in found]
    extra = sorted(key for key in found if key not in expected)
    if missing or extra:
        parts = [f"missing {missing}"] if missing else []
        parts += [f"unexpected {short(extra)}"] if extra else []
        raise ModelFileError(path, f"{what} has the wrong keys: {', '.join(parts)}")


def check_architecture(path: PathLike, found: object, expected: dict[str, Any]) -> None:
    """Refuse a file whose architecture differs from the model's (2 and 2.0 differ here)."""
    if canonical(found) != canonical(expected):
        raise ModelFileError(
            path, f"the file describes {short(found)}, but this model is {short(expected)}"
        )


def parameter_list(path: PathLike, found: object, count: int, needed_by: str) -> list[float]:
    """The file's parameters as finite floats: exactly ``count``, as ``needed_by`` says."""
    if not isinstance(found, list):
        raise ModelFileError(path, f"parameters must be a list of numbers, found {short(found)}")
    if len(found) != count:
        raise ModelFileError(path, f"the file has {len(found)} parameters, but {needed_by} {count}")
    return [_parameter(path, index, item) for index, item in enumerate(found)]


def _parameter(path: PathLike, index: int, item: object) -> float:
    """One parameter as a finite float."""
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        raise ModelFileError(path, f"parameter {index} is {short(item)}, not a number")
    try:
        number = float(item)
    except OverflowError:
        digits = len(str(abs(item)))
        raise ModelFileError(
            path, f"parameter {index} is an integer of {digits} digits, too large for a float"
        ) from None
    if not math.isfinite(number):
        raise ModelFileError(path, f"parameter {index} is {number!r}, not a finite number")
    return number


def mlp_shape(
    path: PathLike, architecture: dict[str, Any], activations: Collection[str]
) -> tuple[int, list[int], list[str]]:
    """nin, nouts and activations from an MLP file's architecture, each checked."""
    check_keys(path, architecture, ("module", "nin", "nouts", "activations"), "architecture")
    if architecture["module"] != "MLP":
        raise ModelFileError(path, f"the file holds a {short(architecture['module'])}, not an MLP")
    nin, nouts, found = (architecture[k] for k in ("nin", "nouts", "activations"))
    sizes = [nin, *nouts] if isinstance(nouts, list) and nouts else None
    if sizes is None or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        shown = f"{short(nin)} and {short(nouts)}"
        raise ModelFileError(path, f"nin and nouts must be positive integers, found {shown}")
    if (
        not isinstance(found, list)
        or len(found) != len(nouts)
        or any(not isinstance(a, str) or a not in activations for a in found)
    ):
        raise ModelFileError(
            path,
            f"activations must list one of {sorted(activations)} per layer, found {short(found)}",
        )
    return nin, nouts, found


def mlp_parameter_count(path: PathLike, nin: int, nouts: list[int]) -> int:
    """How many parameters an MLP of this shape has, refusing absurd sizes before any is built."""
    count = 0
    for fan_in, fan_out in itertools.pairwise([nin, *nouts]):
        count += (fan_in + 1) * fan_out  # each neuron: fan_in weights and a bias
        if count > MAX_FILE_PARAMETERS:
            raise ModelFileError(
                path,
                f"the architecture asks for more than {MAX_FILE_PARAMETERS:,} parameters "
                f"(nin {short(nin, 40)}, {len(nouts)} layers); files that large are refused",
            )
    return count


def canonical(architecture: object) -> str:
    """A form in which 2 and 2.0, or 1 and true, differ (Python's == says they are equal)."""
    try:
        return json.dumps(architecture, sort_keys=True)
    except (RecursionError, ValueError):  # only a file's architecture can be this hostile,
        return "<unreadable architecture>"  # so it never matches the model's own


def short(thing: object, limit: int = 120) -> str:
    """A repr of untrusted data, cut short so a hostile file cannot flood the message."""
    try:
        text = repr(thing)
    except (RecursionError, ValueError):  # nested too deeply, or an integer too long to print
        return f"a {type(thing).__name__} too large to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."
