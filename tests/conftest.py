from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from assistant.core.bus import Bus
from assistant.core.config import load_config

# mDNS must never run in the host's network namespace. scripts/test runs the suite in a namespace of
# its own; on top of that, every assistant a test starts has discovery and announcing off unless the
# test turns them on itself (tests/devices/test_devices.py, which checks it is isolated first).
os.environ.setdefault("ASSISTANT__DEVICES__DISCOVERY", "false")
os.environ.setdefault("ASSISTANT__DEVICES__ANNOUNCE", "false")


from testbed.harness import POLL_S, TEMPLATES_ONLY, WAIT_S, Recorder, network_isolated, wait_for, wait_for_async  # noqa: F401


@pytest.fixture(scope="session")
def config():  # type: ignore[no-untyped-def]
    return load_config(environ=TEMPLATES_ONLY)


@pytest.fixture(scope="session")
def speech_models(config):  # type: ignore[no-untyped-def]
    """The real models, loaded once for the whole session."""
    from assistant.app.runtime import load_speech_models

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
