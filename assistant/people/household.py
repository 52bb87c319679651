"""The household's voices while the assistant runs: who spoke each request, and voices learned and
forgotten by voice ("learn my voice", "forget my voice"). `assistant people` changes the same files
from another process: the household looks at the folder at most once a second and reads it again when
a file in it changed, so a voice enrolled, given a role or forgotten there counts from the next request."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.core.models import resolve_speaker_encoder, resolve_vad_model
from assistant.people.by_voice import VoiceEnrolment
from assistant.people.enrolment import LastVoice, change_role, learn
from assistant.people.listening import MAYBE, Identified, Listener, identify
from assistant.people.voiceprints import (
    PEOPLE_DIR,
    PURPOSE,
    PeopleError,
    Person,
    Voiceprints,
    checked_name,
    key_missing,
    name_key,
    named,
)
from assistant.plugins.api import Speaker
from assistant.trust.admin import record_admin
from assistant.trust.vault import Vault

log = logging.getLogger(__name__)

LOOK_EVERY_S = 1.0
"""How often the voiceprints folder is looked at for changes made by another process."""


def without_a_voice(household: Household | None) -> Speaker | None:
    """Who asks when no voice or person comes with the words (a phone paired as nobody, a Wyoming
    transcript): a guest once the household's voices are enrolled, else nobody in particular (None,
    as typed text, every role)."""
    return Speaker(None, "guest") if household is not None and household.knows_voices() else None


class KeptThings(Protocol):
    """What is kept under people's names: reminders, notes, phones… (app/kept.py). Each raises a
    PeopleError when it cannot be told."""

    def under(self, name: str) -> list[str]:
        """What is kept under `name`, as said ("2 reminders")."""
        ...

    def anyone(self) -> bool:
        """Whether anything is kept under anyone's name."""
        ...


class Household:
    """The speaker encoder loads when first needed: with nobody enrolled, nothing loads until someone
    asks to be learned, and no request is told apart."""

    def __init__(self, data_dir: Path, vault: Vault, kept: KeptThings | None = None) -> None:
        """kept: what the household keeps under people's names (app/kept.py)."""
        self.data_dir = data_dir
        self._vault = vault
        self._kept = kept
        self._store: Voiceprints | None = None
        self._people: list[Person] = []
        self._listener: Listener | None = None
        self._listening = threading.Lock()  # the VAD keeps state: one clip at a time
        self._changing = threading.Lock()  # the list of people and its files
        self._seen: tuple[tuple[str, int, int, int], ...] | None = None
        self._locked: str | None = None
        """Why the voiceprints there cannot be read (the vault key is missing, the folder unreadable):
        voices are enrolled, and nobody can be told, so every voice is a guest."""
        self._left = False
        """Nobody is enrolled, but things are kept under names (voices forgotten left them): voices
        are still told apart, and a voice nobody enrolled is a guest, who is read none of them."""
        self._looked = 0.0
        self._refresh(at_start=True)

    def _refresh(self, at_start: bool = False) -> None:
        """Read the voiceprints again when a file in the folder was added, replaced or removed since
        they were read (by `assistant people` in another process, or by this one). A scan of a few
        names, at most once a second; reading happens only on a change, and never waits for a voice
        being told apart."""
        now = time.monotonic()
        if not at_start and now - self._looked < LOOK_EVERY_S:
            return
        self._looked = now
        seen = self._folder_state()
        if seen == self._seen:
            return
        with self._changing:
            self._seen = seen
            people, problems, locked = self._read()
            for problem in problems:
                log.warning("voices: %s", problem)
            if locked is not None:
                log.error("voices: %s; until then every voice is a guest", locked)
                # In this order, a request told meanwhile (knows_voices, unlocked) never finds nobody enrolled.
                self._locked, self._people = locked, []
                return
            if [(p.name, p.role, p.enrolled_at) for p in people] != [
                (p.name, p.role, p.enrolled_at) for p in self._people
            ]:
                log.info("voices: %d enrolled (%s)", len(people), ", ".join(f"{p.name}, {p.role}" for p in people))
            self._people, self._locked = people, None
            # Things are kept under names only from voices told (and phones paired as them), so with
            # nobody enrolled they can only go: looking again when the folder changes is enough.
            self._left = not people and self._someone_kept()

    def _read(self) -> tuple[list[Person], list[str], str | None]:
        """Everyone enrolled, the files left out, and why none can be read when voiceprints are there
        but cannot be (the vault key missing or replaced, the folder unreadable)."""
        missing = key_missing(self.data_dir, self._vault.key_path)
        if missing is not None:
            return [], [], missing
        if not self._vault.exists():
            return [], [], None
        self._store = None  # opened again with the key as it is now (one put back, say)
        try:
            people, problems = self._open().load()
        except PeopleError as e:
            return [], [], e.message
        if not people and problems:
            # Not one opens: a vault key made anew (which a start does for the audit trail once the
            # old one is lost) must not make the household look empty, where any voice may do anything.
            return (
                [],
                problems,
                (
                    f"none of the {len(problems)} voiceprint files in {self.data_dir / PEOPLE_DIR} opens: if the "
                    "vault key was replaced, put the old one back from a backup; else move the files aside and "
                    "enrol everyone again"
                ),
            )
        return people, problems, None

    def _folder_state(self) -> tuple[tuple[str, int, int, int], ...]:
        """Each file's name, inode, modification time and size: a file written again (always by a
        rename) has a new inode even within one tick of the clock."""
        try:
            with os.scandir(self.data_dir / PEOPLE_DIR) as entries:
                found = []
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    found.append((entry.name, info.st_ino, info.st_mtime_ns, info.st_size))
                with contextlib.suppress(OSError):  # a key put back (or lost) is noticed too
                    key = self._vault.key_path.stat()
                    found.append(("", key.st_ino, key.st_mtime_ns, key.st_size))
                return tuple(sorted(found))
        except OSError:  # no folder yet (nobody enrolled), or an entry gone while looking: look again next time
            return ()

    def people(self) -> list[Person]:
        self._refresh()
        return list(self._people)

    def find(self, name: str) -> Person | None:
        """The enrolled person of this name, whatever its case ("anna" is Anna), or None."""
        return named(self.people(), name)

    def knows_voices(self) -> bool:
        """Whether voices are told apart: someone is enrolled, the voiceprints cannot be read, or
        things are kept under the names of voices forgotten (a voice nobody enrolled is then a guest:
        else, with nobody enrolled, any voice would be read a forgotten person's private notes)."""
        self._refresh()
        return bool(self._people) or self._locked is not None or self._left

    def _someone_kept(self) -> bool:
        """Whether anything is kept under anyone's name; when that cannot be told, as if it were."""
        if self._kept is None:
            return False
        try:
            return self._kept.anyone()
        except PeopleError as e:
            log.warning("voices: %s; until it can, every voice nobody enrolled is a guest", e.message)
            return True

    def identify(self, audio: np.ndarray) -> Identified:
        """Who spoke `audio` (nobody, while nobody is enrolled). Blocking: run it off the event loop."""
        self._refresh()
        people = self._people
        if not people:
            return Identified(None, 0.0)
        with self._listening:
            voice = self._heard().voice(audio)
        return identify(voice, people)

    def enrolment(self, name: str, by: Speaker | None) -> VoiceEnrolment:
        """Learning `name`'s voice from sentences read to the microphone, asked for by `by` (None while
        nobody is enrolled). Only the voice itself relearns an enrolled name; a new name is a guest
        until an adult gives them a role ("make Anna an adult", `assistant people role`), except the
        first voice of a new household, who is its adult (not after voices were forgotten that left
        things under their names: then an adult is made on the command line). A PeopleError says why
        it cannot start."""
        name = checked_name(name)
        self._refresh()
        if self._locked is not None:  # learning would make a new vault key: the voiceprints there lost for good
            raise PeopleError(f"I can't learn voices now: {self._locked}")
        if name.islower():  # heard words come lower case; a name is written with capitals
            name = name.title()
        known = self.find(name)
        if known is not None and (by is None or by.name is None or name_key(by.name) != name_key(name)):
            raise PeopleError(
                f"I know {known.name}'s voice already, and I can't tell that it is {known.name} speaking: "
                f'{known.name} can say "learn my voice" to have it learned again'
            )
        # Things an earlier voice of the name left (forgotten, or its voiceprint unreadable): a new voice
        # under the name would be given them. Not listed here: any voice could ask to hear them.
        if known is None and self.kept(name):
            raise PeopleError(
                f"I can't learn a new voice as {name}: things are still kept for an earlier {name}. Choose "
                f"another name, or ask an adult to enrol you as {name} on the assistant's computer "
                f"(`assistant people enroll {name} --take-over`, while the assistant is stopped)"
            )
        # The household's first voice is its adult (decided again as it is saved, in finish).
        role = known.role if known is not None else ("adult" if not self.knows_voices() else "guest")
        who = f"voice:{by.name}" if by is not None and by.name else "voice"

        def finish(embeddings: list[np.ndarray]) -> str:
            with self._changing:
                # A new name, checked again as it is saved: meanwhile the name may have been given
                # things, or enrolled by its own voice (learn refuses that: only_new).
                if known is None and self.kept(name):
                    raise PeopleError(f"I can't learn this voice as {name}: the name was taken while you read")
                # Relearning keeps the voice's role as it is now, not as it was when the reading began:
                # a role taken away meanwhile stays away, and a voice forgotten meanwhile stays forgotten.
                now = self._voiceprints().find(name) if known is not None else None
                if known is not None and now is None:
                    raise PeopleError(f"{name}'s voice was forgotten while you read, so I didn't learn it again")
                person, replaced = learn(
                    self._voiceprints(),
                    name,
                    now.role if now is not None else "guest",
                    embeddings,
                    [f"reading {i + 1}" for i in range(len(embeddings))],
                    # Not while forgotten voices left things: the household is not new, and any voice
                    # is its guest (knows_voices), not its adult.
                    first_is_adult=known is None and not self._someone_kept(),
                    only_new=known is None,
                )
                self._people = self._with(person)
            record_admin(
                self.data_dir,
                "voice enrolled",
                who,
                person=person.name,
                role=person.role,
                clips=len(embeddings),
                replaced=replaced,
            )
            log.info("voices: %s %s's voice (%s)", "relearned" if replaced else "learned", person.name, person.role)
            return f"Thank you, {person.name}. I know your voice now."

        def embed(audio: np.ndarray, what: str) -> np.ndarray:
            with self._listening:
                embedding = self._heard().enrolment(audio, what)
            # Relearning is asked for by the voice itself; the readings must be that voice too, or
            # anyone reading after "learn my voice" would become the person (and their role).
            if known is not None and float(known.voiceprint @ embedding) < MAYBE:
                raise PeopleError(f"that reading didn't sound like {known.name}'s voice")
            return embedding

        return VoiceEnrolment(name, role, embed, finish)

    def set_role(self, name: str, role: str, who: str) -> tuple[Person, str]:
        """Give `name` another role (`who` asked, for the audit trail); returns the person and the role
        they had. A PeopleError says why not (nobody of that name, the last adult)."""
        with self._changing:
            person, was = change_role(self._voiceprints(), name, role)
            self._people = self._with(person)
        if person.role != was:
            record_admin(self.data_dir, "voice role changed", who, person=person.name, role=person.role, was=was)
            log.info("voices: %s is now %s (was %s)", person.name, person.role, was)
        return person, was

    def kept(self, name: str) -> list[str]:
        """What is kept under `name` (app/kept.py), as said; a PeopleError when it cannot be told."""
        return self._kept.under(name) if self._kept is not None else []

    def forget(self, name: str, who: str, *, by_adult: bool) -> list[str] | None:
        """Forget `name`'s voice (`who` asked, for the audit trail); what stays under the name, as
        said (app/kept.py; empty when that cannot be read), or None when nobody of that name is
        enrolled. by_adult: asked by an adult (their voice, an admin phone). Otherwise the last voice
        enrolled is not forgotten: with nobody enrolled every voice may do what an adult may, so a
        child forgetting their own voice, the last, would make every voice an adult's."""
        name = checked_name(name)
        try:
            kept = self.kept(name)
        except PeopleError as e:
            log.warning("voices: %s", e.message)
            kept = []
        with self._changing:
            people = [] if by_adult else self._voiceprints().load()[0]
            if len(people) == 1 and named(people, name) is not None:
                raise LastVoice(
                    f"{people[0].name}'s is the only voice I know, and with none any voice could come to do what "
                    f"an adult can: an adult can forget it from an admin phone, or with `assistant people forget "
                    f"{people[0].name}` while the assistant is stopped"
                )
            if not self._voiceprints().forget(name):
                return None
            self._people = [p for p in self._people if name_key(p.name) != name_key(name)]
            self._left = not self._people and self._someone_kept()
        record_admin(self.data_dir, "voice forgotten", who, person=name)
        log.info("voices: forgot %s's voice", name)
        return kept

    def _with(self, person: Person) -> list[Person]:
        """Everyone, with `person` in place of any earlier record of the name, by name."""
        others = [p for p in self._people if name_key(p.name) != name_key(person.name)]
        return sorted([*others, person], key=lambda p: p.name.casefold())

    def prepare(self) -> None:
        """Load the speaker encoder now when voices are enrolled, so the first request does not wait."""
        if self.knows_voices():
            with self._listening:
                self._heard()

    def _voiceprints(self) -> Voiceprints:
        if self._locked is not None:  # the vault's key would be made anew: the voiceprints there lost for good
            raise PeopleError(f"I can't change the voices now: {self._locked}")
        return self._open()

    def _open(self) -> Voiceprints:
        if self._store is None:
            self._store = Voiceprints(self.data_dir, self._vault.derived_key(PURPOSE))
        return self._store

    def _heard(self) -> Listener:
        if self._listener is None:
            from assistant.speech.speaker_encoder import SpeakerEncoder
            from assistant.speech.vad import SileroVad

            self._listener = Listener(SpeakerEncoder(resolve_speaker_encoder().path), SileroVad(resolve_vad_model()))
        return self._listener
