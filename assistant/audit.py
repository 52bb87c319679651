"""The audit trail: every tool call (from voice, the phone, a routine or the command line) and every
refused permission, one JSON line each in `audit.jsonl`, chained so that a changed, removed or
inserted line is found.

Each line carries its sequence number and a MAC: HMAC-SHA256, under a key derived from the vault key,
over the previous line's MAC and this line's content. Changing a line breaks its MAC; removing one
breaks the sequence and the next MAC; removing the last lines is found by `audit.head`, which holds
the newest sequence number and MAC and is replaced atomically after every append. Without the key
(only its owner can read it) nobody can write a line that verifies. Someone who can read the key can
rewrite the whole trail: the README's security section says so.

Values under names that look like secrets (token, password, key …) are written as "[redacted]".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.store import atomic_write

LOG_FILE = "audit.jsonl"
HEAD_FILE = "audit.head"
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"token|passw|secret|api_?key|credential|private|^key$|_key$|cookie|auth", re.IGNORECASE)


class AuditError(AssistantError):
    code = "audit"


def redacted(value: Any) -> Any:
    """`value` with everything under a secret-looking name replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SECRET_NAME.search(k) else redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v) for v in value]
    return value


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


@dataclass
class Verdict:
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(self, data_dir: Path, key: bytes) -> None:
        self.path = data_dir / LOG_FILE
        self.head_path = data_dir / HEAD_FILE
        self._key = key
        self._lock = threading.Lock()

    def _mac(self, previous: str, entry: dict[str, Any]) -> str:
        return hmac.new(self._key, previous.encode() + b"\n" + _canonical(entry), hashlib.sha256).hexdigest()

    def _tail(self) -> tuple[int, str]:
        """The newest (sequence, MAC), read from the file's end on every append (not kept: another
        writer of the same folder, such as `assistant skills install`, may have appended since); a
        line a crash cut short is dropped (it was never acknowledged)."""
        last = (0, "")
        try:
            with self.path.open("rb+") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - 65536))
                chunk = f.read()
                if chunk and not chunk.endswith(b"\n"):
                    cut = chunk.rfind(b"\n") + 1
                    f.truncate(size - (len(chunk) - cut))
                    chunk = chunk[:cut]
                lines = chunk.splitlines()
                if lines:
                    newest = json.loads(lines[-1])
                    last = (int(newest["seq"]), str(newest["mac"]))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AuditError(f"the audit trail {self.path} is damaged at its end ({e}); "
                             "run `assistant audit --verify` and move it aside to start a new one") from e
        return last

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one entry, durably, before returning it."""
        with self._lock:
            seq, previous = self._tail()
            entry = {"seq": seq + 1, "t": round(time.time(), 3), "kind": kind, **redacted(fields)}
            entry["mac"] = self._mac(previous, entry)
            line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            atomic_write(self.head_path, json.dumps({"seq": entry["seq"], "mac": entry["mac"]}))
            return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every readable entry, oldest first (damaged lines skipped: `verify` names them)."""
        try:
            with self.path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(entry, dict):
                        yield entry
        except FileNotFoundError:
            return

    def verify(self) -> Verdict:
        verdict = Verdict()
        previous, expected = "", 1
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
            if self.head_path.exists():
                verdict.problems.append(f"{self.path.name} is gone, though {self.head_path.name} says it had entries")
        lines = raw.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline
        if torn:
            verdict.notes.append("the last line was cut short by a crash while it was written (it was never acknowledged)")
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                mac = str(entry.pop("mac"))
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError, AttributeError):
                verdict.problems.append(f"line {number} is not an audit entry")
                continue
            if seq != expected:
                what = f"entries {expected}-{seq - 1} are missing" if seq > expected else f"entry {seq} appears again"
                verdict.problems.append(f"line {number}: {what}")
            if not hmac.compare_digest(mac, self._mac(previous, entry)):
                verdict.problems.append(f"line {number} (entry {seq}) was changed, or the line before it was")
            previous, expected = mac, seq + 1
            verdict.entries += 1
        head = self._head()
        if head is not None:
            newest = expected - 1
            if head[0] > newest:
                verdict.problems.append(f"entries {newest + 1}-{head[0]} were removed from the end")
            elif head[0] == newest and head[1] != previous:
                verdict.problems.append(f"the newest entry ({newest}) is not the one that was written")
        elif verdict.entries:
            verdict.notes.append(f"{self.head_path.name} is missing: removal of the newest entries cannot be checked")
        return verdict

    def _head(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self.head_path.read_text(encoding="utf-8"))
            return int(data["seq"]), str(data["mac"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return (-1, "")


def describe(entry: dict[str, Any]) -> str:
    """One line a person reads: when, from where, what, and how it went."""
    when = dt.datetime.fromtimestamp(float(entry.get("t", 0))).strftime("%Y-%m-%d %H:%M:%S")
    kind = entry.get("kind", "?")
    if kind == "tool_call":
        args = ", ".join(f"{k}={v!r}" for k, v in (entry.get("args") or {}).items())
        status = "ok" if entry.get("ok") else f"failed: {(entry.get('result') or {}).get('error', '')}"
        took = f"{float(entry.get('duration_s', 0)) * 1000:.0f} ms"
        return f"{entry.get('seq'):>6}  {when}  {entry.get('origin', '?'):<8} {entry.get('tool')}({args})  {status}  {took}"
    detail = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("seq", "t", "kind", "mac"))
    return f"{entry.get('seq'):>6}  {when}  {kind:<8} {detail}"
