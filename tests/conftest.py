from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from assistant.bus import Bus
from assistant.config import load_config
from assistant.events import Event


# mDNS must never run in the host's network namespace. scripts/test runs the suite in a namespace of
# its own; on top of that, every assistant a test starts has discovery and announcing off unless the
# test turns them on itself (tests/test_devices.py, which checks it is isolated first).
os.environ.setdefault("ASSISTANT__DEVICES__DISCOVERY", "false")
os.environ.setdefault("ASSISTANT__DEVICES__ANNOUNCE", "false")


def network_isolated() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    from tests.fakes.base import non_loopback_interfaces

    return not non_loopback_interfaces()


# Understanding by sentence templates only: for tests of other stages, which must not wait for an LLM.
TEMPLATES_ONLY = {"ASSISTANT__UNDERSTANDING__PLANNER": "false"}


class Recorder:
    """Collects every event published on a bus."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[Event] = []
        bus.subscribe(self.events.append)

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    def types(self) -> list[str]:
        return [e.type for e in self.events]


@pytest.fixture(scope="session")
def config():  # type: ignore[no-untyped-def]
    return load_config(environ=TEMPLATES_ONLY)


@pytest.fixture(scope="session")
def speech_models(config):  # type: ignore[no-untyped-def]
    """The real models, loaded once for the whole session."""
    from assistant.runtime import load_speech_models

    return asyncio.run(load_speech_models(config))


@pytest.fixture
def bus() -> Bus:
    return Bus()


@pytest.fixture
def recorder(bus: Bus) -> Recorder:
    return Recorder(bus)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
