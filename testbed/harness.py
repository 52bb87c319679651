"""What the tests and the benchmarks share: waiting on a condition (never a sleep), recording the
events on a bus, the templates-only environment, and whether the network is isolated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from assistant.core.bus import Bus
from assistant.core.events import Event


def network_isolated() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    from testbed.fakes.base import non_loopback_interfaces

    return not non_loopback_interfaces()


T = TypeVar("T")

WAIT_S = 30.0
"""How long a test waits for something that should happen: long enough for a machine at a load of 6;
a test that passes waits only as long as the thing takes."""
POLL_S = 0.01
"""How often `wait_for` looks again."""


def wait_for(check: Callable[[], T], timeout_s: float = WAIT_S, what: str = "") -> T:
    """Look at `check()` every POLL_S until it gives something true, and return that; AssertionError
    after `timeout_s`. For a condition with no event to wait on; never a sleep in a test instead."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what or getattr(check, '__name__', check)}")
        time.sleep(POLL_S)
    return value


async def wait_for_async(check: Callable[[], T], timeout_s: float = WAIT_S, what: str = "") -> T:
    """`wait_for` on an event loop: the loop runs on between looks."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what or getattr(check, '__name__', check)}")
        await asyncio.sleep(POLL_S)
    return value


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
