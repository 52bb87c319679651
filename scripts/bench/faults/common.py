"""What every fault needs: its figures and their targets, work in a forked child (the parent imported
the assistant once, so a child starts in a fraction of a second and the parent never holds a
thread when it forks), the command line run the same way, mounts, and the household's files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV = {
    "ASSISTANT__UNDERSTANDING__PLANNER": "false",
    "ASSISTANT__KNOWLEDGE__SEMANTIC": "false",
    "ASSISTANT__DEVICES__DISCOVERY": "false",
    "ASSISTANT__DEVICES__ANNOUNCE": "false",
    "ASSISTANT__WEB__ENABLED": "false",
}
"""Templates only, no embedding model, nothing on the network: the faults are about state, not models."""

TARGETS = ("lost", "twice", "changed", "mistimed", "tracebacks", "unclear")
"""Each must be 0."""


@dataclass
class Figures:
    """One fault's counts. Every one of TARGETS must be 0; `findings` says what went wrong, each once."""

    fault: str
    trials: int = 0
    lost: int = 0
    """Acknowledged items (a timer, a routine's end, a photo, a note) missing afterwards."""
    twice: int = 0
    """A journaled-done step run again, an item stored twice, a file found at two places, a ring repeated."""
    changed: int = 0
    """A file whose bytes differ, or that is where no journal put it; state not as it was before a refused write."""
    mistimed: int = 0
    """Rang more than a second and a half from when it should (a timer after its duration of elapsed
    time; an alarm or reminder at its wall-clock time, or at once when a jump skipped it)."""
    tracebacks: int = 0
    """A Python traceback on stderr or in the log, or a child that died by itself."""
    unclear: int = 0
    """A failure told without a clear one-line sentence (or with exit code 0)."""
    recovery_s: list[float] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    def find(self, text: str) -> None:
        if text not in self.findings:
            self.findings.append(text)

    @property
    def median_recovery_s(self) -> float | None:
        return round(statistics.median(self.recovery_s), 3) if self.recovery_s else None

    @property
    def met(self) -> bool:
        return self.skipped is not None or all(getattr(self, t) == 0 for t in TARGETS)

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("recovery_s")
        out.update(median_recovery_s=self.median_recovery_s, recoveries=len(self.recovery_s), met=self.met)
        return out


# --- forked children --------------------------------------------------------------------------


def fork(work: Callable[[int], None], stderr: Path | None = None) -> tuple[int, int]:
    """Start `work(write_fd)` in a forked child; (its pid, the read end of its pipe)."""
    assert threading.active_count() == 1, "never fork with threads running: a lock held by one would stay held"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read)
            os.setsid()  # its own group: a kill reaches what it started too
            if stderr is not None:
                fd = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 2)
            work(write)
        except BaseException:
            traceback.print_exc()
            code = 70
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    os.close(write)
    return pid, read


def read_lines(fd: int, until: float, buffer: bytearray, first: str | None = None) -> tuple[list[str], bool]:
    """Lines from a child's pipe until the monotonic time `until` (or a line starting with `first`);
    (lines, the pipe closed)."""
    lines: list[str] = []
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return lines, False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return lines, False
        chunk = os.read(fd, 65536)
        if not chunk:
            return lines, True
        if b"\n" not in chunk:
            buffer.extend(chunk)
            continue
        *complete, rest = (bytes(buffer) + chunk).split(b"\n")
        buffer[:] = rest
        lines += [line.decode() for line in complete]
        if first is not None and any(line.startswith(first) for line in lines):
            return lines, False


def reap(pid: int, timeout_s: float = 30.0) -> int:
    """The child's wait status, killing its group first if it outlives `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.01)


def in_fork(work: Callable[..., Any], *args: Any, timeout_s: float = 120.0) -> dict[str, Any]:
    """`work(*args)` (which returns something JSON can hold) in a forked child, so whatever threads
    and files it opens end with it. {"value": …} or {"error": the traceback}."""

    def child(fd: int) -> None:
        try:
            out: dict[str, Any] = {"value": work(*args)}
        except BaseException:
            out = {"error": traceback.format_exc()}
        with os.fdopen(fd, "w") as pipe:
            pipe.write(json.dumps(out, default=str))

    pid, fd = fork(child)
    buffer = bytearray()
    deadline = time.monotonic() + timeout_s
    closed = False
    while not closed and time.monotonic() < deadline:
        _, closed = read_lines(fd, deadline, buffer)
    os.close(fd)
    status = reap(pid, 1.0 if closed else 0.0)
    if not closed:
        return {"error": f"{getattr(work, '__name__', work)} did not finish within {timeout_s:g} s"}
    try:
        return json.loads(bytes(buffer).decode())
    except ValueError:
        return {"error": f"{getattr(work, '__name__', work)} died (wait status {status}) before it answered"}


def cli(argv: list[str], env: dict[str, str] | None = None, timeout_s: float = 120.0) -> tuple[int, str, str]:
    """`assistant <argv>` as `python -m assistant` runs it (assistant/__main__.py: main(), and
    Python's own traceback for what escapes it), in a forked child: (exit code, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="faults-cli-") as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"

        def child(fd: int) -> None:
            os.close(fd)
            os.environ.update({**ENV, **(env or {})})
            out = os.open(out_path, os.O_WRONLY | os.O_CREAT, 0o644)
            err = os.open(err_path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.dup2(out, 1)
            os.dup2(err, 2)
            sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
            sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
            from assistant.cli.main import main

            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

        pid, fd = fork(child)
        os.close(fd)
        status = reap(pid, timeout_s)
        code = os.waitstatus_to_exitcode(status)
        return code, out_path.read_text(errors="replace"), err_path.read_text(errors="replace")


# --- judging what a person is told ------------------------------------------------------------


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def trace_summary(text: str) -> str:
    """A traceback as one line: its last line and the deepest frame in the assistant's own code."""
    lines = text.strip().splitlines()
    frames = [line.strip() for line in lines if line.strip().startswith("File ") and "/assistant/" in line]
    where = ""
    if frames:
        parts = frames[-1].split('"')
        path = parts[1].split("/assistant/", 1)[-1] if len(parts) > 1 else ""
        where = f" at assistant/{path}{parts[2].split(',')[1].replace(' line ', ':')}" if len(parts) > 2 else ""
        where += f" ({parts[2].split(' in ')[-1]})" if " in " in parts[2] else ""
    return f"{lines[-1].strip() if lines else ''}{where}"


def clear_message(stderr: str) -> bool:
    """One sentence for a person: non-empty, at most two lines, no traceback, no Python repr of an
    exception class ("OSError(30, …)", "[Errno 28]" alone is allowed inside a sentence)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if not lines or len(lines) > 2 or has_traceback(stderr):
        return False
    text = " ".join(lines)
    return len(text.split()) >= 4 and not any(f"{name}(" in text for name in ("OSError", "PermissionError", "Error"))


# --- mounts (root, inside `unshare -m`) -------------------------------------------------------


def can_mount() -> bool:
    return os.geteuid() == 0 and os.environ.get("FAULTS_MOUNT_NS") == "1"


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)


def mount_read_only(path: Path) -> None:
    """`path` bound onto itself read-only: root cannot write there either (chmod would not stop root)."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill_up(folder: Path) -> int:
    """Fill the file system under `folder` until it takes no more byte; the bytes written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 8, 1):
            block = b"\0" * size
            while True:
                try:
                    f.write(block)
                except OSError:
                    break
                written += size
    n = 0
    while True:  # the last free inodes and pages, in tiny files
        try:
            (folder / f"filler.{n}").write_bytes(b"x")
        except OSError:
            break
        n += 1
        if n > 10_000:
            break
    return written


# --- the household's files --------------------------------------------------------------------


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    """Every regular file under `folder` by path: its SHA-256."""
    return {str(p): sha(p) for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def make_photos(folder: Path, count: int, seed: int) -> None:
    """Small JPEGs with a capture date (EXIF DateTimeOriginal) over two years, each one's pixels
    its own, so every file is told apart by its hash."""
    from PIL import Image

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = Image.new("RGB", (16, 16))
        image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(256)])
        exif = Image.Exif()
        month = 1 + i % 12
        exif.get_ifd(0x8769)[0x9003] = f"{2023 + i % 2}:{month:02d}:{1 + i % 28:02d} 10:{i % 60:02d}:00"
        image.save(folder / f"IMG_{i:04d}.jpg", "JPEG", exif=exif, quality=90)


def word(n: int) -> str:
    """A made-up word for `n` ("bakeno"): names and texts the assistant takes as words, not numbers."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    out = ""
    n += 70  # at least three syllables
    while n:
        n, c = divmod(n, len(consonants))
        n, v = divmod(n, len(vowels))
        out += consonants[c] + vowels[v]
    return out


@contextlib.contextmanager
def scratch(prefix: str, keep: Path | None = None) -> Iterator[Path]:
    """A folder for one fault, removed after it (kept under `keep` when given, for a look afterwards)."""
    if keep is not None:
        path = keep / prefix
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"faults-{prefix}-") as tmp:
        yield Path(tmp)
