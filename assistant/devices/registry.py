"""The household's devices, kept in the data folder (devices.json, crash-safe TinyDB).

A device is keyed by the id its own API gives (MAC or serial), so one that changes address is
followed, and one that vanishes is marked offline, never forgotten. Names, rooms and aliases set by
a person are kept over whatever discovery later reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Literal

from tinydb import Query, TinyDB

from assistant.core.store import open_db
from assistant.devices.model import Device, DeviceError, DeviceState, Found, bare, room_in, spoken

SCHEMA = 1
Change = Literal["new", "moved", "back", "same"]


class DeviceRegistry:
    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self._db: TinyDB = open_db(data_dir / "devices.json", SCHEMA)
        self._lock = threading.RLock()
        self._clock = clock
        self._states: dict[str, DeviceState] = {}
        """The last state each device reported, while the assistant runs (not kept on disk: a state
        from before a restart would be a guess)."""

    def close(self) -> None:
        self._db.close()

    # --- reading
    def all(self) -> list[Device]:
        with self._lock:
            return sorted((_device(d) for d in self._db.table("devices").all()), key=lambda d: (d.room or "", d.name))

    def get(self, device_id: str) -> Device | None:
        with self._lock:
            doc = self._db.table("devices").get(Query().id == device_id)
            return _device(doc) if isinstance(doc, dict) else None

    def resolve(self, ref: str) -> Device:
        """A device by its id, name or alias (as spoken: case, punctuation and a leading article do not matter)."""
        device = self.get(ref) or self._named(ref)
        if device is not None:
            return device
        raise DeviceError(f"no device '{ref}'; `assistant devices list` shows them", code="not_found")

    def state_of(self, device_id: str) -> DeviceState | None:
        """The last state the device reported (a push, a poll, a command's answer), or None."""
        with self._lock:
            return self._states.get(device_id)

    def forget_state(self, device_id: str) -> None:
        """The device was just told to change: what it reported before is no longer its state."""
        with self._lock:
            self._states.pop(device_id, None)

    def note_state(self, device_id: str, state: DeviceState) -> bool:
        """Keep the state a device reported; True when it is on or off, as bright or coloured,
        otherwise than the one known before (a change; a plug's power reading moves all the time)."""
        with self._lock:
            before = self._states.get(device_id)
            self._states[device_id] = state
            return before is not None and (before.on, before.brightness, before.colour) != (
                state.on,
                state.brightness,
                state.colour,
            )

    def rooms(self) -> list[str]:
        return sorted({d.room for d in self.all() if d.room})

    # --- discovery
    def seen(self, found: Found) -> tuple[Device, Change]:
        """Record a device that answered at `found.address`: new, moved, back online, or unchanged."""
        now = self._clock()
        with self._lock:
            old = self.get(found.id)
            if old is None:
                device = Device(
                    found.id,
                    self._free_name(found.name),
                    found.protocol,
                    found.kind,
                    found.model,
                    list(found.capabilities),
                    found.address,
                    found.port,
                    room=room_in(found.name),
                    last_seen=now,
                    extra=dict(found.extra),
                )
                self._db.table("devices").insert(asdict(device))
                return device, "new"
            change: Change = (
                "back"
                if not old.online
                else "moved"
                if (old.address, old.port) != (found.address, found.port)
                else "same"
            )
            updates: dict[str, Any] = {
                "address": found.address,
                "port": found.port,
                "online": True,
                "last_seen": now,
                "model": found.model,
                "capabilities": list(found.capabilities),
                "kind": found.kind,
                "extra": dict(found.extra),
            }
            if not old.named and spoken(found.name) != spoken(old.name):
                updates["name"] = self._free_name(found.name, but=old.id)
            self._db.table("devices").update(updates, Query().id == found.id)
            return _device({**asdict(old), **updates}), change

    def offline(self, device_id: str) -> Device | None:
        """Mark a device offline (it said goodbye, or stopped answering); None if unknown or already so."""
        with self._lock:
            device = self.get(device_id)
            if device is None or not device.online:
                return None
            self._db.table("devices").update({"online": False}, Query().id == device_id)
            device.online = False
            return device

    def seen_again(self, device_id: str) -> None:
        """A device marked offline answered a command: online again, at the address it has."""
        with self._lock:
            self._db.table("devices").update({"online": True, "last_seen": self._clock()}, Query().id == device_id)

    # --- what people set
    def rename(self, ref: str, name: str) -> Device:
        name = _clean_name(name)
        with self._lock:
            device = self.resolve(ref)
            other = self._named(name)
            if other is not None and other.id != device.id:
                raise DeviceError(f"'{other.name}' is already a device's name or alias", code="name_taken")
            return self._update(device, name=name, named=True)

    def set_room(self, ref: str, room: str | None) -> Device:
        with self._lock:
            return self._update(self.resolve(ref), room=bare(room) if room else None)

    def add_alias(self, ref: str, alias: str) -> Device:
        alias = _clean_name(alias)
        with self._lock:
            device = self.resolve(ref)
            other = self._named(alias)
            if other is not None:
                if other.id == device.id:
                    return device
                raise DeviceError(f"'{alias}' already names '{other.name}'", code="name_taken")
            return self._update(device, aliases=[*device.aliases, alias])

    def remove_alias(self, ref: str, alias: str) -> Device:
        with self._lock:
            device = self.resolve(ref)
            kept = [a for a in device.aliases if bare(a) != bare(alias)]
            if len(kept) == len(device.aliases):
                raise DeviceError(f"'{device.name}' has no alias '{alias}'", code="not_found")
            return self._update(device, aliases=kept)

    # --- Hue bridges: the user name a bridge gave after its link button was pressed
    def bridge_user(self, bridge_id: str) -> str | None:
        with self._lock:
            doc = self._db.table("bridges").get(Query().id == bridge_id)
            return str(doc["user"]) if isinstance(doc, dict) else None

    def save_bridge_user(self, bridge_id: str, user: str) -> None:
        with self._lock:
            self._db.table("bridges").upsert({"id": bridge_id, "user": user}, Query().id == bridge_id)

    # --- helpers
    def _update(self, device: Device, **changes: Any) -> Device:
        self._db.table("devices").update(changes, Query().id == device.id)
        return _device({**asdict(device), **changes})

    def _named(self, name: str) -> Device | None:
        """The device answering to `name`, with or without a leading article ("the big lamp")."""
        wanted = bare(name)
        return next((d for d in self.all() if wanted in {bare(n) for n in d.names()}), None)

    def _free_name(self, name: str, but: str | None = None) -> str:
        """`name`, or "name 2", "name 3" … when another device already answers to it."""
        base = " ".join(name.split())[:60] or "device"
        candidate, n = base, 1
        while (other := self._named(candidate)) is not None and other.id != but:
            n += 1
            candidate = f"{base} {n}"
        return candidate


_FIELDS = {f.name for f in fields(Device)}


def _device(doc: dict[str, Any]) -> Device:
    return Device(**{k: v for k, v in doc.items() if k in _FIELDS})


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise DeviceError("a device name must have 1 to 60 characters", code="bad_name")
    return name
