"""Identification never guesses: a voice is a person only when near enough to their voiceprint and
clearly nearer to it than to anyone else's; too little speech is nobody."""

from __future__ import annotations

import numpy as np

from assistant.people.listening import MARGIN, SAME_PERSON, Voice, identify
from assistant.people.voiceprints import Person


def unit(*values: float) -> np.ndarray:
    v = np.zeros(256, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def person(name: str, vector: np.ndarray) -> Person:
    return Person(name, "adult", vector, 0.0, 3)


ANNA, BEN = person("Anna", unit(1, 0)), person("Ben", unit(0, 1))


def test_a_voice_near_one_voiceprint_and_far_from_the_rest_is_that_person() -> None:
    found = identify(Voice(unit(1, 0.05), 2.0), [ANNA, BEN])
    assert found.person is ANNA and found.score >= SAME_PERSON and found.nearest == "Anna"


def test_a_voice_between_two_people_is_nobody_even_when_near_both() -> None:
    between = unit(1, 0.98)  # about 0.71 from each: neither is clearly nearer
    found = identify(Voice(between, 2.0), [ANNA, BEN])
    assert found.person is None and found.nearest in ("Anna", "Ben")
    twins = [ANNA, person("Anna's twin", unit(1, 0.02))]
    assert identify(Voice(unit(1, 0.01), 2.0), twins).person is None  # sure of the voice, not of who


def test_a_voice_far_from_everyone_is_a_guest_and_the_nearest_is_still_recorded() -> None:
    found = identify(Voice(unit(1, 1, 1, 1), 2.0), [ANNA, BEN])
    assert found.person is None and found.score < SAME_PERSON and found.nearest is not None


def test_too_little_speech_or_nobody_enrolled_is_nobody() -> None:
    assert identify(Voice(None, 0.4), [ANNA, BEN]).person is None
    assert identify(Voice(unit(1, 0), 2.0), []).person is None
    assert MARGIN > 0
