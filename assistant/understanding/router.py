"""Picks who understands a request: the sentence templates first; the LLM planner (issue 3) plugs in
behind them for everything the templates do not match."""

from __future__ import annotations

from typing import Protocol

from assistant.plugins.api import ToolCall
from assistant.understanding.matcher import TemplateMatcher


class Planner(Protocol):
    async def plan(self, text: str, live: dict[str, list[str]]) -> ToolCall | None: ...


class Router:
    def __init__(self, matcher: TemplateMatcher, planner: Planner | None = None) -> None:
        self.matcher = matcher
        self.planner = planner

    async def route(self, text: str, live: dict[str, list[str]]) -> ToolCall | None:
        call = self.matcher.match(text, live)
        if call is not None or self.planner is None:
            return call
        return await self.planner.plan(text, live)
