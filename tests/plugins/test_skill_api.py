"""The skill API: one typed signature gives the JSON schema, the validation and the questions; the
registry refuses broken skills at load with a message naming the skill."""

from pathlib import Path
from typing import Annotated, Literal

import pytest

from assistant.core.errors import SkillError
from assistant.plugins.api import Ask, Range, Skill, SkillContext, ToolResult, tool, tool_spec
from assistant.plugins.registry import Registry


class Lamp(Skill):
    name = "lamp"
    description = "A test lamp."

    @tool(risky=True, confirm="Really switch it?")
    def set_level(
        self,
        level: Annotated[int, Range(0, 100), Ask("To what level?"), "brightness in percent"],
        colour: Literal["red", "white"] | None = None,
    ) -> ToolResult:
        """Set the lamp's level."""
        return ToolResult(f"Level {level}.")


def spec():  # type: ignore[no-untyped-def]
    return tool_spec("lamp", Lamp(SkillContext("lamp", Path("."))).set_level)


def test_schema_comes_from_the_signature() -> None:
    schema = spec().args_schema()
    assert schema == {
        "type": "object",
        "properties": {
            "level": {"type": "integer", "minimum": 0, "maximum": 100, "description": "brightness in percent"},
            "colour": {"type": "string", "enum": ["red", "white"]},
        },
        "required": ["level"],
        "additionalProperties": False,
    }
    assert spec().signature() == 'lamp.set_level(level: integer 0..100, colour?: "red"|"white")'


def test_validation_enforces_types_ranges_and_choices() -> None:
    s = spec()
    assert s.validate({"level": "40", "colour": "red"}) == {"level": 40, "colour": "red"}
    for bad, code in (
        ({"level": 140}, "out_of_range"),
        ({"level": 4.5}, "bad_arguments"),
        ({"level": 4, "colour": "blue"}, "bad_arguments"),
        ({"level": 4, "volume": 2}, "bad_arguments"),
        ({}, "missing_argument"),
    ):
        with pytest.raises(SkillError) as e:
            s.validate(bad)
        assert e.value.code == code


def test_missing_arguments_and_risk_are_declared() -> None:
    s = spec()
    assert s.missing({}) == (("level",), "To what level?")
    assert s.missing({"level": 3}) is None
    assert s.risky and s.confirm == "Really switch it?"


def test_bad_signatures_are_refused_naming_the_skill() -> None:
    class NoHints(Skill):
        name = "nohints"
        description = "x"

        @tool
        def go(self, x) -> ToolResult:  # type: ignore[no-untyped-def]
            """Go."""
            return ToolResult("")

    class NoDoc(Skill):
        name = "nodoc"
        description = "x"

        @tool
        def go(self) -> ToolResult:
            return ToolResult("")

    class BadRange(Skill):
        name = "badrange"
        description = "x"

        @tool
        def go(self, x: Annotated[str, Range(1, 2)]) -> ToolResult:
            """Go."""
            return ToolResult("")

    class RiskyLookup(Skill):
        name = "riskylookup"
        description = "x"

        @tool(risky=True, unanswered="question")
        def go(self, question: str) -> ToolResult:
            """Go."""
            return ToolResult("")

    class LookupWithMore(Skill):
        name = "lookupwithmore"
        description = "x"

        @tool(unanswered="question")
        def go(self, question: str, room: str) -> ToolResult:
            """Go."""
            return ToolResult("")

    class LookupOfNumbers(Skill):
        name = "lookupofnumbers"
        description = "x"

        @tool(unanswered="number")
        def go(self, number: int) -> ToolResult:
            """Go."""
            return ToolResult("")

    for cls, words in (
        (NoHints, "has no type hint"),
        (NoDoc, "needs a docstring"),
        (BadRange, "Range only applies"),
        (RiskyLookup, "may not be risky"),
        (LookupWithMore, "need other arguments"),
        (LookupOfNumbers, "not a text argument"),
    ):
        with pytest.raises(SkillError) as e:
            cls(SkillContext(cls.name, Path("."))).tools()
        assert cls.name in e.value.message and words in e.value.message


def test_registry_refuses_duplicates_and_missing_sentences(tmp_path: Path) -> None:
    from skills.clock.skill import ClockSkill

    registry = Registry()
    unregister = registry.register(ClockSkill, SkillContext("clock", tmp_path))
    with pytest.raises(SkillError, match="two skills are named 'clock'"):
        registry.register(ClockSkill, SkillContext("clock", tmp_path))
    unregister()
    registry.register(ClockSkill, SkillContext("clock", tmp_path))
    with pytest.raises(SkillError, match="skill 'lamp' has no sentence file"):
        registry.register(Lamp, SkillContext("lamp", tmp_path))


def test_lifecycle_runs_install_once_and_start_stop_every_time(tmp_path: Path) -> None:
    import asyncio

    calls: list[str] = []

    class Counter(Lamp):
        name = "counter"

        async def on_install(self) -> None:
            calls.append("install")

        async def on_start(self) -> None:
            calls.append("start")

        async def on_stop(self) -> None:
            calls.append("stop")

    for _ in range(2):
        registry = Registry()
        registry._skills["counter"] = __import__("assistant.plugins.registry", fromlist=["LoadedSkill"]).LoadedSkill(
            Counter(SkillContext("counter", tmp_path / "counter")), (), tmp_path
        )
        asyncio.run(registry.start_all())
        asyncio.run(registry.stop_all())
    assert calls == ["install", "start", "stop", "start", "stop"]
