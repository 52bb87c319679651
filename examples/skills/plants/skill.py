"""An example third-party skill: a log of when each plant was watered.

It is the complete example of docs/writing-a-skill.md, installed and run by tests/test_docs.py:
`assistant skills install examples/skills/plants --yes`, then "I watered the basil" and "when did I
last water the basil". It asks only for `store` (a data folder of its own), so it runs sandboxed with
nothing else of the house in reach.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from assistant.plugins.api import Permission, Skill, ToolResult, tool

Plant = Annotated[str, "the plant, as the person names it: basil, the fern, the big cactus"]


class Plants(Skill):
    name = "plants"
    description = "Remembers when each plant was last watered."
    permissions = frozenset({Permission.STORE})

    def _log(self) -> dict[str, float]:
        path = self.context.data_dir / "watered.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    @tool
    def watered(self, plant: Plant) -> ToolResult:
        """Note that a plant was just watered."""
        name = _plant(plant)
        log = self._log()
        log[name] = dt.datetime.now().timestamp()
        path = self.context.data_dir / "watered.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(log))
        temporary.replace(path)  # whole or not at all: a crash never leaves half a log
        return ToolResult(f"Noted: the {name} was watered.", {"plant": name})

    @tool
    def last_watered(self, plant: Plant) -> ToolResult:
        """Say when a plant was last watered."""
        name = _plant(plant)
        when = self._log().get(name)
        if when is None:
            return ToolResult(f"I have no note of watering the {name}.", {"plant": name, "watered": None})
        at = dt.datetime.fromtimestamp(when)
        days = (dt.date.today() - at.date()).days
        day = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
        return ToolResult(f"You last watered the {name} {day} at {at:%H:%M}.", {"plant": name, "watered": when})


def _plant(said: str) -> str:
    words = said.lower().strip(" .?!").split()
    return " ".join(words[1:] if words[:1] in (["the"], ["my"]) else words)
