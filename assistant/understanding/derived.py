"""What the planner derives from the templates, kept on disk between starts.

The worked examples in the planner's prompt and the sampled phrases its tool index reads are made by
sampling every template and matching the samples back: about 10 s on two cores at every start that
loads the planner (`assistant run`, `assistant ask` with the LLM), for a result that changes only when
a template, a tool or the code that makes them changes. So they are kept in the model cache under a
key made of all three; what does not read back exactly as it was written is made again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from assistant.core.paths import PROJECT
from assistant.core.store import atomic_write
from assistant.plugins.api import ToolCall
from assistant.understanding.prompt import ToolPhrases

log = logging.getLogger(__name__)

T = TypeVar("T")

CODE = (PROJECT / "assistant", PROJECT / "skills")
"""The code the examples and phrases come from: the matcher, the tools' validation, the skills."""
KEPT = 32
"""Derived files kept, most recently written first (a few kilobytes to a few hundred each)."""


@functools.cache
def code_digest() -> str:
    """Every file of the assistant's code and built-in skills, with its path (about 20 ms)."""
    digest = hashlib.sha256()
    for root in CODE:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(PROJECT)).encode() + b"\0" + _contents(path))
    for package in ("hassil", "home-assistant-intents"):
        try:
            digest.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(package.encode())
    return digest.hexdigest()


def _contents(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:  # unreadable: it counts by its error, and nothing is served from an old read
        return f"unreadable: {e}".encode()


def module_digest(obj: object) -> str:
    """The code a skill (built in or from another package) runs in this process, by its module's file."""
    module = sys.modules.get(type(obj).__module__)
    source = getattr(module, "__file__", None)
    return hashlib.sha256(_contents(Path(source))).hexdigest() if source else type(obj).__module__


class DerivedCache:
    def __init__(self, source: object, folder: Path) -> None:
        """`source`: everything the templates and tools are made of, as JSON-able data."""
        self.folder = folder
        text = json.dumps(source, sort_keys=True, default=repr)
        self.key = hashlib.sha256((code_digest() + "\0" + text).encode()).hexdigest()[:24]

    def examples(self, make: Callable[[], list[ToolCall]]) -> list[ToolCall]:
        return self.kept(
            "examples",
            make,
            lambda calls: [[c.tool, c.args, c.text] for c in calls],
            lambda kept: [ToolCall(tool, args, "template", text) for tool, args, text in kept],
        )

    def phrases(self, make: Callable[[], ToolPhrases]) -> ToolPhrases:
        return self.kept(
            "phrases",
            make,
            lambda phrases: {
                "sentences": phrases.sentences,
                "live_lists": {tool: sorted(names) for tool, names in phrases.live_lists.items()},
                "words": phrases.words,
            },
            lambda kept: ToolPhrases(
                sentences={str(k): [str(s) for s in v] for k, v in kept["sentences"].items()},
                live_lists={str(k): set(v) for k, v in kept["live_lists"].items()},
                words={str(k): [str(w) for w in v] for k, v in kept["words"].items()},
            ),
        )

    def shapes(self, make: Callable[[], tuple[list[str], list[str]]]) -> tuple[list[str], list[str]]:
        """The templates' sentence shapes for fuzzy matching (matcher.template_shapes)."""
        return self.kept(
            "shapes",
            make,
            lambda shapes: [shapes[0], shapes[1]],
            lambda kept: ([str(s) for s in kept[0]], [str(s) for s in kept[1]]),
        )

    def kept(self, what: str, make: Callable[[], T], dump: Callable[[T], Any], load: Callable[[Any], T]) -> T:
        """`what` read back from disk, else made (and kept for the next start)."""
        kept = self._read(what)
        if kept is not None:
            try:
                return load(kept)
            except (TypeError, ValueError, KeyError, AttributeError, IndexError):
                log.warning("ignoring the unreadable cached planner %s %s", what, self._path(what))
        value = make()
        self._write(what, dump(value))
        return value

    def _path(self, what: str) -> Path:
        return self.folder / f"{self.key}.{what}.json"

    def _read(self, what: str) -> Any:
        path = self._path(what)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("ignoring the unreadable cached %s %s: %s", what, self._path(what), e)
            return None
        with contextlib.suppress(OSError):  # a read-only cache is read all the same
            os.utime(path)  # used now: the pruning keeps what is used
        return data

    def _write(self, what: str, data: Any) -> None:
        text = json.dumps(data)  # in order: the prompt shows each call's arguments as they are here
        if json.loads(text) != data:  # something JSON would change (a tuple, a float key): made each time
            return
        try:
            atomic_write(self._path(what), text)
        except OSError as e:
            log.warning("cannot cache the planner's %s in %s: %s", what, self.folder, e)
            return
        self._prune()

    def _prune(self) -> None:
        found = []
        for path in self.folder.glob("*.json"):
            try:
                found.append((path.stat().st_mtime, path))
            except OSError:
                continue
        for _, path in sorted(found, reverse=True)[KEPT:]:
            try:
                path.unlink()
            except OSError:
                pass
