"""The Wyoming port as an attacker on the LAN would try it (issue 24, holes 3 and 7): a host not on
the allowlist, a transcript without the token, a risky tool asked for over Wyoming, and garbage in
every shape (hand-picked, then fuzzed): each refused in words, with one logged line, no traceback,
and the server still answering the next good request. Loopback only; no speech models (the
transcriber, synthesizer and wake word are fakes at the edge)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping
from wyoming.tts import Synthesize
from wyoming.wake import Detect

from assistant.app.runtime import Core, build_core
from assistant.app.services import wyoming_conversation
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.voice.dialogue import CANNOT_CONFIRM
from assistant.wyoming.access import Access
from assistant.wyoming.limits import Limits
from assistant.wyoming.server import Stages, WyomingServer
from assistant.wyoming.wire import MAX_HEADER_BYTES
from testbed.harness import TEMPLATES_ONLY, wait_for

TOKEN = "a-long-shared-secret-1234"


# --- the wire, by hand ---------------------------------------------------------------------------


def frame(event: Event) -> bytes:
    """An event as the wyoming library writes it: header line, data, payload."""
    head: dict[str, Any] = {"type": event.type, "version": "1.5.0"}
    data = json.dumps(event.data).encode() if event.data else b""
    if data:
        head["data_length"] = len(data)
    if event.payload:
        head["payload_length"] = len(event.payload)
    return json.dumps(head).encode() + b"\n" + data + (event.payload or b"")


def header(**fields: Any) -> bytes:
    return json.dumps(fields).encode() + b"\n"


def exchange(port: int, data: bytes, source: str = "127.0.0.1", timeout: float = 10.0) -> list[dict[str, Any]]:
    """Send `data`, close the sending side, and read every event back until the server hangs up
    (headers only: enough to see errors and answers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may have hung up already
            pass
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
    return _events(got)


def _events(raw: bytes) -> list[dict[str, Any]]:
    events, rest = [], raw
    while b"\n" in rest:
        line, rest = rest.split(b"\n", 1)
        head = json.loads(line)
        data = json.loads(rest[: head.get("data_length", 0)] or b"{}")
        rest = rest[head.get("data_length", 0) + head.get("payload_length", 0) :]
        events.append({"type": head["type"], "data": {**head.get("data", {}), **data}})
    return events


def said(port: int, text: str, source: str = "127.0.0.1", **data: Any) -> dict[str, Any]:
    """The answer (handled, not-handled or error) to one transcript on a connection of its own."""
    events = exchange(port, frame(Event("transcript", {"text": text, **data})), source)
    return next(e for e in events if e["type"] in ("handled", "not-handled", "error"))


# --- fakes at the edge: the models --------------------------------------------------------------


class Transcriber:
    def transcribe(self, pcm: np.ndarray, hints: Any = None) -> str:
        return "what time is it"


class Synthesizer:
    rate = 16000

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        yield np.zeros(800, np.int16)


class Wake:
    def process(self, pcm: np.ndarray) -> None:
        return None

    def reset(self) -> None:
        pass


# --- a server in a thread of its own ------------------------------------------------------------


class Served:
    """Our Wyoming server on loopback, on an event loop in another thread, with the real dialogue;
    every log record of WARNING and above it (or anything) writes is kept."""

    def __init__(self, core: Core, server: WyomingServer) -> None:
        self.core, self.server = core, server
        self.records: list[logging.LogRecord] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Served:
        handler = logging.Handler(logging.WARNING)
        handler.emit = self.records.append  # type: ignore[method-assign]
        self.handler = handler
        logging.getLogger().addHandler(handler)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        logging.getLogger().removeHandler(self.handler)

    @property
    def port(self) -> int:
        return self.server.port

    def tracebacks(self) -> list[str]:
        """Records that carry a traceback, or that say something failed (ERROR and above)."""
        return [f"{r.name}: {r.getMessage()}" for r in self.records if r.exc_info or r.levelno >= logging.ERROR]

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


def serve(tmp_path: Path, limits: Limits | None = None, **env: str) -> Served:
    """The Wyoming services as `assistant run` makes them (the config's access, a conversation per
    client by wyoming_conversation) on a free port, on fake models; `limits` in place of the default."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = load_config(
        environ={
            **TEMPLATES_ONLY,
            "ASSISTANT__WYOMING__SERVE": "true",
            "ASSISTANT__WYOMING__BIND": "127.0.0.1",
            "ASSISTANT__WYOMING__PORT": str(port),
            **env,
        }
    )
    core = build_core(config, tmp_path / "data", Bus())
    conversation = functools.partial(wyoming_conversation, core)
    stages = Stages(
        config,
        Transcriber(),
        Synthesizer(),
        Wake,
        conversation(""),
        core.speech_hints,  # type: ignore[arg-type]
        conversation,
    )
    access = Access.of(config.wyoming.clients, config.wyoming.token)
    return Served(core, WyomingServer(stages, config.wyoming.bind, config.wyoming.port, access, limits))


# --- hole 3: who may use it ---------------------------------------------------------------------


def test_a_host_not_on_the_allowlist_is_refused_at_once(tmp_path: Path) -> None:
    """Only 127.0.0.1 is allowed: a client at 127.0.0.3 (another host, as far as the server can
    tell) is told so and hung up on; its transcript runs nothing. 127.0.0.1 is served."""
    with serve(tmp_path, ASSISTANT__WYOMING__CLIENTS="[127.0.0.1]") as served:
        events = exchange(served.port, frame(Transcript(text="set a timer for 5 minutes").event()), source="127.0.0.3")
        assert [e["type"] for e in events] == ["error"] and events[0]["data"]["code"] == "forbidden", events
        assert served.core.scheduler.timers() == []
        assert any("127.0.0.3 is not in wyoming.clients" in w for w in served.warnings()), served.warnings()
        assert said(served.port, "set a timer for 5 minutes")["data"]["text"] == "Timer set for 5 minutes."
        assert served.tracebacks() == []


def test_intent_handling_needs_the_token_when_one_is_set(tmp_path: Path) -> None:
    """No token, a wrong one, or one of the wrong type: nothing runs, and the client is told why.
    Describe and ping need none. The right token in the transcript's data runs the request."""
    with serve(tmp_path, ASSISTANT__WYOMING__TOKEN=TOKEN) as served:
        for extra in ({}, {"token": "a-long-shared-secret-0000"}, {"token": 12345}, {"token": TOKEN[:-1]}):
            answer = said(served.port, "set a timer for 5 minutes", **extra)
            assert answer["type"] == "error" and answer["data"]["code"] in ("unauthorized", "bad_frame"), (
                extra,
                answer,
            )
        assert served.core.scheduler.timers() == []
        kinds = [e["type"] for e in exchange(served.port, frame(Describe().event()) + frame(Ping(text="hi").event()))]
        assert kinds == ["info", "pong"]
        assert said(served.port, "set a timer for 5 minutes", token=TOKEN)["data"]["text"] == "Timer set for 5 minutes."
        assert len(served.core.scheduler.timers()) == 1 and served.tracebacks() == []


def test_a_wyoming_client_can_never_confirm_and_is_audited_with_its_address(tmp_path: Path) -> None:
    """The attack: a LAN host asks for a risky tool (cancel every timer, an allowlisted command that
    changes the system) and says yes. It is refused in words, nothing runs, and what did run is
    in the audit trail as Wyoming's, with the client's address."""
    commands = '{"restart the music": {"run": ["touch", "restarted"], "changes": true}}'
    with serve(tmp_path, ASSISTANT__SYSTEM__COMMANDS=commands) as served:
        port = served.port
        assert said(port, "set a timer for 5 minutes")["data"]["text"] == "Timer set for 5 minutes."
        both = frame(Transcript(text="cancel all timers").event()) + frame(Transcript(text="yes").event())
        answers = [e["data"]["text"] for e in exchange(port, both) if e["type"] == "handled"]
        assert answers == [CANNOT_CONFIRM, "Sorry, I can't help with that yet."], answers
        assert said(port, "restart the music")["data"]["text"] == CANNOT_CONFIRM
        assert said(port, "yes")["data"]["text"] != "Done."
        assert len(served.core.scheduler.timers()) == 1
        assert not (tmp_path / "data" / "skills" / "system" / "restarted").exists()
        calls = [e for e in served.core.audit.entries() if e["kind"] == "tool_call"]
        assert [(c["skill"], c["origin"], c["peer"]) for c in calls] == [("timer", "wyoming", "127.0.0.1")], calls


# --- hole 7: garbage on the port ----------------------------------------------------------------

GARBAGE = {
    "text that is a number": frame(Event("transcript", {"text": 42})),
    "text that is a list": frame(Event("transcript", {"text": ["set a timer"]})),
    "a context that is text": frame(Event("transcript", {"text": "hi", "context": "kitchen"})),
    "audio of a rate in words": frame(Event("audio-chunk", {"rate": "fast", "width": 2, "channels": 1}, b"\0\0")),
    "synthesize without text": frame(Event("synthesize", {"voice": {"name": 3}})),
    "names that are numbers": frame(Event("transcribe", {"transcript_names": [1, 2]})),
    "not JSON": b"hello there\n",
    "an array for a header": b"[1, 2, 3]\n",
    "a number for a type": header(type=7),
    "data that is a list": header(type="ping", data=[1]),
    "data bytes that are a list": header(type="ping", data_length=3) + b"[1]",
    "a negative length": header(type="ping", payload_length=-5),
    "a length of a terabyte": header(type="audio-chunk", payload_length=10**12),
    "a length in words": header(type="ping", data_length="ten"),
    "nested 5000 deep": b'{"type": "ping", "data": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}\n",
    "nested 5000 deep in data": header(type="ping", data_length=10_001) + b"[" * 5000 + b"]" * 5000 + b" ",
    "a number of 10000 digits": b'{"type": "ping", "data": {"text": ' + b"9" * 10000 + b"}}\n",
    "a header line of a megabyte": b'{"type": "' + b"a" * (MAX_HEADER_BYTES * 16) + b'"}\n',
    "binary": bytes(range(256)) * 4,
    "an empty line": b"\n",
    "not UTF-8": b'{"type": "\xff\xfe"}\n',
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("wyoming")) as s:
        yield s


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_is_one_logged_line_and_the_server_goes_on(served: Served, name: str) -> None:
    before = len(served.records)
    events = exchange(served.port, GARBAGE[name])
    assert all(e["type"] == "error" for e in events), events
    new = served.records[before:]
    assert not [r for r in new if r.exc_info or r.levelno >= logging.ERROR], [r.getMessage() for r in new]
    assert all("\n" not in r.getMessage() for r in new)
    assert any("connection closed" in r.getMessage() for r in new), [r.getMessage() for r in new]
    assert said(served.port, "what time is it")["type"] == "handled"


GOOD = [
    Transcript(text="what time is it", context={"satellite_id": "kitchen"}).event(),
    Ping(text="x").event(),
    Describe().event(),
    Transcribe(language="en", transcript_names=["pasta"]).event(),
    AudioStart(rate=16000, width=2, channels=1).event(),
    AudioChunk(rate=16000, width=2, channels=1, audio=b"\1\0" * 200).event(),
    AudioStop().event(),
    Synthesize(text="hello").event(),
    Detect(names=["hey_jarvis"]).event(),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = [
    "text",
    "rate",
    "width",
    "channels",
    "context",
    "names",
    "transcript_names",
    "timestamp",
    "voice",
    "token",
]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One frame: a good event, one with a field of any value, a header of any values, a good one
    with bytes flipped, cut or inserted, or plain bytes."""
    event = draw(st.sampled_from(GOOD))
    how = draw(st.sampled_from(["good", "field", "header", "mutated", "bytes"]))
    if how == "field":
        event = Event(event.type, {**event.data, draw(st.sampled_from(FIELD_NAMES)): draw(json_values)}, event.payload)
    if how == "header":
        fields = draw(
            st.dictionaries(
                st.sampled_from(["type", "data", "data_length", "payload_length", "version"]),
                json_values | st.integers(-10, 70_000),
                max_size=5,
            )
        )
        return json.dumps(fields).encode() + b"\n" + draw(st.binary(max_size=64))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    raw = bytearray(frame(event))
    if how == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw) - 1))
            action = draw(st.sampled_from(["flip", "cut", "insert"]))
            if action == "flip":
                raw[at] = draw(st.integers(0, 255))
            elif action == "cut":
                del raw[at:]
                if not raw:
                    break
            else:
                raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(raw)


FUZZ_EXAMPLES = int(os.environ.get("ASSISTANT_FUZZ_WYOMING", "300"))


def test_fuzzed_frames_never_leave_a_traceback(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """Random and mutated frames, a few to a connection: every connection ends (nothing hangs), no
    record carries a traceback, and a good request is answered after each and at the end."""
    tried = 0

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(frames(), min_size=1, max_size=4))
    def throw(sent: list[bytes]) -> None:
        nonlocal tried
        tried += 1
        exchange(served.port, b"".join(sent))
        assert [e["type"] for e in exchange(served.port, frame(Ping(text="ok").event()))] == ["pong"]
        assert served.tracebacks() == []

    throw()
    assert said(served.port, "set a timer for 5 minutes")["data"]["text"] == "Timer set for 5 minutes."
    assert served.tracebacks() == []
    with capsys.disabled():
        print(f"\nWyoming fuzz: {tried} inputs tried, tracebacks: 0, warnings: {len(served.warnings())}")
    assert tried >= min(FUZZ_EXAMPLES, 50)


# --- the clients: a satellite and a remote speech server that send garbage ------------------------

CLIENT_GARBAGE = {
    "a pipeline stage that is not one": frame(Event("run-pipeline", {"start_stage": "nonsense", "end_stage": "tts"})),
    "a satellite that is text": frame(Event("info", {"satellite": "kitchen"})),
    "an array for a header": b"[1]\n",
    "a payload of a terabyte": header(type="audio-chunk", payload_length=10**12),
}


async def garbage_server(garbage: bytes, open_peers: set[object] | None = None) -> asyncio.Server:
    """A peer that answers any connection with `garbage`, then waits to be hung up on; each connection
    is in `open_peers` until it was."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers = open_peers if open_peers is not None else set()
        peers.add(writer)
        try:
            writer.write(garbage)
            await writer.drain()
            await reader.read()
            writer.close()
        finally:
            peers.discard(writer)

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize("name", list(CLIENT_GARBAGE))
def test_a_satellite_that_sends_garbage_is_hung_up_on(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """The session ends at once with one warning (then the link connects again, after its backoff);
    no exception leaves it and the satellite's voice loop is stopped."""
    from assistant.audio.sources import AudioFeed
    from assistant.core.addresses import SatelliteAddress
    from assistant.wyoming.satellite import SatelliteLink, SatelliteSink

    async def run_loop(feed: AudioFeed) -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        server = await garbage_server(CLIENT_GARBAGE[name])
        port = server.sockets[0].getsockname()[1]
        link = SatelliteLink(
            SatelliteAddress("kitchen", "127.0.0.1", port), Bus(), SatelliteSink(), run_loop, lambda word: None
        )
        try:
            await asyncio.wait_for(link.session(), 5)
        finally:
            server.close()
        assert not link.connected and link.name is None

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if "satellite kitchen sent" in r.getMessage()], caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text


def test_a_remote_speech_server_that_sends_garbage_is_down_at_once() -> None:
    """A remote that answers `describe` with garbage is marked down at once (the local model answers
    meanwhile), not after its timeout, and nothing but RemoteFailed leaves the client."""

    from assistant.wyoming.remote import Remote

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    open_peers: set[object] = set()
    try:
        for name, garbage in CLIENT_GARBAGE.items():
            server = asyncio.run_coroutine_threadsafe(garbage_server(garbage, open_peers), loop).result(5)
            remote = Remote("stt", f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout_s=3.0)
            started = time.monotonic()
            assert not remote.probe() and not remote.up, name
            assert time.monotonic() - started < 1.0, f"{name}: found by the timeout, not by the reader"
            loop.call_soon_threadsafe(server.close)
        wait_for(lambda: not open_peers, what="every garbage peer saw the client hang up")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


# --- hole 7 again: holding the port (connections never timed out nor counted) ----------------------


def hold(port: int, data: bytes = b"", source: str = "127.0.0.1") -> socket.socket:
    """A connection that sends `data` and then nothing, kept open."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    s.sendall(data)
    return s


def told(s: socket.socket) -> list[dict[str, Any]]:
    """Every event the server sends on `s` until it hangs up (a socket timeout if it never does)."""
    got = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := s.recv(65536):
            got += chunk
    return _events(got)


def settled(served: Served, connections: int) -> None:
    """Wait (WAIT_S at most) for the server to count `connections` open."""
    wait_for(lambda: served.server.connections == connections, what=f"the server counting {connections} open")


def test_connections_beyond_the_caps_are_refused_while_a_good_client_is_served(tmp_path: Path) -> None:
    """The attack: connections that send half a header and wait, hundreds of them. Past 6 in all
    (wyoming.max_clients) or 3 from one address, each is told "too many connections" and hung up
    on at once, with one warning for the lot; a client already connected goes on being served, and
    once the holders leave a new client is served too."""
    assert serve(tmp_path / "config", ASSISTANT__WYOMING__MAX_CLIENTS="6").server.limits.clients == 6
    with serve(tmp_path, Limits(clients=6, per_address=3)) as served:
        good = hold(served.port)
        held = [hold(served.port, b'{"type": "pi', source="127.0.0.2") for _ in range(3)]
        settled(served, 4)
        same = told(hold(served.port, b'{"type": "pi', source="127.0.0.2"))
        assert [(e["type"], e["data"]["code"]) for e in same] == [("error", "busy")], same
        assert "too many connections from 127.0.0.2" in same[0]["data"]["text"]
        held += [hold(served.port, b'{"type": "pi', source="127.0.0.3"), hold(served.port, source="127.0.0.4")]
        settled(served, 6)
        refused = [told(hold(served.port, b'{"type": "pi', source=f"127.0.1.{n}")) for n in range(40)]
        assert all([e["data"]["text"] for e in r] == ["too many connections (at most 6)"] for r in refused), refused[0]
        assert served.server.connections == 6
        good.sendall(frame(Ping(text="still here").event()))
        good.settimeout(5)
        assert good.recv(65536).startswith(b'{"type": "pong"')
        for s in [good, *held]:
            s.close()
        settled(served, 0)
        assert said(served.port, "what time is it")["type"] == "handled"
        assert len([w for w in served.warnings() if "too many connections" in w]) == 1, served.warnings()
        assert served.tracebacks() == []


def test_a_half_header_is_closed_after_the_event_time_and_silence_after_the_idle_time(tmp_path: Path) -> None:
    """Half a header, then nothing: closed once the event time (1 s here, 10 s by default) is up,
    with one warning. A connection that sends nothing at all may rest for the idle time (2 s here,
    5 minutes by default) and is then closed too, quietly; one that keeps talking stays until the
    server stops."""
    with serve(tmp_path, Limits(event_s=1.0, idle_s=2.0)) as served:
        started = time.monotonic()
        half, silent, talking = hold(served.port, b'{"type": "pi'), hold(served.port), hold(served.port)
        events = told(half)
        assert [e["data"]["code"] for e in events] == ["timeout"] and 0.9 < time.monotonic() - started < 3, events
        for _ in range(4):
            time.sleep(0.6)  # not a wait: real time passing is the test, a talker pausing less than idle_s
            talking.sendall(frame(Ping(text="hi").event()))
        assert [e["data"]["code"] for e in told(silent)] == ["idle"]
        assert 1.9 < time.monotonic() - started < 4.5
        assert served.server.connections == 1
    talking.close()  # open until the server stopped: cut there without a traceback
    stalls = [w for w in served.warnings() if "not finished within 1 s" in w]
    assert len(stalls) == 1 and "connection closed" in stalls[0], served.warnings()
    assert not [w for w in served.warnings() if "no event for" in w]  # resting is logged at info
    assert served.tracebacks() == []


def test_a_large_payload_that_never_arrives_is_closed_and_not_held(tmp_path: Path) -> None:
    """The attack: connections each declaring a payload of 4 MiB - 1 and sending part of it, then
    nothing. Each is closed once the event time is up, none is counted any more, and the server
    answers a good request afterwards."""
    with serve(tmp_path, Limits(event_s=1.0)) as served:
        started = time.monotonic()
        declared = header(
            type="audio-chunk", data={"rate": 16000, "width": 2, "channels": 1}, payload_length=4 * 1024 * 1024 - 1
        )
        slow = [hold(served.port, declared + b"\0" * 1024 * 1024) for _ in range(6)]
        settled(served, 6)
        for s in slow:
            assert [e["data"]["code"] for e in told(s)] == ["timeout"]
            s.close()
        assert time.monotonic() - started < 5
        settled(served, 0)
        assert said(served.port, "what time is it")["type"] == "handled"
        assert served.tracebacks() == []
