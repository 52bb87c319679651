"""The surfaces a sandboxed skill may call (plugins/surfaces.py) are what the core really binds: each
real method takes the arguments declared in the Protocol, by the same names, kinds and defaults."""

from __future__ import annotations

import inspect

import pytest

from assistant.app.exposed import SkillCommands, SkillDevices, SkillKnowledge, SkillMedia, SkillRoutines
from assistant.plugins.api import Permission
from assistant.plugins.remote import EXPOSED
from assistant.scheduling.scheduler import Scheduler
from assistant.voice.rooms import Rooms

REAL = {
    Permission.SCHEDULER: Scheduler,
    Permission.DEVICES: SkillDevices,
    Permission.MEDIA: SkillMedia,
    Permission.ROUTINES: SkillRoutines,
    Permission.COMMANDS: SkillCommands,
    Permission.SPEAKERS: Rooms,
    Permission.KNOWLEDGE: SkillKnowledge,
}


def _shape(func: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize("permission", list(EXPOSED), ids=lambda p: p.value)
def test_each_real_method_takes_what_its_surface_declares(permission: Permission) -> None:
    exposed = EXPOSED[permission]
    assert exposed.methods, f"{permission.value} exposes nothing"
    for method in sorted(exposed.methods):
        declared = getattr(exposed.surface, method)
        real = getattr(REAL[permission], method)
        assert _shape(real) == _shape(declared), f"{exposed.service}.{method}"


def test_every_grant_that_hands_over_a_core_object_has_a_surface() -> None:
    assert set(EXPOSED) == set(REAL)
    assert {e.service for e in EXPOSED.values()} == {
        "scheduler",
        "devices",
        "media",
        "routines",
        "commands",
        "rooms",
        "knowledge",
    }
