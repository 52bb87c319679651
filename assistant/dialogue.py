"""Understand → Act → Reply: one request's text becomes one tool call and the words to answer with."""

from __future__ import annotations

import asyncio
import logging

from assistant.bus import Bus
from assistant.errors import AssistantError, SkillError
from assistant.events import Error, Intent, NoIntent, Reply, ToolResultEvent
from assistant.plugins.api import ToolResult
from assistant.plugins.registry import Registry
from assistant.understanding.router import Router

log = logging.getLogger(__name__)

CANNOT = "Sorry, I can't help with that yet."
FAILED = "Sorry, something went wrong while doing that."


class Dialogue:
    def __init__(self, bus: Bus, registry: Registry, router: Router) -> None:
        self.bus = bus
        self.registry = registry
        self.router = router

    def understands(self, text: str) -> bool:
        """Whether the sentence templates fully understand `text` (cheap: no LLM, no action)."""
        return self.router.matcher.match(text, self.registry.slot_values()) is not None

    async def handle(self, text: str, turn: int | None = None, audio_t: float | None = None) -> str:
        """Act on one request and publish intent, tool_result and reply events; returns the reply text."""
        reply = await self._act(text, turn, audio_t)
        self.bus.publish(Reply(text=reply, turn=turn, audio_t=audio_t))
        return reply

    async def _act(self, text: str, turn: int | None, audio_t: float | None) -> str:
        call = await self.router.route(text, self.registry.slot_values())
        if call is None:
            self.bus.publish(NoIntent(text=text, turn=turn, audio_t=audio_t))
            return CANNOT
        try:
            spec = self.registry.tool(call.tool)
            args = spec.validate(call.args)
        except SkillError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            return CANNOT
        self.bus.publish(Intent(tool=call.tool, args=args, source=call.source, turn=turn, audio_t=audio_t))
        try:
            # Tools may touch the disk (a timer is written durably): keep that off the event loop.
            result: ToolResult = await asyncio.to_thread(spec.func, **args)
        except AssistantError as e:
            self.bus.publish(Error(code=e.code, message=e.message, turn=turn, audio_t=audio_t))
            self.bus.publish(ToolResultEvent(tool=call.tool, ok=False, data={"error": e.message}, turn=turn, audio_t=audio_t))
            return FAILED
        except Exception as e:  # a broken skill must not take the assistant down
            log.exception("tool %s failed", call.tool)
            self.bus.publish(Error(code="skill", message=f"{call.tool} failed: {e}", turn=turn, audio_t=audio_t))
            self.bus.publish(ToolResultEvent(tool=call.tool, ok=False, data={"error": str(e)}, turn=turn, audio_t=audio_t))
            return FAILED
        self.bus.publish(ToolResultEvent(tool=call.tool, ok=result.ok, data=result.data, turn=turn, audio_t=audio_t))
        return result.speech
