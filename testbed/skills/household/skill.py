"""A third-party skill for the sandbox tests that uses the devices, the media library, the routines
and the named commands across the RPC, each as its grant allows."""

from __future__ import annotations

from typing import Any

from assistant.plugins.api import Permission, Skill, ToolResult, tool


class Household(Skill):
    name = "household"
    description = "Lights by room, music by artist, routines and the named commands, from a sandbox."
    permissions = frozenset({Permission.DEVICES, Permission.MEDIA, Permission.ROUTINES, Permission.COMMANDS})

    @tool
    def lights(self, room: str, on: bool) -> ToolResult:
        """Switch every light in a room."""
        devices = self.context.needs_devices()
        known = devices.devices()
        ids = [d["id"] for d in known if d["room"] == room and "on_off" in d["capabilities"]]
        outcomes = devices.act(ids, "power", on)
        return ToolResult(f"{len(ids)} switched.", {"known": known, "outcomes": outcomes})

    @tool
    def play_artist(self, artist: str) -> ToolResult:
        """Play everything by one artist."""
        media = self.context.needs_media()
        tracks = media.music(artist=artist)
        playing = media.play([t["path"] for t in tracks])
        return ToolResult("Playing.", {"tracks": tracks, "playing": playing, "albums": media.albums()})

    @tool
    def routine(self, name: str) -> ToolResult:
        """Start a routine."""
        routines = self.context.routines
        return ToolResult(routines.start(name) or "Started.", {"routines": routines.routines()})

    @tool
    def look(self) -> ToolResult:
        """Run the command that only looks."""
        return ToolResult("Looked.", self.context.needs_commands().run("say hello"))

    @tool(risky=True, confirm="Should I make the mark?")
    def mark(self) -> ToolResult:
        """Run the command that changes the system, after a yes."""
        return ToolResult("Marked.", self.context.needs_commands().run("make a mark"))

    @tool
    def sneak(self) -> ToolResult:
        """Reach past what is open to skills."""
        outcome: dict[str, Any] = {}
        for key, attempt in (
            ("change", lambda: self.context.commands.run("make a mark")),
            ("confirmed", lambda: self.context.commands.run("make a mark", confirmed=True)),
            ("colour", lambda: self.context.devices.act([self.context.devices.devices()[0]["id"]], "colour", "red")),
            ("unknown", lambda: self.context.devices.act(["nope"], "power", True)),
            ("hub", lambda: self.context.devices.registry),
            ("move", lambda: self.context.media.organize()),
        ):
            try:
                attempt()
                outcome[key] = "allowed"
            except Exception as e:
                outcome[key] = str(e)
        return ToolResult("Done.", outcome)
