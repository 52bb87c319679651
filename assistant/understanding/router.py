"""Picks who understands a request: an exact sentence template first, then a fuzzy template match
that is confident enough (speech-to-text errors), then the LLM planner for everything else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from assistant.core.errors import AssistantError
from assistant.language.numbers import numbers_said, respell_numbers
from assistant.plugins.api import ToolCall
from assistant.understanding.candidates import SOUND_ALIKE_NUMBERS
from assistant.understanding.closed import ClosedVocabulary, Scorer
from assistant.understanding.matcher import TemplateMatcher
from assistant.understanding.planner import Planner
from assistant.understanding.prompt import PlanContext

log = logging.getLogger(__name__)


SURE_READING = 0.8
"""Speech-to-text's confidence (exp of the mean log-probability per token) at or above which a free
reading that is a template sentence word for word is taken without scoring its rivals on the audio:
on 94 clips of the hearing set (Piper and espeak-ng voices, clean and a kitchen at 10 dB) the scoring
changed none of the 47 such readings, and it costs 55-65 ms of the reply on an idle machine."""


OTHER_READING = 0.7
"""The most confidence a call from a reading speech-to-text did not choose can carry: below
`understanding.confirm_below`, so a change is asked about ("What's the laundry timer?" chosen, its
next reading "Lost the laundry timer." taken as "cancel the laundry timer" was run at once)."""


class Hearing(Protocol):
    """What speech-to-text gives the router besides the text (assistant.speech.stt.Heard)."""

    @property
    def score(self) -> Scorer | None: ...
    @property
    def confidence(self) -> float: ...


class Router:
    def __init__(
        self,
        matcher: TemplateMatcher,
        planner: Planner | None = None,
        fuzzy_min_score: float = 0.9,
        closed: ClosedVocabulary | None = None,
    ) -> None:
        """closed: closed-vocabulary hearing for spoken requests (None: free transcripts only)."""
        self.matcher = matcher
        self.planner = planner
        self.fuzzy_min_score = fuzzy_min_score
        self.closed = closed

    def warm_up(self) -> None:
        """Compile the templates and sample the closed vocabulary now, not on the first request
        (about 5 s on a busy machine)."""
        self.matcher.warm_up()
        if self.closed is not None:
            self.closed.shortlist.shapes()
        if self.planner is not None:
            self.matcher.phrases()  # what the planner's tool index is made of (over a second)

    def match_templates(self, text: str, live: dict[str, list[str]]) -> ToolCall | None:
        """Exact, else fuzzy at or above the configured score; milliseconds, no LLM."""
        text = respell_numbers(text)
        call = self.matcher.match(text, live)
        if call is None:
            call = self.matcher.match_fuzzy(text, live, self.fuzzy_min_score)
        return call

    def _match_other_readings(
        self, text: str, others: Callable[[], list[str]], live: dict[str, list[str]]
    ) -> ToolCall | None:
        numbers = numbers_said(text)
        for reading in others():
            if numbers_said(reading) != numbers:
                continue  # "Put a timer on 46 minutes." is not another reading of "... for 6 minutes."
            call = self.match_templates(reading, live)
            if call is not None:
                log.info("understood the reading %r", reading)
                return replace(call, score=min(call.score, OTHER_READING))
        return None

    def sure_reading(
        self, text: str, others: Callable[[], list[str]] | None, confidence: float, live: dict[str, list[str]]
    ) -> ToolCall | None:
        """The call of a free reading that needs no scoring against the audio: speech-to-text was sure
        of it, it is a template sentence word for word (no wildcard: a reminder's words are the
        free transcript's anyway), none of its numbers has a sound-alike the shortlist would try
        (13 / 30), and no other reading of the audio makes another call. None otherwise."""
        if confidence < SURE_READING or self.matcher.fills_wildcard(text, live):
            return None
        if any(n in SOUND_ALIKE_NUMBERS for n in numbers_said(text)):
            return None
        call = self.matcher.match(respell_numbers(text), live)
        if call is None:
            return None
        for reading in others() if others is not None else []:
            other = self.matcher.match(respell_numbers(reading), live)
            if other is not None and (other.tool, other.args) != (call.tool, call.args):
                return None
        return replace(call, score=round(confidence, 3))

    def hear_closed(
        self, text: str, others: Callable[[], list[str]] | None, score: Scorer, live: dict[str, list[str]]
    ) -> ToolCall | None:
        """The template sentence the audio holds, scored by the speech model among those nearest to
        what it heard (closed.py); None when none fits, or when the words heard fill a free-text slot
        (a reminder's words, a new timer's name), which no finite set of sentences holds."""
        assert self.closed is not None
        if self.matcher.fills_wildcard(text, live):
            return None
        readings = [text, *(others() if others is not None else [])]
        try:
            recognised = self.closed.recognise(readings, score, live)
        except AssistantError as e:  # the free transcript still stands
            log.warning("closed-vocabulary hearing failed: %s", e.message)
            return None
        if recognised is None:
            return None
        log.info(
            "heard %r (confidence %.2f; %.2f below the free reading %r; ending %.2f)",
            recognised.call.text,
            recognised.call.score,
            recognised.deficit,
            text,
            recognised.ending,
        )
        return recognised.call

    async def route(
        self,
        text: str,
        live: dict[str, list[str]],
        context: PlanContext | None = None,
        others: Callable[[], list[str]] | None = None,
        hearing: Hearing | None = None,
    ) -> ToolCall | None:
        """The tool call for `text`, or None when nothing (not even the planner) finds one.
        `others`: speech-to-text's next likeliest readings; the first the templates take wins before
        the planner is asked (tiny.en's second reading is often the right one: "Tell me my date." /
        "Tell me the date.").
        `hearing`: a spoken request's scorer and confidence. The template sentences nearest to what
        was heard are then scored against the audio first; a call made from the free transcript
        instead (fuzzily, or by the planner) carries speech-to-text's confidence in it.
        Raises AssistantError when the planner itself fails (a server that does not answer)."""
        if hearing is not None and hearing.score is not None and self.closed is not None:
            score, sure = hearing.score, hearing.confidence
            call = await asyncio.to_thread(
                lambda: self.sure_reading(text, others, sure, live) or self.hear_closed(text, others, score, live)
            )
            if call is not None:
                return call
        call = await asyncio.to_thread(self.match_templates, text, live)
        if call is None and others is not None:
            call = await asyncio.to_thread(self._match_other_readings, text, others, live)
        if call is None and self.planner is not None:
            call = await self.planner.plan(respell_numbers(text), context or PlanContext(live=live))
        if call is None:  # "turn on the toaster": a thing the home does not have, said so by its skill
            call = await asyncio.to_thread(self.matcher.match, text, live, False, True)
        if call is not None and hearing is not None:
            call = replace(call, score=round(min(call.score, hearing.confidence), 3))
        return call
