"""The device registry on its own: followed by id across addresses, offline not forgotten, names,
rooms and aliases kept over what discovery reports, and crash-safe storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.devices.model import BRIGHTNESS, ON_OFF, DeviceError, Found, room_in, spoken
from assistant.devices.registry import DeviceRegistry


def found(n: int = 1, name: str = "Kitchen light", address: str = "127.0.0.10") -> Found:
    return Found(f"wled:a0b1c2d3e4f{n}", name, "wled", "light", "WLED 0.15", (ON_OFF, BRIGHTNESS), address, 80)


def test_a_device_is_followed_by_its_id_and_kept_when_offline(tmp_path: Path) -> None:
    registry = DeviceRegistry(tmp_path)
    device, change = registry.seen(found())
    assert change == "new" and device.room == "kitchen" and device.online
    assert registry.seen(found())[1] == "same"
    moved, change = registry.seen(found(address="127.0.0.99"))
    assert change == "moved" and moved.address == "127.0.0.99" and len(registry.all()) == 1
    assert registry.offline(device.id) is not None and registry.offline(device.id) is None
    assert not registry.get(device.id).online  # type: ignore[union-attr]
    assert registry.seen(found(address="127.0.0.99"))[1] == "back"
    registry.close()
    again = DeviceRegistry(tmp_path)
    assert [d.address for d in again.all()] == ["127.0.0.99"]


def test_what_a_person_sets_survives_rediscovery(tmp_path: Path) -> None:
    registry = DeviceRegistry(tmp_path)
    device, _ = registry.seen(found())
    registry.rename("kitchen light", "Pantry lamp")
    registry.set_room("pantry lamp", "Dining Room")
    registry.add_alias(device.id, "the big lamp")
    registry.seen(found(name="WLED-Kitchen"))  # the device's own name changed
    kept = registry.resolve("The Big Lamp")
    assert (kept.name, kept.room, kept.aliases) == ("Pantry lamp", "dining room", ["the big lamp"])
    registry.remove_alias("pantry lamp", "the big lamp")
    assert registry.resolve("pantry lamp").aliases == []


def test_names_stay_unique_and_bad_names_are_refused(tmp_path: Path) -> None:
    registry = DeviceRegistry(tmp_path)
    registry.seen(found(1))
    second, _ = registry.seen(found(2))
    assert second.name == "Kitchen light 2"
    with pytest.raises(DeviceError, match="already"):
        registry.rename(second.id, "kitchen LIGHT")
    with pytest.raises(DeviceError, match="1 to 60 characters"):
        registry.rename(second.id, "   ")
    with pytest.raises(DeviceError, match="no device 'garage door'"):
        registry.resolve("garage door")


def test_rooms_are_read_from_names_as_spoken() -> None:
    assert room_in("Living-room Strip_3") == "living room"
    assert room_in("Washing machine") is None
    assert spoken("  Porch   LIGHT! ") == "porch light"


def test_a_device_that_names_a_room_is_settled_into_the_room(tmp_path: Path) -> None:
    """ "Dim the bedroom to 30 %", planned as device=bedroom: the call (and its record) says room."""
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.config import load_config
    from assistant.devices.model import COLOUR
    from testbed.harness import TEMPLATES_ONLY

    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path / "data", Bus())
    for i, name in enumerate(("bedroom lamp", "kitchen light")):
        device, _ = core.devices.registry.seen(
            Found(f"t:{i}", name, "wled", "light", "t", (ON_OFF, BRIGHTNESS, COLOUR), "127.0.0.1", 9)
        )
        core.devices.registry.set_room(device.id, name.split()[0])
    brightness = core.registry.tool("device.set_brightness")
    assert brightness.validate({"percent": 30, "device": "bedroom"}) == {"percent": 30, "room": "bedroom"}
    assert brightness.validate({"percent": 30, "device": "the bedroom lights", "room": "bedroom"}) == {
        "percent": 30,
        "room": "bedroom",
    }
    assert brightness.validate({"percent": 30, "device": "bedroom lamp"}) == {"percent": 30, "device": "bedroom lamp"}
    assert brightness.validate({"percent": 30, "device": "bedroom", "room": "kitchen"}) == {
        "percent": 30,
        "device": "bedroom",
        "room": "kitchen",
    }, "two rooms: left as said"
    assert core.registry.tool("device.turn_off").validate({"device": "kitchen"}) == {"room": "kitchen"}
