"""What a skill is: a class with a name, permissions, a lifecycle and typed tools.

A tool is a typed method marked with `@tool`. From its one signature the core derives everything else:
the JSON schema that constrains the LLM planner, the slots that sentence templates fill, the
validation of arguments before the call and the record written after it. Ranges, descriptions and
the question to ask when an argument is missing ride along in `Annotated[...]`:

    @tool(risky=True)
    def set_level(self, level: Annotated[int, Range(0, 100), Ask("To what level?")]) -> ToolResult:
        '''Set the level.'''
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from assistant.core.errors import SkillError

if TYPE_CHECKING:
    import numpy as np
from assistant.plugins.surfaces import (
    CommandsSurface,
    DevicesSurface,
    KnowledgeSurface,
    MediaSurface,
    RoomsSurface,
    RoutinesSurface,
    SchedulerSurface,
)
from assistant.plugins.tools import (
    TOOL_MARK as TOOL_MARK,
)
from assistant.plugins.tools import Ask as Ask
from assistant.plugins.tools import Param as Param
from assistant.plugins.tools import Range as Range
from assistant.plugins.tools import ToolOptions as ToolOptions
from assistant.plugins.tools import ToolResult as ToolResult
from assistant.plugins.tools import ToolSpec as ToolSpec
from assistant.plugins.tools import tool as tool
from assistant.plugins.tools import tool_spec as tool_spec


class Permission(enum.Enum):
    SCHEDULER = "scheduler"
    """Create, list and cancel timers and other scheduled work."""
    STORE = "store"
    """A private table in the assistant's data directory."""
    ROUTINES = "routines"
    """List and start the household's routines."""
    FOLDERS = "folders"
    """Read and write the household's named folders (photos, music, documents, backup)."""
    DEVICES = "devices"
    """List and control the home's devices (lights, plugs) found on the network."""
    MEDIA = "media"
    """The media library: index, albums, moving files inside the library roots, music playback."""
    NETWORK = "network"
    """Reach the network (a third-party skill without it runs with no network at all)."""
    COMMANDS = "commands"
    """Run the allowlisted commands named in the config (never a shell)."""
    AUDIO = "audio"
    """Raw audio from the microphone."""
    KNOWLEDGE = "knowledge"
    """Search the household's documents and notes, and add notes."""
    SPEAKERS = "speakers"
    """Speak announcements in the home's rooms (the assistant's own speaker and its satellites')."""
    PEOPLE = "people"
    """The household's voices: learn one read aloud, forget one (built-in skills only: voiceprints
    never leave the assistant's process)."""


PERMISSION_MEANING = {
    Permission.SCHEDULER: "create, list and cancel timers, alarms and reminders",
    Permission.STORE: "keep its own data in the assistant's data folder",
    Permission.ROUTINES: "list and start the household's routines",
    Permission.FOLDERS: "read and write the household's named folders (photos, music, documents, backup)",
    Permission.DEVICES: "list and control the home's lights, plugs and other devices",
    Permission.MEDIA: "index the media library, make albums, move files in it, play music",
    Permission.NETWORK: "reach the network",
    Permission.COMMANDS: "run the allowlisted commands named in the config",
    Permission.AUDIO: "hear raw audio from the microphone",
    Permission.KNOWLEDGE: "search the household's documents and notes, and add notes",
    Permission.SPEAKERS: "speak announcements in the home's rooms",
    Permission.PEOPLE: "learn and forget the household's voices",
}
"""What granting each permission lets a skill do, in the words `assistant skills install` asks with."""


@dataclass(frozen=True)
class ToolCall:
    """One call of one tool, whoever produced it (a sentence template or the LLM)."""

    tool: str
    """Qualified name, "skill.tool"."""
    args: dict[str, Any]
    source: str
    """"template" or "llm"."""
    text: str = ""
    """The request it came from."""
    score: float = 1.0
    """How sure the producer is: 1.0 for an exact template match, lower for a fuzzy one."""
    open_question: bool = False
    """Worded freely, so the tool's fixed reply may not answer it: true for the planner's calls and for
    template sentences marked `metadata: {open_question: true}`. A `phrased` tool's reply to it is
    worded by the LLM from the result."""
    ask_first: bool = False
    """From a template sentence marked `metadata: {ask_first: true}`, whose words may well mean something
    else ("this is {name}" also catches "this is so annoying"): a yes is asked for before it runs."""


REQUEST: ContextVar[str] = ContextVar("request", default="")


T = TypeVar("T")


def said() -> str:
    """The words of the request a tool (or its `settle`) is serving, as understood; "" for a call
    nobody spoke (a routine's step, a button on the phone page). A skill reads them to refuse rather
    than widen: "switch everything off in the living room", planned without the room it does not know,
    is not the whole house."""
    return REQUEST.get()


@dataclass(frozen=True)
class Speaker:
    """Who said a request, told by their voice (assistant/people)."""

    name: str | None
    """The enrolled person; None for a voice nobody enrolled (a guest)."""
    role: str
    unsure: bool = False
    """Not told apart, but perhaps an enrolled voice (near one, or too little speech to tell): a tool
    for other roles asks who is speaking instead of refusing."""


SPEAKER: ContextVar[Speaker | None] = ContextVar("speaker", default=None)
ORIGIN: ContextVar[str] = ContextVar("origin", default="")


def asked_from() -> str:
    """Where the request a tool is serving came from (trust.calls.ORIGINS: "voice", "phone", "text",
    "routine", "wyoming"); "" outside a conversation. For a skill's own records of who did what."""
    return ORIGIN.get()


def speaker() -> Speaker | None:
    """Who said the request a tool is serving, while the household's voices are enrolled (a voice
    nobody enrolled, or too little speech to tell, is a guest with no name); None when it was not told
    (nobody enrolled, a typed request, a routine's step)."""
    return SPEAKER.get()


def speaker_name() -> str | None:
    """The enrolled person who said the request, told by their voice; None otherwise (a voice nobody
    enrolled, a typed request, a routine): whose a reminder, alarm or timer set now is."""
    heard = SPEAKER.get()
    return heard.name if heard is not None else None


@contextmanager
def spoken_by(person: Speaker | None) -> Iterator[None]:
    """Serve a request said by `person` (`speaker()` inside, and in the threads started from it)."""
    token = SPEAKER.set(person)
    try:
        yield
    finally:
        SPEAKER.reset(token)


class TurnTaker(Protocol):
    """Takes the next spoken turns whole, audio and words, before any skill hears them (learning a
    voice read aloud)."""

    def take(self, audio: np.ndarray, text: str) -> tuple[str, bool]:
        """What to say back, and whether to take the turn after it too. Blocking (run off the loop)."""
        ...


NEXT_TURNS: ContextVar[Callable[[TurnTaker], None] | None] = ContextVar("next_turns", default=None)


def hand_next_turns(taker: TurnTaker) -> bool:
    """Have the microphone's next turns go to `taker` (the voice loop listens on without the wake
    word while it wants more); False when the request being served was not spoken to the microphone."""
    claim = NEXT_TURNS.get()
    if claim is None:
        return False
    claim(taker)
    return True


@contextmanager
def turns_go_to(claim: Callable[[TurnTaker], None]) -> Iterator[None]:
    """Serve a request spoken to the microphone: `claim` is told of a TurnTaker that wants the next turns."""
    token = NEXT_TURNS.set(claim)
    try:
        yield
    finally:
        NEXT_TURNS.reset(token)


@contextmanager
def saying(text: str) -> Iterator[None]:
    """Serve a call whose request was `text` (`said()` inside, and in the threads started from it)."""
    token = REQUEST.set(text)
    try:
        yield
    finally:
        REQUEST.reset(token)


@dataclass
class SkillContext:
    """What a skill may touch: only what its permissions grant.

    Each field is given by the app: in the assistant's process (the built-in skills) the core's own
    object, named in its docstring; in a sandboxed skill's process a stand-in whose calls cross to the
    core (plugins/remote.py), with the calls its Protocol in plugins/surfaces.py declares. A skill
    asks with `needs_*()` for the surface, or with `needs(permission, kind)` for the class it works
    with; both check at load that it was granted and given what it expects."""

    skill: str
    data_dir: Path
    scheduler: object | None = None
    """The durable scheduler (a scheduling.Scheduler), with Permission.SCHEDULER."""
    routines: object | None = None
    """The routines, listed and started (a routines.host.RoutineHost), with Permission.ROUTINES."""
    folders: dict[str, Path] = field(default_factory=dict)
    """Named folders (photos, backup …), with Permission.FOLDERS."""
    devices: object | None = None
    """The device hub, registry and drivers (a devices.hub.DeviceHub), with Permission.DEVICES."""
    media: object | None = None
    """The media library and the music player (a media.service.MediaLibrary), with Permission.MEDIA."""
    commands: object | None = None
    """The allowlisted named commands (a trust.system_commands.CommandRunner), with Permission.COMMANDS."""
    rooms: object | None = None
    """Where the assistant can speak (a voice.rooms.Rooms), with Permission.SPEAKERS."""
    knowledge: object | None = None
    """The household's documents and notes (a knowledge.answerer.Answerer), with Permission.KNOWLEDGE."""
    people: object | None = None
    """The household's voices (a people.household.Household), with Permission.PEOPLE."""
    refused: Callable[[str, str], None] | None = None
    """Told (skill, permission) when the skill reaches for something it was not granted: the audit trail."""

    def needs_scheduler(self) -> SchedulerSurface:
        """The scheduler, or a load error naming the skill that forgot to ask for it."""
        return self.needs(Permission.SCHEDULER, SchedulerSurface)

    def needs_devices(self) -> DevicesSurface:
        """The devices, or a load error naming the skill that forgot to ask for them."""
        return self.needs(Permission.DEVICES, DevicesSurface)

    def needs_commands(self) -> CommandsSurface:
        """The named commands, or a load error naming the skill that forgot to ask for them."""
        return self.needs(Permission.COMMANDS, CommandsSurface)

    def needs_media(self) -> MediaSurface:
        """The media library, or a load error naming the skill that forgot to ask for it."""
        return self.needs(Permission.MEDIA, MediaSurface)

    def needs_rooms(self) -> RoomsSurface:
        """The rooms' speakers, or a load error naming the skill that forgot to ask for them."""
        return self.needs(Permission.SPEAKERS, RoomsSurface)

    def needs_knowledge(self) -> KnowledgeSurface:
        """The documents and notes, or a load error naming the skill that forgot to ask for them."""
        return self.needs(Permission.KNOWLEDGE, KnowledgeSurface)

    def needs_routines(self) -> RoutinesSurface:
        """The routines, or a load error naming the skill that forgot to ask for them."""
        return self.needs(Permission.ROUTINES, RoutinesSurface)

    def needs(self, permission: Permission, kind: type[T]) -> T:
        """What `permission` granted, as a `kind`: a surface of plugins/surfaces.py, or for a built-in
        skill, which runs in the assistant's process, the core's own class
        (`needs(Permission.DEVICES, DeviceHub)`). A load error names the skill when the permission was
        not granted, or when what was given is not a `kind` (a skill written for the assistant's
        process, run in a sandbox)."""
        thing = self._bound(permission)
        if thing is None:
            if self.refused is not None:
                self.refused(self.skill, permission.value)
            raise SkillError(f"skill '{self.skill}' needs the {permission.value} permission")
        if not isinstance(thing, kind):
            raise SkillError(
                f"skill '{self.skill}' expects its {permission.value} permission to give a {kind.__name__}, "
                f"but it runs where it is given a {type(thing).__name__}"
            )
        return thing

    def _bound(self, permission: Permission) -> object | None:
        bound: dict[Permission, object | None] = {
            Permission.SCHEDULER: self.scheduler,
            Permission.ROUTINES: self.routines,
            Permission.DEVICES: self.devices,
            Permission.MEDIA: self.media,
            Permission.COMMANDS: self.commands,
            Permission.SPEAKERS: self.rooms,
            Permission.KNOWLEDGE: self.knowledge,
            Permission.PEOPLE: self.people,
        }
        if permission not in bound:
            raise SkillError(f"the {permission.value} permission hands over no object: it is enforced by the sandbox")
        return bound[permission]


class Skill:
    """Base of every skill. Subclasses set `name`, `description`, `permissions` and mark tools."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    permissions: ClassVar[frozenset[Permission]] = frozenset()

    def __init__(self, context: SkillContext) -> None:
        self.context = context

    # Lifecycle, named on_* so that no tool name ("timer.start") can collide with it.
    # on_install/on_uninstall run once per data directory; on_start/on_stop with every run.
    async def on_install(self) -> None:
        """First use in a data directory."""

    async def on_start(self) -> None:
        """The assistant is starting."""

    async def on_stop(self) -> None:
        """The assistant is stopping."""

    async def on_uninstall(self) -> None:
        """The skill is being removed."""

    def slot_values(self) -> dict[str, list[str]]:
        """Live values for the sentence templates' slot lists, e.g. {"timer_name": ["pasta"]}."""
        return {}

    def vocabulary(self) -> list[str]:
        """Words speech-to-text should expect (names of timers, devices, albums …)."""
        return []

    def due_speech(self, due: Any) -> str | None:
        """What to say when one of this skill's scheduled items comes due (a `scheduler.Due`)."""
        return None

    def tools(self) -> list[ToolSpec]:
        return [
            tool_spec(self.name, getattr(self, n))
            for n, member in inspect.getmembers(type(self))
            if getattr(member, TOOL_MARK, False)
        ]
