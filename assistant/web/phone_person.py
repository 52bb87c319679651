"""Whose a phone's requests are: a phone paired with `assistant pair --person NAME` asks as that person,
as if in their voice (their reminders and alarms, their role). An admin phone asks as typed text does.
Any other phone does too while nobody's voice is enrolled; once voices are, it is a guest, as a voice
nobody enrolled is: otherwise a child's phone paired as nobody could do by typing what their voice may
not ("make me an adult", an adult's command)."""

from __future__ import annotations

from assistant.people.household import Household, without_a_voice
from assistant.plugins.api import Speaker
from assistant.web.auth import Phone


def speaker_of(phone: Phone, household: Household | None) -> Speaker | None:
    """The person with their role now, and a guest once their voice is forgotten; for a phone paired
    as nobody, None (as typed) when it is an admin phone or nobody is enrolled, else a guest."""
    if phone.person is None:
        return None if phone.admin else without_a_voice(household)
    person = household.find(phone.person) if household is not None else None
    return Speaker(person.name, person.role) if person is not None else Speaker(None, "guest")


def enrolled_name(household: Household | None, name: str) -> str | None:
    """`name` as it is enrolled ("anna" → "Anna"), or None when nobody of that name is."""
    person = household.find(name) if household is not None else None
    return person.name if person is not None else None
