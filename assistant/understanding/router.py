"""Picks who understands a request: an exact sentence template first, then a fuzzy template match
that is confident enough (speech-to-text errors), then the LLM planner for everything else."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from assistant.plugins.api import ToolCall
from assistant.understanding.matcher import TemplateMatcher
from assistant.understanding.numbers import find_numbers, respell_numbers
from assistant.understanding.planner import Planner
from assistant.understanding.prompt import PlanContext

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z]+|[0-9]+")


class Router:
    def __init__(self, matcher: TemplateMatcher, planner: Planner | None = None, fuzzy_min_score: float = 0.9) -> None:
        self.matcher = matcher
        self.planner = planner
        self.fuzzy_min_score = fuzzy_min_score

    def match_templates(self, text: str, live: dict[str, list[str]]) -> ToolCall | None:
        """Exact, else fuzzy at or above the configured score; milliseconds, no LLM."""
        text = respell_numbers(text)
        call = self.matcher.match(text, live)
        if call is None:
            call = self.matcher.match_fuzzy(text, live, self.fuzzy_min_score)
        return call

    def _match_other_readings(self, text: str, others: Callable[[], list[str]], live: dict[str, list[str]]) -> ToolCall | None:
        numbers = _numbers(text)
        for reading in others():
            if _numbers(reading) != numbers:
                continue  # "Put a timer on 46 minutes." is not another reading of "... for 6 minutes."
            call = self.match_templates(reading, live)
            if call is not None:
                log.info("understood the reading %r", reading)
                return call
        return None

    async def route(self, text: str, live: dict[str, list[str]], context: PlanContext | None = None,
                    others: Callable[[], list[str]] | None = None) -> ToolCall | None:
        """The tool call for `text`, or None when nothing (not even the planner) finds one.
        `others`: speech-to-text's next likeliest readings; the first the templates take wins before
        the planner is asked (tiny.en's second reading is often the right one: "Tell me my date." /
        "Tell me the date.").
        Raises AssistantError when the planner itself fails (a server that does not answer)."""
        call = await asyncio.to_thread(self.match_templates, text, live)
        if call is None and others is not None:
            call = await asyncio.to_thread(self._match_other_readings, text, others, live)
        if call is not None or self.planner is None:
            return call
        return await self.planner.plan(respell_numbers(text), context or PlanContext(live=live))


def _numbers(text: str) -> list[int]:
    """The numbers said, in order, whether written in digits or words."""
    return [n.value for n in find_numbers(_WORD.findall(respell_numbers(text).lower()))]
