"""Crash-safe JSON documents in the data directory: temp file, fsync, atomic rename, schema version."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError


class StoreError(AssistantError):
    code = "store"


class JsonDocument:
    """One JSON file holding one versioned document. A reader never sees a half-written file."""

    def __init__(self, path: Path, schema: int) -> None:
        self.path = path
        self.schema = schema

    def load(self, default: Any) -> Any:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return default
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            # Keep the damaged file for the person to inspect; never overwrite it silently.
            raise StoreError(
                f"{self.path} is damaged ({e.msg}); move it aside to start fresh, nothing was changed"
            ) from e
        version = doc.get("schema") if isinstance(doc, dict) else None
        if version != self.schema:
            raise StoreError(f"{self.path} has schema {version!r}, this version reads schema {self.schema}")
        return doc.get("data", default)

    def save(self, data: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"schema": self.schema, "data": data}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
