"""A tool: a typed method marked with `@tool`, read into a `ToolSpec` (its parameters, their ranges and
the questions to ask for them, its JSON schema, the validation of its arguments) and what it returns.
`plugins/api.py` is the face skills import these from."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, overload

from assistant.core.errors import SkillError


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a number argument: `Annotated[int, Range(1, 24)]`."""

    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Ask:
    """The question to ask when this argument is missing: `Annotated[str, Ask("Which room?")]`."""

    question: str


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
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    """From a plain string in Annotated[...]; shown to the planner."""
    question: str = ""
    """Asked when the argument is required and missing."""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _JSON_TYPES[self.kind]}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        elif self.kind is str:
            schema["maxLength"] = MAX_TEXT_ARGUMENT  # a small model can run on inside a string
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.description:
            schema["description"] = self.description
        return schema

    def signature(self) -> str:
        """Compact form for people and for the planner's prompt: `minutes?: int 1..100`."""
        kind = "|".join(f'"{c}"' for c in self.choices) if self.choices else _JSON_TYPES[self.kind]
        bounds = ""
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{self.minimum:g}"
            high = "" if self.maximum is None else f"{self.maximum:g}"
            bounds = f" {low}..{high}"
        return f"{self.name}{'' if self.required else '?'}: {kind}{bounds}"


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}
MAX_TEXT_ARGUMENT = 60
"""Characters a free-text argument may have in the planner's grammar."""


@dataclass(frozen=True)
class ToolSpec:
    skill: str
    name: str
    description: str
    params: tuple[Param, ...]
    func: Callable[..., Any]
    risky: bool = False
    """Runs only after a spoken yes."""
    confirm: str = ""
    """The yes-or-no question for a risky tool."""
    require_any: tuple[str, ...] = ()
    """At least one of these optional arguments must be given (a timer needs some duration)."""
    ask: str = ""
    """The question when none of `require_any` is given."""
    phrased: bool = False
    """Answers open questions: when the request was worded freely (the planner understood it), the
    LLM words the reply from the result, which is checked against it; else the result's own speech."""
    settle: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The skill's own last word on validated arguments (see `tool(settle=...)`)."""
    unanswered: str = ""
    """The argument that takes a question no tool took, whole (see `tool(unanswered=...)`)."""
    reads: bool = False
    """Only looks (says the time, a timer's state, a device's power use) and changes nothing, so a
    request understood with little confidence is run rather than confirmed first."""
    roles: tuple[str, ...] = ()
    """Who may have it done by voice while the household's voices are enrolled (adult, child, guest
    or its own roles); () for anyone. A voice nobody enrolled is a guest."""

    @property
    def qualified(self) -> str:
        return f"{self.skill}.{self.name}"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def args_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments object, as the LLM planner's grammar is built from."""
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }

    def signature(self) -> str:
        return f"{self.qualified}({', '.join(p.signature() for p in self.params)})"

    def missing(self, args: dict[str, Any]) -> tuple[tuple[str, ...], str] | None:
        """The arguments still needed and the question that asks for them, or None when complete."""
        for p in self.params:
            if p.required and args.get(p.name) is None:
                return (p.name,), p.question or f"What {p.name.replace('_', ' ')}?"
        if self.require_any and all(args.get(n) in (None, 0, "") for n in self.require_any):
            return self.require_any, self.ask or f"What {' or '.join(self.require_any)}?"
        return None

    def validate(self, args: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        """Coerce and check arguments, ranges included (the planner's grammar does not enforce them);
        raises SkillError naming the bad argument. partial: a required argument not given yet is no
        error (the call waits for the answer to "For how long?")."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise SkillError(f"{self.qualified} has no argument '{unknown[0]}'", code="bad_arguments")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in args or args[p.name] is None:
                if p.required and not partial:
                    raise SkillError(f"{self.qualified} needs '{p.name}'", code="missing_argument")
                continue
            out[p.name] = _coerce(self.qualified, p, args[p.name])
        return self.settle(out) if self.settle is not None else out


def _convert(tool: str, p: Param, value: Any) -> Any:
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


def _coerce(tool: str, p: Param, value: Any) -> Any:
    out = _convert(tool, p, value)
    if p.kind in (int, float):
        if (p.minimum is not None and out < p.minimum) or (p.maximum is not None and out > p.maximum):
            low = "" if p.minimum is None else f"{p.minimum:g}"
            high = "" if p.maximum is None else f"{p.maximum:g}"
            raise SkillError(f"{tool}: '{p.name}' must be in {low}..{high}, not {out}", code="out_of_range")
    return out


TOOL_MARK = "__assistant_tool__"


@dataclass(frozen=True)
class ToolOptions:
    risky: bool = False
    confirm: str = ""
    require_any: tuple[str, ...] = ()
    ask: str = ""
    phrased: bool = False
    settle: str = ""
    unanswered: str = ""
    reads: bool = False
    roles: tuple[str, ...] = ()


@overload
def tool(func: Callable[..., Any]) -> Callable[..., Any]: ...
@overload
def tool(
    *,
    risky: bool = ...,
    confirm: str = ...,
    require_any: tuple[str, ...] = ...,
    ask: str = ...,
    phrased: bool = ...,
    settle: str = ...,
    unanswered: str = ...,
    reads: bool = ...,
    roles: tuple[str, ...] = ...,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
def tool(
    func: Callable[..., Any] | None = None,
    *,
    risky: bool = False,
    confirm: str = "",
    require_any: tuple[str, ...] = (),
    ask: str = "",
    phrased: bool = False,
    settle: str = "",
    unanswered: str = "",
    reads: bool = False,
    roles: tuple[str, ...] = (),
) -> Any:
    """Mark a skill method as a tool. Its docstring's first line describes it to the planner.

    risky: needs a spoken yes first (`confirm` is the question). require_any: at least one of these
    arguments must be given, else `ask` is asked and the answer completes the call. phrased: the tool
    answers open questions, so a freely worded question gets its reply worded by the LLM from the
    result (see assistant/understanding/phrasing.py). settle: the name of a skill method that puts
    validated arguments where they belong, whoever filled them (templates, the LLM, the page): "photos
    from Paris" and "photos from last summer" are said alike, and only the skill knows Paris is a place.
    unanswered: the name of a text argument that takes, whole, a question that neither the templates
    nor the planner gave to any tool; the tool's reply is used only when its result is ok (the
    household's documents answer "when does the home insurance renew?"), else nobody could help.
    reads: the tool only looks and changes nothing (the time, a timer's state, a device's power use):
    a request understood with a confidence below `understanding.confirm_below` runs at once, where
    one to a tool that changes something is first put back to the person as a yes-or-no question.
    roles: who may have it done by voice once voices are enrolled (`assistant people`), e.g.
    ("adult",); a voice nobody enrolled is a guest, and is told so instead."""
    options = ToolOptions(risky, confirm, tuple(require_any), ask, phrased, settle, unanswered, reads, tuple(roles))

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        setattr(f, TOOL_MARK, options)
        return f

    return mark(func) if func is not None else mark


def _param_from(skill: str, func: Callable[..., Any], name: str, hint: Any, default: Any) -> Param:
    where = f"skill '{skill}', tool '{func.__name__}', argument '{name}'"
    bounds, question, description = Range(), "", ""
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, Range):
                bounds = extra
            elif isinstance(extra, Ask):
                question = extra.question
            elif isinstance(extra, str):
                description = extra
            else:
                raise SkillError(f"{where}: unknown Annotated[...] item {extra!r} (use Range, Ask or a description)")
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
    if (bounds.minimum is not None or bounds.maximum is not None) and hint not in (int, float):
        raise SkillError(f"{where}: Range only applies to int or float")
    required = default is inspect.Parameter.empty and not optional
    return Param(
        name,
        hint,
        required,
        None if default is inspect.Parameter.empty else default,
        choices,
        bounds.minimum,
        bounds.maximum,
        description,
        question,
    )


def tool_spec(skill: str, func: Callable[..., Any]) -> ToolSpec:
    """Derive a ToolSpec from a bound tool method; rejects signatures the core cannot serve."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
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
    options = getattr(func, TOOL_MARK, None)
    options = options if isinstance(options, ToolOptions) else ToolOptions()
    names = {p.name for p in params}
    for needed in options.require_any:
        if needed not in names:
            raise SkillError(
                f"skill '{skill}', tool '{func.__name__}': require_any names '{needed}', which is not an argument"
            )
    if options.risky and options.reads:
        raise SkillError(
            f"skill '{skill}', tool '{func.__name__}': a risky tool changes something, so it cannot be reads=True"
        )
    settle = None
    if options.settle:
        settle = getattr(getattr(func, "__self__", None), options.settle, None)
        if not callable(settle):
            raise SkillError(
                f"skill '{skill}', tool '{func.__name__}': settle names '{options.settle}', which is not a method of the skill"
            )
    if options.unanswered:
        if not any(p.name == options.unanswered and p.kind is str for p in params):
            raise SkillError(
                f"skill '{skill}', tool '{func.__name__}': unanswered names '{options.unanswered}', "
                "which is not a text argument"
            )
        if options.risky or any(p.required and p.name != options.unanswered for p in params):
            raise SkillError(
                f"skill '{skill}', tool '{func.__name__}': a tool that takes unanswered questions may "
                "not be risky or need other arguments (nobody asked for it by name)"
            )
    return ToolSpec(
        skill,
        func.__name__,
        doc.splitlines()[0],
        tuple(params),
        func,
        options.risky,
        options.confirm,
        options.require_any,
        options.ask,
        options.phrased,
        settle,
        options.unanswered,
        options.reads,
        options.roles,
    )
