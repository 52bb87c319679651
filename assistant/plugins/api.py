"""What a skill is: a class with a name, permissions, a lifecycle and typed tools.

A tool is a typed method marked with `@tool`. From its signature the core derives the slots that
sentence templates fill and the validation of arguments before the call; the LLM planner of issue 3
derives its JSON schema from the same `ToolSpec`.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Union

from assistant.errors import SkillError


class Permission(enum.Enum):
    SCHEDULER = "scheduler"
    """Create, list and cancel timers and other scheduled work."""
    STORE = "store"
    """A private table in the assistant's data directory."""


@dataclass(frozen=True)
class ToolCall:
    """One call of one tool, whoever produced it (a sentence template or the LLM)."""

    tool: str
    """Qualified name, "skill.tool"."""
    args: dict[str, Any]
    source: str
    """"template" or "llm"."""
    text: str = ""
    """The request it came from."""


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: the words to say and the facts behind them."""

    speech: str
    data: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    """int, float, str or bool."""
    required: bool
    default: Any
    choices: tuple[str, ...] | None = None
    """Allowed values of a Literal[...] parameter."""


@dataclass(frozen=True)
class ToolSpec:
    skill: str
    name: str
    description: str
    params: tuple[Param, ...]
    func: Callable[..., Any]

    @property
    def qualified(self) -> str:
        return f"{self.skill}.{self.name}"

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Coerce and check arguments; raises SkillError naming the bad argument."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise SkillError(f"{self.qualified} has no argument '{unknown[0]}'", code="bad_arguments")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in args or args[p.name] is None:
                if p.required:
                    raise SkillError(f"{self.qualified} needs '{p.name}'", code="missing_argument")
                continue
            out[p.name] = _coerce(self.qualified, p, args[p.name])
        return out


def _coerce(tool: str, p: Param, value: Any) -> Any:
    try:
        if p.kind is bool:
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if p.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if p.kind is float:
            return float(value)
        text = str(value).strip()
        if p.choices is not None and text not in p.choices:
            raise ValueError(text)
        return text
    except (TypeError, ValueError) as e:
        raise SkillError(f"{tool}: '{p.name}' cannot be {value!r}", code="bad_arguments") from e


TOOL_MARK = "__assistant_tool__"


def tool(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a skill method as a tool. Its docstring's first line describes it to the planner."""
    setattr(func, TOOL_MARK, True)
    return func


def _param_from(skill: str, func: Callable[..., Any], name: str, hint: Any, default: Any) -> Param:
    where = f"skill '{skill}', tool '{func.__name__}', argument '{name}'"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    optional = False
    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) != 1:
            raise SkillError(f"{where}: only `X | None` unions are supported")
        optional = len(non_none) != len(args)
        hint = non_none[0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    choices = None
    if origin is Literal:
        if not all(isinstance(a, str) for a in args):
            raise SkillError(f"{where}: Literal choices must be strings")
        choices, hint = tuple(args), str
    if hint not in (int, float, str, bool):
        raise SkillError(f"{where}: type must be int, float, str, bool or Literal[...], not {hint!r}")
    required = default is inspect.Parameter.empty and not optional
    return Param(name, hint, required, None if default is inspect.Parameter.empty else default, choices)


def tool_spec(skill: str, func: Callable[..., Any]) -> ToolSpec:
    """Derive a ToolSpec from a bound tool method; rejects signatures the core cannot serve."""
    try:
        hints = typing.get_type_hints(func)
    except Exception as e:
        raise SkillError(f"skill '{skill}', tool '{func.__name__}': type hints cannot be read: {e}") from e
    params = []
    for name, p in inspect.signature(func).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SkillError(f"skill '{skill}', tool '{func.__name__}': *args and **kwargs are not allowed")
        if name not in hints:
            raise SkillError(f"skill '{skill}', tool '{func.__name__}': argument '{name}' has no type hint")
        params.append(_param_from(skill, func, name, hints[name], p.default))
    if hints.get("return") is not ToolResult:
        raise SkillError(f"skill '{skill}', tool '{func.__name__}' must be annotated `-> ToolResult`")
    doc = inspect.getdoc(func) or ""
    if not doc:
        raise SkillError(f"skill '{skill}', tool '{func.__name__}' needs a docstring saying what it does")
    return ToolSpec(skill, func.__name__, doc.splitlines()[0], tuple(params), func)


@dataclass
class SkillContext:
    """What a skill may touch: only what its permissions grant."""

    skill: str
    data_dir: Path
    scheduler: Any | None = None
    """The durable scheduler, with Permission.SCHEDULER."""


class Skill:
    """Base of every skill. Subclasses set `name`, `description`, `permissions` and mark tools."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    permissions: ClassVar[frozenset[Permission]] = frozenset()

    def __init__(self, context: SkillContext) -> None:
        self.context = context

    # Lifecycle. install/uninstall run once per data directory; start/stop with every run.
    async def install(self) -> None:
        """First use in a data directory."""

    async def start(self) -> None:
        """The assistant is starting."""

    async def stop(self) -> None:
        """The assistant is stopping."""

    async def uninstall(self) -> None:
        """The skill is being removed."""

    def slot_values(self) -> dict[str, list[str]]:
        """Live values for the sentence templates' slot lists, e.g. {"timer_name": ["pasta"]}."""
        return {}

    def vocabulary(self) -> list[str]:
        """Words speech-to-text should expect (names of timers, devices, albums …)."""
        return []

    def tools(self) -> list[ToolSpec]:
        return [
            tool_spec(self.name, getattr(self, n))
            for n, member in inspect.getmembers(type(self))
            if getattr(member, TOOL_MARK, False)
        ]
