"""A smaller copy of a packaged GGUF: what it keeps in 6 bits (the output matrix, half the layers'
value and down projections) requantized to 4 bits, llama.cpp's Q4_K_S recipe with a 4-bit output
matrix.

Why: the planner's model is the bulk of the assistant's memory. Its Q4_K_M file keeps 338 MB of
weights in Q6_K, which llama.cpp's CPU kernels use as they are in the file; in Q4_K they take 100 MB
less, and llama.cpp repacks them with the rest. Measured on the understanding, LLM-path and knowledge
benchmarks, the copy plans and answers as the original does (docs/benchmarks/startup.md).

It is made once, in a child process (`python -m assistant.core.requantize SOURCE TARGET`): the
assistant's own memory never holds the conversion's buffers, and llama.cpp aborting on a bad file
cannot take the assistant with it. The copy is written beside its target under a name of its own and
renamed into place only when whole and byte for byte the file the benchmarks measured.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from assistant.core.errors import ModelNotFoundError

RECIPE = "Q4_K_S with a Q4_K output matrix"
TIMEOUT_S = 1800
"""A 1.5B model takes 20-35 s on two cores; a stuck conversion is given up after this."""


class RequantizeError(ModelNotFoundError):
    code = "model_requantize"

    def __init__(self, message: str, *, lasting: bool) -> None:
        super().__init__(message)
        self.lasting = lasting
        """Whether trying again would fail the same way (llama.cpp's own failure), unlike a full disk."""


def derive(source: Path, target: Path, sha256: str) -> None:
    """Write `target` from `source` (RECIPE), atomically; RequantizeError says why it could not.
    The caller holds a lock on `target`, so any partial copy already beside it is a dead one's."""
    for stale in target.parent.glob(f"{target.name}.*.partial"):
        stale.unlink(missing_ok=True)
    if not source.is_file():  # a pipe or a socket put there would hold the conversion forever
        raise RequantizeError(f"{source} is not a regular file", lasting=False)
    need, free = source.stat().st_size, _free_bytes(target.parent)
    if free < need + (64 << 20):
        raise RequantizeError(
            f"not enough free disk for a compact copy of {source.name} in {target.parent} "
            f"({need // 2**20} MB needed, {free // 2**20} MB free)",
            lasting=False,
        )
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(source), str(partial)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as e:
            raise RequantizeError(f"requantizing {source.name} took over {TIMEOUT_S} s", lasting=False) from e
        except OSError as e:
            raise RequantizeError(f"could not start requantizing {source.name}: {e}", lasting=False) from e
        if done.returncode != 0 or not partial.is_file():
            said = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
            why = said[-1].strip() if said else f"exit status {done.returncode}"
            raise RequantizeError(f"llama.cpp could not requantize {source.name}: {why}", lasting=True)
        if done.stdout.decode(errors="replace").strip() != sha256:
            raise RequantizeError(
                f"the compact copy of {source.name} is not the file the benchmarks measured "
                f"(llama.cpp rounded differently here)",
                lasting=True,
            )
        try:
            os.replace(partial, target)
        except OSError as e:
            raise RequantizeError(f"could not keep the compact copy of {source.name}: {e}", lasting=False) from e
    finally:
        partial.unlink(missing_ok=True)


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def _convert(source: str, target: str) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = len(os.sched_getaffinity(0))  # the result is the same for any number (checked)
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S
    params.output_tensor_type = llama_cpp.GGML_TYPE_Q4_K
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params)) != 0:
        return 1
    with open(target, "rb") as written:
        print(hashlib.file_digest(written, "sha256").hexdigest())
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m assistant.core.requantize SOURCE.gguf TARGET.gguf (prints its sha256)")
    sys.exit(_convert(sys.argv[1], sys.argv[2]))
