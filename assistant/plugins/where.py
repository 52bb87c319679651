"""The room a request was spoken in, for the skills that act on "the light" or ring "here".

A satellite's voice loop runs in a context where `ROOM` names its room; every task and tool thread
started from it (asyncio copies the context) sees the same value. The assistant's own microphone has
no room unless one is configured, so nothing changes for a one-box home. It lives beside the skill API
because skills read it; the voice loop and the satellites set it.
"""

from __future__ import annotations

from contextvars import ContextVar

ROOM: ContextVar[str | None] = ContextVar("room", default=None)


def here() -> str | None:
    """The room of the request being served, or None where it is not known."""
    return ROOM.get()
