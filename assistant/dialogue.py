"""Understand → Act → Reply, with a short memory: one request's text becomes one tool call and the
words to answer with, or a question (a missing argument, a yes for a risky tool) whose answer
completes the call.

Conversation rules, all within `understanding.followup_s` of the last exchange:
- a missing argument is asked for ("For how long?") and the answer completes the same call;
- a risky tool runs only after a yes; a no, or anything else, drops it;
- the previous exchange is shown to the planner, so "and the eggs too" continues it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from assistant.bus import Bus
from assistant.audit import AuditLog
from assistant.calls import record_call
from assistant.errors import AssistantError, SkillError
from assistant.events import Error, Intent, NoIntent, Question, Reply, ToolResultEvent
from assistant.plugins.api import ToolCall, ToolResult, ToolSpec
from assistant.plugins.registry import Registry
from assistant.understanding import phrasing
from assistant.understanding.prompt import PlanContext, describe_call
from assistant.understanding.router import Router

log = logging.getLogger(__name__)

CANNOT = "Sorry, I can't help with that yet."
FAILED = "Sorry, something went wrong while doing that."
PLANNER_DOWN = "Sorry, I can't think that through right now."
DROPPED = "Okay, I won't."

_YES = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "please", "confirm", "correct", "affirmative", "do it",
        "go ahead", "yes please", "please do", "of course", "absolutely", "right"}
_NO = {"no", "nope", "nah", "don't", "do not", "cancel", "stop", "never mind", "nevermind", "no thanks",
       "no thank you", "forget it", "leave it", "negative"}


_QUESTION = re.compile(r"(?i)((so|and|but|um|uh|hey)\W+)?(what|when|where|which|who|whose|why|how|is|are|was|were|will|would|"
                       r"could|can|should|has|have|does|did|do (i|you|we|they))\b|.*\?$")
"""A request worded as a question (speech-to-text writes the question mark as well); "do the dishes"
is not one."""


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the words are neither (a new request)."""
    words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
    phrase = " ".join(words)
    if phrase in _YES or (words and words[0] in _YES and not any(w in _NO for w in words)):
        return True
    if phrase in _NO or (words and words[0] in _NO):
        return False
    return None


@dataclass(frozen=True)
class _Pending:
    kind: Literal["missing", "confirm"]
    call: ToolCall
    question: str
    at: float


@dataclass(frozen=True)
class _Exchange:
    text: str
    call: ToolCall
    reply: str
    at: float

    def describe(self) -> str:
        return f'"{self.text}" -> {describe_call(self.call)} -> "{self.reply}"'


class Dialogue:
    def __init__(self, bus: Bus, registry: Registry, router: Router, followup_s: float = 30.0,
                 audit: AuditLog | None = None, phrase_timeout_s: float | None = None, origin: str = "voice") -> None:
        """phrase_timeout_s: how long the LLM may take to word a reply to an open question; None: never.
        origin: who this conversation is with, for the audit trail (calls.ORIGINS)."""
        self.bus = bus
        self.phrase_timeout_s = phrase_timeout_s
        self.registry = registry
        self.router = router
        self.followup_s = followup_s
        self.audit = audit
        self.origin = origin
        self._pending: _Pending | None = None
        self._last: _Exchange | None = None
        self._phrased = False

    def another(self, origin: str = "phone", bus: Bus | None = None) -> Dialogue:
        """A conversation of its own (a phone's, a satellite's), with the same skills, router and
        audit trail: its follow-ups and questions never mix with the room's. `bus`: where its events
        go, when not the assistant's own bus."""
        return Dialogue(bus or self.bus, self.registry, self.router, self.followup_s, self.audit, self.phrase_timeout_s,
                        origin)

    def understands(self, text: str) -> bool:
        """Whether the sentence templates fully understand `text` as a complete request (cheap: no
        LLM, no action). "Set a timer" is understood but incomplete: the person may go on."""
        call = self.router.matcher.match(text, self.registry.slot_values())
        if call is None:
            return False
        spec = self.registry.tool(call.tool)
        return spec.missing(_given(call.args)) is None

    def forget(self) -> None:
        """Drop the conversation's memory (a new, unrelated conversation starts)."""
        self._pending = None
        self._last = None

    async def handle(self, text: str, turn: int | None = None, audio_t: float | None = None,
                     others: Callable[[], list[str]] | None = None) -> str:
        """Act on one request and publish intent, tool_result, question and reply events; returns the reply.
        others: speech-to-text's next likeliest readings, tried on the templates when `text` matches none."""
        self._phrased = False
        reply = await self._respond(text, turn, audio_t, others)
        self.bus.publish(Reply(text=reply, phrased=self._phrased, turn=turn, audio_t=audio_t))
        return reply

    def _fresh(self, at: float | None) -> bool:
        return at is not None and time.monotonic() - at <= self.followup_s

    async def _respond(self, text: str, turn: int | None, audio_t: float | None, others: Callable[[], list[str]] | None) -> str:
        pending, self._pending = self._pending, None
        if pending is not None and self._fresh(pending.at):
            if pending.kind == "confirm":
                answer = yes_or_no(text)
                if answer is True:
                    return await self._run(pending.call, turn, audio_t)
                if answer is False:
                    return DROPPED
            else:
                completed = await self._complete(pending, text)
                if completed is not None:
                    return await self._act(completed, turn, audio_t)
        live = self.registry.slot_values()
        last = self._last if self._last is not None and self._fresh(self._last.at) else None
        try:
            call = await self.router.route(text, live, PlanContext(live=live, previous=last.describe() if last else "",
                                                                     previous_tool=last.call.tool if last else ""),
                                           others)
        except AssistantError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            return PLANNER_DOWN
        if call is None:
            answered = await self._unanswered(text, turn, audio_t)
            if answered is not None:
                return answered
            self.bus.publish(NoIntent(text=text, turn=turn, audio_t=audio_t))
            return CANNOT
        return await self._act(call, turn, audio_t)

    async def _unanswered(self, text: str, turn: int | None, audio_t: float | None) -> str | None:
        """A question no tool took, put whole to the tools that take such questions (`tool(unanswered=…)`,
        the household's documents): the first ok result answers it; None when none does."""
        if not _QUESTION.match(text.strip()):
            return None
        for spec in self.registry.tools():
            if not spec.unanswered:
                continue
            started = time.monotonic()
            try:
                call = ToolCall(tool=spec.qualified, args=spec.validate({spec.unanswered: text.strip()}),
                                source="unanswered", text=text)
                result: ToolResult = await asyncio.to_thread(spec.func, **call.args)
            except AssistantError as e:
                log.warning("%s could not take an unanswered question: %s", spec.qualified, e.message)
                continue
            except Exception:  # a broken skill must not take the assistant down
                log.exception("tool %s failed on an unanswered question", spec.qualified)
                continue
            if not result.ok:
                continue
            self._intent(call, turn, audio_t)
            await self._ran(call, result, time.monotonic() - started, turn, audio_t)
            self._last = _Exchange(text, call, result.speech, time.monotonic())
            return result.speech
        return None

    async def _complete(self, pending: _Pending, answer: str) -> ToolCall | None:
        """The pending call completed by the answer to its question, or None if the answer is not one.

        Templates first, on the original request followed by the answer ("set a timer" + "ten
        minutes"); then the planner, told what was asked."""
        live = self.registry.slot_values()
        joined = f"{pending.call.text} {answer}"
        call = await asyncio.to_thread(self.router.match_templates, joined, live)
        if call is None and self.router.planner is not None:
            context = PlanContext(live=live, previous=f'"{pending.call.text}" -> {describe_call(pending.call)}',
                                  question=pending.question, only=(pending.call.tool,))
            try:
                call = await self.router.planner.plan(answer, context)
            except AssistantError as e:
                log.warning("planner could not complete %s: %s", pending.call.tool, e.message)
                call = None
        if call is None or call.tool != pending.call.tool:
            return None
        return replace(call, args={**pending.call.args, **_given(call.args)}, text=joined)

    async def _act(self, call: ToolCall, turn: int | None, audio_t: float | None) -> str:
        """Validate, then ask for what is missing, ask for a yes, or run."""
        try:
            spec = self.registry.tool(call.tool)
            args = spec.validate(_given(call.args))
        except SkillError as e:
            if e.code != "missing_argument":
                self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
                return _explain(e)
            args = _given(call.args)
        call = replace(call, args=args)
        missing = spec.missing(args)
        if missing is not None:
            return self._ask("missing", call, missing[1], turn, audio_t)
        if spec.risky:
            self._intent(call, turn, audio_t)
            return self._ask("confirm", call, _confirm_question(spec, args), turn, audio_t)
        return await self._run(call, turn, audio_t, spec)

    async def perform(self, call: ToolCall, confirmed: bool = False, turn: int | None = None) -> tuple[bool, str]:
        """A call nobody spoke (a button on the phone page): (done, what to say). Not done, with the
        question to put to the person, when an argument is missing or the tool is risky and
        `confirmed` is not set; validation errors raise SkillError with a message for the person."""
        spec = self.registry.tool(call.tool)
        args = spec.validate(_given(call.args))
        missing = spec.missing(args)
        if missing is not None:
            return False, missing[1]
        if spec.risky and not confirmed:
            return False, _confirm_question(spec, args)
        return True, await self._run(replace(call, args=args), turn, None, spec)

    def _ask(self, kind: Literal["missing", "confirm"], call: ToolCall, question: str, turn: int | None, audio_t: float | None) -> str:
        self._pending = _Pending(kind, call, question, time.monotonic())
        self.bus.publish(Question(tool=call.tool, kind=kind, text=question, turn=turn, audio_t=audio_t))
        return question

    async def _run(self, call: ToolCall, turn: int | None, audio_t: float | None, spec: ToolSpec | None = None) -> str:
        spec = spec or self.registry.tool(call.tool)
        if not spec.risky:
            self._intent(call, turn, audio_t)
        start = time.monotonic()
        try:
            # Tools may touch the disk (a timer is written durably): keep that off the event loop.
            result: ToolResult = await asyncio.to_thread(spec.func, **call.args)
        except AssistantError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            result = ToolResult(FAILED, {"error": e.message}, ok=False)
        except Exception as e:  # a broken skill must not take the assistant down
            log.exception("tool %s failed", call.tool)
            self.bus.publish(Error(code="skill", message=f"{call.tool} failed: {e}", turn=turn, audio_t=audio_t))
            result = ToolResult(FAILED, {"error": str(e)}, ok=False)
        await self._ran(call, result, time.monotonic() - start, turn, audio_t)
        speech = result.speech
        if spec.phrased and result.ok and call.open_question:
            speech = await self._phrase(call.text, result.speech)
        self._last = _Exchange(call.text, call, speech, time.monotonic())
        return speech

    def _intent(self, call: ToolCall, turn: int | None, audio_t: float | None) -> None:
        self.bus.publish(Intent(tool=call.tool, args=call.args, source=call.source, score=call.score, text=call.text,
                                turn=turn, audio_t=audio_t))

    async def _ran(self, call: ToolCall, result: ToolResult, duration: float, turn: int | None, audio_t: float | None) -> None:
        """A call's result on the bus and in the audit trail."""
        self.bus.publish(ToolResultEvent(tool=call.tool, ok=result.ok, data=result.data, turn=turn, audio_t=audio_t))
        if self.audit is not None:
            await asyncio.to_thread(record_call, self.audit, self.origin, call, result, duration)

    async def _phrase(self, question: str, facts: str) -> str:
        """The LLM's answer to a freely worded open question, if it comes in time and states
        nothing the tool's result does not; else the tool's own reply (`facts`)."""
        planner = self.router.planner
        if planner is None or self.phrase_timeout_s is None:
            return facts
        try:
            answer = await planner.phrase(question, facts, self.phrase_timeout_s)
        except AssistantError as e:
            log.warning("could not phrase the reply: %s", e.message)
            return facts
        if answer is None:
            return facts
        why = phrasing.unsupported(answer, facts, question)
        if why is not None:
            log.info("phrased reply %r dropped: %s", answer, why)
            return facts
        self._phrased = True
        return answer


def _given(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments the producer actually gave (None means not given)."""
    return {k: v for k, v in args.items() if v is not None}


def _explain(error: SkillError) -> str:
    if error.code == "out_of_range":
        return "Sorry, that number is out of range for that."
    return CANNOT


def _confirm_question(spec: ToolSpec, args: dict[str, Any]) -> str:
    """The yes-or-no question before a risky tool runs: its own, or one made from its description.
    The tool's own may name its arguments ("Should I {command}?")."""
    if spec.confirm:
        return spec.confirm.format_map(_Blank({k: v for k, v in args.items() if v is not None}))
    return f"Should I {spec.description[0].lower()}{spec.description[1:].rstrip('.')}?"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "that"
