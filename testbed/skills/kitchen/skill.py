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
    def remind(self, words: str) -> ToolResult:
        """Set a reminder in an hour, and list the reminders the skill may see."""
        scheduler = self.context.needs_scheduler()
        reminder = scheduler.add_reminder(words, scheduler.now() + 3600)
        seen = [r["text"] for r in scheduler.reminders()]
        return ToolResult("Noted.", {"id": reminder["id"], "mine": reminder["mine"], "seen": seen})

    @tool
    def drop(self, item_id: str) -> ToolResult:
        """Cancel a timer, alarm or reminder by its id."""
        try:
            gone = self.context.needs_scheduler().cancel(item_id)
        except Exception as e:
            return ToolResult("Not dropped.", {"error": str(e)}, ok=False)
        return ToolResult("Dropped.", {"gone": gone is not None})

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
        for what, call in {
            "owner": lambda: scheduler.add_reminder("pay Mallory", scheduler.now() + 60, owner="Anna"),
            "nan": lambda: scheduler.add_timer(float("nan")),
            "past": lambda: scheduler.add_reminder("then", 0),
        }.items():
            try:
                call()
            except Exception as e:
                outcome[what] = str(e)
        return ToolResult("Done.", outcome)
