"""What a sandboxed skill may call in the core, per permission: small surfaces made for the RPC.

Built-in skills get the core's own objects (the device hub, the media library …), whose methods
take and return rich Python objects. Across the sandbox each call must be a few named JSON values,
and what it may reach must be narrow enough to check, so each permission that hands over a core
object crosses as one of these classes instead: arguments are names and ids, results are dicts with
nothing secret in them (no device credentials, no tokens). The scheduler's is app/skill_scheduler.py.

The core fills `confirmed` itself, never the skill: true only while the skill's tool that asked is a
risky one, which ran after a spoken yes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core.errors import SkillError

if TYPE_CHECKING:  # the skill's sandboxed process binds its calls to these classes: it stays light
    from assistant.devices.hub import DeviceHub, Outcome
    from assistant.devices.model import Device
    from assistant.knowledge.answerer import Answerer
    from assistant.media.catalogue import FileRow
    from assistant.media.player import MusicPlayer
    from assistant.media.service import MediaLibrary
    from assistant.routines.host import RoutineHost
    from assistant.trust.system_commands import CommandRunner

ACTIONS = ("power", "brightness", "colour", "state")
MAX_ROWS = 500
"""Photos or tracks in one answer: a skill asks again with a narrower question."""


def _not_on_the_loop(what: str) -> None:
    """Acting waits for the event loop, so it cannot be asked from it (a skill's slot lists are)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SkillError(f"{what} is for tools, not while the assistant lists the skill's names")


def _device(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "aliases": list(d.aliases),
        "room": d.room,
        "kind": d.kind,
        "protocol": d.protocol,
        "model": d.model,
        "capabilities": list(d.capabilities),
        "online": d.online,
    }


def _outcome(o: Outcome) -> dict[str, Any]:
    state = o.state
    return {
        "device": o.device.id,
        "ok": o.ok,
        "error": o.error,
        "code": o.code,
        "state": None
        if state is None
        else {
            "on": state.on,
            "brightness": state.brightness,
            "colour": list(state.colour) if state.colour else None,
            "power_w": state.power_w,
        },
    }


class SkillDevices:
    """The devices permission: the devices the registry knows, and acting on them."""

    def __init__(self, hub: DeviceHub) -> None:
        self._hub = hub

    def devices(self) -> list[dict[str, Any]]:
        """Every known device: id, name, aliases, room, kind, protocol, model, capabilities, online."""
        return [_device(d) for d in self._hub.registry.all()]

    def act(self, device_ids: list[str], action: str, value: Any = None) -> list[dict[str, Any]]:
        """One action on each device at once: power (true/false), brightness (percent), colour
        ([r, g, b]) or state; one outcome per device, with its state where the device said it."""
        if action not in ACTIONS:
            raise SkillError(f"unknown device action {action!r} (known: {', '.join(ACTIONS)})")
        if not isinstance(device_ids, list) or not all(isinstance(i, str) for i in device_ids):
            raise SkillError("device_ids must be a list of device ids")
        known = {d.id: d for d in self._hub.registry.all()}
        unknown = [i for i in device_ids if i not in known]
        if unknown:
            raise SkillError(f"no device has the id {unknown[0]!r}")
        value = _checked_value(action, value)
        _not_on_the_loop("acting on devices")
        return [_outcome(o) for o in self._hub.act_from_thread([known[i] for i in device_ids], action, value)]


def _checked_value(action: str, value: Any) -> Any:
    if action == "power":
        if not isinstance(value, bool):
            raise SkillError("power takes true or false")
    elif action == "brightness":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise SkillError("brightness takes a whole percent, 0 to 100")
    elif action == "colour":
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
        ):
            raise SkillError("colour takes [red, green, blue], each 0 to 255")
        return tuple(value)
    return value


def _photo(r: FileRow) -> dict[str, Any]:
    return {
        "path": r.path,
        "kind": r.kind,
        "taken": r.taken,
        "camera": r.camera,
        "place": r.place,
        "country": r.country,
    }


class SkillMedia:
    """The media permission: finding photos and music in the library, and the music player.
    Moving or deleting files stays with the built-in media skill."""

    def __init__(self, media: MediaLibrary) -> None:
        self._media = media

    def albums(self) -> list[str]:
        return self._media.albums.names()

    def album(self, name: str) -> list[dict[str, Any]]:
        """The photos and videos of one album."""
        if self._media.albums.get(name) is None:
            raise SkillError(f"there is no album called {name!r}")
        return [_photo(r) for r in self._media.albums.files(name)[:MAX_ROWS]]

    def photos(
        self, when: str | None = None, place: str | None = None, camera: str | None = None, folder: str | None = None
    ) -> list[dict[str, Any]]:
        """Photos and videos as a person asks for them ("last summer", "Paris"), oldest first."""
        from assistant.media.albums import Selection

        return [_photo(r) for r in self._media.albums.select(Selection(when, place, camera, folder), limit=MAX_ROWS)]

    def music(
        self, genre: str | None = None, artist: str | None = None, album: str | None = None, title: str | None = None
    ) -> list[dict[str, Any]]:
        """Tracks matching every tag given, in album order."""
        rows = self._media.music(genre, artist, album, title)[:MAX_ROWS]
        return [
            {
                "path": r.path,
                "title": r.title or Path(r.path).stem,
                "artist": r.artist,
                "album": r.album,
                "duration_s": r.duration_s,
            }
            for r in rows
        ]

    def play(self, paths: list[str]) -> dict[str, Any] | None:
        """Play these tracks (paths from `music`) in order; what is playing now."""
        player = self._player()
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise SkillError("play takes a list of track paths from music()")
        indexed = {r.path: r for r in self._media.music()}
        missing = [p for p in paths if p not in indexed]
        if missing:
            raise SkillError(f"{missing[0]!r} is not a track in the library")
        player.play([self._media.track_of(indexed[p]) for p in paths])
        return player.now_playing().record()

    def pause(self) -> None:
        self._player().pause()

    def resume(self) -> None:
        self._player().resume()

    def stop(self) -> None:
        self._player().stop()

    def next(self) -> dict[str, Any] | None:
        player = self._player()
        player.next()
        return player.now_playing().record()

    def now_playing(self) -> dict[str, Any] | None:
        return self._player().now_playing().record()

    def _player(self) -> MusicPlayer:
        if self._media.player is None:
            raise SkillError("this assistant has no music player")
        return self._media.player


class SkillRoutines:
    """The routines permission: list the household's routines and start one."""

    def __init__(self, routines: RoutineHost) -> None:
        self._routines = routines

    def routines(self) -> list[str]:
        return [n for n in self._routines.names() if self._routines.enabled(n)]

    def start(self, name: str) -> str:
        """Run a routine; what its say: steps said if it ends within a few seconds."""
        if name not in self.routines():
            raise SkillError(f"there is no enabled routine called {name!r}")
        _not_on_the_loop("starting a routine")
        try:
            return self._routines.start_run(name)
        except KeyError:
            raise SkillError(f"the routine {name!r} cannot start yet") from None


class SkillCommands:
    """The commands permission: the allowlisted named commands of the config, nothing else."""

    def __init__(self, runner: CommandRunner) -> None:
        self._runner = runner

    def commands(self) -> list[dict[str, Any]]:
        """Each command's name, whether it changes the system, and the argument it takes."""
        return [
            {"name": c.name, "changes": c.changes, "arg": c.arg.name if c.arg else None}
            for c in (self._runner.get(n) for n in self._runner.names())
        ]

    def run(self, name: str, value: str | None = None, *, confirmed: bool = False) -> dict[str, Any]:
        """Run one; a command that changes the system runs only from a risky tool (after a spoken yes)."""
        command = self._runner.get(name)
        if command.changes and not confirmed:
            raise SkillError(
                f"'{command.name}' changes the system: only a tool declared risky (asked with a spoken yes) may run it"
            )
        outcome = self._runner.run(command, value)
        return {
            "command": command.name,
            "exit_code": outcome.code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "took_s": round(outcome.took_s, 3),
        }


class SkillKnowledge:
    """The knowledge permission: searches and answers within the folders granted to the skill at
    install (`assistant skills install … --knowledge-folder PATH`), never the household's notes."""

    def __init__(self, answerer: Answerer, folders: list[Path]) -> None:
        self._answerer = answerer
        self._folders = list(folders)

    def folders(self) -> list[str]:
        """The folders this skill may search."""
        return [str(f) for f in self._folders]

    def search(self, query: str, top: int = 5) -> list[dict[str, Any]]:
        """The best passages for `query` in the granted folders: source, title, page, text, score."""
        if not isinstance(query, str) or not query.strip():
            raise SkillError("search needs the words to look for")
        if not isinstance(top, int) or not 1 <= top <= 20:
            raise SkillError("top must be a whole number from 1 to 20")
        if not self._folders:
            return []
        return [h.record() for h in self._answerer.index.search(query, top, within=self._folders, notes=False)]

    def ask(self, question: str) -> dict[str, Any]:
        """The assistant's answer from the granted folders (written by its LLM, with its source and
        passage), or found: false with "I don't find that in your documents"."""
        if not isinstance(question, str) or not question.strip():
            raise SkillError("ask needs a question")
        if not self._folders:
            from assistant.knowledge.answerer import NOT_FOUND

            return {"found": False, "speech": NOT_FOUND, "answer": "", "how": "not_found", "hits": []}
        _not_on_the_loop("answering from documents")
        # Not mended: mending spells the question against every document and note, which would let a
        # skill probe, through `searched`, for words in folders it was not granted.
        record = self._answerer.ask(question, within=self._folders, notes=False, mend=False).record()
        record.pop("searched", None)
        return record
