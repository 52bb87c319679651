"""Core objects a sandboxed skill may use across its RPC, and the stand-ins it gets for them.

A granted permission that hands over an object living in the core (the scheduler, the devices, the
media library, the routines, the named commands) gives the skill's process a `Remote` in its context. Each method call crosses to the core as
`{"ask", "service", "method", "args"}` in the middle of the tool call that makes it, runs there on
the real object, and comes back as `{"answer", "ok", "value" | "error"}`, the result as JSON
(dataclasses become dicts). Only the methods listed here cross, and the core checks the grant again
on every ask: what runs in the sandbox is not trusted. What crosses is a surface made for it
(app/exposed.py, app/skill_scheduler.py; the rooms' speakers as they are), not the core object
itself; each is declared as a Protocol in plugins/surfaces.py.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from assistant.core.errors import AssistantError, SkillError
from assistant.plugins.api import Permission
from assistant.plugins.surfaces import (
    CommandsSurface,
    DevicesSurface,
    KnowledgeSurface,
    MediaSurface,
    RoomsSurface,
    RoutinesSurface,
    SchedulerSurface,
)


@dataclasses.dataclass(frozen=True)
class Exposed:
    service: str
    surface: type
    """The Protocol that declares the methods (plugins/surfaces.py): what crosses, and how positional
    arguments bind."""

    @functools.cached_property
    def methods(self) -> frozenset[str]:
        return frozenset(n for n in vars(self.surface) if not n.startswith("_") and callable(vars(self.surface)[n]))


EXPOSED: dict[Permission, Exposed] = {
    Permission.SCHEDULER: Exposed("scheduler", SchedulerSurface),
    Permission.DEVICES: Exposed("devices", DevicesSurface),
    Permission.MEDIA: Exposed("media", MediaSurface),
    Permission.ROUTINES: Exposed("routines", RoutinesSurface),
    Permission.COMMANDS: Exposed("commands", CommandsSurface),
    Permission.SPEAKERS: Exposed("rooms", RoomsSurface),
    Permission.KNOWLEDGE: Exposed("knowledge", KnowledgeSurface),
}
"""What crosses the sandbox, by the permission that grants it."""

FILLED_BY_THE_CORE = "confirmed"
"""An argument only the core sets: whether the skill's tool that asked ran after a spoken yes."""

SERVING: ContextVar[bool] = ContextVar("serving", default=False)
"""True while the core answers a skill's ask made inside one of its tool calls; False for one made
while it starts, lists its names or does anything else of its own (app/skill_scheduler.py: whoever
is speaking then did not ask the skill for anything)."""

CORE_SAYS = frozenset({FILLED_BY_THE_CORE, "owner"})
"""Arguments a skill may never send: whether a yes was said, and whose a timer, alarm or reminder is
(the person whose request it serves: app/skill_scheduler.py)."""

CROSSES = frozenset(EXPOSED)


def to_wire(value: Any) -> Any:
    """A result as JSON values: dataclasses as dicts, enums as their values."""

    def default(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        if isinstance(o, enum.Enum):
            return o.value
        return str(o)

    return json.loads(json.dumps(value, default=default))


class CoreServices:
    """The core side: answers one skill's asks with the objects its grants allow."""

    def __init__(
        self,
        skill: str,
        objects: dict[str, Any],
        granted: frozenset[Permission],
        refused: Callable[[str, str], None] = lambda skill, permission: None,
    ) -> None:
        self.skill = skill
        self.objects = objects
        self.granted = granted
        self.refused = refused
        self.risky: frozenset[str] = frozenset()
        """The skill's tools that run only after a spoken yes (from its description)."""

    def answer(self, service: str, method: str, args: Any, tool: str | None = None) -> Any:
        """`tool`: the skill's tool whose call is asking, if any."""
        permission = next((p for p, e in EXPOSED.items() if e.service == service), None)
        if permission is None:
            raise SkillError(f"there is no core service {service!r} for skills")
        if permission not in self.granted or service not in self.objects:
            self.refused(self.skill, permission.value)
            raise SkillError(f"the {self.skill} skill was not granted {permission.value}")
        if method not in EXPOSED[permission].methods:
            raise SkillError(f"{service}.{method} is not open to skills")
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            raise SkillError(f"{service}.{method}: arguments must be named")
        said = sorted(CORE_SAYS & set(args))
        if said:
            raise SkillError(f"{service}.{method}: {said[0]} is for the assistant to say")
        target = getattr(self.objects[service], method)
        if FILLED_BY_THE_CORE in inspect.signature(target).parameters:
            args = {**args, FILLED_BY_THE_CORE: tool is not None and tool in self.risky}
        token = SERVING.set(tool is not None)
        try:
            result = target(**args)
        except TypeError as e:
            raise SkillError(f"{service}.{method}: {e}") from None
        except AssistantError:
            raise
        except (ValueError, KeyError) as e:
            raise SkillError(f"{service}.{method}: {e}") from None
        finally:
            SERVING.reset(token)
        return to_wire(result)


class Remote:
    """In the skill's process: stands for a core object. `scheduler.add_timer(300, "tea")` runs on the
    core's scheduler and returns the timer as a dict."""

    def __init__(self, exposed: Exposed, ask: Callable[[str, str, dict[str, Any]], Any]) -> None:
        self._exposed = exposed
        self._ask = ask

    def __getattr__(self, method: str) -> Callable[..., Any]:
        exposed = self._exposed
        if method.startswith("_") or method not in exposed.methods:
            raise AttributeError(
                f"{exposed.service}.{method} is not open to skills (open: {', '.join(sorted(exposed.methods))})"
            )
        signature = inspect.signature(getattr(exposed.surface, method))
        signature = signature.replace(
            parameters=[p for n, p in signature.parameters.items() if n != FILLED_BY_THE_CORE]
        )

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(None, *args, **kwargs)  # None stands for self
            except TypeError as e:
                raise TypeError(f"{exposed.service}.{method}: {e}") from None
            named = dict(list(bound.arguments.items())[1:])
            return self._ask(exposed.service, method, to_wire(named))

        return call
