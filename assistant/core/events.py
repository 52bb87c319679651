"""The one vocabulary of pipeline events, shared by every stage, the event log and the tests.

Each event has one wire name (`type`), the wall-clock time it happened (`t`) and, where there is an
input stream, the position in that stream it refers to (`audio_t`). `turn` groups the events of one
spoken or typed request.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[str] = "event"

    t: float = field(default_factory=time.time)
    """Wall-clock time of the event, seconds since the epoch."""

    audio_t: float | None = None
    """Seconds into the input audio stream this event refers to, where there is a stream."""

    turn: int | None = None
    """Number of the request this event belongs to, counting from 1 in this run."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("audio_t", "turn"):
                continue
            data[f.name] = value
        return data


@dataclass(frozen=True, kw_only=True)
class Ready(Event):
    """The assistant is listening for the wake word (at start and after every reply)."""

    type: ClassVar[str] = "ready"


@dataclass(frozen=True, kw_only=True)
class Wake(Event):
    """The wake word was heard."""

    type: ClassVar[str] = "wake"
    word: str
    """Name of the wake word model that fired."""
    score: float
    """Detector score, 0..1, of the frame that crossed the threshold."""


@dataclass(frozen=True, kw_only=True)
class Listen(Event):
    """Listening again without the wake word, right after a reply that wants an answer."""

    type: ClassVar[str] = "listen"
    reason: str
    """"answer" (a question was asked: a yes, a no, a correction or the missing words) or "again"
    (nothing fitted what was heard: the person was asked to say it again)."""


@dataclass(frozen=True, kw_only=True)
class SpeechStart(Event):
    """The request began: voiced audio after the wake word."""

    type: ClassVar[str] = "speech_start"


@dataclass(frozen=True, kw_only=True)
class SpeechEnd(Event):
    """Silence began. `audio_t` is the end of the last voiced audio, not when the timeout confirmed it."""

    type: ClassVar[str] = "speech_end"


@dataclass(frozen=True, kw_only=True)
class SpeechResumed(Event):
    """Speech came back before the silence timeout: the early transcription is thrown away."""

    type: ClassVar[str] = "speech_resumed"


@dataclass(frozen=True, kw_only=True)
class Endpoint(Event):
    """The end of the utterance is confirmed."""

    type: ClassVar[str] = "endpoint"
    reason: str
    """"silence" (the trailing silence timeout), "understood" (a shorter silence after a request the
    templates already understood) or "max_length" (the utterance grew too long)."""


@dataclass(frozen=True, kw_only=True)
class SttStart(Event):
    """Transcription started: at the first silent frame, while the silence timeout still runs."""

    type: ClassVar[str] = "stt_start"
    audio_s: float
    """Seconds of audio handed to speech-to-text."""


@dataclass(frozen=True, kw_only=True)
class Transcript(Event):
    """What was heard, or typed."""

    type: ClassVar[str] = "transcript"
    text: str
    """What speech-to-text heard (or what was typed)."""
    stt_s: float = 0.0
    """Seconds speech-to-text took; 0 for typed text."""
    confidence: float = 1.0
    """How sure speech-to-text is of the text, 0..1 (exp of its mean log-probability per token); 1 for typed text."""


@dataclass(frozen=True, kw_only=True)
class SpeakerHeard(Event):
    """Who said the request, told by their voice beside speech-to-text; only while someone's voice is
    enrolled (`assistant people enroll`)."""

    type: ClassVar[str] = "speaker"
    person: str | None
    """The enrolled person; None for a voice nobody enrolled, or too little speech to tell."""
    role: str
    """The person's role (adult, child, guest or the household's own); "guest" for nobody."""
    score: float
    """Similarity to the nearest voiceprint, -1..1 (0 when there was nothing to compare)."""
    took_s: float
    """Seconds the identification took, in parallel with speech-to-text."""


@dataclass(frozen=True, kw_only=True)
class Intent(Event):
    """The request was understood as one tool call."""

    type: ClassVar[str] = "intent"
    tool: str
    """Qualified tool name, "skill.tool"."""
    args: dict[str, Any]
    """Validated arguments of the call."""
    source: str
    """"template" or "llm"; "unanswered" when a question no tool took was put whole to a tool that
    takes such questions (the household's documents) and answered there."""
    score: float = 1.0
    """1.0 for an exact template match; the similarity of a fuzzy one; 1.0 for the LLM."""
    text: str = ""
    """The words understood: the transcript, or speech-to-text's next likeliest reading of it when the
    transcript matched no template and that reading did."""


@dataclass(frozen=True, kw_only=True)
class Question(Event):
    """The assistant asks before acting: a missing argument, or a yes for a risky tool."""

    type: ClassVar[str] = "question"
    tool: str
    """The tool that asks, "skill.tool"."""
    kind: str
    """"missing" (the answer completes the call), "confirm" (yes runs it, no drops it) or "who" (the
    voice was not sure enough for a tool for certain roles: told again from the request and the answer)."""
    text: str
    """What is asked, e.g. "For how long?"."""


@dataclass(frozen=True, kw_only=True)
class NoIntent(Event):
    """Nothing understood the request; the reply says so honestly."""

    type: ClassVar[str] = "no_intent"
    text: str
    """The request nothing understood."""


@dataclass(frozen=True, kw_only=True)
class ToolResultEvent(Event):
    """What the skill did."""

    type: ClassVar[str] = "tool_result"
    tool: str
    """The tool that ran, "skill.tool"."""
    ok: bool
    """False when the tool refused or failed; the reply then says why."""
    data: dict[str, Any]
    """The tool's structured result."""


@dataclass(frozen=True, kw_only=True)
class Reply(Event):
    """What the assistant answers."""

    type: ClassVar[str] = "reply"
    text: str
    """What is said."""
    phrased: bool = False
    """Worded by the LLM from the tool's result (an open question), not the tool's own reply."""


@dataclass(frozen=True, kw_only=True)
class TtsStart(Event):
    """The first reply audio is ready and handed to the speaker."""

    type: ClassVar[str] = "tts_start"
    synth_s: float
    """Seconds from the reply text to its first audio."""


@dataclass(frozen=True, kw_only=True)
class TtsEnd(Event):
    """The reply finished playing, or was cut by the wake word."""

    type: ClassVar[str] = "tts_end"
    audio_s: float
    """Seconds of reply audio that were played."""
    interrupted: bool = False
    """True when the wake word cut the reply short (barge-in)."""


@dataclass(frozen=True, kw_only=True)
class BargeIn(Event):
    """The wake word was heard while the assistant was speaking: speech stopped, listening again."""

    type: ClassVar[str] = "barge_in"


@dataclass(frozen=True, kw_only=True)
class TimerDone(Event):
    """A timer rang (its first ring); routines with `event: timer_done` start on it."""

    type: ClassVar[str] = "timer_done"
    timer_id: str
    """The timer's id (as `assistant timers list` shows it)."""
    name: str | None
    """The name the person gave the timer, if any."""
    duration_s: float
    """The duration the timer was set for, in seconds."""


@dataclass(frozen=True, kw_only=True)
class Due(Event):
    """A timer, alarm or reminder rings, or was missed while the assistant was off."""

    type: ClassVar[str] = "due"
    kind: str
    """"timer", "alarm" or "reminder"."""
    item_id: str
    """The item's id (as `assistant timers|alarms|reminders list` shows it)."""
    reason: str
    """"ring" (due now) or "missed" (came due while the assistant was off)."""
    repeat: int = 0
    """0 for the first ring, then 1, 2 … while nobody says stop."""
    text: str = ""
    """What the assistant says about it."""


@dataclass(frozen=True, kw_only=True)
class Error(Event):
    """Something a person should know went wrong, e.g. `no_speech` after a wake word with no request."""

    type: ClassVar[str] = "error"
    code: str
    """Stable code: no_speech, stt, tts, skill, audio_input, …"""
    message: str
    """One line a person can act on."""


@dataclass(frozen=True, kw_only=True)
class DeviceFound(Event):
    """A device answered: `change` is new, moved (a new address), back (was offline) or same."""

    type: ClassVar[str] = "device_found"
    device_id: str
    """The assistant's stable id for the device (its MAC or serial where known)."""
    name: str
    """The device's name."""
    protocol: str
    """The driver that speaks to it: wled, shelly, hue, cast, esphome or home_assistant."""
    address: str
    """Where it answered: host and port."""
    change: str
    """new, moved (a new address), back (was offline) or same."""


@dataclass(frozen=True, kw_only=True)
class DeviceLost(Event):
    """A device left the network (its mDNS goodbye) or stopped answering; it is kept, as offline."""

    type: ClassVar[str] = "device_lost"
    device_id: str
    """The assistant's stable id for the device."""
    name: str
    """The device's name."""
    reason: str
    """"goodbye" (it said so by mDNS) or why it stopped answering."""


@dataclass(frozen=True, kw_only=True)
class DeviceRejected(Event):
    """An announcement or a device's answer was malformed, slow or unsupported; nothing was recorded."""

    type: ClassVar[str] = "device_rejected"
    service: str
    """The mDNS service name of the announcement (or home_assistant for its source)."""
    code: str
    """Why: unresolved, bad_announcement, bad_txt, device_timeout, or the error code the device's driver gave."""
    message: str
    """One line saying what was wrong."""


@dataclass(frozen=True, kw_only=True)
class ServiceChanged(Event):
    """A supervised service of the running assistant changed state (`assistant status` shows them all)."""

    type: ClassVar[str] = "service"
    service: str
    """audio, pipeline, scheduler, routines, discovery, web or media."""
    state: str
    """starting, running, restarting (it crashed or lost its device; `error` says why), failed (an optional
    service, the LLM, whose first start failed; `error` says why, and it is not tried again), finished
    or stopped."""
    restarts: int = 0
    """How many times the service was started again since the assistant started."""
    error: str | None = None
    """Why it crashed or is restarting, in one line; None while it runs well."""
