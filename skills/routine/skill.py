"""Routines by voice: "good morning" runs the routine whose phrase it is; "run the bedtime routine"."""

from __future__ import annotations

from typing import Annotated

from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, tool
from assistant.routines.host import RoutineHost


class RoutineSkill(Skill):
    name = "routine"
    description = "Runs the household's routines (config/routines and the data folder)."
    permissions = frozenset({Permission.ROUTINES})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.routines: RoutineHost | None = (
            context.needs(Permission.ROUTINES, RoutineHost) if context.routines is not None else None
        )

    def slot_values(self) -> dict[str, list[str]]:
        if self.routines is None:
            return {}
        return {"routine_name": self.routines.names(), "routine_phrase": sorted(self.routines.phrases())}

    def vocabulary(self) -> list[str]:
        """Routine names are not everyday words ("bedtime"): speech-to-text should expect them."""
        return self.routines.names() if self.routines is not None else []

    def _find(self, name: str) -> str | None:
        """A routine's name from its name or one of its phrases, as said."""
        assert self.routines is not None
        wanted = name.lower().strip().removesuffix(" routine").removeprefix("the ")
        return self.routines.phrases().get(wanted) or next((n for n in self.routines.names() if n == wanted), None)

    @tool
    def run(
        self, name: Annotated[str, Ask("Which routine?"), "the routine's name or its phrase, e.g. good morning"]
    ) -> ToolResult:
        """Run a routine now."""
        if self.routines is None:
            return ToolResult("Routines are not running.", {"error": "no_routines"}, ok=False)
        target = self._find(name)
        if target is None:
            return ToolResult(f"I don't know a routine called {name}.", {"error": "unknown_routine"}, ok=False)
        try:
            said = self.routines.start_run(target)
        except KeyError:
            return ToolResult("Routines are not running.", {"error": "no_routines"}, ok=False)
        return ToolResult(said or f"Running {target}.", {"routine": target})

    @tool(reads=True)
    def list(self) -> ToolResult:
        """Say which routines there are."""
        names = self.routines.names() if self.routines is not None else []
        if not names:
            return ToolResult("There are no routines.", {"routines": []})
        return ToolResult(f"Your routines: {', '.join(names)}.", {"routines": names})

    @tool
    def enable(self, name: Annotated[str, Ask("Which routine?"), "the routine's name, e.g. bedtime"]) -> ToolResult:
        """Turn a routine back on."""
        return self._switch(name, True)

    @tool
    def disable(self, name: Annotated[str, Ask("Which routine?"), "the routine's name, e.g. bedtime"]) -> ToolResult:
        """Turn a routine off, so it never starts by itself."""
        return self._switch(name, False)

    def _switch(self, name: str, on: bool) -> ToolResult:
        if self.routines is None:
            return ToolResult("Routines are not running.", {"error": "no_routines"}, ok=False)
        target = self._find(name)
        if target is None:
            return ToolResult(f"I don't know a routine called {name}.", {"error": "unknown_routine"}, ok=False)
        was = self.routines.enabled(target)
        self.routines.set_enabled(target, on)
        if on:
            text = f"The {target} routine is on." if not was else f"The {target} routine was already on."
        else:
            text = (
                f"The {target} routine is off; it runs only when you ask."
                if was
                else f"The {target} routine was already off."
            )
        return ToolResult(text, {"routine": target, "enabled": on})
