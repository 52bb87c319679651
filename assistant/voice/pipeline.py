"""The voice loop: wake word → end of speech → speech-to-text → dialogue → spoken reply, forever.

One task reads the audio source. It feeds the wake word detector while waiting and while a reply is
under way (so the wake word interrupts a reply: barge-in), and the VAD while listening. When silence
begins, transcription starts at once, in parallel with the silence timeout, and is thrown away if
speech resumes. A file read faster than real time is processed one request at a time: the reader
waits for each reply before reading on, and reply audio is placed on the input's timeline.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioSource
from assistant.core.bus import Bus
from assistant.core.config import VadConfig
from assistant.core.errors import AssistantError
from assistant.core.events import (
    BargeIn,
    Endpoint,
    Error,
    Listen,
    Ready,
    Reply,
    SpeakerHeard,
    SpeechEnd,
    SpeechResumed,
    SpeechStart,
    SttStart,
    Transcript,
    TtsEnd,
    Wake,
)
from assistant.core.memory import give_back_freed_memory_soon
from assistant.people.household import Household
from assistant.people.listening import Identified
from assistant.plugins.api import Speaker, TurnTaker, spoken_by, turns_go_to
from assistant.speech.stt import Heard, SpeechHints, Transcriber
from assistant.speech.vad import FRAME as VAD_FRAME
from assistant.speech.vad import EndOfSpeech, Signal, SileroVad
from assistant.speech.wake import WakeWordDetector
from assistant.voice.dialogue import SAY_AGAIN, Dialogue
from assistant.voice.reply import ReplySpeaker

log = logging.getLogger(__name__)

DIDNT_CATCH = "Sorry, I didn't catch that."


class State(enum.Enum):
    WAITING = "waiting"
    """Listening for the wake word."""
    LISTENING = "listening"
    """Wake word heard; collecting the request until the silence timeout."""
    RESPONDING = "responding"
    """Transcribing, acting and speaking; the wake word still interrupts."""


class AudioHistory:
    """The last few seconds of input, addressable by absolute sample index."""

    def __init__(self, keep_s: float) -> None:
        self.keep = int(keep_s * SAMPLE_RATE)
        self._blocks: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self.end = 0

    def append(self, block: np.ndarray) -> None:
        self._blocks.append((self.end, block))
        self.end += len(block)
        while self._blocks and self._blocks[0][0] + len(self._blocks[0][1]) < self.end - self.keep:
            self._blocks.popleft()

    def slice(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for offset, block in self._blocks:
            a, b = max(start, offset), min(stop, offset + len(block))
            if a < b:
                parts.append(block[a - offset : b - offset])
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)


def strip_wake_phrase(text: str, word: str) -> str:
    """Whisper sometimes hears the tail of the wake word ("Jarvis, what time is it?")."""
    wake = {w.lower() for w in word.replace("_", " ").split()}
    words = text.split()
    while words and words[0].strip(",.!?").lower() in wake:
        words.pop(0)
    return " ".join(words)


@dataclass
class _Turn:
    number: int
    task: asyncio.Task[None]


@dataclass(frozen=True)
class _Heard:
    """The latest utterance handed to speech-to-text: its transcription, its audio (for whoever takes
    the turns whole), and who spoke it, told beside (None while nobody is enrolled)."""

    stt: asyncio.Task[tuple[Heard, float]]
    audio: np.ndarray
    who: asyncio.Task[tuple[Identified, float]] | None = None


class VoiceLoop:
    def __init__(
        self,
        bus: Bus,
        wake: WakeWordDetector,
        vad: SileroVad,
        vad_config: VadConfig,
        transcriber: Transcriber,
        dialogue: Dialogue,
        speaker: ReplySpeaker,
        hints: Callable[[], SpeechHints],
        next_turn: Callable[[], int] | None = None,
        household: Household | None = None,
    ) -> None:
        """next_turn: numbers a new request; shared with the phone page so turns never collide.
        household: tells who spoke a request's audio, beside speech-to-text, while voices are enrolled;
        and learns voices read aloud (people/by_voice.py)."""
        self.household = household
        self._heard: _Heard | None = None
        self._who_asked: np.ndarray | None = None
        """The audio of a request answered with "who is it?": told again together with the answer."""
        self._taker: TurnTaker | None = None
        """Takes the next turns whole instead of the dialogue (a voice being learned)."""
        self.bus = bus
        self.wake = wake
        self.vad = vad
        self.vad_config = vad_config
        self.eos = EndOfSpeech(
            vad_config.min_speech_s,
            vad_config.trailing_silence_s,
            vad_config.max_utterance_s,
            vad_config.no_speech_timeout_s,
        )
        self.transcriber = transcriber
        self.dialogue = dialogue
        self.speaker = speaker
        self.hints = hints
        self.state = State.WAITING
        self.history = AudioHistory(vad_config.max_utterance_s + vad_config.no_speech_timeout_s + 2.0)
        self.turns = 0
        self._next_turn = next_turn or (lambda: self.turns + 1)
        self._turn: _Turn | None = None
        self._sink: AudioSink | None = None
        self._listen_start = 0  # absolute sample index where listening began
        self._utterance_start = 0
        self._speculative: asyncio.Task[tuple[Heard, float]] | None = None
        self._stt_lock = threading.Lock()  # two transcriptions at once would only slow both down
        self._announcements: collections.deque[tuple[str, bool]] = collections.deque()
        self._realtime = True
        self._reply_start_t = 0.0
        self._stt_generation = 0
        self._speculative_understood: bool | None = None
        self._woken: str | None = None
        self._then_listen: str | None = None
        """Why to listen again without the wake word once the reply has played ("answer", "again")."""
        self._listening_for: str | None = None
        """Why this listening began without the wake word; None: the wake word began it."""

    @property
    def audio_t(self) -> float:
        return self.history.end / SAMPLE_RATE

    # --- entry points -----------------------------------------------------------------------

    async def run(self, source: AudioSource, sink: AudioSink) -> None:
        """Process the source until it ends (a file) or forever (a microphone)."""
        self._sink = sink
        self._realtime = source.realtime
        self.bus.publish(Ready(audio_t=self.audio_t))
        async for block in source.blocks():
            self.history.append(block)
            if self.state is State.LISTENING:
                await self._listen(block)
            else:
                await self._watch_for_wake(block)
            if self._turn is not None and not self._realtime:
                await self._turn.task
            self._maybe_finish_reply()
        if self._turn is not None:
            await self._turn.task
        self._maybe_finish_reply(at_end=True)

    def reset(self) -> None:
        """After a crash of the loop: drop the request in progress and wait for the wake word again."""
        if self._turn is not None and not self._turn.task.done():
            self._turn.task.cancel()
        self._turn = None
        self._speculative = None
        self.state = State.WAITING
        self.vad.reset()
        self.eos.reset()

    async def announce(self, text: str, ring: bool = True) -> None:
        """Speak something nobody asked for (a timer is done) as soon as the assistant is free."""
        self._announcements.append((text, ring))
        if self.state is State.WAITING and self._turn is None:
            self._next_announcement()

    # --- waiting for the wake word, and barge-in ------------------------------------------

    def wake_now(self, word: str) -> None:
        """The wake word was heard elsewhere (a satellite's own detector): listen from the next audio."""
        self._woken = word

    async def _watch_for_wake(self, block: np.ndarray) -> None:
        if self._woken is not None:
            word, self._woken = self._woken, None
            await self._wake(word, 1.0, len(block) / SAMPLE_RATE)
            return
        detection = await asyncio.to_thread(self.wake.process, block)
        if detection is not None:
            await self._wake(detection.word, detection.score, detection.end_offset_s)

    async def _wake(self, word: str, score: float, end_offset_s: float) -> None:
        """Start listening `end_offset_s` before the end of the audio so far."""
        at = self.audio_t - end_offset_s
        if self.state is State.RESPONDING:
            self._barge_in(at)
        self.turns = self._next_turn()
        self.bus.publish(Wake(word=word, score=round(score, 3), audio_t=round(at, 3), turn=self.turns))
        await asyncio.to_thread(self.wake.reset)
        self._start_listening(self.history.end - int(round(end_offset_s * SAMPLE_RATE)), None)
        tail = self.history.slice(self._listen_start, self.history.end)
        if len(tail):
            await self._listen(tail)

    def _start_listening(self, start: int, reason: str | None) -> None:
        self.state = State.LISTENING
        self.vad.reset()
        self.eos.reset()
        self._speculative = None
        self._then_listen = None
        self._listening_for = reason
        self._listen_start = start

    def _listen_again(self, reason: str) -> None:
        """A reply that wants an answer has played: listen for it without the wake word."""
        self.turns = self._next_turn()
        self.bus.publish(Listen(reason=reason, audio_t=round(self.audio_t, 3), turn=self.turns))
        self._start_listening(self.history.end, reason)

    def _barge_in(self, at: float) -> None:
        assert self._sink is not None
        turn = self._turn
        if turn is not None and not turn.task.done():
            turn.task.cancel()
        played = self._sink.played_s(at)
        self._sink.interrupt(at)
        self._turn = None
        self.bus.publish(BargeIn(audio_t=round(at, 3), turn=turn.number if turn else None))
        self.bus.publish(
            TtsEnd(audio_s=round(played, 3), interrupted=True, audio_t=round(at, 3), turn=turn.number if turn else None)
        )

    # --- listening --------------------------------------------------------------------------

    async def _listen(self, block: np.ndarray) -> None:
        for is_speech in self.vad.process(block):  # ~0.1 ms a frame: cheaper than a thread hop
            for event in self.eos.process(VAD_FRAME / SAMPLE_RATE, is_speech):
                at = self._listen_start / SAMPLE_RATE + event.at
                if self._on_vad(event.signal, at):
                    return
            if self._should_transcribe_early():
                self._speculative = self._start_stt(self._position(), self.turns)
                if not self._realtime:
                    # A file waits for us: finish the early transcription now, so the result is the
                    # same as on a microphone where it runs during the silence.
                    await asyncio.wait([self._speculative])
            if self._understood_early():
                return

    def _position(self) -> int:
        """Where listening has got to, in samples of the history."""
        return self._listen_start + int(round(self.eos.t * SAMPLE_RATE))

    def _should_transcribe_early(self) -> bool:
        """Start transcribing during the silence timeout once the silence has lasted
        `transcribe_after_s`. At the first silent frame, a pause inside a word or between two
        (32-96 ms, in a third of spoken requests) started a transcription that was thrown away and
        still held the transcriber while the real one waited."""
        return (
            self._speculative is None
            and not self.eos.done
            and self.eos.started_at is not None
            and self.eos.in_silence
            and self.eos.silence_run >= self.vad_config.transcribe_after_s - 1e-9
        )

    def _understood_early(self) -> bool:
        """Confirm the end sooner when the early transcript is already a complete, matched request.

        The silence timeout exists to avoid cutting a person off; a request the templates fully
        understand after a short pause needs no more waiting.
        """
        early = self.vad_config.early_endpoint_s
        task = self._speculative
        if early is None or task is None or not task.done() or task.exception() is not None:
            return False
        if not self.eos.in_silence or self.eos.silence_run < early - 1e-9:
            return False
        if self._speculative_understood is None:  # decided once per transcript, not every frame
            heard, _ = task.result()
            self._speculative_understood = self.dialogue.understands(strip_wake_phrase(heard.text, self.wake.word))
        if not self._speculative_understood:
            return False
        at = (self._listen_start / SAMPLE_RATE) + self.eos.t
        self.eos.done = True
        self.bus.publish(Endpoint(reason="understood", audio_t=round(at, 3), turn=self.turns))
        self._begin_turn(self.turns, task)
        return True

    def _on_vad(self, signal: Signal, at: float) -> bool:
        """Handle one end-of-speech signal; True when listening is over."""
        turn = self.turns
        position = self._position()
        if signal is Signal.SPEECH_START:
            preroll = int(self.vad_config.preroll_s * SAMPLE_RATE)
            self._utterance_start = max(self._listen_start, int(at * SAMPLE_RATE) - preroll)
            self.bus.publish(SpeechStart(audio_t=round(at, 3), turn=turn))
        elif signal is Signal.SPEECH_END:
            self.bus.publish(SpeechEnd(audio_t=round(at, 3), turn=turn))
        elif signal is Signal.RESUMED:
            self.bus.publish(SpeechResumed(audio_t=round(at, 3), turn=turn))
            self._speculative = None  # its thread finishes on its own; the result is dropped
        elif signal in (Signal.ENDPOINT, Signal.MAX_LENGTH):
            reason = "silence" if signal is Signal.ENDPOINT else "max_length"
            self.bus.publish(Endpoint(reason=reason, audio_t=round(at, 3), turn=turn))
            stt = self._speculative or self._start_stt(position, turn)
            self._begin_turn(turn, stt)
            return True
        elif signal is Signal.NO_SPEECH:
            if self._listening_for is None:  # after a question, no answer is an answer: let it be
                self.bus.publish(
                    Error(
                        code="no_speech",
                        message="heard the wake word but no request after it",
                        audio_t=round(at, 3),
                        turn=turn,
                    )
                )
            self._back_to_waiting()
            return True
        return False

    def _start_stt(self, position: int, turn: int) -> asyncio.Task[tuple[Heard, float]]:
        audio = self.history.slice(self._utterance_start, position)
        self.bus.publish(
            SttStart(audio_s=round(len(audio) / SAMPLE_RATE, 3), audio_t=round(position / SAMPLE_RATE, 3), turn=turn)
        )
        hints = self.hints()
        self._stt_generation += 1
        self._speculative_understood = None
        generation = self._stt_generation

        def run() -> tuple[Heard, float]:
            with self._stt_lock:
                if generation != self._stt_generation:
                    return Heard(""), 0.0  # superseded while it waited: nobody will read it
                started = time.perf_counter()
                heard = self.transcriber.hear(audio, hints)
                return heard, time.perf_counter() - started

        task = asyncio.ensure_future(asyncio.to_thread(run))
        self._heard = _Heard(task, audio)
        if self.household is not None and self.household.knows_voices() and self._taker is None:
            household = self.household
            pending = self.dialogue.memory()[0]
            if pending is not None and pending.kind == "who" and self._who_asked is not None:
                # "Who is it?" is answered in a word or two: the voice is told from the request and
                # the answer together.
                audio = np.concatenate([self._who_asked, audio])

            def identify() -> tuple[Identified, float]:
                started = time.perf_counter()
                return household.identify(audio), time.perf_counter() - started

            self._heard = replace(self._heard, who=asyncio.ensure_future(asyncio.to_thread(identify)))
        return task

    # --- responding -------------------------------------------------------------------------

    def _begin_turn(self, number: int, stt: asyncio.Task[tuple[Heard, float]] | None) -> None:
        self.state = State.RESPONDING
        self._turn = _Turn(number, asyncio.create_task(self._respond(number, stt)))

    async def _respond(
        self, number: int, stt: asyncio.Task[tuple[Heard, float]] | None, say: str | None = None, ring: bool = False
    ) -> None:
        assert self._sink is not None
        try:
            if stt is not None:
                try:
                    heard, took = await stt
                except AssistantError as e:
                    self.bus.publish(Error(code=e.code, message=e.message, turn=number, audio_t=self.audio_t))
                    say = DIDNT_CATCH
                else:
                    heard = heard.reworded(lambda text: strip_wake_phrase(text, self.wake.word))
                    self.bus.publish(
                        Transcript(
                            text=heard.text,
                            stt_s=round(took, 3),
                            confidence=heard.confidence,
                            turn=number,
                            audio_t=round(self.audio_t, 3),
                        )
                    )
                    person = await self._tell_who(stt, number)
                    retry = self._listening_for == "again"
                    if self._taker is not None:
                        say = await self._hand_over(self._taker, stt, heard.text, number)
                    elif not heard.text.strip():
                        say = DIDNT_CATCH if retry else SAY_AGAIN
                    else:
                        with spoken_by(person), turns_go_to(self._take_turns):
                            say = await self.dialogue.handle(
                                heard.text,
                                number,
                                round(self.audio_t, 3),
                                others=heard.others,
                                hearing=heard,
                                retry=retry,
                            )
                    pending = self.dialogue.memory()[0]
                    asked = self._heard_of(stt)
                    self._who_asked = asked.audio if pending is not None and pending.kind == "who" and asked else None
                    if self._taker is not None or pending is not None:
                        self._then_listen = "answer"
                    elif say == SAY_AGAIN:
                        self._then_listen = "again"
            if say:
                await self.speaker.speak(say, self._sink, self._reply_starts, number, ring=ring)
        except asyncio.CancelledError:
            raise
        except AssistantError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=number, audio_t=self.audio_t))
        except Exception as e:  # keep listening whatever one request did
            log.exception("request %s failed", number)
            self.bus.publish(Error(code="internal", message=str(e), turn=number, audio_t=self.audio_t))

    def _heard_of(self, stt: asyncio.Task[tuple[Heard, float]]) -> _Heard | None:
        """The latest utterance, if `stt` is its transcription (a superseded one has no audio kept)."""
        return self._heard if self._heard is not None and self._heard.stt is stt else None

    def _take_turns(self, taker: TurnTaker) -> None:
        self._taker = taker

    async def _hand_over(self, taker: TurnTaker, stt: asyncio.Task[tuple[Heard, float]], text: str, number: int) -> str:
        """A turn taken whole (audio and words) by `taker`; its reply is published like the dialogue's."""
        heard = self._heard_of(stt)
        if heard is None:
            return DIDNT_CATCH
        say, more = await asyncio.to_thread(taker.take, heard.audio, text)
        if not more:
            self._taker = None
        self.bus.publish(Reply(text=say, phrased=False, turn=number, audio_t=round(self.audio_t, 3)))
        return say

    async def _tell_who(self, stt: asyncio.Task[tuple[Heard, float]], number: int) -> Speaker | None:
        """Publish who spoke and return them (a guest: a voice nobody enrolled); None while nobody is
        enrolled. Computed beside the transcription, so it is (nearly) always done by now."""
        heard = self._heard_of(stt)
        if heard is None or heard.who is None:
            if self.household is not None and self.household.knows_voices():
                # Voices are enrolled but this one was not told (its audio superseded): a guest who
                # may be someone, never "nobody enrolled", which would allow every role's tools.
                return Speaker(None, "guest", unsure=True)
            return None
        try:
            found, took = await heard.who
        except AssistantError as e:  # the voice is not told, the request still answered, as a guest's
            log.warning("could not tell who spoke: %s", e.message)
            # None would mean "nobody is enrolled": every role's tools and everyone's reminders.
            return Speaker(None, "guest", unsure=True)
        person = found.person
        self.bus.publish(
            SpeakerHeard(
                person=person.name if person else None,
                role=person.role if person else "guest",
                score=found.score,
                took_s=round(took, 3),
                turn=number,
                audio_t=round(self.audio_t, 3),
            )
        )
        return Speaker(person.name, person.role) if person else Speaker(None, "guest", unsure=found.maybe_someone)

    def _reply_starts(self) -> float:
        self._reply_start_t = round(self.audio_t, 3)
        return self._reply_start_t

    def _maybe_finish_reply(self, at_end: bool = False) -> None:
        turn = self._turn
        if turn is None or not turn.task.done():
            return
        assert self._sink is not None
        at = 1e9 if at_end else self.audio_t  # at the end of input, whatever is queued plays out
        if self._sink.playing(at):
            return
        played = self._sink.played_s(at)
        self._turn = None
        if played > 0:
            end_t = self.audio_t if not at_end else self._reply_start_t + played
            self.bus.publish(TtsEnd(audio_s=round(played, 3), turn=turn.number, audio_t=round(end_t, 3)))
        if at_end:
            return
        if self._then_listen is not None:
            self._listen_again(self._then_listen)
        else:
            self._back_to_waiting()

    def _back_to_waiting(self) -> None:
        if self._taker is not None:
            log.info("no answer: %s is dropped", type(self._taker).__name__)
            self._taker = None
        self._then_listen = None
        self._listening_for = None
        self.state = State.WAITING
        self.bus.publish(Ready(audio_t=round(self.audio_t, 3)))
        give_back_freed_memory_soon()  # what hearing and answering freed
        self._next_announcement()

    def _next_announcement(self) -> None:
        if not self._announcements or self._sink is None:
            return
        text, ring = self._announcements.popleft()
        self.state = State.RESPONDING
        self._turn = _Turn(0, asyncio.create_task(self._respond(0, None, say=text, ring=ring)))
