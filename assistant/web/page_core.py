"""What the phone page uses of the running assistant, declared here so that `web/` never imports the
`app/` layer above it: `app.runtime.Core` is bound to it, and mypy checks that it fits."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from assistant.core.background import Foreground
from assistant.core.bus import Bus
from assistant.devices.hub import DeviceHub
from assistant.media.service import MediaLibrary
from assistant.people.household import Household
from assistant.plugins.registry import Registry
from assistant.routines.host import RoutineHost
from assistant.scheduling.scheduler import Scheduler
from assistant.speech.stt import SpeechHints
from assistant.voice.dialogue import Dialogue


class PageCore(Protocol):
    """The parts of the assistant the page shows and acts through (read-only: the page replaces none)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def routines(self) -> RoutineHost: ...
    @property
    def devices(self) -> DeviceHub: ...
    @property
    def media(self) -> MediaLibrary: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def dialogue(self) -> Dialogue: ...
    @property
    def foreground(self) -> Foreground: ...
    @property
    def household(self) -> Household | None: ...

    def next_turn(self) -> int:
        """The number of a new request, shared with the voice loop."""
        ...

    def speech_hints(self) -> SpeechHints:
        """What speech-to-text should expect now."""
        ...
