"""Understand → Act → Reply, with a short memory: one request's text becomes one tool call and the
words to answer with, or a question (a missing argument, a yes for a risky tool) whose answer
completes the call.

Conversation rules, all within `understanding.followup_s` of the last exchange:
- a missing argument is asked for ("For how long?") and the answer completes the same call;
- a risky tool runs only after a yes, and so does a tool that changes something when the request was
  understood with less confidence than `understanding.confirm_below` (the question restates it: "Dim
  the bedroom light to thirty percent?"); a no drops it, a no with more words corrects it ("no, the
  kitchen light"), and anything else is a new request;
- the previous exchange is shown to the planner, so "and the eggs too" continues it.

A conversation that may not confirm (`may_confirm=False`: a Wyoming client) never takes a yes for a
risky tool: that is refused with the reason in words. A change understood with too little confidence
is still put back as a question there (its yes can do no more than the request itself could).

What a conversation remembers (its open question, its last exchange) can be taken out and put back
(`memory`, `recall`), so one that lives across processes (`assistant ask`) goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from assistant.core.bus import Bus
from assistant.core.errors import AssistantError, NotForThisRole, RequestTooLong, SkillError
from assistant.core.events import Error, Intent, NoIntent, Question, Reply, ToolResultEvent
from assistant.core.store import room_problem
from assistant.people.voiceprints import a_role, name_key
from assistant.plugins.api import ORIGIN, Speaker, ToolCall, ToolResult, ToolSpec, saying, speaker, spoken_by
from assistant.plugins.registry import Registry
from assistant.trust.audit import AuditError, AuditLog
from assistant.trust.calls import record_call
from assistant.understanding import phrasing
from assistant.understanding.corrections import corrected
from assistant.understanding.prompt import PlanContext, describe_call
from assistant.understanding.router import Hearing, Router

log = logging.getLogger(__name__)

CANNOT = "Sorry, I can't help with that yet."
BROKE = "Sorry, the {skill} skill broke while doing that; the details are in the assistant's log."
"""A fault in a skill (an exception that is no AssistantError): not the person's doing, and nothing
they can change by asking differently."""
PLANNER_DOWN = "Sorry, I can't think that through right now."
PLANNER_BROKEN = "Sorry, I can't work that out: my language model didn't load."
"""The LLM could not be loaded at all (`assistant status` says why); the templates still serve."""
DROPPED = "Okay, I won't."
WHO_IS_IT = "I can't tell who is speaking. Who is it?"
NOT_TOLD = "I didn't do that: I need your name when I ask who it is. Ask again if you like."
"""Asked before a tool for certain roles when the voice may be an enrolled one but is not sure enough."""
SAY_AGAIN = "Sorry, say that again?"
CANNOT_CONFIRM = "I can't do that from here; ask me directly."
DISK_FULL = "My disk is full, so I can't do that and keep a record of it. Please free some space, then ask again."
UNRECORDED = "I couldn't write that in my record of what I do: {why}."
"""A risky tool asked for where a yes is not taken (may_confirm=False)."""
SAY_AGAIN_BELOW = 0.6
"""A spoken request that nothing fits, heard with less confidence than this, is asked again once
rather than refused: it was more likely misheard than asked for."""

_YES = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "please",
    "confirm",
    "correct",
    "affirmative",
    "do it",
    "go ahead",
    "yes please",
    "please do",
    "of course",
    "absolutely",
    "right",
}
_NO = {
    "no",
    "nope",
    "nah",
    "don't",
    "do not",
    "cancel",
    "stop",
    "never mind",
    "nevermind",
    "no thanks",
    "no thank you",
    "forget it",
    "leave it",
    "negative",
}


_QUESTION = re.compile(
    r"(?i)((so|and|but|um|uh|hey)\W+)?(what|when|where|which|who|whose|why|how|is|are|was|were|will|would|"
    r"could|can|should|has|have|does|did|do (i|you|we|they))\b|.*\?$"
)
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


_PLAIN_NO = {"no", "nope", "nah", "no thanks", "no thank you", "negative"}
"""A no that can go on with what was meant instead ("no, the kitchen light"); "don't …", "stop …" and
"cancel …" cannot: what follows them is not wanted."""
_FILLERS = (
    "thanks",
    "thank you",
    "sorry",
    "actually",
    "wait",
    "i said",
    "i meant",
    "i mean",
    "not that one",
    "not that",
)


def declined_with(text: str) -> str:
    """What a plain no goes on with: "no, the kitchen light" → "the kitchen light"; "" when nothing
    follows it, when the no is not a plain one, or when what follows is a no or a yes again."""
    words = re.sub(r"[^a-z0-9'% ]", " ", text.lower()).split()
    for size in (3, 2, 1):
        if " ".join(words[:size]) in _PLAIN_NO:
            rest = " ".join(words[size:])
            break
    else:
        return ""
    for filler in _FILLERS:
        rest = rest.removeprefix(filler).strip() if rest == filler or rest.startswith(f"{filler} ") else rest
    return "" if not rest or yes_or_no(rest) is not None else rest


@dataclass(frozen=True)
class Pending:
    """A question the assistant asked and the call its answer is for."""

    kind: Literal["missing", "confirm", "who"]
    """ "missing": an argument is asked for; "confirm": a yes is needed before the call runs; "who": the
    voice was not sure enough for a tool for certain roles, and is asked who it is."""
    call: ToolCall
    question: str
    at: float
    """When it was asked (time.monotonic())."""
    asker: Speaker | None = None
    """Who made the request (plugins.api.speaker()); the answer ("yes", "ten minutes") is too short to
    tell a voice by, so the call runs as theirs unless the answer's voice is told as someone else's, or
    as a voice nobody enrolled (enough speech, near nobody)."""

    def answered_by(self, now: Speaker | None) -> Speaker | None:
        if now is None or (now.name is None and now.unsure):
            return self.asker if self.asker is not None else now
        return now


@dataclass(frozen=True)
class Exchange:
    """The last request that was acted on, for follow-ups ("make it ten minutes instead")."""

    text: str
    call: ToolCall
    reply: str
    at: float
    """When it was answered (time.monotonic())."""

    def describe(self) -> str:
        return f'"{self.text}" -> {describe_call(self.call)} -> "{self.reply}"'


class Dialogue:
    def __init__(
        self,
        bus: Bus,
        registry: Registry,
        router: Router,
        followup_s: float = 30.0,
        audit: AuditLog | None = None,
        phrase_timeout_s: float | None = None,
        origin: str = "voice",
        confirm_below: float = 0.75,
        may_confirm: bool = True,
        peer: str | None = None,
    ) -> None:
        """phrase_timeout_s: how long the LLM may take to word a reply to an open question; None: never.
        origin: who this conversation is with, for the audit trail (calls.ORIGINS).
        confirm_below: a call scored below this, to a tool that changes something, is confirmed first.
        may_confirm: False: a risky call, which would need a yes, is refused instead (CANNOT_CONFIRM).
        peer: the network address of whoever this is with, recorded with each call."""
        self.bus = bus
        self.phrase_timeout_s = phrase_timeout_s
        self.registry = registry
        self.router = router
        self.followup_s = followup_s
        self.audit = audit
        self.origin = origin
        self.confirm_below = confirm_below
        self.may_confirm = may_confirm
        self.peer = peer
        self._hearing: Hearing | None = None
        self._retry = False
        self._pending: Pending | None = None
        self._last: Exchange | None = None
        self._phrased = False

    def another(
        self, origin: str = "phone", bus: Bus | None = None, may_confirm: bool = True, peer: str | None = None
    ) -> Dialogue:
        """A conversation of its own (a phone's, a satellite's, a Wyoming client's), with the same
        skills, router and audit trail: its follow-ups and questions never mix with the room's.
        `bus`: where its events go, when not the assistant's own bus; may_confirm, peer: as Dialogue's."""
        return Dialogue(
            bus or self.bus,
            self.registry,
            self.router,
            self.followup_s,
            self.audit,
            self.phrase_timeout_s,
            origin,
            self.confirm_below,
            may_confirm,
            peer,
        )

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

    def memory(self) -> tuple[Pending | None, Exchange | None]:
        """What the conversation remembers that is still within the follow-up window: the question
        waiting for an answer, and the last exchange."""
        pending = self._pending if self._pending is not None and self._fresh(self._pending.at) else None
        last = self._last if self._last is not None and self._fresh(self._last.at) else None
        return pending, last

    def recall(self, pending: Pending | None, last: Exchange | None) -> None:
        """Go on from a memory taken out with `memory` (by this process or an earlier one)."""
        self._pending, self._last = pending, last

    async def handle(
        self,
        text: str,
        turn: int | None = None,
        audio_t: float | None = None,
        others: Callable[[], list[str]] | None = None,
        hearing: Hearing | None = None,
        retry: bool = False,
    ) -> str:
        """Act on one request and publish intent, tool_result, question and reply events; returns the reply.
        others: speech-to-text's next likeliest readings, tried on the templates when `text` matches none.
        hearing: a spoken request's scorer and confidence (closed-vocabulary hearing; see Router.route).
        When nothing fits a spoken request that speech-to-text was unsure of, the person is asked to
        say it again (SAY_AGAIN), once: `retry` says this request is the second try."""
        self._phrased = False
        self._hearing, self._retry = hearing, retry
        origin = ORIGIN.set(self.origin)
        try:
            reply = await self._respond(text, turn, audio_t, others)
        finally:
            ORIGIN.reset(origin)
            self._hearing, self._retry = None, False
        self.bus.publish(Reply(text=reply, phrased=self._phrased, turn=turn, audio_t=audio_t))
        return reply

    def _fresh(self, at: float | None) -> bool:
        return at is not None and time.monotonic() - at <= self.followup_s

    async def _respond(
        self, text: str, turn: int | None, audio_t: float | None, others: Callable[[], list[str]] | None
    ) -> str:
        pending, self._pending = self._pending, None
        if pending is not None and self._fresh(pending.at):
            if pending.kind == "who":  # told from the request's audio and the answer's together
                return await self._who_it_is(pending, text, turn, audio_t)
            heard = speaker()
            with spoken_by(pending.answered_by(heard)):
                return await self._answer(pending, text, turn, audio_t, others, heard)
        return await self._request(text, turn, audio_t, others)

    async def _who_it_is(self, pending: Pending, text: str, turn: int | None, audio_t: float | None) -> str:
        """The answer to "who is it?": the call goes on as the voice now told, or is refused.

        The answer must say the name of the person its voice is told as. The voice is told from the
        request's audio and the answer's together, so without that an adult saying anything at all
        next (a request of her own) would lend her voice to a child's request."""
        spec = self.registry.tool(pending.call.tool)
        barred = _barred(spec)
        if barred is not None:
            return await self._not_for(pending.call, spec, replace(barred, unsure=False), turn, audio_t)
        heard = speaker()
        if heard is not None and (heard.name is None or not _names(text, heard.name)):
            self.bus.publish(
                Error(
                    code="role",
                    message=f"{pending.call.tool} not done: the answer to who is speaking did not say "
                    f"{heard.name or 'a known name'}",
                    turn=turn,
                    audio_t=audio_t,
                )
            )
            return NOT_TOLD
        return await self._act(pending.call, turn, audio_t)

    async def _answer(
        self,
        pending: Pending,
        text: str,
        turn: int | None,
        audio_t: float | None,
        others: Callable[[], list[str]] | None,
        heard: Speaker | None,
    ) -> str:
        """The turn after a question: its answer, a no with a correction, or a request of its own.
        The answer is the asker's (Pending.answered_by); a request of its own is `heard`'s, the voice
        that said it, never the asker's."""
        if pending.kind == "confirm":
            answer = yes_or_no(text)
            if (
                answer is True
                and _someone_else(pending.asker, heard)
                and _barred(self.registry.tool(pending.call.tool)) is None
            ):
                # Anna's "forget my voice?" answered by Ben's "yes, go ahead" would forget Ben's. (A
                # tool Ben's role may not use is refused to him as it runs, and that is audited.)
                assert pending.asker is not None and heard is not None
                return f"I didn't: that yes wasn't {pending.asker.name}'s voice. {pending.asker.name} can ask again."
            if answer is True:
                return await self._run(pending.call, turn, audio_t, announced=True)
            if answer is False:
                rest = declined_with(text)
                if not rest:
                    return DROPPED
                # "No, the kitchen light": the same request with what was misheard put right, else
                # what follows the no is a request of its own.
                fixed = await asyncio.to_thread(corrected, pending.call, rest, self.router, self.registry.slot_values())
                if fixed is not None:
                    return await self._act(fixed, turn, audio_t)
                with spoken_by(heard):
                    return await self._request(rest, turn, audio_t, None, declined=True)
        elif not await self._a_question_of_its_own(pending, text):
            completed = await self._complete(pending, text)
            if completed is not None:
                return await self._act(completed, turn, audio_t)
        with spoken_by(heard):
            return await self._request(text, turn, audio_t, others)

    async def _request(
        self,
        text: str,
        turn: int | None,
        audio_t: float | None,
        others: Callable[[], list[str]] | None,
        declined: bool = False,
    ) -> str:
        """A request of its own; `declined`: what followed a no to the last question."""
        live = self.registry.slot_values()
        last = self._last if self._last is not None and self._fresh(self._last.at) else None
        try:
            call = await self.router.route(
                text,
                live,
                PlanContext(
                    live=live, previous=last.describe() if last else "", previous_tool=last.call.tool if last else ""
                ),
                others,
                self._hearing,
            )
        except AssistantError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            if isinstance(e, RequestTooLong):
                return e.message
            return PLANNER_BROKEN if e.code == "planner_unavailable" else PLANNER_DOWN
        if call is None:
            answered = await self._unanswered(text, turn, audio_t)
            if answered is not None:
                return answered
            self.bus.publish(NoIntent(text=text, turn=turn, audio_t=audio_t))
            if declined:
                return DROPPED
            unsure = self._hearing is not None and self._hearing.confidence < SAY_AGAIN_BELOW
            return SAY_AGAIN if unsure and not self._retry else CANNOT
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
                call = ToolCall(
                    tool=spec.qualified,
                    args=spec.validate({spec.unanswered: text.strip()}),
                    source="unanswered",
                    text=text,
                )
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
            self._last = Exchange(text, call, result.speech, time.monotonic())
            return result.speech
        return None

    async def _a_question_of_its_own(self, pending: Pending, text: str) -> bool:
        """A question another tool's sentences take whole ("what time is it" after "What should I
        remind you of?") is asked, not an answer: a free-text slot would take anything as its answer."""
        if not _QUESTION.match(text.strip()):
            return False
        call = await asyncio.to_thread(self.router.match_templates, text, self.registry.slot_values())
        return call is not None and call.tool != pending.call.tool

    async def _complete(self, pending: Pending, answer: str) -> ToolCall | None:
        """The pending call completed by the answer to its question, or None if the answer is not one.

        Templates first, on the original request followed by the answer ("set a timer" + "ten
        minutes"); then the planner, told what was asked."""
        live = self.registry.slot_values()
        joined = f"{pending.call.text} {answer}"
        call = await asyncio.to_thread(self.router.match_templates, joined, live)
        if call is None and self.router.planner is not None:
            context = PlanContext(
                live=live,
                previous=f'"{pending.call.text}" -> {describe_call(pending.call)}',
                question=pending.question,
                only=(pending.call.tool,),
            )
            try:
                call = await self.router.planner.plan(answer, context)
            except AssistantError as e:
                log.warning("planner could not complete %s: %s", pending.call.tool, e.message)
                call = None
        if call is None or call.tool != pending.call.tool:
            return None
        return replace(call, args={**pending.call.args, **_given(call.args)}, text=joined)

    async def _act(self, call: ToolCall, turn: int | None, audio_t: float | None) -> str:
        """Validate, then ask for what is missing, ask for a yes (a risky tool, or one that changes
        something asked for with too little confidence), or run."""
        try:
            spec = self.registry.tool(call.tool)
            with saying(call.text):
                args = spec.validate(_given(call.args))
        except AssistantError as e:  # a skill's settle hook may refuse in its own words too
            if e.code != "missing_argument":
                self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
                return _explain(e)
            args = _given(call.args)
        call = replace(call, args=args)
        barred = _barred(spec)
        if barred is not None and barred.unsure:  # perhaps an enrolled voice: asked, never guessed
            return self._ask("who", call, WHO_IS_IT, turn, audio_t)
        if barred is not None:  # never asked, never run
            return await self._not_for(call, spec, barred, turn, audio_t)
        missing = spec.missing(args)
        if missing is not None:
            return self._ask("missing", call, missing[1], turn, audio_t)
        unsure = call.score < self.confirm_below and not spec.reads
        if spec.risky and not self.may_confirm:
            return self._refuse(call, CANNOT_CONFIRM, turn, audio_t)
        if spec.risky or unsure or call.ask_first:
            self._intent(call, turn, audio_t)
            # A risky tool's own question says what it will do, as does one asked first for its words;
            # else the request is put back as understood.
            question = None if spec.risky or call.ask_first else _restated(call.text)
            return self._ask("confirm", call, question or _confirm_question(spec, args), turn, audio_t)
        return await self._run(call, turn, audio_t, spec=spec)

    async def perform(self, call: ToolCall, confirmed: bool = False, turn: int | None = None) -> tuple[bool, str]:
        """A call nobody spoke (a button on the phone page): (done, what to say). Not done, with the
        question to put to the person, when an argument is missing or the tool is risky and
        `confirmed` is not set; validation errors raise SkillError with a message for the person."""
        origin = ORIGIN.set(self.origin)
        try:
            return await self._perform(call, confirmed, turn)
        finally:
            ORIGIN.reset(origin)

    async def _perform(self, call: ToolCall, confirmed: bool, turn: int | None) -> tuple[bool, str]:
        spec = self.registry.tool(call.tool)
        args = spec.validate(_given(call.args))
        barred = _barred(spec)
        if barred is not None:  # a button has no voice to ask "who is it?" of: refused, never run
            raise NotForThisRole(await self._not_for(call, spec, barred, turn, None))
        missing = spec.missing(args)
        if missing is not None:
            return False, missing[1]
        if spec.risky and not self.may_confirm:
            return False, self._refuse(call, CANNOT_CONFIRM, turn, None)
        if spec.risky and not confirmed:
            return False, _confirm_question(spec, args)
        return True, await self._run(replace(call, args=args), turn, None, spec=spec)

    def _refuse(self, call: ToolCall, why: str, turn: int | None, audio_t: float | None) -> str:
        """A call that needs a yes where none is taken: logged and told, never run nor asked about."""
        log.info(
            "%s refused (%s%s): it needs a yes, and none is taken here",
            call.tool,
            self.origin,
            f" {self.peer}" if self.peer else "",
        )
        self.bus.publish(Error(code="needs_yes", message=f"{call.tool} needs a spoken yes", turn=turn, audio_t=audio_t))
        return why

    def _ask(
        self,
        kind: Literal["missing", "confirm", "who"],
        call: ToolCall,
        question: str,
        turn: int | None,
        audio_t: float | None,
    ) -> str:
        self._pending = Pending(kind, call, question, time.monotonic(), speaker())
        self.bus.publish(Question(tool=call.tool, kind=kind, text=question, turn=turn, audio_t=audio_t))
        return question

    async def _run(
        self,
        call: ToolCall,
        turn: int | None,
        audio_t: float | None,
        spec: ToolSpec | None = None,
        announced: bool = False,
    ) -> str:
        """announced: its intent was published when its yes was asked for."""
        spec = spec or self.registry.tool(call.tool)
        if self.audit is not None:
            full = await asyncio.to_thread(room_problem, self.audit.path.parent)
            if full is not None:  # what it did could not be kept, nor written in the audit trail
                self.bus.publish(
                    Error(code="disk_full", message=f"{full}: {call.tool} was not run", turn=turn, audio_t=audio_t)
                )
                return DISK_FULL
        barred = _barred(spec)
        if barred is not None:  # a yes from another voice
            return await self._not_for(call, spec, barred, turn, audio_t)
        if not announced:
            self._intent(call, turn, audio_t)
        start = time.monotonic()
        try:
            # Tools may touch the disk (a timer is written durably): keep that off the event loop.
            with saying(call.text):
                result: ToolResult = await asyncio.to_thread(spec.func, **call.args)
        except AssistantError as e:  # an expected failure: said in the skill's own words
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            result = ToolResult(failure_said(e.message), {"error": e.message}, ok=False)
        except Exception as e:  # a broken skill must not take the assistant down
            log.exception("tool %s failed", call.tool)
            self.bus.publish(Error(code="skill", message=f"{call.tool} failed: {e}", turn=turn, audio_t=audio_t))
            result = ToolResult(BROKE.format(skill=spec.skill), {"error": str(e)}, ok=False)
        unrecorded = ""
        try:
            await self._ran(call, result, time.monotonic() - start, turn, audio_t)
        except AuditError as e:  # done, but not recorded (the disk filled meanwhile): said, never hidden
            log.warning("%s", e.message)
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            unrecorded = " " + UNRECORDED.format(why="the disk is full" if e.code == "disk_full" else "see the log")
        speech = result.speech
        if spec.phrased and result.ok and call.open_question:
            speech = await self._phrase(call.text, result.speech)
        speech += unrecorded
        self._last = Exchange(call.text, call, speech, time.monotonic())
        return speech

    async def _not_for(
        self, call: ToolCall, spec: ToolSpec, heard: Speaker, turn: int | None, audio_t: float | None
    ) -> str:
        """A tool the voice's role may not have done: refused before anything runs, told, and kept in
        the audit trail with who asked."""
        allowed = " or ".join(a_role(r) for r in spec.roles)
        self.bus.publish(
            Error(
                code="role",
                message=f"{call.tool} needs {allowed}; the voice was {heard.role}",
                turn=turn,
                audio_t=audio_t,
            )
        )
        if self.audit is not None:
            who = {"speaker": heard.name} if heard.name else {}
            await asyncio.to_thread(
                self.audit.append, "refused", tool=call.tool, role=heard.role, needs=list(spec.roles), **who
            )
        if heard.name is None and self.origin == "phone":
            return (
                f"Sorry, only {allowed} can do that from this phone: pair it as one with "
                "`assistant pair --person NAME`."
            )
        if heard.name is None:
            return f"Sorry, only {allowed} can do that, and I don't know your voice."
        return f"Sorry, only {allowed} can do that."

    def _intent(self, call: ToolCall, turn: int | None, audio_t: float | None) -> None:
        self.bus.publish(
            Intent(
                tool=call.tool,
                args=call.args,
                source=call.source,
                score=call.score,
                text=call.text,
                turn=turn,
                audio_t=audio_t,
            )
        )

    async def _ran(
        self, call: ToolCall, result: ToolResult, duration: float, turn: int | None, audio_t: float | None
    ) -> None:
        """A call's result on the bus and in the audit trail."""
        self.bus.publish(ToolResultEvent(tool=call.tool, ok=result.ok, data=result.data, turn=turn, audio_t=audio_t))
        if self.audit is not None:
            more: dict[str, str] = {"peer": self.peer} if self.peer is not None else {}
            heard = speaker()
            if heard is not None:  # who said it, told by their voice (no name: a voice nobody enrolled)
                more.update(role=heard.role, **({"speaker": heard.name} if heard.name else {}))
            await asyncio.to_thread(record_call, self.audit, self.origin, call, result, duration, **more)

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


def failure_said(message: str) -> str:
    """A skill's reason it could not act, as a spoken sentence: "Sorry, there are no photos from
    summer 2026 in the library." Command names keep their words, not their backticks."""
    text = " ".join(message.replace("`", "").split()).rstrip(" .")
    if not text:
        return "Sorry, I couldn't do that."
    if text.lower().startswith("sorry"):
        return f"{text[:1].upper()}{text[1:]}."
    return f"Sorry, {text}."


def _given(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments the producer actually gave (None means not given)."""
    return {k: v for k, v in args.items() if v is not None}


def _explain(error: AssistantError) -> str:
    if error.code == "out_of_range":
        return "Sorry, that number is out of range for that."
    if not isinstance(error, SkillError):  # a skill's own reason, not a malformed call
        return failure_said(error.message)
    return CANNOT


def _restated(text: str) -> str | None:
    """The request as understood, put back as a question: "Dim the bedroom light to thirty percent?"."""
    words = " ".join(text.split()).rstrip(".!?,; ")
    return f"{words[:1].upper()}{words[1:]}?" if words else None


def _someone_else(asker: Speaker | None, heard: Speaker | None) -> bool:
    """Whether the answer's voice is told as an enrolled person other than the enrolled asker."""
    return (
        asker is not None
        and asker.name is not None
        and heard is not None
        and heard.name is not None
        and name_key(heard.name) != name_key(asker.name)
    )


_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
"""A word of a name or of what was said: letters, joined by an apostrophe or a hyphen ("O'Neill")."""


def _names(text: str, name: str) -> bool:
    """Whether `text` says `name` ("it's me, Anna"), whatever its case; a name of several words is
    said when all its words are, in order."""
    said = [name_key(w) for w in _NAME_WORD.findall(text)]
    wanted = [name_key(w) for w in _NAME_WORD.findall(name)]
    return bool(wanted) and any(said[i : i + len(wanted)] == wanted for i in range(len(said) - len(wanted) + 1))


def _barred(spec: ToolSpec) -> Speaker | None:
    """The voice that said the request, when the tool is for other roles (`@tool(roles=...)`); None
    when it may, or when the voice was not told (typed, nobody enrolled)."""
    heard = speaker()
    return heard if spec.roles and heard is not None and heard.role not in spec.roles else None


def _confirm_question(spec: ToolSpec, args: dict[str, Any]) -> str:
    """The yes-or-no question before a risky tool runs: its own, or one made from its description.
    The tool's own may name its arguments ("Should I {command}?")."""
    if spec.confirm:
        return spec.confirm.format_map(_Blank({k: v for k, v in args.items() if v is not None}))
    return f"Should I {spec.description[0].lower()}{spec.description[1:].rstrip('.')}?"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "that"
