"""The record written after every tool call: what ran, with which arguments, from where, how it
went and how long it took. One JSON line per call in `calls.jsonl` in the data directory, flushed
and fsynced before the reply is spoken (issue 8 chains these records into a tamper-evident audit)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.plugins.api import ToolCall, ToolResult


@dataclass(frozen=True)
class CallRecord:
    t: float
    tool: str
    args: dict[str, Any]
    source: str
    """"template" or "llm"."""
    score: float
    text: str
    """The request the call came from."""
    ok: bool
    duration_s: float
    result: dict[str, Any]

    @classmethod
    def of(cls, call: ToolCall, result: ToolResult, duration_s: float) -> CallRecord:
        return cls(round(time.time(), 3), call.tool, call.args, call.source, call.score, call.text,
                   result.ok, round(duration_s, 4), result.data)


class CallLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: CallRecord) -> None:
        line = json.dumps(asdict(record), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def read(self) -> list[CallRecord]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [CallRecord(**json.loads(line)) for line in f if line.strip()]
