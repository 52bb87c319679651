"""The household's voices while the assistant runs: who spoke each request, and voices learned and
forgotten by voice ("learn my voice", "forget my voice"). `assistant people` changes the same files;
what it changes while the assistant runs is seen at the next start."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from assistant.core.models import resolve_speaker_encoder, resolve_vad_model
from assistant.people.by_voice import VoiceEnrolment
from assistant.people.enrolment import learn
from assistant.people.listening import Identified, Listener, identify
from assistant.people.voiceprints import PURPOSE, PeopleError, Person, Voiceprints, checked_name
from assistant.plugins.api import Speaker
from assistant.trust.admin import record_admin
from assistant.trust.vault import Vault

log = logging.getLogger(__name__)


class Household:
    """The speaker encoder loads when first needed: with nobody enrolled, nothing loads until someone
    asks to be learned, and no request is told apart."""

    def __init__(self, data_dir: Path, vault: Vault) -> None:
        self.data_dir = data_dir
        self._vault = vault
        self._store: Voiceprints | None = None
        self._people: list[Person] = []
        self._listener: Listener | None = None
        self._lock = threading.Lock()  # the VAD keeps state, and the list changes: one at a time
        if vault.exists():
            people, problems = self._voiceprints().load()
            for problem in problems:
                log.warning("voices: %s", problem)
            self._people = people
            if people:
                log.info("voices: %d enrolled (%s)", len(people), ", ".join(p.name for p in people))

    def people(self) -> list[Person]:
        with self._lock:
            return list(self._people)

    def find(self, name: str) -> Person | None:
        """The enrolled person of this name, whatever its case ("anna" is Anna), or None."""
        wanted = name.strip().casefold()
        return next((p for p in self.people() if p.name.casefold() == wanted), None)

    def knows_voices(self) -> bool:
        return bool(self._people)

    def identify(self, audio: np.ndarray) -> Identified:
        """Who spoke `audio` (nobody, while nobody is enrolled). Blocking: run it off the event loop."""
        with self._lock:
            if not self._people:
                return Identified(None, 0.0)
            return identify(self._heard().voice(audio), self._people)

    def enrolment(self, name: str, by: Speaker | None) -> VoiceEnrolment:
        """Learning `name`'s voice from sentences read to the microphone, asked for by `by` (None while
        nobody is enrolled). Only the voice itself relearns an enrolled name; a new name is a guest
        until an adult gives them a role (`assistant people enroll … --role`), except the first voice
        of the household, who is its adult. A PeopleError says why it cannot start."""
        name = checked_name(name)
        if name.islower():  # heard words come lower case; a name is written with capitals
            name = name.title()
        known = self.find(name)
        if known is not None and (by is None or by.name is None or by.name.casefold() != name.casefold()):
            raise PeopleError(
                f"I know {known.name}'s voice already, and I can't tell that it is {known.name} speaking: "
                f'{known.name} can say "learn my voice" to have it learned again'
            )
        role = known.role if known is not None else ("adult" if not self.knows_voices() else "guest")
        who = f"voice:{by.name}" if by is not None and by.name else "voice"

        def finish(embeddings: list[np.ndarray]) -> str:
            with self._lock:
                person, replaced = learn(
                    self._voiceprints(), name, role, embeddings, [f"reading {i + 1}" for i in range(len(embeddings))]
                )
                self._people = [p for p in self._people if p.name.casefold() != person.name.casefold()] + [person]
                self._people.sort(key=lambda p: p.name.casefold())
            record_admin(
                self.data_dir,
                "voice enrolled",
                who,
                person=person.name,
                role=role,
                clips=len(embeddings),
                replaced=replaced,
            )
            log.info("voices: %s %s's voice (%s)", "relearned" if replaced else "learned", person.name, role)
            return f"Thank you, {person.name}. I know your voice now."

        def embed(audio: np.ndarray, what: str) -> np.ndarray:
            with self._lock:
                return self._heard().enrolment(audio, what)

        return VoiceEnrolment(name, role, embed, finish)

    def forget(self, name: str, who: str) -> bool:
        """Forget `name`'s voice (`who` asked, for the audit trail); False when nobody of that name is
        enrolled."""
        name = checked_name(name)
        with self._lock:
            if not self._voiceprints().forget(name):
                return False
            self._people = [p for p in self._people if p.name.casefold() != name.casefold()]
        record_admin(self.data_dir, "voice forgotten", who, person=name)
        log.info("voices: forgot %s's voice", name)
        return True

    def prepare(self) -> None:
        """Load the speaker encoder now when voices are enrolled, so the first request does not wait."""
        if self.knows_voices():
            with self._lock:
                self._heard()

    def _voiceprints(self) -> Voiceprints:
        if self._store is None:
            self._store = Voiceprints(self.data_dir, self._vault.derived_key(PURPOSE))
        return self._store

    def _heard(self) -> Listener:
        if self._listener is None:
            from assistant.speech.speaker_encoder import SpeakerEncoder
            from assistant.speech.vad import SileroVad

            self._listener = Listener(SpeakerEncoder(resolve_speaker_encoder().path), SileroVad(resolve_vad_model()))
        return self._listener
