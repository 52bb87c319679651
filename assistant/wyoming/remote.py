"""Speech-to-text and text-to-speech on a bigger machine, through its Wyoming server (stt.server,
tts.server: tcp://HOST:PORT), with the local models behind them.

A remote that fails (refused, silent past its timeout, an answer that is not one) is marked down and
the local model answers at once; the same request is never lost. While down, it is probed (`describe`)
every few seconds by the "remote models" service, and used again as soon as it answers. These run in
the worker threads the voice loop already hands speech work to, so they speak the protocol over a
plain blocking socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import BinaryIO, cast

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, write_event
from wyoming.info import Describe
from wyoming.tts import Synthesize

from assistant.audio import SAMPLE_RATE
from assistant.core.addresses import tcp_address
from assistant.core.failover import Failover
from assistant.speech.stt import Heard, SpeechHints, Transcriber
from assistant.speech.tts import Synthesizer
from assistant.wyoming.audio import Incoming
from assistant.wyoming.wire import BadFrame, read_event_from

TIMEOUT_S = 4.0
"""For connecting and for each answer: a remote slower than this is slower than the local model."""
PROBE_S = 5.0
"""How often a remote that is down is asked whether it is back."""


class RemoteFailed(Exception):
    """The remote did not give an answer; the local model takes the request."""


class Remote:
    """One Wyoming server on another machine. Once it fails it stays down (the local model answers)
    until a probe finds it answering again (app/services.py watches it)."""

    def __init__(self, what: str, uri: str, timeout_s: float = TIMEOUT_S) -> None:
        self.what = what
        self.host, self.port = tcp_address(uri, f"{what}.server", "a Wyoming server")
        self.timeout_s = timeout_s
        self.failover = Failover(f"the {what} server at {self.address}", RemoteFailed)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def up(self) -> bool:
        return self.failover.up

    def failed(self, why: str) -> None:
        self.failover.failed(why)

    def answered(self) -> None:
        self.failover.answered()

    def session(self) -> Session:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as e:
            raise RemoteFailed(f"cannot connect: {e.strerror or e}") from None
        return Session(sock)

    def probe(self) -> bool:
        """Ask it to describe itself; whether it answered (and it is marked so)."""
        try:
            with self.session() as s:
                s.send(Describe().event())
                s.expect("info")
        except RemoteFailed as e:
            self.failed(str(e))
            return False
        self.answered()
        return True


class Session:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        # A buffered pair is not a BinaryIO by name, but reads and writes as one (wyoming asks for one).
        self.file = cast(BinaryIO, sock.makefile("rwb"))

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.file.close()
        finally:
            self.sock.close()

    def send(self, event: Event) -> None:
        try:
            write_event(event, self.file)
            self.file.flush()
        except OSError as e:
            raise RemoteFailed(f"the connection broke: {e.strerror or e}") from None

    def expect(self, *types: str) -> Event:
        """The next event of one of `types` (others are skipped); an `error` event or silence fails."""
        while True:
            try:
                event = read_event_from(self.file)
            except (OSError, TimeoutError) as e:
                raise RemoteFailed(f"no answer: {e}") from None
            except BadFrame as e:
                raise RemoteFailed(f"it sent {e.message}") from None
            if event is None:
                raise RemoteFailed("it hung up")
            if Error.is_type(event.type):
                raise RemoteFailed(f"it said: {Error.from_event(event).text}")
            if event.type in types:
                return event


class RemoteTranscriber:
    """Speech-to-text on the remote, the local Whisper when it is down. The remote gives one reading
    (no alternatives); the hints go along as `transcript_names`."""

    def __init__(self, remote: Remote, local: Transcriber) -> None:
        self.remote = remote
        self.local = local

    def hear(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> Heard:
        return self.remote.failover.call(lambda: Heard(self._remote(pcm, hints)), lambda: self.local.hear(pcm, hints))

    def transcribe(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> str:
        return self.hear(pcm, hints).text

    def warm_up(self) -> None:
        self.local.warm_up()

    def _remote(self, pcm: np.ndarray, hints: SpeechHints | None) -> str:
        names = list(hints.hotwords) if hints else []
        with self.remote.session() as s:
            s.send(Transcribe(language="en", transcript_names=names or None).event())
            s.send(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
            for start in range(0, len(pcm), 4096):
                s.send(
                    AudioChunk(
                        rate=SAMPLE_RATE, width=2, channels=1, audio=pcm[start : start + 4096].astype("<i2").tobytes()
                    ).event()
                )
            s.send(AudioStop().event())
            return str(Transcript.from_event(s.expect("transcript")).text)


class RemoteSynthesizer:
    """Text-to-speech on the remote, resampled to the local voice's rate; Piper here when it is down.
    A remote that breaks mid-reply ends that reply where it broke (nothing is said twice)."""

    BLOCK_S = 0.25
    """Remote audio is handed on in blocks this long: the first one plays while the rest arrives."""

    def __init__(self, remote: Remote, local: Synthesizer) -> None:
        self.remote = remote
        self.local = local
        self.rate = local.rate

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        if self.remote.up:
            started = False
            try:
                for block in self._remote(text):
                    started = True
                    yield block
            except RemoteFailed as e:
                self.remote.failed(str(e))
                if started:
                    return
            else:
                self.remote.answered()
                return
        yield from self.local.sentences(text)

    def warm_up(self) -> None:
        self.local.warm_up()

    def _remote(self, text: str) -> Iterator[np.ndarray]:
        incoming = Incoming(self.rate)
        with self.remote.session() as s:
            s.send(Synthesize(text=text).event())
            s.expect("audio-start")
            pending: list[np.ndarray] = []
            held = 0
            while AudioChunk.is_type((event := s.expect("audio-chunk", "audio-stop")).type):
                chunk = AudioChunk.from_event(event)
                try:
                    pcm = incoming.pcm(chunk)  # mono at the local voice's rate
                except ValueError as e:
                    raise RemoteFailed(str(e)) from None
                pending.append(pcm)
                held += len(pcm)
                if held >= self.BLOCK_S * self.rate:
                    yield np.concatenate(pending)
                    pending, held = [], 0
            if pending:
                yield np.concatenate(pending)
