"""This assistant's stages as Wyoming services on one TCP port, for Home Assistant's Wyoming
integration and any other Wyoming client: speech-to-text (asr), text-to-speech (tts), wake word
detection (wake) and intent handling (handle: a transcript in, the reply text out, the tool run).

One connection asks for one thing at a time, as the protocol has it: `transcribe` then audio gives a
`transcript`; `detect` then audio gives `detection` or `not-detected`; `synthesize` gives audio;
`transcript` gives `handled`. Bad input (audio that cannot be used, too long a request, an unknown
event) is answered with an `error` event and the connection stays open; heavy work runs off the
event loop.

Intent handling is a conversation, so that a missing argument can be given ("Set a timer" — "For how
long?" — "ten minutes"): one per client address and satellite (the `satellite_id` or `device_id` that
Home Assistant puts in the transcript's context), else per address and `conversation_id`, else one
per connection. A tool that needs a spoken yes is never run from here (Dialogue's may_confirm).

Who may connect, and who may have a transcript acted on, is the server's `Access` (access.py:
`wyoming.clients`, `wyoming.token`). Events are read by wire.py: bytes that are not a well-formed
event, or an event with a field of the wrong type, close the connection with one logged line.

How many may connect, how long an event may take and how long a connection may rest are the
server's `Limits` (limits.py: 32 connections, `wyoming.max_clients`, 8 from one address, 10 s for an
event, 5 minutes idle); a connection past them is told so in an `error` event and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.handle import Handled, NotHandled
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from assistant.audio import SAMPLE_RATE
from assistant.core.config import Config
from assistant.core.errors import AssistantError, SpeakError, TranscribeError, WyomingError
from assistant.speech.stt import SpeechHints, Transcriber
from assistant.speech.tts import Synthesizer
from assistant.speech.wake import WakeWordDetector
from assistant.wyoming.access import Access, peer_host
from assistant.wyoming.audio import Incoming, chunks
from assistant.wyoming.limits import Gate, Limits
from assistant.wyoming.wire import MAX_HEADER_BYTES, BadFrame, Idle, Stalled, read_event

log = logging.getLogger(__name__)

MAX_REQUEST_S = 30.0
"""Longest audio one transcription takes; more is refused with an error, not buffered forever."""
REFUSALS_LOGGED_S = 60.0
"""Connections refused for being too many are logged once in this many seconds."""
MAX_CONVERSATIONS = 64
"""Conversations remembered at once (by satellite or conversation id); the least recent goes first."""

Handler = Callable[[str], Awaitable[str]]
"""One conversation: a request's text in, the reply out."""
NO_TOKEN = "intent handling needs the shared token (wyoming.token) in the transcript event's data"
NOT_LISTED = "this address may not use these services (wyoming.clients)"
ABOUT = Attribution(name="this assistant", url="https://github.com/")


class Stages:
    """What the services run on: the assistant's own loaded models and its dialogue."""

    def __init__(
        self,
        config: Config,
        transcriber: Transcriber,
        synthesizer: Synthesizer,
        wake: Callable[[], WakeWordDetector],
        handle: Handler,
        hints: Callable[[], SpeechHints],
        conversation: Callable[[str], Handler] | None = None,
    ) -> None:
        """wake: makes a detector for one connection (it keeps state); handle: the dialogue, a
        coroutine function from text to the reply, with no memory; conversation: makes one with a
        memory of its own (Dialogue.another) for a client at an address, for each satellite,
        conversation or connection."""
        self.config = config
        self.transcriber = transcriber
        self.synthesizer = synthesizer
        self.wake = wake
        self.handle = handle
        self.hints = hints
        self.conversation = conversation
        self._conversations: OrderedDict[Hashable, Handler] = OrderedDict()

    def conversation_for(self, key: Hashable, peer: str) -> Handler:
        """The conversation of one satellite, conversation id or connection of the client at `peer`
        (made on first use)."""
        if self.conversation is None:
            return self.handle
        if key in self._conversations:
            self._conversations.move_to_end(key)
        else:
            self._conversations[key] = self.conversation(peer)
            while len(self._conversations) > MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        return self._conversations[key]

    def forget(self, key: Hashable) -> None:
        self._conversations.pop(key, None)

    def info(self) -> Info:
        ours = _version("assistant")
        english = ["en"]
        return Info(
            asr=[
                AsrProgram(
                    name="assistant-stt",
                    attribution=ABOUT,
                    installed=True,
                    version=ours,
                    description="faster-whisper, biased to the household's names",
                    models=[
                        AsrModel(
                            name=self.config.stt.model,
                            attribution=ABOUT,
                            installed=True,
                            description="Whisper",
                            version=None,
                            languages=english,
                        )
                    ],
                )
            ],
            tts=[
                TtsProgram(
                    name="assistant-tts",
                    attribution=ABOUT,
                    installed=True,
                    version=ours,
                    description="Piper",
                    voices=[
                        TtsVoice(
                            name=self.config.tts.voice,
                            attribution=ABOUT,
                            installed=True,
                            description="Piper voice",
                            version=None,
                            languages=english,
                        )
                    ],
                )
            ],
            handle=[
                HandleProgram(
                    name="assistant",
                    attribution=ABOUT,
                    installed=True,
                    version=ours,
                    description="sentence templates, then the local LLM; the skills act",
                    models=[
                        HandleModel(
                            name="assistant",
                            attribution=ABOUT,
                            installed=True,
                            description=None,
                            version=None,
                            languages=english,
                        )
                    ],
                    supports_home_control=True,
                )
            ],
            wake=[
                WakeProgram(
                    name="assistant-wake",
                    attribution=ABOUT,
                    installed=True,
                    version=ours,
                    description="openWakeWord",
                    models=[
                        WakeModel(
                            name=self.config.wake.model,
                            attribution=ABOUT,
                            installed=True,
                            description=None,
                            version=None,
                            languages=english,
                            phrase=self.config.wake.model.replace("_", " "),
                        )
                    ],
                )
            ],
        )


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


class Connection:
    """One client: its events in order, one request at a time."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stages: Stages,
        access: Access | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.stages = stages
        self.access = access or Access()
        self.limits = limits or Limits()
        self.peer = peer_host(writer.get_extra_info("peername"))
        self._incoming = Incoming()
        self._mode = "asr"
        self._audio: list[np.ndarray] = []
        self._samples = 0
        self._hints: SpeechHints | None = None
        self._detector: WakeWordDetector | None = None
        self._detected = False
        self._refused = False

    async def send(self, event: Event) -> None:
        """Write one event; a client that does not take it within the event time is Stalled."""
        try:
            async with asyncio.timeout(self.limits.event_s):
                await async_write_event(event, self.writer)
        except TimeoutError:
            raise Stalled(f"a reply not taken within {self.limits.event_s:g} s") from None

    async def refuse(self, error: Error) -> None:
        """Tell the client why, and hang up."""
        with contextlib.suppress(OSError, Stalled):
            await self.send(error.event())
        self._hang_up()

    def _hang_up(self) -> None:
        if self.writer.transport.get_write_buffer_size():
            self.writer.transport.abort()  # a client that does not read would keep it open to flush
        else:
            self.writer.close()

    async def run(self) -> None:
        try:
            if not self.access.admits(self.peer):
                log.warning("wyoming: %s is not in wyoming.clients: connection refused", self.peer or "a client")
                await self.send(Error(text=NOT_LISTED, code="forbidden").event())
                return
            while (event := await read_event(self.reader, self.limits.event_s, self.limits.idle_s)) is not None:
                await self._serve(event)
        except BadFrame as e:
            level = logging.INFO if isinstance(e, Idle) else logging.WARNING  # resting is no fault
            log.log(level, "wyoming: %s from %s: connection closed", e.message, self.peer or "a client")
            if not self.writer.transport.get_write_buffer_size():  # else it is not reading: say nothing more
                with contextlib.suppress(OSError, Stalled):
                    await self.send(Error(text=e.message, code=e.code).event())
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.stages.forget(self)  # a conversation of this connection alone ends with it
            self._hang_up()

    async def _serve(self, event: Event) -> None:
        """One event; what it asks that cannot be done is an `error` event, and the connection goes on."""
        try:
            await self.on(event)
        except BadFrame:
            raise
        except (ValueError, KeyError, TypeError) as e:
            await self.send(Error(text=f"bad {event.type} event: {e}", code="bad_event").event())
        except AssistantError as e:
            await self.send(Error(text=e.message, code=e.code).event())

    async def on(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.send(self.stages.info().event())
        elif Ping.is_type(event.type):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        elif Transcribe.is_type(event.type):
            asked = Transcribe.from_event(event)
            self._mode = "asr"
            live = self.stages.hints()
            names = [*(asked.transcript_names or []), *(asked.transcript_terms or [])]
            self._hints = SpeechHints(live.prompt, [*live.hotwords, *names]) if names else live
        elif Detect.is_type(event.type):
            self._mode = "wake"
            if self._detector is None:
                self._detector = await asyncio.to_thread(self.stages.wake)
        elif AudioStart.is_type(event.type):
            self._audio, self._samples, self._detected, self._refused = [], 0, False, False
            if self._detector is not None:
                self._detector.reset()
        elif AudioChunk.is_type(event.type):
            await self._chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._stop()
        elif Synthesize.is_type(event.type):
            await self._synthesize(Synthesize.from_event(event).text)
        elif Transcript.is_type(event.type):
            await self._transcript(event)
        # Anything else (a newer client's extras, select-program …) is dropped, as the protocol asks.

    async def _chunk(self, chunk: AudioChunk) -> None:
        pcm = self._incoming.pcm(chunk)
        if self._mode == "wake":
            if self._detector is not None and not self._detected:
                found = await asyncio.to_thread(self._detector.process, pcm)
                if found is not None:
                    self._detected = True
                    await self.send(Detection(name=found.word, timestamp=chunk.timestamp).event())
            return
        if self._refused:
            return
        self._samples += len(pcm)
        if self._samples > MAX_REQUEST_S * SAMPLE_RATE:
            self._refused, self._audio = True, []
            raise TranscribeError(f"a request longer than {MAX_REQUEST_S:g} s is not transcribed", code="too_long")
        self._audio.append(pcm)

    async def _stop(self) -> None:
        if self._mode == "wake":
            if not self._detected:
                await self.send(NotDetected().event())
            return
        if self._refused:
            return
        pcm = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        self._audio = []
        text = await asyncio.to_thread(self.stages.transcriber.transcribe, pcm, self._hints or self.stages.hints())
        await self.send(Transcript(text=text, language="en").event())

    async def _synthesize(self, text: str) -> None:
        if not text.strip():
            raise SpeakError("there is no text to speak", code="empty")
        synthesizer = self.stages.synthesizer
        rate = synthesizer.rate
        await self.send(AudioStart(rate=rate, width=2, channels=1).event())
        loop = asyncio.get_running_loop()
        sentences = iter(synthesizer.sentences(text))
        sent = 0
        while (pcm := await loop.run_in_executor(None, next, sentences, None)) is not None:
            for chunk in chunks(pcm, rate, sent * 1000 // rate):
                await self.send(chunk.event())
            sent += len(pcm)
        await self.send(AudioStop(timestamp=sent * 1000 // rate).event())

    async def _transcript(self, event: Event) -> None:
        """Intent handling: acted on when the client carries the token (where one is set)."""
        if not self.access.may_handle(event.data.get("token")):
            log.warning(
                "wyoming: a transcript from %s without the right token (wyoming.token): not acted on",
                self.peer or "a client",
            )
            await self.send(Error(text=NO_TOKEN, code="unauthorized").event())
            return
        await self._handle(Transcript.from_event(event).text, _conversation_key(event, self))

    async def _handle(self, text: str, conversation: Hashable) -> None:
        started = time.monotonic()
        reply = await self.stages.conversation_for(conversation, self.peer)(text)
        log.info(
            "wyoming handle from %s: %r → %r in %.0f ms", self.peer, text, reply, (time.monotonic() - started) * 1000
        )
        if reply:
            await self.send(Handled(text=reply).event())
        else:
            await self.send(NotHandled(text="").event())


def _conversation_key(event: Event, connection: Connection) -> Hashable:
    """Whose conversation a transcript continues: its satellite's (a room's), else its conversation
    id's (Home Assistant's chat), else its connection's; never another client address's."""
    context = (event.data or {}).get("context")
    if isinstance(context, dict):
        for name in ("satellite_id", "device_id", "conversation_id"):
            value = context.get(name)
            if isinstance(value, str) and value:
                return (connection.peer, name, value)
    return connection


class WyomingServer:
    """The services on `host:port`; `port` is the one bound (a free one when asked for 0). `access`:
    who may connect and have a transcript acted on (everyone when not given); `limits`: how many may
    connect and how long they may take (the defaults, with the config's wyoming.max_clients)."""

    def __init__(
        self, stages: Stages, host: str, port: int, access: Access | None = None, limits: Limits | None = None
    ) -> None:
        self.stages = stages
        self.host = host
        self.port = port
        self.access = access or Access()
        self.limits = limits or Limits(clients=stages.config.wyoming.max_clients)
        self._gate = Gate(self.limits)
        self._refused_at = -REFUSALS_LOGGED_S
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._gate)

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._connected, self.host, self.port, limit=MAX_HEADER_BYTES)
        except OSError as e:
            raise WyomingError(
                f"the Wyoming services cannot listen on {self.host}:{self.port}: {e.strerror or e} "
                "(set wyoming.port to a free port)",
                code="wyoming",
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("Wyoming services on %s:%d", self.host, self.port)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = Connection(reader, writer, self.stages, self.access, self.limits)
        if (refusal := self._gate.enter(connection.peer)) is not None:
            self._log_refusal(refusal, connection.peer)
            await connection.refuse(Error(text=refusal, code="busy"))
            return
        self._clients.add(task)
        try:
            await connection.run()
        except asyncio.CancelledError:  # stop(): ended here, or asyncio's stream callback logs a traceback
            pass
        except Exception as e:  # a bug must not print a traceback per client nor take the server down
            log.error("wyoming: the connection from %s failed: %s: %s", connection.peer, type(e).__name__, e)
            log.debug("the failure", exc_info=True)
            writer.close()
        finally:
            self._clients.discard(task)
            self._gate.leave(connection.peer)

    def _log_refusal(self, refusal: str, peer: str) -> None:
        """One warning a minute at most: a flood of connections must not flood the log too."""
        now = time.monotonic()
        if now - self._refused_at >= REFUSALS_LOGGED_S:
            self._refused_at = now
            log.warning(
                "wyoming: a connection from %s refused: %s (more are logged at debug level for a minute)",
                peer or "a client",
                refusal,
            )
        else:
            log.debug("wyoming: a connection from %s refused: %s", peer or "a client", refusal)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
