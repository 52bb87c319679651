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
flushed to disk, and renamed into place only when whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m assistant.core.requantize SOURCE.gguf TARGET.gguf")
    sys.exit(_convert(sys.argv[1], sys.argv[2]))
