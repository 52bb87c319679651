"""Wyoming satellites: a microphone and a speaker in another room, served as Home Assistant serves them.

A satellite (wyoming-satellite and its kind) is a Wyoming server; the assistant connects to it, sends
`run-satellite` and `describe`, and from then on the satellite streams audio after `run-pipeline`.
Each satellite gets a voice loop of its own (its own wake word and VAD state, the shared Whisper and
Piper), a conversation of its own, and its room: every request it hears runs with `where.ROOM` set, so
"turn on the light" means the light in that room. What the loop does goes back to the satellite as
the protocol's events (`detection`, `voice-started`, `voice-stopped`, `transcript`, `synthesize`),
the reply as `audio-start`, `audio-chunk`s and `audio-stop`; the satellite's `played` ends the reply.
A satellite that goes away is connected to again with the supervisor's backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import numpy as np
from wyoming.asr import Transcript as WyTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error as WyError
from wyoming.event import Event as WyEvent
from wyoming.event import async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from assistant.audio.sources import AudioFeed
from assistant.audio.wav import resample
from assistant.core.addresses import SatelliteAddress
from assistant.core.backoff import Backoff
from assistant.core.bus import Bus
from assistant.core.events import Error, Event, Reply, SpeechEnd, SpeechStart, Transcript, Wake
from assistant.plugins.where import ROOM
from assistant.wyoming.audio import Incoming, chunks
from assistant.wyoming.wire import MAX_HEADER_BYTES, BadFrame, read_event

log = logging.getLogger(__name__)

PING_S = 5.0
"""How often a quiet satellite is asked whether it is still there."""
SILENT_S = 15.0
"""No event for this long: the link is dead, connect again."""
PLAYED_GRACE_S = 1.5
"""After the reply's length, how long to wait for `played` before taking it as played."""


class Outbox:
    """Events to one satellite, written in order by one task (replies are queued from sync code)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._queue: asyncio.Queue[WyEvent] = asyncio.Queue()

    def put(self, event: WyEvent) -> None:
        self._queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            await async_write_event(await self._queue.get(), self._writer)


class SatelliteSink:
    """Reply audio to the satellite's speaker. The satellite plays it in real time and says `played`
    at the end; without that, the reply counts as played a little after its length."""

    def __init__(self) -> None:
        self.rate = 22050
        self.outbox: Outbox | None = None
        self._open = False
        self._begun = 0.0
        self._written = 0
        self._played = True

    def begin(self, audio_t: float) -> None:
        self._open, self._played, self._written, self._begun = False, False, 0, time.monotonic()

    def write(self, pcm: np.ndarray, rate: int) -> None:
        if not self._open:
            self._open, self.rate = True, rate
            self._send(AudioStart(rate=rate, width=2, channels=1, timestamp=0).event())
        pcm = resample(pcm, rate, self.rate) if rate != self.rate else pcm
        for chunk in chunks(pcm.astype(np.int16), self.rate, self._written * 1000 // self.rate):
            self._send(chunk.event())
        self._written += len(pcm)

    def end(self) -> None:
        if self._open:
            self._open = False
            self._send(AudioStop(timestamp=self._written * 1000 // self.rate).event())

    def played(self) -> None:
        self._played = True

    def playing(self, audio_t: float) -> bool:
        if self._played:
            return False
        return self._open or time.monotonic() < self._begun + self._written / self.rate + PLAYED_GRACE_S

    def played_s(self, audio_t: float) -> float:
        return min(self._written / self.rate, max(0.0, time.monotonic() - self._begun))

    def interrupt(self, audio_t: float) -> None:
        self.end()
        self._played = True

    def close(self) -> None:
        self.end()

    def _send(self, event: WyEvent) -> None:
        if self.outbox is not None:
            self.outbox.put(event)


def to_satellite(event: Event) -> WyEvent | None:
    """What the satellite is told of its own loop's progress (its lights and sounds follow these)."""
    if isinstance(event, Wake):
        return Detection(name=event.word).event()
    if isinstance(event, SpeechStart):
        return VoiceStarted().event()
    if isinstance(event, SpeechEnd):
        return VoiceStopped().event()
    if isinstance(event, Transcript):
        return WyTranscript(text=event.text).event()
    if isinstance(event, Reply):
        return Synthesize(text=event.text).event()
    if isinstance(event, Error):
        return WyError(text=event.message, code=event.code).event()
    return None


class SatelliteLink:
    """One satellite: connect, serve its requests with `loop`, and connect again when it goes away."""

    def __init__(
        self,
        address: SatelliteAddress,
        bus: Bus,
        sink: SatelliteSink,
        run_loop: Callable[[AudioFeed], Awaitable[None]],
        wake_now: Callable[[str], None],
    ) -> None:
        """bus: the satellite's own bus (its loop and conversation publish there); run_loop: starts
        its voice loop on a feed; wake_now: tells the loop the satellite heard its wake word itself."""
        self.address = address
        self.bus = bus
        self.sink = sink
        self.run_loop = run_loop
        self.wake_now = wake_now
        self.connected = False
        self.area: str | None = None
        self.name: str | None = None
        self._outbox: Outbox | None = None
        self._incoming = Incoming()
        bus.subscribe(self._forward)

    @property
    def room(self) -> str:
        return self.address.room

    def _forward(self, event: Event) -> None:
        if self._outbox is not None and (told := to_satellite(event)) is not None:
            self._outbox.put(told)

    async def run(self) -> None:
        """Forever: one connection after another, waiting the backoff between failures."""
        backoff = Backoff()
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self.session()
                why = "closed the connection"
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
                why = str(e) or type(e).__name__
            failures = 1 if time.monotonic() - started > backoff.stable_s else failures + 1
            log.info("satellite %s (%s:%d): %s; connecting again", self.room, self.address.host, self.address.port, why)
            await asyncio.sleep(backoff.delay(failures))

    async def session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.address.host, self.address.port, limit=MAX_HEADER_BYTES), 5.0
        )
        outbox = Outbox(writer)
        feed = AudioFeed(realtime=True)
        self.sink.outbox = self._outbox = outbox
        sending = asyncio.create_task(outbox.run(), name=f"satellite {self.room} out")
        listening = self._listen(feed)
        try:
            outbox.put(RunSatellite().event())
            outbox.put(Describe().event())
            self.connected = True
            await self._receive(reader, feed, outbox, sending, listening)
        finally:
            self.connected = False
            self.sink.outbox = self._outbox = None
            for task in (sending, listening):
                task.cancel()
            await asyncio.gather(sending, listening, return_exceptions=True)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _listen(self, feed: AudioFeed) -> asyncio.Task[None]:
        async def listen() -> None:
            ROOM.set(self.room)  # every task and tool thread of this loop inherits it
            await self.run_loop(feed)

        return asyncio.create_task(listen(), name=f"satellite {self.room}")

    async def _receive(
        self, reader: asyncio.StreamReader, feed: AudioFeed, outbox: Outbox, *tasks: asyncio.Task[None]
    ) -> None:
        """Until the satellite hangs up, falls silent or sends what is not an event. Events are read
        whole by a task of their own: a timeout never cuts one in half."""
        events: asyncio.Queue[WyEvent | None] = asyncio.Queue()

        async def read() -> None:
            while True:
                try:
                    event = await read_event(reader)
                except BadFrame as e:
                    log.warning("satellite %s sent %s: connection closed", self.room, e.message)
                    event = None
                await events.put(event)
                if event is None:
                    return

        reading = asyncio.create_task(read(), name=f"satellite {self.room} in")
        heard = time.monotonic()
        try:
            while True:
                try:
                    event = await asyncio.wait_for(events.get(), PING_S)
                except TimeoutError:
                    if time.monotonic() - heard > SILENT_S:
                        raise TimeoutError(f"silent for {SILENT_S:g} s") from None
                    outbox.put(Ping().event())
                    continue
                for task in (*tasks, reading):
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]  # a crash ends the session with its error
                if event is None:
                    return
                heard = time.monotonic()
                await self._on(event, feed, outbox)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _on(self, event: WyEvent, feed: AudioFeed, outbox: Outbox) -> None:
        if AudioChunk.is_type(event.type):
            try:
                pcm = self._incoming.pcm(AudioChunk.from_event(event))
            except ValueError as e:
                outbox.put(WyError(text=str(e), code="bad_audio").event())
                return
            await feed.put(pcm)
        elif RunPipeline.is_type(event.type):
            run = RunPipeline.from_event(event)
            if run.start_stage is PipelineStage.ASR:  # it heard the wake word itself
                self.wake_now(run.wake_word_name or "satellite")
        elif Played.is_type(event.type):
            self.sink.played()
        elif Ping.is_type(event.type):
            outbox.put(Pong(text=Ping.from_event(event).text).event())
        elif Info.is_type(event.type):
            satellite = event.data.get("satellite")  # an object (wire.FIELDS); its fields read one by one
            if satellite is not None:
                self.name, self.area = _text(satellite.get("name")), _text(satellite.get("area"))
                log.info("satellite %s is %r (its own area: %s)", self.room, self.name, self.area)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
