"""The audit trail: every tool call (from voice, the phone, a routine or the command line), every
refused permission and every administrative change (with who made it), one JSON line each in
`audit.jsonl`, chained so that a changed, removed or inserted line is found.

Each line carries its sequence number and a MAC: HMAC-SHA256, under a key derived from the vault key,
over the previous line's MAC and this line's content. Changing a line breaks its MAC; removing one
breaks the sequence and the next MAC. The trail begins when the vault key is made, with a
"trail_started" entry (vault.py), so a trail that is missing, empty or begins with anything else
beside an existing key was deleted. Removing the last lines is found by `audit.head`: the newest
sequence number and MAC, signed (HMAC-SHA256 under a second key derived for "audit-head") so that
nobody without the key can write one, and replaced atomically after every append. A missing, damaged
or unsigned head is a problem, never a note. The one head accepted behind the trail is exactly one
entry behind, naming the entry before the newest: a crash between writing a line and its head
leaves that, and nobody without the key can add the extra line.

What is still possible:
- Someone who can read `vault.key` (its owner) can rewrite the whole trail so that it verifies: the
  README's security section says so.
- Replaying an old copy: someone who saved `audit.jsonl` and `audit.head` together at some moment can
  put both back later (or cut the trail back to the length of a saved head and put that head back),
  and the trail verifies as it was then; the entries written since are gone without a trace. The head
  proves the trail is as long as it was when that head was written, not that it is the newest head.
- Deleting `vault.key` with the trail: the next start makes a new key and a new trail that verifies.
  The secrets no longer open (the vault says the key was replaced); the trail itself cannot tell.
- A crash in the milliseconds between making the vault key and writing the first entry leaves a key
  without a trail, reported as a deleted trail (`assistant audit --start-new` begins a new one).

Values under names that look like secrets (token, password, key …) are written as "[redacted]".
The trail and its head are opened only when they are regular files (or links to one), never blocking:
a FIFO, a directory or a link to a device in their place is a problem for `verify` and an AuditError
for a writer, never a hang. Lines are read one at a time; one over MAX_LINE bytes is a damaged line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import hmac
import itertools
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from assistant.core.errors import AssistantError
from assistant.core.store import atomic_write
from assistant.trust.keys import KEY_FILE, derive

LOG_FILE = "audit.jsonl"
HEAD_FILE = "audit.head"
AUDIT_PURPOSE = "audit"
HEAD_PURPOSE = "audit-head"
STARTED = "trail_started"
ADMIN = "admin"
REDACTED = "[redacted]"
MAX_LINE = 1 << 20
"""The longest line an entry may take, in bytes (without its newline): a longer one is a damaged line."""
MAX_HEAD = 4096
"""The largest head, in bytes: a larger one is a damaged head."""
_SECRET_NAME = re.compile(r"token|passw|secret|api_?key|credential|private|^key$|_key$|cookie|auth", re.IGNORECASE)


class AuditError(AssistantError):
    code = "audit"


class NotRegularFile(AuditError):
    """The trail or its head is something else than a regular file: reading it could hang (a FIFO)
    or never end (a link to /dev/zero), and nothing in it can be trusted."""

    def __init__(self, path: Path, mode: int, linked: bool) -> None:
        what = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a directory"
            if stat.S_ISDIR(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "missing"
            if not mode
            else "not a plain file"
        )
        super().__init__(
            f"{path.name} is not a regular file ({'a link to ' + what if linked else what}): "
            "the trail cannot be trusted"
        )


def _open_regular(path: Path, flags: int) -> int:
    """`path` opened with `flags` (os.O_CREAT makes it when it is not there), without blocking and only
    when it is a regular file or a link to one: NotRegularFile for anything else, checked before opening
    (so no device is opened) and again on what was opened (so nothing swapped in between gets through)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        mode = stat.S_IFREG
    linked = stat.S_ISLNK(mode)
    if linked:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = 0
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, mode, linked)
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC | (0 if linked else os.O_NOFOLLOW), 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode, linked)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lines(f: BinaryIO) -> Iterator[bytes | None]:
    """Each line of `f` with its newline (a last line a crash cut short without), one at a time; None
    for a line longer than MAX_LINE, read past without being held."""
    while line := f.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def _seq(value: object) -> int:
    """An entry's sequence number, which is a whole number (not a bool, a float such as 1e999, a string)."""
    if type(value) is not int:
        raise ValueError(f"its sequence number is {type(value).__name__} {value!r}, not a whole number")
    return value


def redacted(value: Any) -> Any:
    """`value` with everything under a secret-looking name replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SECRET_NAME.search(k) else redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v) for v in value]
    return value


def _canonical(entry: dict[str, Any]) -> bytes:
    return _utf8(json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


def _utf8(text: str) -> bytes:
    """A file name that is not UTF-8 comes as lone surrogates (caf\udce9.jpg): written as the JSON
    escape it reads back as, so the line and its MAC agree; every other character as before."""
    return text.encode("utf-8", "backslashreplace")


@dataclass
class Verdict:
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Chain:
    """What reading the lines found, for the head to be checked against."""

    newest: int = 0
    """The newest entry's sequence number (0: no entry)."""
    mac: str = ""
    """The newest entry's MAC."""
    before: str = ""
    """The MAC of the entry before the newest ("" when the newest is the first)."""


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Every readable entry of the trail at `path`, oldest first (damaged lines skipped: `verify`
    names them). Reading needs no key; NotRegularFile when the trail is not a regular file."""
    try:
        f = os.fdopen(_open_regular(path, os.O_RDONLY), "rb")
    except FileNotFoundError:
        return
    with f:
        for line in _lines(f):
            try:
                entry = json.loads(line or b"")
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


class AuditLog:
    def __init__(self, data_dir: Path, key: bytes) -> None:
        """`key`: the vault key derived for AUDIT_PURPOSE (`vault.trail_of` does that)."""
        self.path = data_dir / LOG_FILE
        self.head_path = data_dir / HEAD_FILE
        self._key = key
        self._head_key = derive(key, HEAD_PURPOSE)

    def _mac(self, previous: str, entry: dict[str, Any]) -> str:
        return hmac.new(self._key, previous.encode() + b"\n" + _canonical(entry), hashlib.sha256).hexdigest()

    def _head_tag(self, seq: int, mac: str) -> str:
        return hmac.new(self._head_key, f"{seq}\n{mac}".encode(), hashlib.sha256).hexdigest()

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The trail open for appending, locked against every other writer (threads and processes:
        the assistant, `assistant skills install` …), so that no two write the same sequence number
        and a head is never replaced by an older one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_regular(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _tail(self, fd: int) -> tuple[int, str]:
        """The newest (sequence, MAC), read from the end of the trail open (and locked) as `fd` on every
        append (not kept: another writer may have appended since); a line a crash cut short is dropped
        (it was never acknowledged)."""
        last = (0, "")
        try:
            size = os.fstat(fd).st_size
            for window in (65536, 2 * MAX_LINE + 4):  # room for a cut-short line and the newest whole one
                start = max(0, size - window)
                chunk = os.pread(fd, window, start)
                cut = chunk.rfind(b"\n") + 1  # the end of the newest whole line
                if start == 0 or b"\n" in chunk[: max(cut - 1, 0)]:
                    break
            else:
                raise ValueError(f"its last lines are longer than {MAX_LINE} bytes")
            if cut < len(chunk):
                os.ftruncate(fd, start + cut)
                chunk = chunk[:cut]
            lines = chunk.splitlines()
            if lines:
                newest = json.loads(lines[-1])
                last = (_seq(newest["seq"]), str(newest["mac"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AuditError(
                f"the audit trail {self.path} is damaged at its end ({e}); "
                "run `assistant audit --verify`, then `assistant audit --start-new`"
            ) from e
        return last

    def _write_head(self, seq: int, mac: str) -> None:
        atomic_write(self.head_path, json.dumps({"seq": seq, "mac": mac, "tag": self._head_tag(seq, mac)}))

    def _write(self, fd: int, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        seq, previous = self._tail(fd)
        entry = {"seq": seq + 1, "t": round(time.time(), 3), "kind": kind, **redacted(fields)}
        entry["mac"] = self._mac(previous, entry)
        size = os.fstat(fd).st_size
        try:
            os.write(fd, _utf8(json.dumps(entry, ensure_ascii=False, default=str) + "\n"))
            os.fsync(fd)
            self._write_head(entry["seq"], entry["mac"])
        except OSError as e:
            # Taken back whole, so the trail and its head still agree (a full disk must not look like
            # an old head put back); the entry was not written, and the caller is told so.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise AuditError(
                f"cannot write the audit trail {self.path}: {e.strerror or e}; free some space "
                "on that disk (or make it writable), then try again",
                code="disk_full" if e.errno == errno.ENOSPC else "audit",
            ) from None
        return entry

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one entry, durably, and then the head, before returning it."""
        with self._locked() as fd:
            return self._write(fd, kind, fields)

    def start(self, reason: str, **fields: Any) -> dict[str, Any]:
        """Begin the trail with its "trail_started" entry. A head at 0 is written first, so a crash
        before the first head leaves a head one behind, never none."""
        with self._locked() as fd:
            if self._tail(fd)[0] == 0:
                self._write_head(0, "")
            return self._write(fd, STARTED, {"reason": reason, **fields})

    def start_new(self, who: str) -> Path | None:
        """Set the trail and its head aside (renamed with the time) and begin a new trail that says
        so; the old one, if there was one, is returned (kept for whoever wants to read it)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{LOG_FILE}.{stamp}.old") if self.path.exists() else None
        if kept is not None:
            self.path.rename(kept)
        if self.head_path.exists():
            self.head_path.rename(self.head_path.with_name(f"{HEAD_FILE}.{stamp}.old"))
        self.start("started again", who=who, previous=kept.name if kept else None)
        return kept

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every readable entry, oldest first (damaged lines skipped: `verify` names them)."""
        return read_entries(self.path)

    def verify(self) -> Verdict:
        """Every line, the start of the trail and its head: a problem for anything removed or
        changed, a note for what a crash leaves."""
        verdict = Verdict()
        chain = _Chain()
        try:
            with os.fdopen(_open_regular(self.path, os.O_RDONLY), "rb") as f:
                lines = _lines(f)
                first = next(lines, b"")
                chain = self._check_lines(itertools.chain([] if first == b"" else [first], lines), verdict)
                self._check_start(first, verdict)
        except FileNotFoundError:
            verdict.problems.append(
                f"{self.path.name} is missing beside {KEY_FILE}: the trail was deleted, and every entry it held with it"
            )
        except NotRegularFile as e:
            verdict.problems.append(str(e))
        except OSError as e:
            verdict.problems.append(f"{self.path.name} cannot be read ({e.strerror or e}): the trail cannot be checked")
        self._check_head(chain, verdict)
        return verdict

    def _check_lines(self, lines: Iterable[bytes | None], verdict: Verdict) -> _Chain:
        previous, before, expected = "", "", 1
        for number, line in enumerate(lines, 1):
            if line is not None and not line.endswith(b"\n"):
                verdict.notes.append(
                    "the last line was cut short by a crash while it was written (it was never acknowledged)"
                )
                break
            try:
                if line is None:
                    raise ValueError(f"longer than {MAX_LINE} bytes")
                entry = json.loads(line)
                mac = str(entry.pop("mac"))
                seq = _seq(entry["seq"])
            except (ValueError, KeyError, TypeError, AttributeError):
                verdict.problems.append(f"line {number} is not an audit entry")
                continue
            if seq != expected:
                what = f"entries {expected}-{seq - 1} are missing" if seq > expected else f"entry {seq} appears again"
                verdict.problems.append(f"line {number}: {what}")
            if not hmac.compare_digest(mac, self._mac(previous, entry)):
                verdict.problems.append(f"line {number} (entry {seq}) was changed, or the line before it was")
            before, previous, expected = previous, mac, seq + 1
            verdict.entries += 1
        return _Chain(expected - 1, previous, before)

    def _check_start(self, first: bytes | None, verdict: Verdict) -> None:
        try:
            kind = json.loads(first or b"").get("kind")
        except (ValueError, AttributeError):
            return  # an empty trail (the head says whether it should hold entries), or a line _check_lines names
        if kind != STARTED:
            verdict.problems.append(
                f"the trail does not begin with its start ('{STARTED}') but with a '{kind}' "
                "entry: the trail before it was deleted (or it was made by a version that did "
                "not start trails; `assistant audit --start-new` begins a new one)"
            )

    def _check_head(self, chain: _Chain, verdict: Verdict) -> None:
        head = self._head(verdict)
        if head is None:
            return
        seq, mac = head
        if seq > chain.newest:
            verdict.problems.append(
                f"entries {chain.newest + 1}-{seq} were removed from the end "
                f"({self.head_path.name} says the trail reached entry {seq})"
            )
        elif seq == chain.newest:
            if not hmac.compare_digest(mac, chain.mac):
                verdict.problems.append(f"the newest entry ({seq}) is not the one that was written")
        elif seq == chain.newest - 1 and hmac.compare_digest(mac, chain.before):
            verdict.notes.append(
                f"entry {chain.newest} was written but {self.head_path.name} not yet updated (the "
                "assistant stopped between the two writes); the next entry updates it"
            )
        else:
            verdict.problems.append(
                f"{self.head_path.name} is an older one (entry {seq}; the trail reaches entry "
                f"{chain.newest}): an old copy was put back"
            )

    def _head(self, verdict: Verdict) -> tuple[int, str] | None:
        """The head's (sequence, MAC) if it is there and signed with the key; else None, with the problem."""
        name = self.head_path.name
        try:
            with os.fdopen(_open_regular(self.head_path, os.O_RDONLY), "rb") as f:
                raw = f.read(MAX_HEAD + 1)
            if len(raw) > MAX_HEAD:
                raise ValueError(f"longer than {MAX_HEAD} bytes")
            data = json.loads(raw)
            seq, mac, tag = _seq(data["seq"]), str(data["mac"]), str(data["tag"])
        except NotRegularFile as e:
            verdict.problems.append(str(e))
            return None
        except FileNotFoundError:
            verdict.problems.append(
                f"{name} is missing: it is rewritten after every entry and only deleting it "
                "removes it, so entries may have been removed from the end without a trace"
            )
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            verdict.problems.append(
                f"{name} is damaged or unsigned ({type(e).__name__}: {e}): whether entries were "
                "removed from the end cannot be checked"
            )
            return None
        if not hmac.compare_digest(tag, self._head_tag(seq, mac)):
            verdict.problems.append(
                f"{name} was not written with this vault key (its signature does not match): it "
                "was replaced by someone without the key"
            )
            return None
        return seq, mac


def describe(entry: dict[str, Any]) -> str:
    """One line a person reads: when, from where, what, and how it went."""
    when = dt.datetime.fromtimestamp(float(entry.get("t", 0))).strftime("%Y-%m-%d %H:%M:%S")
    kind = entry.get("kind", "?")
    if kind == "tool_call":
        args = ", ".join(f"{k}={v!r}" for k, v in (entry.get("args") or {}).items())
        status = "ok" if entry.get("ok") else f"failed: {(entry.get('result') or {}).get('error', '')}"
        took = f"{float(entry.get('duration_s', 0)) * 1000:.0f} ms"
        return f"{entry.get('seq'):>6}  {when}  {entry.get('origin', '?'):<8} {entry.get('tool')}({args})  {status}  {took}"
    if kind == ADMIN:
        detail = ", ".join(
            f"{k}={v}" for k, v in entry.items() if k not in ("seq", "t", "kind", "mac", "action", "who")
        )
        return f"{entry.get('seq'):>6}  {when}  {entry.get('who', '?'):<8} {entry.get('action')}: {detail}"
    detail = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("seq", "t", "kind", "mac"))
    return f"{entry.get('seq'):>6}  {when}  {kind:<8} {detail}"
