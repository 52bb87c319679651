"""Lights and plugs found on the network: on, off, brightness, colour, state and power use, for one
device, a room, or everything. Names, rooms and aliases come from the device registry and fill the
sentence templates' live lists and the speech-to-text hotwords.

An action is never wider than what was said: a room or a device that was said but is not known is
refused in the person's words ("I don't know a room called living room."), even when the planner
left it out of its call; "the lights" are the lights, not every plug; a device named in a room must
be in it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from assistant.devices.hub import DeviceHub, Outcome
from assistant.devices.model import BRIGHTNESS, COLOUR, EFFECT, ON_OFF, POWER, Device, DeviceError, bare, spoken
from assistant.language.lists import counted
from assistant.plugins.api import Ask, Permission, Range, Skill, SkillContext, ToolResult, said, tool
from assistant.plugins.where import here

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "white": (255, 255, 255),
    "warm white": (255, 180, 107),
    "yellow": (255, 200, 0),
    "orange": (255, 100, 0),
    "purple": (150, 0, 255),
    "pink": (255, 60, 150),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
}
Colour = Literal["red", "green", "blue", "white", "warm white", "yellow", "orange", "purple", "pink", "cyan", "magenta"]
_EVERYTHING = {
    "everything",
    "all",
    "all devices",
    "all the devices",
    "all the lights",
    "the lights",
    "lights",
    "all lights",
    "every light",
    "everything on",
    "everything off",
}


_HERE = {"light", "lights", "lamp", "lamps", "all the lights", "all lights", "the lights", "the light"}
"""What means the devices of the room the request was spoken in, when that room is known (with no
room known, "the lights" are all of them)."""
_LIGHT_WORDS = ("light", "lights", "lamp", "lamps")
_NOT_A_ROOM = {"here", "house", "home", "whole house", "whole home", "flat", "apartment", "everywhere"}
_THING = re.compile(
    r"\b(?:turn|switch|put) (?:(?:on|off) (?:the|my|our) (?P<a>[a-z0-9' ]+?)"
    r"|(?:the|my|our) (?P<b>[a-z0-9' ]+?) (?:on|off))(?= in\b| please\b| now\b| for\b|$)"
)
"""The thing a switching request names: "turn on the toaster", "switch my heater off"."""
_NOT_A_THING = _EVERYTHING | _HERE | {"power", "it", "them", "that", "this", "one"}
_PLACE = re.compile(r"\bin (?P<place>[a-z][a-z0-9' ]*?)(?= to\b| at\b| please\b| now\b| for\b| and\b| by\b|$)")
"""A place said in a request: "… in the living room", "… in the lounge to 30 percent"."""


class NotFound(DeviceError):
    code = "not_found"


class DeviceSkill(Skill):
    name = "device"
    description = "Lights and plugs on the home network: on, off, brightness, colour, effects, state and power use."
    permissions = frozenset({Permission.DEVICES})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.hub: DeviceHub = context.needs(Permission.DEVICES, DeviceHub)

    async def on_start(self) -> None:
        await self.hub.open()

    async def on_stop(self) -> None:
        await self.hub.close()

    def slot_values(self) -> dict[str, list[str]]:
        devices = self.hub.registry.all()
        # A name is heard with and without its article: the alias "the big lamp" is "turn off the big
        # lamp" and "turn off big lamp" alike.
        return {
            "device_name": sorted({form for d in devices for n in d.names() for form in (spoken(n), bare(n))}),
            "room_name": sorted({d.room for d in devices if d.room}),
            "effect_name": sorted(
                {
                    spoken(e)
                    for d in devices
                    if d.can(EFFECT)
                    for e in d.extra.get("effects") or []
                    if isinstance(e, str) and spoken(e)
                }
            ),
        }

    def vocabulary(self) -> list[str]:
        devices = self.hub.registry.all()
        return sorted({n for d in devices for n in d.names()} | {d.room for d in devices if d.room})

    def _settle_target(self, args: dict[str, Any]) -> dict[str, Any]:
        """A "device" that names a room and no device ("dim the bedroom", heard or planned as
        device=bedroom) is that room: the call and its record say what is meant. A room said in the
        request ("… in the living room") and left out of the call is put back as said, so that an
        unknown one is refused instead of the action growing to the whole home."""
        args = self._settle_room(args)
        device = args.get("device")
        if not device and not args.get("room"):
            # The planner left out a thing that was said ("turn on the toaster" → turn_on{}): it is
            # put back, so that a device the house doesn't have is answered as such, not asked about.
            thing = _thing_in(said())
            if thing is not None:
                return {**args, "device": thing}
        if not device:
            return args
        everything = self.hub.registry.all()
        room = _room_of(everything, device)
        if (
            room is None
            or _named(everything, device)
            or (args.get("room") and _room_of(everything, args["room"]) != room)
        ):
            return args
        return {**{k: v for k, v in args.items() if k != "device"}, "room": room}

    def _settle_room(self, args: dict[str, Any]) -> dict[str, Any]:
        """The room said in the request, when the call has none: "switch everything off in the living
        room", planned as everything_off{}, is everything_off(room="living room")."""
        if args.get("room"):
            return args
        place = _place_in(said())
        if place is None or (args.get("device") and _named(self.hub.registry.all(), f"{args['device']} in {place}")):
            return args
        return {**args, "room": place}

    # --- choosing the devices a request means
    def _targets(self, device: str | None, room: str | None, capability: str) -> list[Device]:
        everything = self.hub.registry.all()
        spoken_in = here()
        lights_only = _means_lights(device, room, said())
        if device and spoken(device) in _HERE and not room and spoken_in:
            if _room_of(everything, spoken_in) is None:  # said in a room with no device known: not the whole home
                raise NotFound(f"I don't know any {'lights' if lights_only else 'devices'} in the {spoken_in}")
            device, room = None, spoken_in  # "the light", said in the bedroom: the bedroom's
        if device and spoken(device) in _EVERYTHING:
            device = None
        chosen: list[Device]
        if device:
            asked = device  # as said: `device` is dropped below when it names only a room
            chosen = _named(everything, device)
            if not chosen and _room_of(everything, device) is not None:  # "turn off the bedroom", "the kitchen light"
                room, device, chosen = _room_of(everything, device), None, []
            elif not chosen:
                raise NotFound(f"I don't know a device called {device}")
            if room and chosen:  # "the lamp in the attic": that room's lamp, or none, never every lamp
                where = _room_of(everything, room)
                if where is None:
                    raise NotFound(_unknown_room(room, everything))
                chosen = [d for d in chosen if d.room == where]
                if not chosen:
                    raise NotFound(f"There's no {bare(asked)} in the {where}")
        if not device:
            if room:
                wanted = _room_of(everything, room)
                if wanted is None:
                    raise NotFound(_unknown_room(room, everything))
                chosen = [d for d in everything if d.room == wanted]
            else:
                chosen = everything
            if lights_only:
                chosen = [d for d in chosen if _is_light(d)]
                if not chosen:
                    raise NotFound(f"I don't know any lights{f' in the {spoken(room)}' if room else ''}")
        if not chosen:
            raise NotFound("I haven't found any devices yet")
        able = [d for d in chosen if d.can(capability)]
        if not able:
            what = chosen[0].name if len(chosen) == 1 else "any of those devices"
            raise DeviceError(f"{what[:1].upper()}{what[1:]} can't do that", code="unsupported")
        return able

    def _do(
        self, action: str, value: object, device: str | None, room: str | None, capability: str, done: str
    ) -> ToolResult:
        try:
            targets = self._targets(device, room, capability)
        except DeviceError as e:
            return ToolResult(f"{e.message}.", {"error": e.code}, ok=False)
        outcomes = self.hub.act_from_thread(targets, action, value)
        return _summary(outcomes, done, room if len(targets) > 1 else None)

    # --- tools
    @tool(require_any=("device", "room"), ask="Which device?", settle="_settle_target")
    def turn_on(
        self,
        device: Annotated[str | None, "the device's name, e.g. kitchen light"] = None,
        room: Annotated[str | None, "a room, for every device in it"] = None,
    ) -> ToolResult:
        """Turn on a light or plug, or every one in a room."""
        return self._do("power", True, device, room, ON_OFF, "Turned on {what}.")

    @tool(require_any=("device", "room"), ask="Which device?", settle="_settle_target")
    def turn_off(
        self,
        device: Annotated[str | None, "the device's name, e.g. kitchen light"] = None,
        room: Annotated[str | None, "a room, for every device in it"] = None,
    ) -> ToolResult:
        """Turn off a light or plug, or every one in a room."""
        return self._do("power", False, device, room, ON_OFF, "Turned off {what}.")

    @tool(settle="_settle_room")
    def everything_off(self, room: Annotated[str | None, "a room; none: the whole home"] = None) -> ToolResult:
        """Turn off everything, in one room or in the whole home."""
        return self._do("power", False, None, room or None, ON_OFF, "Turned off {what}.")

    @tool(require_any=("device", "room"), ask="Which light?", settle="_settle_target")
    def set_brightness(
        self,
        percent: Annotated[int, Range(0, 100), Ask("How bright, in percent?")],
        device: Annotated[str | None, "the light's name"] = None,
        room: Annotated[str | None, "a room, for every light in it"] = None,
    ) -> ToolResult:
        """Set the brightness of a light, or of every light in a room, in percent."""
        return self._do("brightness", percent, device, room, BRIGHTNESS, f"Set {{what}} to {percent} percent.")

    @tool(require_any=("device", "room"), ask="Which light?", settle="_settle_target")
    def set_colour(
        self,
        colour: Annotated[Colour, Ask("Which colour?")],
        device: Annotated[str | None, "the light's name"] = None,
        room: Annotated[str | None, "a room, for every light in it"] = None,
    ) -> ToolResult:
        """Set the colour of a light, or of every colour light in a room."""
        return self._do("colour", COLOURS[colour], device, room, COLOUR, f"Made {{what}} {colour}.")

    @tool(require_any=("device", "room"), ask="Which light?", settle="_settle_target")
    def set_effect(
        self,
        effect: Annotated[str, Ask("Which effect?"), "the effect's name, e.g. rainbow"],
        device: Annotated[str | None, "the light's name"] = None,
        room: Annotated[str | None, "a room, for every light with effects in it"] = None,
    ) -> ToolResult:
        """Run a light effect (WLED: rainbow, fireworks …) on a light, or on every such light in a room."""
        try:
            targets = self._targets(device, room, EFFECT)
        except DeviceError as e:
            return ToolResult(f"{e.message}.", {"error": e.code}, ok=False)
        outcomes = self.hub.act_from_thread(targets, "effect", effect)
        named = next((o.value for o in outcomes if o.ok and isinstance(o.value, str)), spoken(effect))
        return _summary(outcomes, f"Set {{what}} to {named}.", room if len(targets) > 1 else None)

    @tool(reads=True)
    def get_state(self, device: Annotated[str, Ask("Which device?"), "the device's name"]) -> ToolResult:
        """Say whether a device is on or off, and how bright."""
        try:
            targets = self._targets(device, None, ON_OFF)
        except DeviceError as e:
            return ToolResult(f"{e.message}.", {"error": e.code}, ok=False)
        (outcome,) = self.hub.act_from_thread(targets[:1], "state")
        if not outcome.ok or outcome.state is None:
            return ToolResult(_trouble(outcome), {"error": outcome.code}, ok=False)
        state = outcome.state
        level = f", at {state.brightness} percent" if state.on and state.brightness is not None else ""
        return ToolResult(
            f"{_cap(_the(outcome.device))} is {'on' if state.on else 'off'}{level}.",
            {"device_id": outcome.device.id, "on": state.on, "brightness": state.brightness},
        )

    @tool(reads=True)
    def power_use(self, device: Annotated[str, Ask("Which device?"), "the device's name"]) -> ToolResult:
        """Say how much power a device is using now, and its energy use so far."""
        try:
            targets = self._targets(device, None, POWER)
        except DeviceError as e:
            return ToolResult(
                f"{e.message}." if e.code != "unsupported" else f"{e.message}: it doesn't measure power.",
                {"error": e.code},
                ok=False,
            )
        (outcome,) = self.hub.act_from_thread(targets[:1], "state")
        if not outcome.ok or outcome.state is None or outcome.state.power_w is None:
            return ToolResult(_trouble(outcome), {"error": outcome.code or "no_reading"}, ok=False)
        state = outcome.state
        energy = f", and {state.energy_wh / 1000:.1f} kilowatt hours so far" if state.energy_wh else ""
        return ToolResult(
            f"{_cap(_the(outcome.device))} is using {state.power_w:.0f} watts{energy}.",
            {"device_id": outcome.device.id, "power_w": state.power_w, "energy_wh": state.energy_wh},
        )

    @tool(reads=True, settle="_settle_room")
    def list(self, room: Annotated[str | None, "a room; none: every device"] = None) -> ToolResult:
        """Say which devices there are, in a room or in the whole home."""
        devices = self.hub.registry.all()
        if room:
            wanted = _room_of(devices, room)
            if wanted is None:
                return ToolResult(f"{_unknown_room(room, devices)}.", {"error": "not_found"}, ok=False)
            devices = [d for d in devices if d.room == wanted]
        if not devices:
            return ToolResult("I haven't found any devices yet.", {"devices": []})
        names = [d.name + ("" if d.online else " (offline)") for d in devices]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return ToolResult(f"{counted(len(names), 'device')}: {listed}.", {"devices": [d.id for d in devices]})


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _the(device: Device) -> str:
    """ "the porch light" for "Porch light"; a name with capitals inside ("WLED-A1") stays as it is."""
    name = device.name
    if name[:1].isupper() and not any(c.isupper() for c in name[1:]):
        name = name[:1].lower() + name[1:]
    return f"the {name}"


def _thing_in(request: str) -> str | None:
    """The device a switching request names ("turn on the toaster" → "toaster"), or None when it names
    none, or only the lights or everything."""
    match = _THING.search(spoken(request))
    if match is None:
        return None
    thing = bare((match.group("a") or match.group("b") or "").split(" in ")[0])
    return None if not thing or thing in _NOT_A_THING else thing


def _place_in(request: str) -> str | None:
    """The room a request names with "in …" ("in the living room"), as said; None when it names none
    (or the whole home, or here)."""
    found = ""
    for match in _PLACE.finditer(spoken(request)):
        found = match.group("place").strip()
    for article in ("the ", "my ", "our "):
        found = found.removeprefix(article)
    for colour in sorted(COLOURS, key=len, reverse=True):  # "make the lights in the den blue"
        found = found.removesuffix(f" {colour}")
    return None if not found or found in _NOT_A_ROOM else found


def _means_lights(device: str | None, room: str | None, request: str) -> bool:
    """Whether the request asks for lights, not every device: "the lights", "the kitchen lights",
    "the lights in the kitchen"."""
    if device and (spoken(device).split() or [""])[-1] in _LIGHT_WORDS:
        return True
    words = spoken(request)
    if not room:
        return bool(re.search(r"\b(the|all|every) (lights?|lamps?)\b", words)) and not re.search(
            r"\beverything\b", words
        )
    place = re.escape(spoken(room).removeprefix("the "))
    return bool(re.search(rf"\b{place} (lights?|lamps?)\b|\b(lights?|lamps?) in (the |my )?{place}\b", words))


def _is_light(device: Device) -> bool:
    return device.kind in ("light", "dimmer") or any(
        w in _LIGHT_WORDS for n in device.names() for w in spoken(n).split()
    )


def _unknown_room(room: str, devices: list[Device]) -> str:
    """ "I don't know a room called living room. I know the kitchen and the bedroom" (the rooms, when few)."""
    rooms = sorted({d.room for d in devices if d.room})
    said_room = bare(room)
    if not rooms or len(rooms) > 5:
        return f"I don't know a room called {said_room}"
    known = [f"the {r}" for r in rooms]
    listed = known[0] if len(known) == 1 else f"{', '.join(known[:-1])} and {known[-1]}"
    return f"I don't know a room called {said_room}. I know {listed}"


def _named(devices: list[Device], name: str) -> list[Device]:
    """Devices answering to `name`: exactly, else without a plural s ("kitchen lights"); a leading
    article on either side does not count ("the big lamp" is "big lamp")."""
    wanted = bare(name)
    for form in (wanted, wanted.removesuffix("s")):
        found = [d for d in devices if form in {bare(n) for n in d.names()}]
        if found:
            return found
    return []


def _room_of(devices: list[Device], text: str) -> str | None:
    """The room `text` names ("the bedroom", "the kitchen lights"), or None."""
    wanted = bare(text)
    rooms = {d.room for d in devices if d.room}
    for form in (wanted, *(wanted.removesuffix(f" {w}") for w in ("lights", "light", "lamps", "lamp"))):
        if form in rooms:
            return form
    return None


def _trouble(outcome: Outcome) -> str:
    """What went wrong, said so a person can act on it (the driver's details are in the log)."""
    the = _cap(_the(outcome.device))
    if outcome.code in ("device_timeout", "device_unreachable"):
        return f"{the} is not answering; it may be unplugged or off the network."
    if outcome.code == "device_bad_answer":
        return f"{the} answered something I can't read; restarting it may help."
    if outcome.code == "device_refused":
        return f"{the} refused that."
    if outcome.code == "unauthorized":
        return f"{the} refused me: it needs pairing again."
    return f"{outcome.error[:1].upper()}{outcome.error[1:]}."


def _summary(outcomes: list[Outcome], done: str, room: str | None) -> ToolResult:
    """`done` says what happened to "{what}": the device, or how many devices of a room."""
    good = [o for o in outcomes if o.ok]
    bad = [o for o in outcomes if not o.ok]
    data = {"done": [o.device.id for o in good], "failed": {o.device.id: o.code for o in bad}}
    if len(outcomes) == 1:
        o = outcomes[0]
        return ToolResult(done.format(what=_the(o.device)) if o.ok else _trouble(o), data, ok=o.ok)
    where = f" in the {spoken(room)}" if room else ""
    parts = []
    if good:
        parts.append(done.format(what=f"{counted(len(good), 'device')}{where}"))
    parts += [_trouble(o) for o in bad[:3]]
    if len(bad) > 3:
        parts.append(f"{len(bad) - 3} more did not answer.")
    return ToolResult(" ".join(parts), data, ok=bool(good))
