"""Talking from the phone: push-to-talk audio and typed text enter the same understanding as the
room's voice (no wake word: the button is the wake word, its release the end of speech).

Each phone has its own conversation (its follow-ups never mix with the room's), and its turns are
numbered from the assistant's one counter, so the event stream tells every request apart. The
reply is spoken on the phone (int16 frames over the websocket) or in the room (`reply_on`).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from assistant.audio.wav import resample
from assistant.core.events import Reply, SttStart, Transcript, TtsEnd
from assistant.plugins.api import TurnTaker, spoken_by, turns_go_to
from assistant.voice.dialogue import Dialogue
from assistant.voice.reply import ReplySpeaker
from assistant.web.auth import Phone
from assistant.web.page_core import PageCore
from assistant.web.phone_person import speaker_of

Send = Callable[[Any], None]
"""Queues a JSON-able dict or raw bytes for one phone's websocket."""

STT_RATE = 16000
MIN_SPEECH_S = 0.2
NOT_HEARD = "I didn't catch that. Hold the button while you speak."
TAKER_FRESH_S = 120.0
"""How long a phone may take to send the next reading of a voice being learned."""
MADE_TURNS = 100
"""How many of a phone's latest turns are remembered as its own (their events are sent to it)."""


class PhoneSink:
    """An AudioSink that hands each block of the reply to the phone as int16 frames at `rate`."""

    def __init__(self, send: Send, rate: int, turn: int) -> None:
        self.send, self.rate, self.turn = send, rate, turn
        self.samples = 0

    def begin(self, audio_t: float) -> None:
        self.send({"type": "reply_audio", "rate": self.rate, "turn": self.turn})

    def write(self, pcm: np.ndarray, rate: int) -> None:
        block = resample(pcm, rate, self.rate).astype("<i2")
        self.samples += len(block)
        self.send(block.tobytes())

    def playing(self, audio_t: float) -> bool:
        return False

    def played_s(self, audio_t: float) -> float:
        return 0.0

    def end(self) -> None:
        pass

    def interrupt(self, audio_t: float) -> None:
        pass

    def close(self) -> None:
        self.send({"type": "reply_audio_end", "turn": self.turn, "audio_s": round(self.samples / self.rate, 3)})


class PhoneTalk:
    def __init__(
        self,
        core: PageCore,
        transcriber: Any | None,
        speaker: ReplySpeaker | None,
        reply_on: str = "phone",
        announce: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """transcriber/speaker: the loaded speech models (None: typed text only)."""
        self.core = core
        self.transcriber = transcriber
        self.speaker = speaker
        self.reply_on = reply_on
        self.announce = announce
        self._dialogues: dict[str, Dialogue] = {}
        self._takers: dict[str, tuple[TurnTaker, float]] = {}
        """Per phone: what takes its next recordings whole (a voice being learned), and since when."""
        self._stt = asyncio.Lock()  # one phone transcription at a time: two would only slow both
        self._turns: dict[str, collections.deque[int]] = {}
        """Per phone: the turns its own requests were (the latest MADE_TURNS), whose events it sees."""

    def dialogue(self, phone_id: str) -> Dialogue:
        if phone_id not in self._dialogues:
            self._dialogues[phone_id] = self.core.dialogue.another()
        return self._dialogues[phone_id]

    def made(self, phone_id: str, turn: int) -> bool:
        """Whether `turn` is one of this phone's own requests."""
        return turn in self._turns.get(phone_id, ())

    def next_turn(self, phone_id: str) -> int:
        """A turn number for a request of this phone's (typed, spoken or a button), kept as its own."""
        turn = self.core.next_turn()
        self._turns.setdefault(phone_id, collections.deque(maxlen=MADE_TURNS)).append(turn)
        return turn

    async def typed(self, phone: Phone, text: str) -> tuple[int, str]:
        """Act on typed text; (turn, reply). The reply comes back as events, not speech."""
        turn = self.next_turn(phone.id)
        text = " ".join(text.split())
        self.core.bus.publish(Transcript(text=text, turn=turn))
        with spoken_by(speaker_of(phone, self.core.household)):
            reply = await self.dialogue(phone.id).handle(text, turn=turn)
        return turn, reply

    async def spoken(self, phone: Phone, pcm: np.ndarray, rate: int, send: Send) -> tuple[int, str]:
        """Act on a push-to-talk recording (int16 mono at `rate`) and speak the reply; background
        work waits meanwhile, as it does for the room's voice."""
        turn = self.next_turn(phone.id)
        holder = f"phone-{turn}"
        self.core.foreground.hold(holder)
        try:
            return await self._spoken(phone, pcm, rate, send, turn)
        finally:
            self.core.foreground.release(holder)

    async def _spoken(self, phone: Phone, pcm: np.ndarray, rate: int, send: Send, turn: int) -> tuple[int, str]:
        audio = resample(pcm, rate, STT_RATE) if rate != STT_RATE else pcm
        if self.transcriber is None:
            send({"type": "error", "code": "not_ready", "message": "speech-to-text is not loaded", "turn": turn})
            return turn, ""
        if len(audio) < MIN_SPEECH_S * STT_RATE:
            return turn, await self._say(NOT_HEARD, turn, send)
        self.core.bus.publish(SttStart(audio_s=round(len(audio) / STT_RATE, 3), turn=turn))
        start = time.perf_counter()
        async with self._stt:
            heard = await asyncio.to_thread(self.transcriber.hear, audio, self.core.speech_hints())
        text = heard.text.strip()
        self.core.bus.publish(
            Transcript(text=text, stt_s=round(time.perf_counter() - start, 3), confidence=heard.confidence, turn=turn)
        )
        taker = self._taker(phone.id)
        if taker is not None:
            reply, more = await asyncio.to_thread(taker.take, audio, text)
            if more:
                self._takers[phone.id] = (taker, time.monotonic())
            else:
                self._takers.pop(phone.id, None)
            self.core.bus.publish(Reply(text=reply, phrased=False, turn=turn))
        elif not text:
            return turn, await self._say(NOT_HEARD, turn, send)
        else:
            with spoken_by(speaker_of(phone, self.core.household)), turns_go_to(self._hand_to(phone.id)):
                reply = await self.dialogue(phone.id).handle(text, turn=turn, others=heard.others, hearing=heard)
        await self._say(reply, turn, send)
        return turn, reply

    def _hand_to(self, phone_id: str) -> Callable[[TurnTaker], None]:
        def claim(taker: TurnTaker) -> None:
            self._takers[phone_id] = (taker, time.monotonic())

        return claim

    def _taker(self, phone_id: str) -> TurnTaker | None:
        """The phone's taker while its last answer is fresh (the room's loop stops listening for an
        answer after a while; a phone's recording days later is a request of its own)."""
        held = self._takers.get(phone_id)
        if held is None:
            return None
        if time.monotonic() - held[1] > TAKER_FRESH_S:
            del self._takers[phone_id]
            return None
        return held[0]

    async def _say(self, text: str, turn: int, send: Send) -> str:
        if not text:
            return text
        if self.reply_on == "room" and self.announce is not None:
            await self.announce(text)
            return text
        if self.speaker is None:
            return text
        sink = PhoneSink(send, self.speaker.synthesizer.rate, turn)
        await self.speaker.speak(text, sink, lambda: None, turn=turn)
        sink.close()
        self.core.bus.publish(TtsEnd(audio_s=round(sink.samples / sink.rate, 3), turn=turn))
        return text
