"""The surfaces a sandboxed skill may call (plugins/surfaces.py) are what the core really binds: each
real method takes the arguments declared in the Protocol, by the same names, kinds and defaults."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from assistant.app.exposed import SkillCommands, SkillDevices, SkillKnowledge, SkillMedia, SkillRoutines
from assistant.app.skill_scheduler import SkillScheduler
from assistant.core.errors import SkillError
from assistant.plugins.api import Permission, SkillContext
from assistant.plugins.remote import EXPOSED, Remote
from assistant.scheduling.scheduler import Scheduler
from assistant.voice.rooms import Rooms

REAL = {
    Permission.SCHEDULER: SkillScheduler,
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


@pytest.mark.parametrize("permission", list(EXPOSED), ids=lambda p: p.value)
def test_a_sandboxed_skills_stand_in_is_what_its_needs_call_promises(permission: Permission) -> None:
    exposed = EXPOSED[permission]
    remote = Remote(exposed, lambda service, method, args: None)
    context = SkillContext("weather", Path("."), **{exposed.service: remote})
    need = {
        Permission.SCHEDULER: context.needs_scheduler,
        Permission.DEVICES: context.needs_devices,
        Permission.MEDIA: context.needs_media,
        Permission.ROUTINES: context.needs_routines,
        Permission.COMMANDS: context.needs_commands,
        Permission.SPEAKERS: context.needs_rooms,
        Permission.KNOWLEDGE: context.needs_knowledge,
    }[permission]
    assert need() is remote


def test_a_skill_given_what_it_did_not_expect_is_refused_at_load_by_name(tmp_path: Path) -> None:
    # A built-in skill asks for the core's own scheduler; run in a sandbox it would get a stand-in.
    remote = Remote(EXPOSED[Permission.SCHEDULER], lambda service, method, args: None)
    context = SkillContext("timer", tmp_path, scheduler=remote)
    with pytest.raises(SkillError, match="skill 'timer' expects its scheduler permission to give a Scheduler"):
        context.needs(Permission.SCHEDULER, Scheduler)
    # And a surface asked of an object without its calls is refused, not handed over to fail later.
    with pytest.raises(SkillError, match="give a DevicesSurface, but it runs where it is given a object"):
        SkillContext("lamp", tmp_path, devices=object()).needs_devices()


def test_a_permission_not_granted_is_refused_and_told_to_the_audit_trail(tmp_path: Path) -> None:
    told: list[tuple[str, str]] = []
    context = SkillContext("weather", tmp_path, refused=lambda skill, permission: told.append((skill, permission)))
    with pytest.raises(SkillError, match="skill 'weather' needs the scheduler permission"):
        context.needs_scheduler()
    with pytest.raises(SkillError, match="needs the devices permission"):
        context.needs(Permission.DEVICES, object)
    assert told == [("weather", "scheduler"), ("weather", "devices")]
    with pytest.raises(SkillError, match="enforced by the sandbox"):
        context.needs(Permission.NETWORK, object)
