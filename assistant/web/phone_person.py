"""Whose a phone's requests are: a phone paired with `assistant pair --person NAME` asks as that person,
as if in their voice (their reminders and alarms, their role); any other phone as typed text does."""

from __future__ import annotations

from assistant.people.household import Household
from assistant.plugins.api import Speaker
from assistant.web.auth import Phone


def speaker_of(phone: Phone, household: Household | None) -> Speaker | None:
    """The person with their role now; a guest once their voice is forgotten; None for a phone paired
    as nobody."""
    if phone.person is None:
        return None
    person = household.find(phone.person) if household is not None else None
    return Speaker(person.name, person.role) if person is not None else Speaker(None, "guest")


def enrolled_name(household: Household | None, name: str) -> str | None:
    """`name` as it is enrolled ("anna" → "Anna"), or None when nobody of that name is."""
    person = household.find(name) if household is not None else None
    return person.name if person is not None else None
