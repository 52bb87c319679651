"""Loads skills, checks them when they load (not when first called), and serves their tools."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from assistant.core.errors import AssistantError, SkillError
from assistant.plugins.api import Permission, Skill, SkillContext, ToolSpec

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assistant.skills"


@dataclass(frozen=True)
class LoadedSkill:
    skill: Skill
    tools: tuple[ToolSpec, ...]
    sentences: Path
    """The skill's sentences/<language>.yaml."""


BUILT_IN = "assistant"
"""The distribution whose entry points are the assistant's own skills (pyproject.toml lists them)."""


def builtin_skill_classes() -> list[type[Skill]]:
    """The skills that ship with the assistant, loaded through the entry-point group like any other:
    the core does not name them."""
    return _entry_point_classes(built_in=True)


def _skill_classes_in(module: object) -> list[type[Skill]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Skill) and obj is not Skill and obj.__module__ == getattr(module, "__name__", None)
    ]


def entry_point_skill_classes() -> list[type[Skill]]:
    """Skills other Python packages in this environment declare in the group."""
    return _entry_point_classes(built_in=False)


def _entry_point_classes(built_in: bool) -> list[type[Skill]]:
    classes = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if (ep.dist is not None and ep.dist.name == BUILT_IN) != built_in:
            continue
        try:
            obj = ep.load()
        except Exception as e:
            raise SkillError(
                f"{'built-in' if built_in else 'third-party'} skill '{ep.name}' failed to import: {e}"
            ) from e
        if not (inspect.isclass(obj) and issubclass(obj, Skill)):
            raise SkillError(f"entry point '{ep.name}' in {ENTRY_POINT_GROUP} is not a Skill class")
        classes.append(obj)
    return classes


class Registry:
    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._skills: dict[str, LoadedSkill] = {}
        self._tools: dict[str, ToolSpec] = {}

    def register(self, cls: type[Skill], context: SkillContext) -> Callable[[], None]:
        """Instantiate and check one skill; returns the callable that unregisters it."""
        name = cls.name
        if not name or not name.isidentifier():
            raise SkillError(f"skill class {cls.__qualname__} needs a `name` that is an identifier")
        if name in self._skills:
            raise SkillError(f"two skills are named '{name}'; skill names must be unique")
        if not cls.description:
            raise SkillError(f"skill '{name}' needs a description")
        if not all(isinstance(p, Permission) for p in cls.permissions):
            raise SkillError(f"skill '{name}' lists an unknown permission")
        home = getattr(cls, "sentences_dir", None) or Path(inspect.getfile(cls)).parent
        sentences = Path(home) / "sentences" / f"{self.language}.yaml"
        if not sentences.exists():
            raise SkillError(f"skill '{name}' has no sentence file {sentences}")
        skill = cls(context)
        tools = tuple(skill.tools())
        if not tools:
            raise SkillError(f"skill '{name}' has no @tool methods")
        loaded = LoadedSkill(skill, tools, sentences)
        self._skills[name] = loaded
        for spec in tools:
            self._tools[spec.qualified] = spec

        def unregister() -> None:
            self._skills.pop(name, None)
            for spec in tools:
                self._tools.pop(spec.qualified, None)

        return unregister

    def load(self, classes: Iterable[type[Skill]], make_context: Callable[[type[Skill]], SkillContext]) -> None:
        for cls in classes:
            self.register(cls, make_context(cls))

    @property
    def skills(self) -> list[LoadedSkill]:
        return list(self._skills.values())

    def skill(self, name: str) -> Skill:
        try:
            return self._skills[name].skill
        except KeyError:
            raise SkillError(f"no skill named '{name}'", code="unknown_skill") from None

    def tool(self, qualified: str) -> ToolSpec:
        try:
            return self._tools[qualified]
        except KeyError:
            raise SkillError(f"no tool named '{qualified}'", code="unknown_tool") from None

    async def start_all(self) -> None:
        """Run each skill's install (once per data directory, remembered by a marker) and start."""
        for loaded in self._skills.values():
            skill = loaded.skill
            marker = skill.context.data_dir / ".installed"
            if not marker.exists():  # on_uninstall is for `assistant skills remove` (issue 8)
                await skill.on_install()
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text("1\n")
            await skill.on_start()

    async def stop_all(self) -> None:
        for loaded in reversed(list(self._skills.values())):
            try:
                await loaded.skill.on_stop()
            except AssistantError as e:  # one skill's failure to stop must not keep the others running
                log.warning("skill '%s' did not stop cleanly: %s", loaded.skill.name, e.message)
            except Exception:
                log.exception("skill '%s' failed to stop", loaded.skill.name)

    def tools(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def slot_values(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for loaded in self._skills.values():
            for slot, items in loaded.skill.slot_values().items():
                values.setdefault(slot, []).extend(items)
        return values

    def vocabulary(self) -> list[str]:
        words: list[str] = []
        for loaded in self._skills.values():
            words.extend(w for w in loaded.skill.vocabulary() if w not in words)
        return words
