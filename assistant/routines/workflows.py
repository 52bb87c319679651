"""Routines as declarative YAML: loading and validation.

    name: good morning
    triggers:
      - phrase: good morning          # said to the assistant
      - cron: "0 7 * * 1-5"           # or at: "07:00" (every day); local time
      - event: timer_done             # an event on the bus, optionally `match: {name: pasta}`
    catch_up: skip                    # a time trigger missed while off: skip | once
    steps:
      - id: time
        tool: clock.get_time          # any skill's tool, with `args:`
      - id: greet
        say: "Good morning. ${steps.time.output}"
        depends_on: [time]
        when: "${steps.time.ok}"      # run only if this is true after filling in
        timeout_s: 10
        retries: 1

Everything that can be checked is checked at load, each problem with the file, the line and the
reason: unknown keys, a step without a tool or speech, duplicate ids, unknown steps in depends_on,
a cycle, an unknown tool, bad arguments, a bad cron expression or time, and a `${steps.X…}`
reference to a step that is not one the step depends on (directly or not). One bad routine never
stops the others from loading.
"""

from __future__ import annotations

import dataclasses
import difflib
import graphlib
import os
import re
import stat
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from assistant.core.errors import AssistantError, SkillError
from assistant.plugins.api import ToolSpec

REFERENCE = re.compile(r"\$\{steps\.([A-Za-z0-9_-]+)\.(output|ok|data(?:\.[A-Za-z0-9_]+)*)\}")
_ANY_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
CATCH_UP = ("skip", "once")


class RoutineError(AssistantError):
    code = "routine"

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        reason = " ".join(reason.split())  # one line, whatever the YAML reader said
        shown = shown_path(path)
        super().__init__(f"{shown}:{line}: {reason}")
        self.path = shown
        self.line = line
        self.reason = reason


def shown_path(path: Path | str) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 (kept by Python as lone
    surrogates, which print() refuses) written as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Trigger:
    kind: str
    """"phrase", "cron" (an `at:` time becomes a daily cron) or "event"."""
    value: str
    match: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    id: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    say: str | None = None
    depends_on: tuple[str, ...] = ()
    when: str | None = None
    timeout_s: float = 30.0
    retries: int = 0
    line: int = 0


@dataclass(frozen=True)
class Routine:
    name: str
    path: Path
    steps: tuple[Step, ...]
    triggers: tuple[Trigger, ...] = ()
    description: str = ""
    catch_up: str = "skip"

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def order(self) -> graphlib.TopologicalSorter[str]:
        graph: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for s in self.steps:
            graph.add(s.id, *s.depends_on)
        return graph

    def phrases(self) -> list[str]:
        return [t.value for t in self.triggers if t.kind == "phrase"]

    def crons(self) -> list[str]:
        return [t.value for t in self.triggers if t.kind == "cron"]


ToolLookup = Callable[[str], ToolSpec]


class _LineLoader(yaml.SafeLoader):
    """Keeps the line of every mapping, as `__line__`, for messages that point at the problem."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


MAX_BYTES = 256 * 1024
"""A routine is a page of YAML; a bigger file is a mistake (or a trap), refused before it is read."""
MAX_DEPTH = 32
"""Nesting deeper than this is no routine, and would overflow the reader's recursion."""
MAX_NODES = 20_000
"""Values in the document once every alias is expanded: a 'billion laughs' of aliases is refused
before it is built (the checks and the journal would expand it)."""


def load_routine(path: Path, tool: ToolLookup) -> Routine:
    """One routine file, checked; raises RoutineError naming the file, the line and the reason.
    Whatever the file is (a FIFO, a folder, a device, binary, huge, a YAML bomb), the answer is a
    RoutineError, never a hang or a traceback."""
    text = _read(path)
    if not text.strip():
        raise RoutineError(path, 0, "the file is empty; a routine needs a name and steps")
    try:
        _check_shape(text)
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RoutineError(
            path, mark.line + 1 if mark else 0, f"not valid YAML: {getattr(e, 'problem', None) or e}"
        ) from e
    except _TooBig as e:
        raise RoutineError(path, e.line, e.reason) from e
    except RecursionError as e:  # a shape _check_shape did not foresee
        raise RoutineError(path, 0, "nested too deeply to be a routine") from e
    return parse_routine(doc, path, tool)


def _read(path: Path) -> str:
    """The file's text, if it is a regular file of sensible size in UTF-8. Opened without blocking
    and checked once open, so a FIFO swapped in for the file cannot hang the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError as e:
        raise RoutineError(path, 0, "is a folder, not a routine file") from e
    except OSError as e:
        raise RoutineError(path, 0, f"cannot read it: {e.strerror or e}") from e
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise RoutineError(path, 0, "is a folder, not a routine file")
        if not stat.S_ISREG(info.st_mode):
            raise RoutineError(
                path, 0, "is not a regular file (a pipe, a device or a socket); a routine is a YAML file"
            )
        if info.st_size > MAX_BYTES:
            raise RoutineError(
                path, 0, f"is {info.st_size // 1024} KiB; a routine file is at most {MAX_BYTES // 1024} KiB"
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as e:
        raise RoutineError(path, 0, f"cannot read it: {e.strerror or e}") from e
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:  # it grew while being read
        raise RoutineError(
            path, 0, f"is over {MAX_BYTES // 1024} KiB; a routine file is at most {MAX_BYTES // 1024} KiB"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RoutineError(path, line, f"is not UTF-8 text (byte {e.start + 1}); save it as UTF-8") from e


class _TooBig(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def _check_shape(text: str) -> None:
    """Walks the YAML events (no recursion, nothing built): refuses nesting deeper than MAX_DEPTH
    and documents over MAX_NODES values once aliases are expanded."""
    depth = 0
    total = 0
    sizes: dict[str, int] = {}
    open_: list[tuple[str | None, int]] = []  # (anchor, total when it opened) of each open collection
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        assert event.start_mark is not None  # the parser marks where every event starts
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            total += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _TooBig(line, f"nested more than {MAX_DEPTH} levels deep; a routine is a few levels of YAML")
            total += 1
            open_.append((event.anchor, total))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
            anchor, began = open_.pop()
            if anchor:
                sizes[anchor] = total - began + 1
        if total > MAX_NODES:
            raise _TooBig(
                line, f"expands to over {MAX_NODES} values (aliases of aliases?); a routine is a page of YAML"
            )


def parse_routine(doc: object, path: Path, tool: ToolLookup) -> Routine:
    if not isinstance(doc, dict):
        raise RoutineError(path, 1, "a routine is a mapping with name, triggers and steps")
    line = doc.get("__line__", 1)
    _known(doc, {"name", "description", "triggers", "steps", "catch_up"}, path)
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RoutineError(path, line, "the routine has no name")
    catch_up = doc.get("catch_up", "skip")
    if catch_up not in CATCH_UP:
        raise RoutineError(path, line, f"catch_up must be one of {', '.join(CATCH_UP)}, not {catch_up!r}")
    triggers = tuple(_trigger(t, path) for t in _list(doc.get("triggers", []), "triggers", path, line))
    raw_steps = _list(doc.get("steps"), "steps", path, line)
    if not raw_steps:
        raise RoutineError(path, line, "the routine has no steps")
    steps = tuple(_step(s, path, tool) for s in raw_steps)
    _check_graph(steps, path)
    return Routine(name.strip(), path, steps, triggers, str(doc.get("description", "")), catch_up)


def _list(value: object, what: str, path: Path, line: int) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RoutineError(path, line, f"{what} must be a list")
    return value


def _known(doc: dict[str, Any], allowed: set[str], path: Path) -> None:
    unknown = sorted(k for k in doc if k != "__line__" and k not in allowed)
    if unknown:
        raise RoutineError(
            path, doc.get("__line__", 0), f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})"
        )


def _trigger(raw: object, path: Path) -> Trigger:
    if not isinstance(raw, dict):
        raise RoutineError(path, 0, f"a trigger is a mapping such as {{phrase: good morning}}, not {raw!r}")
    line = raw.get("__line__", 0)
    _known(raw, {"phrase", "cron", "at", "event", "match"}, path)
    kinds = [k for k in ("phrase", "cron", "at", "event") if k in raw]
    if len(kinds) != 1:
        raise RoutineError(path, line, "a trigger has exactly one of phrase, cron, at or event")
    kind, value = kinds[0], str(raw[kinds[0]]).strip()
    if kind == "at":
        found = _TIME.match(value)
        if not found:
            raise RoutineError(path, line, f"'at: {value}' is not a time of day like 07:30")
        return Trigger("cron", f"{int(found.group(2))} {int(found.group(1))} * * *")
    if kind == "cron" and not croniter.is_valid(value):
        raise RoutineError(path, line, f"'{value}' is not a valid cron expression (minute hour day month weekday)")
    if kind == "phrase" and not value:
        raise RoutineError(path, line, "an empty phrase")
    match = raw.get("match") or {}
    if not isinstance(match, dict) or (match and kind != "event"):
        raise RoutineError(path, line, "match: {field: value} goes with an event trigger")
    if kind == "event":
        _check_event(value, [k for k in match if k != "__line__"], path, line)
    return Trigger(
        kind, value.lower() if kind == "phrase" else value, {k: v for k, v in match.items() if k != "__line__"}
    )


def event_fields() -> dict[str, list[str]]:
    """Every event a routine can be started by (assistant/core/events.py), with the fields `match:` may name."""
    from assistant.core import events

    found: dict[str, list[str]] = {}
    todo = list(events.Event.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ == events.__name__:
            found[cls.type] = sorted(f.name for f in dataclasses.fields(cls) if f.name not in ("t", "audio_t", "turn"))
    return dict(sorted(found.items()))


def _check_event(name: str, match: list[str], path: Path, line: int) -> None:
    known = event_fields()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise RoutineError(path, line, f"unknown event '{name}'; {hint}known events: {', '.join(known)}")
    unknown = [k for k in match if k not in known[name]]
    if unknown:
        fields = ", ".join(known[name]) or "none"
        raise RoutineError(path, line, f"event '{name}' has no field '{unknown[0]}' to match (its fields: {fields})")


def _step(raw: object, path: Path, tool: ToolLookup) -> Step:
    if not isinstance(raw, dict):
        raise RoutineError(path, 0, f"a step is a mapping with an id, not {raw!r}")
    line = raw.get("__line__", 0)
    _known(raw, {"id", "tool", "args", "say", "depends_on", "when", "timeout_s", "retries"}, path)
    step_id = str(raw.get("id", ""))
    if not _ID.match(step_id):
        raise RoutineError(path, line, f"step id {step_id!r} must be letters, digits, - or _")
    if ("tool" in raw) == ("say" in raw):
        raise RoutineError(path, line, f"step '{step_id}' needs exactly one of tool or say")
    raw_args = raw.get("args") or {}
    if not isinstance(raw_args, dict):
        raise RoutineError(path, line, f"step '{step_id}': args must be a mapping like {{minutes: 5}}")
    args = {k: v for k, v in raw_args.items() if k != "__line__"}
    depends = raw.get("depends_on") or []
    depends = [depends] if isinstance(depends, str) else depends
    if not isinstance(depends, list) or not all(isinstance(d, (str, int)) for d in depends):
        raise RoutineError(path, line, f"step '{step_id}': depends_on must be a list of step ids")
    for key in ("say", "when", "tool"):
        if key in raw and not isinstance(raw[key], str):
            raise RoutineError(path, line, f"step '{step_id}': {key} must be text (put it in quotes)")
    try:
        timeout_s, retries = float(raw.get("timeout_s", 30.0)), int(raw.get("retries", 0))
    except (TypeError, ValueError) as e:
        raise RoutineError(path, line, f"step '{step_id}': timeout_s and retries must be numbers") from e
    if timeout_s <= 0 or not 0 <= retries <= 10:
        raise RoutineError(path, line, f"step '{step_id}': timeout_s must be > 0 and retries 0..10")
    step = Step(
        step_id,
        raw.get("tool"),
        args,
        raw.get("say"),
        tuple(str(d) for d in depends),
        raw.get("when"),
        timeout_s,
        retries,
        line,
    )
    if step.tool is not None:
        try:
            spec = tool(step.tool)
        except SkillError as e:
            raise RoutineError(path, line, f"step '{step_id}': unknown tool '{step.tool}'") from e
        fixed = {k: v for k, v in args.items() if not (isinstance(v, str) and "${" in v)}
        try:
            spec.validate(fixed)
        except SkillError as e:
            raise RoutineError(path, line, f"step '{step_id}': {e.message}") from e
        missing = [p.name for p in spec.params if p.required and p.name not in args]
        if missing:
            raise RoutineError(path, line, f"step '{step_id}': {step.tool} needs '{missing[0]}'")
    return step


def _check_graph(steps: tuple[Step, ...], path: Path) -> None:
    ids = [s.id for s in steps]
    by_id = {s.id: s for s in steps}
    for s in steps:
        if ids.count(s.id) > 1:
            raise RoutineError(path, s.line, f"two steps are called '{s.id}'")
        for d in s.depends_on:
            if d not in by_id:
                raise RoutineError(path, s.line, f"step '{s.id}' depends on '{d}', which is not a step")
    graph: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter({s.id: s.depends_on for s in steps})
    try:
        graph.prepare()
    except graphlib.CycleError as e:
        cycle = " → ".join(e.args[1])
        raise RoutineError(path, by_id[e.args[1][0]].line, f"the steps depend on each other in a cycle: {cycle}") from e

    def ancestors(step_id: str) -> set[str]:
        seen: set[str] = set()
        todo = list(by_id[step_id].depends_on)
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(by_id[d].depends_on)
        return seen

    for s in steps:
        texts = [s.say or "", s.when or "", *(_strings(s.args))]
        before = ancestors(s.id)
        for text in texts:
            for ref in _ANY_REFERENCE.findall(text):
                found = REFERENCE.fullmatch("${" + ref + "}")
                if found is None:
                    raise RoutineError(
                        path, s.line, f"step '{s.id}': '${{{ref}}}' is not ${{steps.<id>.output|ok|data.<key>}}"
                    )
                if found.group(1) not in before:
                    raise RoutineError(
                        path,
                        s.line,
                        f"step '{s.id}' uses '${{{ref}}}', but does not depend on step '{found.group(1)}'"
                        if found.group(1) in by_id
                        else f"step '{s.id}' uses '${{{ref}}}': there is no step '{found.group(1)}'",
                    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@dataclass
class Loaded:
    routines: dict[str, Routine]
    errors: list[RoutineError]


def load_routines(folders: list[Path], tool: ToolLookup) -> Loaded:
    """Every *.yaml in the folders, later folders overriding earlier ones by routine name."""
    out = Loaded({}, [])
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            try:
                routine = load_routine(path, tool)
            except RoutineError as e:
                out.errors.append(e)
                continue
            except Exception as e:  # a file shaped in a way nobody foresaw must not stop the others
                out.errors.append(RoutineError(path, 0, f"cannot be read as a routine: {e}"))
                continue
            out.routines[routine.name.lower()] = routine
    return out


def routine_row(r: Any, enabled: bool) -> dict[str, Any]:
    """A routine as `routines list --json` and the phone page show it."""
    return {
        "name": r.name,
        "description": r.description,
        "file": str(r.path),
        "catch_up": r.catch_up,
        "enabled": enabled,
        "triggers": [{"kind": t.kind, "value": t.value, **({"match": t.match} if t.match else {})} for t in r.triggers],
        "steps": [s.id for s in r.steps],
    }
