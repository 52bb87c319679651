"""Learning a voice from clips read aloud, the same checks whichever way it comes in (`assistant people
enroll`, "learn my voice" to the microphone): each clip long and clear enough, all of one voice, not a
voice enrolled already under another name; then the voiceprint saved over any earlier one of the name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.people.listening import SAME_PERSON, check_one_voice
from assistant.people.voiceprints import PeopleError, Person, Voiceprints, new_person


class SoundsLikeSomeoneElse(PeopleError):
    """The voice is enrolled already under another name: two voiceprints of one voice would make each
    of its requests nobody's, or the wrong person's."""

    def __init__(self, twin: str) -> None:
        super().__init__(f"this voice sounds like {twin}'s, who is enrolled already")
        self.twin = twin


def nearest(voiceprint: np.ndarray, people: Sequence[Person]) -> tuple[Person | None, float]:
    """The enrolled person whose voiceprint is nearest, with the similarity (-1 when nobody is)."""
    if not people:
        return None, -1.0
    scores = np.stack([p.voiceprint for p in people]) @ voiceprint
    best = int(np.argmax(scores))
    return people[best], float(scores[best])


def learn(
    store: Voiceprints, name: str, role: str, embeddings: Sequence[np.ndarray], names: Sequence[str]
) -> tuple[Person, bool]:
    """Enrol `name` from the embeddings of clips read aloud (`Listener.enrolment`; `names` says how to
    call each clip in a message); returns the person and whether an earlier voiceprint of the name was
    replaced. Clips that will not do together are a PeopleError saying why."""
    check_one_voice(list(embeddings), list(names))
    person = new_person(name, role, list(embeddings))
    others = [p for p in store.load()[0] if p.name.casefold() != person.name.casefold()]
    twin, score = nearest(person.voiceprint, others)
    if twin is not None and score >= SAME_PERSON:
        raise SoundsLikeSomeoneElse(twin.name)
    try:
        replaced = store.find(person.name) is not None
    except PeopleError:  # their file is damaged or foreign: enrolling again is how it is mended
        replaced = True
    store.save(person)
    return person, replaced
