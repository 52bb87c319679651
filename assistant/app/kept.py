"""What is still kept under a person's name: their reminders, alarms and timers, the notes told only
to them, the phones paired as them (and pairing codes that would pair one), and routine runs they
started that are not finished.

These name their person, and forgetting a voice leaves them under the name. A new voice enrolled
under that name later would be given them: the reminders told to it, the notes read to it, a phone
paired as the person asking as it, a resumed run serving it. So a new voice is not learned under a
name that still holds things, unless an adult on the command line hands them over (`assistant
people enroll NAME --take-over`)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from assistant.core.errors import AssistantError
from assistant.people.voiceprints import PeopleError, name_key
from assistant.scheduling.scheduler import Scheduler

Owners = dict[str, list[str | None]]
"""The person each thing of a kind is kept for, by kind (None: the household's)."""

KINDS = {
    "reminders": ("a reminder", "reminders"),
    "alarms": ("an alarm", "alarms"),
    "timers": ("a timer", "timers"),
    "notes": ("a private note", "private notes"),
    "phones": ("a paired phone", "paired phones"),
    "codes": ("a pairing code", "pairing codes"),
    "runs": ("an unfinished routine run", "unfinished routine runs"),
}


def kept_under(name: str, owners: Owners) -> list[str]:
    """What `owners` keeps for `name` (any case or spelling), as said, in KINDS' order."""
    key = name_key(name)
    said = []
    for kind, (one, many) in KINDS.items():
        count = sum(owner is not None and name_key(owner) == key for owner in owners.get(kind, ()))
        if count:
            said.append(one if count == 1 else f"{count} {many}")
    return said


def scheduler_owners(scheduler: Scheduler) -> Owners:
    return {
        "reminders": [r.owner for r in scheduler.reminders(include_done=True)],
        "alarms": [a.owner for a in scheduler.alarms()],
        "timers": [t.owner for t in scheduler.timers()],
    }


def there(path: Path) -> bool:
    """Whether a data file is there to read; a pipe, a socket or a folder in its place is an error
    (opening a pipe would wait for a writer that never comes)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        raise PeopleError(f"{path} is not a file; move it aside")
    return True


def phone_owners(data_dir: Path) -> Owners:
    """The person each paired phone asks as, and each unexpired pairing code would pair one as."""
    # web/server.py's web_dir: imported here, the web server would load with every command.
    path = data_dir / "web" / "web.json"
    if not there(path):
        return {}
    from assistant.web.auth import Phones

    phones = Phones(path.parent)
    try:
        return {"phones": [p.person for p in phones.all()], "codes": phones.waiting()}
    finally:
        phones.close()


def note_owners(data_dir: Path) -> list[str | None]:
    """The person each private note is told to, read from the knowledge index file (nothing when
    there is none)."""
    path = data_dir / "knowledge" / "index.db"
    if not there(path):
        return []
    from assistant.knowledge.storage import IndexFile

    index = IndexFile(path)
    try:
        return list(index.owners().values())
    finally:
        index.close()


class KeptIn:
    """What is kept under the names in one data folder, read at each call (the phones may change
    from another process). scheduler, notes, runs: the owners of each, from what is open already.
    Anything that cannot be read is a PeopleError that says so: nothing is assumed."""

    def __init__(
        self,
        data_dir: Path,
        scheduler: Callable[[], Owners],
        notes: Callable[[], Iterable[str | None]],
        runs: Callable[[], Iterable[str | None]],
    ) -> None:
        self.data_dir = data_dir
        self._scheduler, self._notes, self._runs = scheduler, notes, runs

    def owners(self, name: str | None = None) -> Owners:
        try:
            return {
                **self._scheduler(),
                "notes": list(self._notes()),
                "runs": list(self._runs()),
                **phone_owners(self.data_dir),
            }
        except PeopleError:
            raise
        except Exception as e:  # noqa: BLE001  # a damaged record too: what cannot be read is not "nothing"
            reason = e.message if isinstance(e, AssistantError) else f"{e.__class__.__name__}: {e}"
            under = f" under the name {name}" if name else ""
            raise PeopleError(f"I can't tell what is kept{under}: {reason}") from None

    def under(self, name: str) -> list[str]:
        """What is kept under `name`, as said."""
        return kept_under(name, self.owners(name))

    def anyone(self) -> bool:
        """Whether anything is kept under anyone's name."""
        return any(owner is not None for owners in self.owners().values() for owner in owners)
