"""The household's voices on the phone page: listed, given a role and forgotten, never their
voiceprints. An admin phone (`assistant pair --admin`) sees, gives roles to and forgets anyone's; a
phone paired as a person (`--person NAME`) sees and forgets only that person's, and gives no roles;
any other phone none. A role changed and a voice forgotten are written to the audit trail."""

from __future__ import annotations

import asyncio

from aiohttp import web

from assistant.people.enrolment import LastAdult, LastVoice, NobodyCalled
from assistant.people.household import Household
from assistant.people.voiceprints import PeopleError
from assistant.web.auth import Phone
from assistant.web.http import PHONE, error, read_json
from assistant.web.phone_person import speaker_of


def _may_see(phone: Phone, name: str) -> bool:
    return phone.admin or (phone.person is not None and phone.person.casefold() == name.casefold())


class PageVoices:
    def __init__(self, household: Household | None) -> None:
        self.household = household

    async def list(self, request: web.Request) -> web.StreamResponse:
        phone: Phone = request[PHONE]
        people = await asyncio.to_thread(self.household.people) if self.household is not None else []
        shown = [p.describe() for p in people if _may_see(phone, p.name)]
        return web.json_response({"people": shown, "all": phone.admin})

    async def forget(self, request: web.Request) -> web.StreamResponse:
        phone: Phone = request[PHONE]
        name = request.match_info["name"]
        if not _may_see(phone, name):
            return error(
                403,
                "a phone forgets only the voice it is paired as: forget others from an admin phone "
                "(paired with `assistant pair --admin`) or with `assistant people forget`",
                "forbidden",
            )
        household = self.household

        def forget() -> list[str] | None:
            if household is None:
                return None
            asker = speaker_of(phone, household)
            by_adult = phone.admin or (asker is not None and asker.role == "adult")
            return household.forget(name, f"phone:{phone.name}", by_adult=by_adult)

        try:
            kept = await asyncio.to_thread(forget)
        except LastVoice as e:
            return error(409, e.message, "last_voice")
        if kept is None:
            return error(404, f"nobody called {name!r} is enrolled", "not_found")
        return web.json_response({"forgotten": name, "kept": kept})  # what stays under the name (app/kept.py)

    async def set_role(self, request: web.Request) -> web.StreamResponse:
        phone: Phone = request[PHONE]
        name = request.match_info["name"]
        if not phone.admin:
            return error(
                403,
                "roles are given from an admin phone (paired with `assistant pair --admin`), by an adult's "
                "voice, or with `assistant people role`",
                "forbidden",
            )
        role = (await read_json(request)).get("role")
        if not isinstance(role, str):
            return error(400, 'say the role: {"role": "adult"}, "child", "guest" or a word of your own', "bad_request")
        if self.household is None:
            return error(404, f"nobody called {name!r} is enrolled", "not_found")
        try:
            person, was = await asyncio.to_thread(self.household.set_role, name, role, f"phone:{phone.name}")
        except NobodyCalled as e:
            return error(404, e.message, "not_found")
        except LastAdult as e:
            return error(409, e.message, "last_adult")
        except PeopleError as e:  # not a role
            return error(400, e.message, "bad_request")
        return web.json_response({"person": person.describe(), "was": was})
