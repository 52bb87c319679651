"""What is still kept under a person's name: their reminders, alarms and timers, the notes told only
to them, and the phones paired as them.

These name their person, and forgetting a voice leaves them under the name. A new voice enrolled
under that name later would be given them: the reminders told to it, the notes read to it, a phone
paired as the person asking as it. So a new voice is not learned under a name that still holds
things, unless an adult on the command line hands them over (`assistant people enroll NAME
--take-over`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from assistant.knowledge.storage import IndexFile
from assistant.scheduling.scheduler import Scheduler
from assistant.web.auth import Phones
from assistant.web.server import web_dir

Kept = Callable[[str], list[str]]
"""A name → what is kept under it, each as said ("2 reminders"); empty when nothing is."""


def _counted(count: int, one: str, many: str) -> str:
    """(1, "an alarm", "alarms") → "an alarm"; (2, …) → "2 alarms"."""
    return one if count == 1 else f"{count} {many}"


def kept_under(
    name: str, scheduler: Scheduler, note_owners: Iterable[str], phone_people: Iterable[str | None]
) -> list[str]:
    """What the household keeps under `name` (any case), as said."""
    key = name.casefold()

    def mine(owner: str | None) -> bool:
        return owner is not None and owner.casefold() == key

    kinds = (
        (sum(mine(r.owner) for r in scheduler.reminders(include_done=True)), "a reminder", "reminders"),
        (sum(mine(a.owner) for a in scheduler.alarms()), "an alarm", "alarms"),
        (sum(mine(t.owner) for t in scheduler.timers()), "a timer", "timers"),
        (sum(mine(o) for o in note_owners), "a note told only to them", "notes told only to them"),
        (sum(mine(p) for p in phone_people), "a paired phone", "paired phones"),
    )
    return [_counted(count, one, many) for count, one, many in kinds if count]


def phone_people(data_dir: Path) -> list[str | None]:
    """The person each paired phone asks as (None for a phone paired as nobody)."""
    if not (web_dir(data_dir) / "web.json").exists():
        return []
    phones = Phones(web_dir(data_dir))
    try:
        return [p.person for p in phones.all()]
    finally:
        phones.close()


def note_owners(data_dir: Path) -> list[str]:
    """The person each "only mine" note is told to, read from the knowledge index without opening
    the rest of it (nothing when there is no index)."""
    path = data_dir / "knowledge" / "index.db"
    if not path.exists():
        return []
    index = IndexFile(path)
    try:
        return list(index.owners().values())
    finally:
        index.close()


def kept_in(data_dir: Path, scheduler: Scheduler, notes: Callable[[], Iterable[str]] | None = None) -> Kept:
    """What is kept under a name in this data folder, read at each call. notes: the owners of the
    "only mine" notes from the index already open (else the index file is read)."""
    return lambda name: kept_under(
        name, scheduler, notes() if notes is not None else note_owners(data_dir), phone_people(data_dir)
    )
