"""Announcements: "announce that dinner is ready" in every room, or "in the kitchen" in one. Said by
the assistant's own speaker and each satellite's (rooms.Rooms), each after its chime."""

from __future__ import annotations

from typing import Annotated

from assistant.core.errors import AssistantError
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, tool


class AnnounceSkill(Skill):
    name = "announce"
    description = "Says a message out loud in one room or in every room."
    permissions = frozenset({Permission.SPEAKERS})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.rooms = context.needs_rooms()

    def slot_values(self) -> dict[str, list[str]]:
        return {"speaker_room": self.rooms.names()}

    @tool
    def announce(
        self,
        message: Annotated[str, Ask("What should I announce?"), "the words to say, as said"],
        room: Annotated[str | None, "one room with a speaker; none: every room"] = None,
    ) -> ToolResult:
        """Say a message out loud in every room, or in one room ("tell the kitchen dinner is ready")."""
        words = " ".join(message.split()).rstrip(".!")
        if not words:
            return ToolResult("What should I announce?", {"error": "empty"}, ok=False)
        spoken = f"{words[0].upper()}{words[1:]}."
        try:
            where = self.rooms.announce_from_thread(spoken, room.lower() if room else None)
        except AssistantError as e:
            return ToolResult(f"{e.message[0].upper()}{e.message[1:]}.", {"error": e.code}, ok=False)
        said = f"in the {room.lower()}" if room else "everywhere"
        return ToolResult(f"Announced {said}.", {"message": spoken, "rooms": where})
