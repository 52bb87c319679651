"""A smaller copy of a packaged GGUF: llama.cpp's Q4_K_S recipe with a 4-bit output matrix, so what
the packaged Q4_K_M keeps in 6 bits (the output matrix, half the layers' value and down projections)
goes to 4 bits, a few tensors to 5.

Why: the planner's model is the bulk of the assistant's memory. The Q4_K_M file keeps 338 MB of
weights in Q6_K, which llama.cpp's CPU kernels use as they are in the file; in Q4_K they take 100 MB
less, and llama.cpp repacks them with the rest. Measured on the understanding, LLM-path and knowledge
benchmarks, the copy plans and answers as the original does (docs/benchmarks/startup.md).

It is made once, in a child process (`python -m assistant.core.requantize SOURCE TARGET`): the
assistant's own memory never holds the conversion's buffers, and llama.cpp aborting on a bad file
cannot take the assistant with it. The copy is written beside its target under a name of its own,
flushed to disk, and renamed into place only when whole. A copy that fails to load later is checked
with `gguf_damage` (its header and size, not its bytes) before it is deleted and made again.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import io
import logging
import math
import os
import stat
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from assistant.core.errors import ModelNotFoundError
from assistant.core.store import free_bytes

log = logging.getLogger(__name__)

RECIPE = "Q4_K_S with a Q4_K output matrix"
TIMEOUT_S = 1800
"""A 1.5B model takes 20-35 s on two cores; a stuck conversion is given up after this."""
LLAMA_FAILED = 3
"""The child's exit status when llama.cpp itself refused the conversion (not a signal, not a missing module)."""


class RequantizeError(ModelNotFoundError):
    code = "model_requantize"

    def __init__(self, message: str, *, lasting: bool) -> None:
        super().__init__(message)
        self.lasting = lasting
        """Whether trying again would fail the same way (llama.cpp's own refusal), unlike a full disk
        or a conversion stopped by a signal."""


def compact_copy(target: Path, lock: Path, original: Callable[[], Path]) -> Path:
    """`target`, made from `original()` the first time; where it cannot be, `original()` with the
    reason logged. After llama.cpp's own refusal a marker beside `target` keeps later starts from
    trying again (each try is half a minute) until `try_again` (`assistant models --check`)."""
    if target.is_file():
        return target
    failed = _marker(target)
    with locked(lock) as held:
        if target.is_file():
            return target
        source = original()
        if failed.is_file():
            with contextlib.suppress(OSError):
                log.warning("using %s as packaged: %s", source.name, failed.read_text(errors="replace").strip())
            return source
        log.warning("making a smaller copy of the LLM, %s, once: about half a minute", target.name)
        try:
            derive(source, target, held)
        except RequantizeError as e:
            if e.lasting:
                with contextlib.suppress(OSError):
                    failed.write_text(f"{e} (run `assistant models --check` to try again)\n")
            log.warning("%s: using %s as packaged, which takes about 100 MB more memory", e, source.name)
            return source
        return target


def try_again(target: Path) -> None:
    """Forget an earlier refusal, so the next resolution converts again."""
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        _marker(target).unlink()


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".failed")


@contextlib.contextmanager
def locked(lock: Path) -> Iterator[int]:
    """One process (or thread) at a time makes a derived model file: `assistant run` and an `ask`
    started together. Yields the lock's descriptor: a child that inherits it keeps it held."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise ModelNotFoundError(
            f"cannot make model files in {lock.parent}: {e.strerror or e} (is it read-only, or not a folder?)"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe put there would block every start
            raise ModelNotFoundError(f"{lock} is not a regular file: remove it")
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def derive(source: Path, target: Path, lock_fd: int) -> None:
    """Write `target` from `source` (RECIPE), atomically; RequantizeError says why it could not.
    The caller holds the lock `lock_fd`, so a partial copy already beside `target` is a dead
    process's. The child inherits the lock: if this process is killed, the next one waits for the
    orphaned conversion to end instead of racing it."""
    for stale in target.parent.glob(f"{target.name}.*.partial"):
        stale.unlink(missing_ok=True)
    if not source.is_file():  # a pipe or a socket put there would hold the conversion forever
        raise RequantizeError(f"{source} is not a regular file", lasting=False)
    if problem := _no_room(source, target.parent):
        raise RequantizeError(problem, lasting=False)
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(source), str(partial)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT_S,
                pass_fds=(lock_fd,),
            )
        except subprocess.TimeoutExpired as e:
            raise RequantizeError(f"requantizing {source.name} took over {TIMEOUT_S} s", lasting=False) from e
        except OSError as e:
            raise RequantizeError(f"could not start requantizing {source.name}: {e}", lasting=False) from e
        if done.returncode != 0 or not partial.is_file():
            said = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
            why = said[-1].strip() if said else f"exit status {done.returncode}"
            # A disk that filled while it wrote is llama.cpp's failure too, but not a lasting one.
            lasting = done.returncode == LLAMA_FAILED and not _no_room(source, target.parent)
            raise RequantizeError(f"llama.cpp could not requantize {source.name}: {why}", lasting=lasting)
        try:
            os.replace(partial, target)
            _sync_folder(target.parent)
        except OSError as e:
            raise RequantizeError(f"could not keep the compact copy of {source.name}: {e}", lasting=False) from e
    finally:
        partial.unlink(missing_ok=True)


def _no_room(source: Path, folder: Path) -> str | None:
    need, free = source.stat().st_size, free_bytes(folder)
    if free is None or free >= need + (64 << 20):
        return None
    return (
        f"not enough free disk for a compact copy of {source.name} in {folder} "
        f"({need // 2**20} MB needed, {free // 2**20} MB free)"
    )


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _convert(source: str, target: str) -> int:
    """The child: convert, and flush the copy to disk."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = len(os.sched_getaffinity(0))  # the result is the same for any number (checked)
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S
    params.output_tensor_type = llama_cpp.GGML_TYPE_Q4_K
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params)) != 0:
        return LLAMA_FAILED
    with open(target, "rb") as written:
        os.fsync(written.fileno())
    return 0


# --- is a GGUF file whole? ------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
GGML_BLOCKS = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 36),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    30: (1, 2),  # BF16
}
"""ggml's tensor types: (values per block, bytes per block), as ggml.c's type traits say. The ones
llama.cpp's K-quant recipes write, and the plain ones; a file with another is not judged."""
_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
"""A metadata value's bytes by its GGUF type (8 is a string, 9 an array)."""
_STRING, _ARRAY = 8, 9


class _CutShort(Exception):
    pass


class _TooLong(Exception):
    pass


HEADER_LIMIT = 64 << 20
"""The most header `gguf_damage` reads: a tokenizer's vocabulary takes a few MB. A file whose header
runs on past it is not judged."""

_CHUNK = 1 << 20


class _Header:
    """A GGUF file's header, read front to back a MiB at a time: `size` is where the file ends (from
    stat), so a length that runs past it is found without reading that far."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._size = f, size
        self._buf, self._base = b"", 0
        self.pos = len(GGUF_MAGIC)

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if end > self._size:
            raise _CutShort
        if end > HEADER_LIMIT:
            raise _TooLong
        if end > self._base + len(self._buf):
            self._f.seek(self.pos)
            self._base, self._buf = self.pos, self._f.read(max(n, _CHUNK))
            if len(self._buf) < n:  # shorter than it was when stat was asked
                raise _CutShort
        at = self.pos - self._base
        self.pos = end
        return self._buf[at : end - self._base]

    def skip(self, n: int) -> None:
        if self.pos + n > self._size:
            raise _CutShort
        if self.pos + n > HEADER_LIMIT:
            raise _TooLong
        self.pos += n


def gguf_damage(path: Path) -> str | None:
    """Why `path` is not a whole GGUF file (not one by its first bytes, its header cut short, fewer
    bytes than its tensors take), or None when it is whole as far as its header tells. Reads the
    header alone (a few MB: the tokenizer's vocabulary, at most HEADER_LIMIT), with ordinary reads,
    never the weights and never the whole file mapped: a file cut short is found at once, a bit
    flipped among the weights only by its sha256 (`assistant models --check`). A file that cannot be
    read now (too little memory, as when llama.cpp failed for want of it; a disk error; permissions),
    or whose header runs on past HEADER_LIMIT, is not judged: None, the reason logged."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            if f.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
                return "it does not begin as a GGUF file does"
            try:
                need = _extent(_Header(f, size))
            except _CutShort:
                return f"its header is cut short ({size:,} bytes in all)"
            except _TooLong:
                log.warning("cannot tell whether %s is whole: its header runs past %d MiB", path, HEADER_LIMIT >> 20)
                return None
    except OSError as e:
        log.warning("cannot tell whether %s is whole: %s", path, e.strerror or e)
        return None
    except MemoryError:
        log.warning("cannot tell whether %s is whole: too little memory to read its header", path)
        return None
    if need is not None and size < need:
        return f"it is {size:,} bytes and its tensors take {need:,}: cut short"
    return None


def gguf_extent(data: bytes) -> int | None:
    """The bytes a GGUF file (v2 or v3) takes by its header (`data`: its first bytes, the magic
    included): where its last tensor ends. None for a version or a tensor type this does not know.
    Raises _CutShort where the header runs past the end of `data`."""
    return _extent(_Header(io.BytesIO(data), len(data)))


def _extent(header: _Header) -> int | None:
    """gguf_extent, the header read from just after the magic."""

    def take(fmt: str) -> int:
        (value,) = struct.unpack("<" + fmt, header.read(struct.calcsize("<" + fmt)))
        return int(value)

    def skip(n: int) -> None:
        header.skip(n)

    def string() -> bytes:
        return header.read(take("Q"))

    def value(kind: int) -> int | None:
        """Skip one metadata value; returns an integer's value (general.alignment)."""
        if kind == _STRING:
            skip(take("Q"))
        elif kind == _ARRAY:
            items, count = take("I"), take("Q")
            if items in _SCALAR_BYTES:
                skip(_SCALAR_BYTES[items] * count)
            elif items == _STRING:  # a tokenizer's vocabulary: 150,000 of them
                for _ in range(count):
                    skip(take("Q"))
            else:
                for _ in range(count):
                    value(items)
        elif kind in (4, 5):  # u32, i32: the alignment's type
            return take("i" if kind == 5 else "I")
        elif kind in _SCALAR_BYTES:
            skip(_SCALAR_BYTES[kind])
        else:
            raise _CutShort  # a type GGUF has not: the header is garbage from here on
        return None

    if take("I") not in (2, 3):
        return None
    tensors, keys = take("Q"), take("Q")
    alignment = 32
    for _ in range(keys):
        key = string()
        found = value(take("I"))
        if key == b"general.alignment" and found:
            alignment = found
    extents = []
    for _ in range(tensors):
        string()
        shape = [take("Q") for _ in range(take("I"))]
        kind, offset = take("I"), take("Q")
        if kind not in GGML_BLOCKS:
            return None
        per_block, block_bytes = GGML_BLOCKS[kind]
        extents.append(offset + math.prod(shape) // per_block * block_bytes)
    start = -(-header.pos // alignment) * alignment
    return start + max(extents, default=0)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m assistant.core.requantize SOURCE.gguf TARGET.gguf")
    sys.exit(_convert(sys.argv[1], sys.argv[2]))
