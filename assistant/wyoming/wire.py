"""Wyoming events read from the wire, bounded and type-checked, for every side of every connection
(our services, the satellite client, the remote speech client).

An event is a JSON header line (`type`, optional `data`, `data_length`, `payload_length`), then
`data_length` bytes of JSON data merged into `data`, then `payload_length` bytes of payload. The
`wyoming` library's reader trusts all of it: a number where text belongs, a header 5,000 arrays deep
or a length of a terabyte all reach the code that uses the event. Here anything that is not a
well-formed, reasonably sized event is a `BadFrame` with a one-line message, and the fields this
assistant reads are checked for their type (`FIELDS`) before any of it does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from wyoming.event import Event

from assistant.core.errors import AssistantError

MAX_HEADER_BYTES = 64 * 1024
"""Longest header line (the stream reader's own default limit)."""
MAX_DATA_BYTES = 1024 * 1024
"""Most JSON data after a header (a speech server's `info` with every voice fits many times)."""
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Largest payload (an audio chunk: about two minutes of 16 kHz 16-bit mono)."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a header or its data."""
MAX_TYPE_CHARS = 64


class BadFrame(AssistantError):
    """Bytes that are not a Wyoming event, or an event whose fields have the wrong types: the
    connection cannot be trusted to be in step any more and is closed."""

    code = "bad_frame"


@dataclass(frozen=True)
class Field:
    """One field of an event's data that this assistant reads."""

    kind: str
    """"str", "int", "bool", "dict" or "strs" (a list of strings)."""
    required: bool = False
    """Must be there; an optional field may also be null."""
    choices: tuple[str, ...] = ()
    """The only values a "str" may take, when not empty."""


_KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "strs": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
}
_NAMES = {
    "str": "a string",
    "int": "a whole number",
    "bool": "true or false",
    "dict": "an object",
    "strs": "a list of strings",
}

_AUDIO = {
    "rate": Field("int", True),
    "width": Field("int", True),
    "channels": Field("int", True),
    "timestamp": Field("int"),
}
_STAGES = ("wake", "asr", "handle", "intent", "tts")
FIELDS: dict[str, dict[str, Field]] = {
    "transcript": {
        "text": Field("str", True),
        "language": Field("str"),
        "context": Field("dict"),
        "token": Field("str"),
    },
    "transcribe": {
        "name": Field("str"),
        "language": Field("str"),
        "context": Field("dict"),
        "transcript_names": Field("strs"),
        "transcript_terms": Field("strs"),
    },
    "synthesize": {"text": Field("str", True), "voice": Field("dict"), "context": Field("dict")},
    "detect": {"names": Field("strs"), "context": Field("dict")},
    "detection": {"name": Field("str"), "timestamp": Field("int")},
    "audio-start": _AUDIO,
    "audio-chunk": _AUDIO,
    "audio-stop": {"timestamp": Field("int")},
    "ping": {"text": Field("str")},
    "pong": {"text": Field("str")},
    "error": {"text": Field("str", True), "code": Field("str")},
    "handled": {"text": Field("str")},
    "not-handled": {"text": Field("str")},
    "info": {"satellite": Field("dict")},
    "run-pipeline": {
        "start_stage": Field("str", True, _STAGES),
        "end_stage": Field("str", True, _STAGES),
        "wake_word_name": Field("str"),
        "restart_on_end": Field("bool"),
        "wake_word_names": Field("strs"),
        "announce_text": Field("str"),
    },
}
"""The fields read of each event type this assistant takes; other events and fields pass unread."""


def checked(event: Event) -> Event:
    """The event, when each field of FIELDS it has (or must have) is of its type; else a BadFrame."""
    for name, spec in FIELDS.get(event.type, {}).items():
        value = event.data.get(name)
        if value is None:
            if spec.required:
                raise BadFrame(f"a {event.type} event needs {name}")
            continue
        if not _KINDS[spec.kind](value):
            raise BadFrame(f"a {event.type} event's {name} must be {_NAMES[spec.kind]}, not {type(value).__name__}")
        if spec.choices and value not in spec.choices:
            raise BadFrame(f"a {event.type} event's {name} must be one of {', '.join(spec.choices)}")
    return event


@dataclass(frozen=True)
class Header:
    type: str
    data: dict[str, Any]
    data_length: int
    payload_length: int


def header(line: bytes) -> Header:
    """The header line, checked: a JSON object with a short string type, an object for data and
    lengths within bounds."""
    if len(line) > MAX_HEADER_BYTES:
        raise BadFrame(f"a header line longer than {MAX_HEADER_BYTES} bytes")
    fields = _json(line, "header")
    if not isinstance(fields, dict):
        raise BadFrame(f"a header must be a JSON object, not {type(fields).__name__}")
    kind = fields.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= MAX_TYPE_CHARS:
        raise BadFrame(f"a header's type must be a string of 1 to {MAX_TYPE_CHARS} characters")
    data = fields.get("data")
    if data is not None and not isinstance(data, dict):
        raise BadFrame(f"a {kind} event's data must be an object, not {type(data).__name__}")
    return Header(
        kind,
        data or {},
        _length(fields, "data_length", MAX_DATA_BYTES),
        _length(fields, "payload_length", MAX_PAYLOAD_BYTES),
    )


def event_of(head: Header, data: bytes, payload: bytes | None) -> Event:
    """The event a header, its data bytes and its payload make, type-checked."""
    merged = dict(head.data)
    if data:
        more = _json(data, f"{head.type} event's data")
        if not isinstance(more, dict):
            raise BadFrame(f"a {head.type} event's data must be an object, not {type(more).__name__}")
        merged.update(more)
    return checked(Event(type=head.type, data=merged, payload=payload or None))


class Stalled(BadFrame):
    """An event begun and not finished in time, or a reply not taken in time: the peer is slow or
    holding a place, and the connection is closed."""

    code = "timeout"


class Idle(BadFrame):
    """No event begun for longer than a connection may rest."""

    code = "idle"


async def read_event(
    reader: asyncio.StreamReader, event_s: float | None = None, idle_s: float | None = None
) -> Event | None:
    """The next event; None at the end of the stream (also when it ends inside an event). The reader's
    limit should be MAX_HEADER_BYTES (asyncio.start_server(..., limit=MAX_HEADER_BYTES)).

    idle_s: how long to wait for the event's first byte, else `Idle`; event_s: how long from that
    byte to the event's last, else `Stalled` (None: no limit). Only the bytes that arrived are held,
    never a declared length ahead of them."""
    try:
        async with asyncio.timeout(idle_s):
            first = await reader.read(1)
    except TimeoutError:
        raise Idle(f"no event for {idle_s:g} s") from None
    if not first:
        return None
    try:
        async with asyncio.timeout(event_s):
            return await _rest_of_event(reader, first)
    except TimeoutError:
        raise Stalled(f"an event not finished within {event_s:g} s") from None


async def _rest_of_event(reader: asyncio.StreamReader, first: bytes) -> Event | None:
    try:
        line = first if first == b"\n" else first + await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise BadFrame(f"a header line longer than {MAX_HEADER_BYTES} bytes") from None
    if not line.strip():
        raise BadFrame("an empty header line")
    head = header(line)
    try:
        data = await reader.readexactly(head.data_length)  # grows with what arrives, up to the checked length
        payload = await reader.readexactly(head.payload_length)
    except asyncio.IncompleteReadError:
        return None
    return event_of(head, data, payload)


def read_event_from(file: BinaryIO) -> Event | None:
    """read_event for a blocking file (a socket's makefile): the same checks."""
    line = file.readline(MAX_HEADER_BYTES + 1)
    if not line or not line.endswith(b"\n"):
        if len(line) > MAX_HEADER_BYTES:
            raise BadFrame(f"a header line longer than {MAX_HEADER_BYTES} bytes")
        return None
    if not line.strip():
        raise BadFrame("an empty header line")
    head = header(line)
    data, payload = _exactly(file, head.data_length), _exactly(file, head.payload_length)
    if data is None or payload is None:
        return None
    return event_of(head, data, payload)


def _exactly(file: BinaryIO, size: int) -> bytes | None:
    got = b""
    while len(got) < size:
        chunk = file.read(size - len(got))
        if not chunk:
            return None
        got += chunk
    return got


def _length(fields: dict[str, Any], name: str, most: int) -> int:
    value = fields.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise BadFrame(f"a header's {name} must be a whole number from 0 to {most}, not {str(value)[:40]}")
    return value


def _json(raw: bytes, what: str) -> Any:
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadFrame(f"a {what} nested deeper than {MAX_DEPTH}") from None
    except ValueError as e:  # not UTF-8, not JSON, a number of too many digits
        raise BadFrame(f"a {what} that is not JSON ({str(e).splitlines()[0][:80]})") from None
    if _depth(value) > MAX_DEPTH:
        raise BadFrame(f"a {what} nested deeper than {MAX_DEPTH}")
    return value


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in item)
    return deepest
