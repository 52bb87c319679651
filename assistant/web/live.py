"""The page's websocket: the assistant's events out; typed text and push-to-talk audio in.

Each message in is a JSON object with a type ("text", "ptt_start", "ptt_end", "ptt_cancel") or a
binary frame of push-to-talk audio; anything else gets an error message and the connection lives on.
A phone's requests run beside the reading of its socket, so a long reply never stops it listening.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict
from typing import Any

from aiohttp import WSMsgType, web

from assistant.core.events import Event
from assistant.web.auth import Phone
from assistant.web.page_core import PageCore
from assistant.web.phone_person import speaker_of
from assistant.web.talk import PhoneTalk

MAX_TEXT_CHARS = 500
MAX_MESSAGE_BYTES = 256 * 1024
OUTBOX_SIZE = 1000
NOBODYS_EVENTS = frozenset({"ready", "timer_done", "due", "device_found", "device_lost", "service"})
"""Events outside any request that every phone is sent; their `text` (what a ring says: "Anna,
reminder: …") is left out for a phone that does not see the whole household's."""
LISTED = frozenset({"timer", "alarm", "reminder", "routine", "device", "media"})
"""The skills whose things the page lists: another's request that used one is sent as `changed`."""

Outbox = asyncio.Queue[dict[str, Any] | bytes | None]


class PhoneSockets:
    """Every open websocket of the page, each with the phone it belongs to."""

    def __init__(self, core: PageCore, talk: PhoneTalk | None, max_talk_s: float) -> None:
        self.core, self.talk, self.max_talk_s = core, talk, max_talk_s
        self._open: dict[web.WebSocketResponse, str] = {}
        self._requests: set[asyncio.Task[Any]] = set()  # phone requests in progress (held, or the loop may drop them)

    async def serve(self, request: web.Request, phone: Phone) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        self._open[ws] = phone.id
        outbox: Outbox = asyncio.Queue(maxsize=OUTBOX_SIZE)
        loop = asyncio.get_running_loop()

        def on_event(event: Event) -> None:  # published on the loop, or from a worker thread
            shown = self.shown(phone, event)
            if shown is not None:
                loop.call_soon_threadsafe(offer, outbox, shown)

        unsubscribe = self.core.bus.subscribe(on_event)
        sender = asyncio.create_task(_send_all(ws, outbox))
        session = _Session(self, ws, phone, outbox)
        try:
            await ws.send_json({"type": "hello", "phone": asdict(phone), "talk": self.talk is not None})
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await session.audio(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    await session.message(msg.data)
        finally:
            unsubscribe()
            self._open.pop(ws, None)
            sender.cancel()
        return ws

    def shown(self, phone: Phone, event: Event) -> dict[str, Any] | None:
        """What of `event` `phone` is sent, or None. An admin phone, and every phone while nobody's
        voice is enrolled, sees the whole household's. Any other sees its own requests' events whole;
        of the room's and other phones' requests only that something of a kind changed (`changed`:
        the page lists it again, as its own /api/state allows); and the events outside requests that
        say nothing of anyone (a timer rang, a device was found), a ring without its spoken words
        ("Anna, reminder: …"). Never what another asked and was answered ("what's my locker code"),
        nor a routine's readings."""
        if speaker_of(phone, self.core.household) is None:
            return event.to_dict()
        if event.turn is not None:
            if self.talk is not None and self.talk.made(phone.id, event.turn):
                return event.to_dict()
            skill = str(getattr(event, "tool", "")).split(".")[0]
            return {"type": "changed", "what": skill} if event.type == "tool_result" and skill in LISTED else None
        if event.type not in NOBODYS_EVENTS:
            return None
        return {k: v for k, v in event.to_dict().items() if k != "text"}

    async def close(self, phone_id: str | None, code: int, message: bytes) -> None:
        """Close the sockets of one phone (None: of every phone)."""
        for ws, owner in list(self._open.items()):
            if phone_id is None or owner == phone_id:
                await ws.close(code=code, message=message)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run a phone's request beside its websocket's reading, keeping hold of it until it ends."""
        task = asyncio.create_task(work)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)


class _Session:
    """One connection's reading: its push-to-talk recording in progress, if any."""

    def __init__(self, sockets: PhoneSockets, ws: web.WebSocketResponse, phone: Phone, outbox: Outbox) -> None:
        self.sockets, self.ws, self.phone, self.outbox = sockets, ws, phone, outbox
        self.recording: Recording | None = None

    async def audio(self, data: bytes) -> None:
        if self.recording is None:
            await self._error("audio came before ptt_start", "bad_request")
        elif not self.recording.add(data):
            self.recording = None
            await self._error(f"push-to-talk is limited to {self.sockets.max_talk_s:g} s", "too_long")

    async def message(self, text: str) -> None:
        try:
            data = json.loads(text)
            kind = data["type"]
        except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nested too deep
            await self._error("messages are JSON objects with a type", "bad_request")
            return
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self._error(f"unknown message type {kind!r}"[:200], "bad_request")
        elif self.sockets.talk is None and kind in _NEED_TALK:
            await self._error("the assistant is not ready to talk", "not_ready")
        else:
            await handler(self, data)

    async def _text(self, data: dict[str, Any]) -> None:
        await self._typed(data.get("text"))

    async def _ptt_start(self, data: dict[str, Any]) -> None:
        await self._start(data.get("rate"))

    async def _ptt_end(self, data: dict[str, Any]) -> None:
        self._end()

    async def _ptt_cancel(self, data: dict[str, Any]) -> None:
        self.recording = None

    async def _typed(self, value: object) -> None:
        text = request_text(value)
        if text is None:
            await self._error(f"text must be 1 to {MAX_TEXT_CHARS} characters", "bad_request")
            return
        assert self.sockets.talk is not None
        self.sockets.spawn(self.sockets.talk.typed(self.phone, text))

    async def _start(self, rate: object) -> None:
        if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
            await self._error("ptt_start needs the audio's rate, 8000 to 48000", "bad_request")
            return
        self.recording = Recording(rate, self.sockets.max_talk_s)

    def _end(self) -> None:
        if self.recording is None:
            return
        assert self.sockets.talk is not None
        done, self.recording = self.recording, None
        outbox = self.outbox
        self.sockets.spawn(
            self.sockets.talk.spoken(self.phone, done.pcm(), done.rate, lambda item: offer(outbox, item))
        )

    async def _error(self, message: str, code: str) -> None:
        await self.ws.send_json({"type": "error", "code": code, "message": message})


_HANDLERS: dict[str, Callable[[_Session, dict[str, Any]], Awaitable[None]]] = {
    "text": _Session._text,
    "ptt_start": _Session._ptt_start,
    "ptt_end": _Session._ptt_end,
    "ptt_cancel": _Session._ptt_cancel,
}
"""What a phone may send on its websocket, by type (audio comes as binary frames between ptt_start and ptt_end)."""

_NEED_TALK = frozenset({"text", "ptt_start", "ptt_end"})
"""The messages that need the assistant's understanding to be ready."""


class Recording:
    """Push-to-talk audio as it arrives: int16 mono little-endian frames at `rate`, bounded."""

    def __init__(self, rate: int, max_s: float) -> None:
        self.rate = rate
        self._limit = int(rate * max_s) * 2
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> bool:
        """False when the recording grew past its limit (it is then dropped)."""
        self._size += len(data)
        if self._size > self._limit:
            self._parts.clear()
            return False
        self._parts.append(data)
        return True

    def pcm(self) -> Any:
        import numpy as np

        raw = b"".join(self._parts)
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)


def request_text(value: object) -> str | None:
    """A typed request as sent, or None when it is not 1 to MAX_TEXT_CHARS characters of text."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_CHARS:
        return None
    return value


def offer(outbox: asyncio.Queue[Any], item: Any) -> None:
    """Queue for the page, dropping when a dead connection lets the queue fill."""
    if not outbox.full():
        outbox.put_nowait(item)


async def _send_all(ws: web.WebSocketResponse, outbox: Outbox) -> None:
    while True:
        item = await outbox.get()
        if item is None or ws.closed:
            return
        try:
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(json.dumps(item, default=str))
        except (ConnectionError, RuntimeError):
            return
