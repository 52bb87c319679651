"""How a skill's description crosses the sandbox: tools and their parameters as JSON, and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.core.errors import SkillError
from assistant.plugins.api import Param, Permission, ToolSpec

_KINDS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


def tool_to_wire(spec: ToolSpec) -> dict[str, Any]:
    """`unanswered` stays behind: a sandboxed skill hears only the requests meant for it, never the
    questions nobody else took."""
    return {
        "name": spec.name,
        "description": spec.description,
        "risky": spec.risky,
        "confirm": spec.confirm,
        "require_any": list(spec.require_any),
        "ask": spec.ask,
        "phrased": spec.phrased,
        "params": [
            {
                "name": p.name,
                "kind": p.kind.__name__,
                "required": p.required,
                "default": p.default,
                "choices": list(p.choices) if p.choices is not None else None,
                "minimum": p.minimum,
                "maximum": p.maximum,
                "description": p.description,
                "question": p.question,
            }
            for p in spec.params
        ],
    }


def tool_from_wire(skill: str, data: dict[str, Any], func: Callable[..., Any]) -> ToolSpec:
    """A ToolSpec whose function is `func` (the call across the sandbox); raises SkillError naming
    what is wrong when the skill describes itself badly."""
    try:
        params = tuple(
            Param(
                name=str(p["name"]),
                kind=_KINDS[p["kind"]],
                required=bool(p["required"]),
                default=p["default"],
                choices=tuple(str(c) for c in p["choices"]) if p["choices"] is not None else None,
                minimum=p["minimum"],
                maximum=p["maximum"],
                description=str(p["description"]),
                question=str(p["question"]),
            )
            for p in data["params"]
        )
        name = str(data["name"])
        if not name.isidentifier():
            raise ValueError(f"tool name {name!r} is not an identifier")
        return ToolSpec(
            skill,
            name,
            str(data["description"]),
            params,
            func,
            bool(data["risky"]),
            str(data["confirm"]),
            tuple(str(n) for n in data["require_any"]),
            str(data["ask"]),
            bool(data["phrased"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SkillError(f"skill '{skill}' described a tool badly: {e}") from e


def permissions_from_wire(skill: str, names: list[str]) -> frozenset[Permission]:
    try:
        return frozenset(Permission(n) for n in names)
    except ValueError as e:
        raise SkillError(f"skill '{skill}' asks for an unknown permission: {e}") from e
