"""Where the assistant can speak: its own voice loop and each satellite's room (the room a request
came from is `plugins.where.ROOM`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from assistant.core.errors import SpeakError

Announce = Callable[[str], Awaitable[None]]


class Rooms:
    """Where the assistant can speak: its own voice loop, and each satellite's by its room.

    `assistant run` binds its own loop and adds each satellite; until then (`assistant ask`, tests)
    there is nowhere to speak and an announcement says so."""

    def __init__(self) -> None:
        self._here: Announce | None = None
        self._rooms: dict[str, Announce] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, here: Announce) -> None:
        """Call from the event loop: the assistant's own speaker, and the loop tools reach it through."""
        self._here = here
        self._loop = asyncio.get_running_loop()

    def add(self, room: str, announce: Announce) -> None:
        self._rooms[room] = announce

    def names(self) -> list[str]:
        return sorted(self._rooms)

    def speaker(self, room: str | None) -> Announce | None:
        """The room's own speaker; None for a room without one (it falls back to the assistant's)."""
        return self._rooms.get(room or "")

    async def announce(self, text: str, room: str | None = None) -> list[str]:
        """Say `text` in one room, or in every room with the assistant's own speaker too; returns
        where it was said ("here" for the assistant's own)."""
        targets: list[tuple[str, Announce]]
        if room is not None:
            target = self._rooms.get(room) or (self._here if not self._rooms else None)
            if target is None:
                raise SpeakError(f"there is no speaker in the {room}", code="no_room")
            targets = [(room, target)]
        else:
            targets = [*(([("here", self._here)]) if self._here else []), *self._rooms.items()]
        if not targets:
            raise SpeakError("there is no speaker to announce on while the assistant is not running", code="no_speaker")
        await asyncio.gather(*(say(text) for _, say in targets))
        return [name for name, _ in targets]

    def announce_from_thread(self, text: str, room: str | None = None) -> list[str]:
        """`announce` for a tool running in a worker thread."""
        if self._loop is None:
            raise SpeakError("there is no speaker to announce on while the assistant is not running", code="no_speaker")
        return asyncio.run_coroutine_threadsafe(self.announce(text, room), self._loop).result(timeout=10)
