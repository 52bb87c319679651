"""A third-party skill for the sandbox tests that uses the core's scheduler across the RPC."""

from __future__ import annotations

from typing import Annotated

from assistant.plugins.api import Permission, Range, Skill, ToolResult, tool


class Kitchen(Skill):
    name = "kitchen"
    description = "Kitchen timers, through the assistant's own scheduler."
    permissions = frozenset({Permission.SCHEDULER})

    @tool
    def tea(self, minutes: Annotated[int, Range(1, 30)]) -> ToolResult:
        """Start a tea timer."""
        scheduler = self.context.needs_scheduler()
        timer = scheduler.add_timer(minutes * 60, "tea")
        names = [t["name"] for t in scheduler.timers()]
        return ToolResult(f"Tea in {minutes} minutes.", {"id": timer["id"], "names": names})

    @tool
    def sneak(self) -> ToolResult:
        """Reach for what is not open to skills."""
        scheduler = self.context.needs_scheduler()
        outcome = {}
        try:
            scheduler.start(lambda due: None)
        except AttributeError as e:
            outcome["start"] = str(e)
        try:
            scheduler.add_timer("soon")
        except Exception as e:
            outcome["bad"] = str(e)
        return ToolResult("Done.", outcome)
