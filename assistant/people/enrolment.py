"""Learning a voice from clips read aloud, the same checks whichever way it comes in (`assistant people
enroll`, "learn my voice" to the microphone): each clip long and clear enough, all of one voice, not a
voice enrolled already under another name; then the voiceprint saved over any earlier one of the name.
And giving an enrolled person another role (`assistant people role`, "make Ben an adult")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.people.listening import SAME_PERSON, check_one_voice
from assistant.people.voiceprints import PeopleError, Person, Voiceprints, checked_role, name_key, named, new_person


class SoundsLikeSomeoneElse(PeopleError):
    """The voice is enrolled already under another name: two voiceprints of one voice would make each
    of its requests nobody's, or the wrong person's."""

    def __init__(self, twin: str) -> None:
        super().__init__(f"this voice sounds like {twin}'s, who is enrolled already")
        self.twin = twin


class NobodyCalled(PeopleError):
    """No voice is enrolled under the name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"I don't know anyone called {name}: their voice has to be learned first")


class LastAdult(PeopleError):
    """The household's last adult would be left with another role, and nobody could give roles by voice."""


class LastVoice(PeopleError):
    """The household's last voice, forgotten by someone who is not an adult: with none enrolled, every
    voice may do what an adult may."""


def nearest(voiceprint: np.ndarray, people: Sequence[Person]) -> tuple[Person | None, float]:
    """The enrolled person whose voiceprint is nearest, with the similarity (-1 when nobody is)."""
    if not people:
        return None, -1.0
    scores = np.stack([p.voiceprint for p in people]) @ voiceprint
    best = int(np.argmax(scores))
    return people[best], float(scores[best])


def learn(
    store: Voiceprints,
    name: str,
    role: str,
    embeddings: Sequence[np.ndarray],
    names: Sequence[str],
    first_is_adult: bool = False,
    only_new: bool = False,
) -> tuple[Person, bool]:
    """Enrol `name` from the embeddings of clips read aloud (`Listener.enrolment`; `names` says how to
    call each clip in a message); returns the person and whether an earlier voiceprint of the name was
    replaced. Clips that will not do together are a PeopleError saying why. A name enrolled already
    ("anna" for Anna) keeps its spelling, which their reminders and notes are kept under, and the
    household's last adult is not relearned as something else. first_is_adult: the household's first
    voice is its adult, whatever `role` says (decided as it is saved: of two learned at once, both
    would have been adults if decided when they started). only_new: a new name, refused when it was
    enrolled meanwhile (by its own voice, which this one must not replace)."""
    check_one_voice(list(embeddings), list(names))
    people = store.load()[0]
    if first_is_adult and not people:
        role = "adult"
    earlier = named(people, name)
    if earlier is not None and only_new:
        raise PeopleError(f"I can't learn this voice as {name}: the name was taken while you read")
    if earlier is not None:
        name = earlier.name
        adults = sum(p.role == "adult" for p in people)
        if earlier.role == "adult" and checked_role(role) != "adult" and adults == 1:
            raise LastAdult(f"{earlier.name} is the only adult I know; make someone else an adult first")
    person = new_person(name, role, list(embeddings))
    others = [p for p in people if name_key(p.name) != name_key(person.name)]
    twin, score = nearest(person.voiceprint, others)
    if twin is not None and score >= SAME_PERSON:
        raise SoundsLikeSomeoneElse(twin.name)
    try:
        replaced = store.find(person.name) is not None
    except PeopleError:  # their file is damaged or foreign: enrolling again is how it is mended
        replaced = True
    store.save(person)
    return person, replaced


def change_role(store: Voiceprints, name: str, role: str) -> tuple[Person, str]:
    """Give the enrolled `name` another role; returns the person as saved and the role they had. The
    household's last adult is never made something else: nobody would be left to give roles by voice."""
    role = checked_role(role)
    people, _ = store.load()
    person = named(people, name)
    if person is None:
        raise NobodyCalled(name.strip())
    if person.role == "adult" and role != "adult" and sum(p.role == "adult" for p in people) == 1:
        raise LastAdult(f"{person.name} is the only adult I know; make someone else an adult first")
    changed = replace(person, role=role)
    if role != person.role:
        store.save(changed)
    return changed, person.role
