"""The typed conversation's memory between one `assistant ask` and the next: the question waiting for
an answer ("Cancel all your timers?") and the last exchange, kept in `conversation.json` in the data
folder, so `assistant ask "yes"` answers what the previous `ask` asked, within
`understanding.followup_s`.

Written crash-safely (temp file, fsync, rename); times are kept as wall-clock times, since a process's
monotonic clock means nothing to the next one. What is read back is checked again: a tool that no
longer exists, or arguments it no longer takes, are forgotten, never run. A damaged file is only a
forgotten conversation.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError
from assistant.core.store import atomic_write
from assistant.plugins.api import ToolCall
from assistant.voice.dialogue import Dialogue, Exchange, Pending

log = logging.getLogger(__name__)

FILE_NAME = "conversation.json"
VERSION = 1


class ConversationFile:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def restore(self, dialogue: Dialogue) -> None:
        """Put the remembered question and exchange back into `dialogue`, if still fresh and valid."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.warning("%s cannot be read (%s): the typed conversation starts afresh", self.path, e)
            return
        if not isinstance(saved, dict) or saved.get("version") != VERSION:
            return
        age = time.time() - _number(saved.get("saved_at"))
        if not 0 <= age <= dialogue.followup_s:
            return
        pending = _pending(saved.get("pending"), dialogue)
        last = _exchange(saved.get("last"), dialogue)
        dialogue.recall(pending, last)

    def keep(self, dialogue: Dialogue) -> None:
        """Write what `dialogue` remembers now (an empty memory too: nothing is left to answer)."""
        pending, last = dialogue.memory()
        now_wall, now = time.time(), time.monotonic()
        record = {
            "version": VERSION,
            "saved_at": now_wall,
            "pending": None
            if pending is None
            else {
                "kind": pending.kind,
                "question": pending.question,
                "at": now_wall - (now - pending.at),
                "call": _call_record(pending.call),
            },
            "last": None
            if last is None
            else {
                "text": last.text,
                "reply": last.reply,
                "at": now_wall - (now - last.at),
                "call": _call_record(last.call),
            },
        }
        try:
            atomic_write(self.path, json.dumps(record, indent=1, sort_keys=True))
        except OSError as e:  # the reply stands; only the next `ask` will not know what this one asked
            log.warning("cannot save %s: %s", self.path, e.strerror or e)


def _call_record(call: ToolCall) -> dict[str, Any]:
    return {
        "tool": call.tool,
        "args": call.args,
        "source": call.source,
        "text": call.text,
        "score": call.score,
        "open_question": call.open_question,
    }


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("-inf")


def _monotonic(wall: object) -> float | None:
    """A wall-clock time from the file as this process's monotonic time; None if it is not a time."""
    at = _number(wall)
    if at == float("-inf") or at > time.time():
        return None
    return time.monotonic() - (time.time() - at)


def _call(data: object, dialogue: Dialogue, partial: bool) -> ToolCall | None:
    """The call as saved, its arguments validated again by its tool; None when it is no longer valid."""
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str) or not isinstance(data.get("args"), dict):
        return None
    try:
        spec = dialogue.registry.tool(data["tool"])
        args = spec.validate(data["args"], partial=partial)
        score = float(data.get("score", 1.0))
    except (AssistantError, KeyError, TypeError, ValueError) as e:
        log.warning("the remembered call to %s is dropped: %s", data.get("tool"), e)
        return None
    return ToolCall(
        tool=spec.qualified,
        args=args,
        source=str(data.get("source", "")),
        text=str(data.get("text", "")),
        score=min(max(score, 0.0), 1.0),
        open_question=bool(data.get("open_question", False)),
    )


def _pending(data: object, dialogue: Dialogue) -> Pending | None:
    if not isinstance(data, dict) or data.get("kind") not in ("missing", "confirm"):
        return None
    at = _monotonic(data.get("at"))
    call = _call(data.get("call"), dialogue, partial=data["kind"] == "missing")
    if at is None or call is None:
        return None
    return Pending(data["kind"], call, str(data.get("question", "")), at)


def _exchange(data: object, dialogue: Dialogue) -> Exchange | None:
    if not isinstance(data, dict):
        return None
    at = _monotonic(data.get("at"))
    call = _call(data.get("call"), dialogue, partial=True)
    if at is None or call is None:
        return None
    return Exchange(str(data.get("text", "")), call, str(data.get("reply", "")), at)
