"""What the assistant knows of a device, and what a driver reports about one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.core.errors import AssistantError

ON_OFF = "on_off"
BRIGHTNESS = "brightness"
COLOUR = "colour"
EFFECT = "effect"
POWER = "power"
"""Power and energy readings."""


class DeviceError(AssistantError):
    """A device answered wrongly, slowly or not at all; the message names it and says why."""

    code = "device"


@dataclass(frozen=True)
class Found:
    """A device as its own API describes it, before the household names it."""

    id: str
    """Stable across addresses: protocol and MAC or serial ("wled:a0b1c2d3e4f5")."""
    name: str
    protocol: str
    """wled, shelly, hue, cast or esphome: which driver speaks to it."""
    kind: str
    """light, plug, dimmer, speaker or node."""
    model: str
    capabilities: tuple[str, ...]
    address: str
    port: int
    extra: dict[str, Any] = field(default_factory=dict)
    """What the driver needs besides the address (a Hue light's number on its bridge)."""


@dataclass
class Device:
    id: str
    name: str
    protocol: str
    kind: str
    model: str
    capabilities: list[str]
    address: str
    port: int
    room: str | None = None
    aliases: list[str] = field(default_factory=list)
    last_seen: float = 0.0
    online: bool = True
    named: bool = False
    """Renamed by a person: discovery no longer changes the name."""
    extra: dict[str, Any] = field(default_factory=dict)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def names(self) -> list[str]:
        return [self.name, *self.aliases]


@dataclass(frozen=True)
class DeviceState:
    on: bool | None = None
    brightness: int | None = None
    """Percent, 0..100."""
    colour: tuple[int, int, int] | None = None
    power_w: float | None = None
    energy_wh: float | None = None


ROOMS = (
    "living room",
    "dining room",
    "bedroom",
    "kitchen",
    "bathroom",
    "hallway",
    "hall",
    "porch",
    "garage",
    "office",
    "study",
    "garden",
    "basement",
    "attic",
    "nursery",
    "kids room",
    "laundry",
    "utility room",
    "guest room",
    "landing",
    "patio",
    "balcony",
    "cellar",
    "lounge",
)
"""Rooms recognised in a device's own name ("Kitchen light" is in the kitchen)."""


def spoken(text: str) -> str:
    """A name as speech-to-text writes it: lower case, words only ("Living-room Strip_3" → "living room strip 3")."""
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


ARTICLES = ("the", "my", "our", "a", "an")
"""Words before a name that are not part of it: "the big lamp" and "big lamp" are one name (the
sentence templates' "[the|my] {device_name}" take the article off what is said)."""


def bare(text: str) -> str:
    """A name as spoken without a leading article: "The big lamp" → "big lamp"."""
    words = spoken(text).split()
    while len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return " ".join(words)


def room_in(name: str) -> str | None:
    words = f" {spoken(name)} "
    for room in ROOMS:
        if f" {room} " in words:
            return room
    return None
