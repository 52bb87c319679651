"""The household's voices on the phone page: listed and forgotten, never their voiceprints. An admin
phone (`assistant pair --admin`) sees and forgets anyone's; a phone paired as a person
(`--person NAME`) only that person's; any other phone none. Forgetting is written to the audit trail."""

from __future__ import annotations

import asyncio

from aiohttp import web

from assistant.people.household import Household
from assistant.web.auth import Phone
from assistant.web.http import PHONE, error


def _may_see(phone: Phone, name: str) -> bool:
    return phone.admin or (phone.person is not None and phone.person.casefold() == name.casefold())


class PageVoices:
    def __init__(self, household: Household | None) -> None:
        self.household = household

    async def list(self, request: web.Request) -> web.StreamResponse:
        phone: Phone = request[PHONE]
        people = self.household.people() if self.household is not None else []
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
        if self.household is None or not await asyncio.to_thread(self.household.forget, name, f"phone:{phone.name}"):
            return error(404, f"nobody called {name!r} is enrolled", "not_found")
        return web.json_response({"forgotten": name})
