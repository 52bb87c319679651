"""Pairing and unpairing phones: the routes that hand out and take back the page's tokens.

Pairing codes are checked one at a time; a client that keeps presenting wrong codes (or, through the
server's token check, wrong tokens) is refused with 429 for a while, and pairing is refused for
everyone after PAIR_FAILURES_ALL wrong codes in a minute, until the block ends or `assistant pair`
makes a new code: the owner is not kept out for long. Every pairing and unpairing is written to the
audit trail with who did it; a pairing the audit trail cannot show is undone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

from aiohttp import web

from assistant.core.errors import AssistantError
from assistant.trust.admin import record_admin
from assistant.web.auth import FailureLimiter, PairingError, Phones
from assistant.web.guard import COOKIE
from assistant.web.http import PHONE, error, read_json

PAIR_FAILURES_ALL = 10
"""Wrong pairing codes in a minute, from all addresses together, after which pairing is refused for a while
(until then, or until `assistant pair` makes a new code)."""
EVERYONE = "*"


class Pairing:
    """The phones, the limits on guessing, and the routes that change who is paired."""

    def __init__(
        self,
        phones: Phones,
        data_dir: Path,
        fingerprints: Callable[[], dict[str, str | None]],
        urls: Callable[[], list[str]],
        unpaired: Callable[[str], Awaitable[None]],
        enrolled: Callable[[str], str | None],
    ) -> None:
        """fingerprints: the certificate's and the CA root's, for the person pairing to check. urls:
        the page's addresses on the LAN. unpaired: closes that phone's live connections. enrolled: an
        enrolled person's name as enrolled, or None."""
        self.phones = phones
        self.data_dir = data_dir
        self.fingerprints = fingerprints
        self.urls = urls
        self.unpaired = unpaired
        self.enrolled = enrolled
        self.limiter = FailureLimiter()
        """Per address: wrong tokens and wrong pairing codes."""
        self.everyone = FailureLimiter(limit=PAIR_FAILURES_ALL)
        """Wrong pairing codes from all addresses together."""
        self._one_at_a_time = asyncio.Lock()

    def refused(self, client: str, pairing: bool = False) -> web.Response | None:
        """429 for a client that failed too often lately (pairing: or when everyone together did);
        None when it may try."""
        wait = self.limiter.retry_after(client)
        if pairing:
            wait = max(wait, self.everyone.retry_after(EVERYONE))
        if wait <= 0:
            return None
        return error(
            429,
            f"too many failed attempts; try again in {wait:.0f} s",
            "rate_limited",
            {"Retry-After": str(int(wait) + 1)},
        )

    async def pair(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        body = await read_json(request)
        code, name = body.get("code"), body.get("name", "Phone")
        if not isinstance(code, str) or not isinstance(name, str) or len(code) > 32:
            return error(400, 'send {"code": "the code from `assistant pair`", "name": "my phone"}', "bad_request")
        async with self._one_at_a_time:  # each failure counts before the next guess is checked
            refused = self.refused(client, pairing=True)
            if refused is not None:
                return refused
            try:
                phone, token = await asyncio.to_thread(self.phones.pair, code, name)
            except PairingError as e:
                self.limiter.failed(client)
                self.everyone.failed(EVERYONE)
                return error(403, e.message, e.code)
        try:
            await self._audit(
                "phone paired",
                f"phone:{phone.name}",
                phone=phone.id,
                admin=phone.admin,
                person=phone.person,
                address=client,
            )
        except AssistantError:
            await asyncio.to_thread(self.phones.revoke, phone.id)  # no pairing the audit trail does not show
            raise
        response = web.json_response({"phone": asdict(phone), "token": token, **self.fingerprints()})
        response.set_cookie(
            COOKIE, token, max_age=10 * 365 * 86400, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
        return response

    async def new_code(self, request: web.Request) -> web.StreamResponse:
        """The admin door (`assistant pair`): a new code, which also lifts the block on everyone."""
        body = await read_json(request)
        admin, person = body.get("admin", False), body.get("person")
        if not isinstance(admin, bool) or not (person is None or isinstance(person, str)):
            return error(400, 'send {"admin": true or false, "person": "an enrolled name" or null}', "bad_request")
        if person is not None:
            person = self.enrolled(person)
            if person is None:
                return error(
                    404, f"nobody called {body['person']!r} is enrolled (see `assistant people list`)", "people"
                )
        code, expires = await asyncio.to_thread(self.phones.new_code, admin, person)
        self.everyone.forget(EVERYONE)  # the owner is pairing now: guessers elsewhere must not keep them out
        if admin:
            await self._audit("admin pairing code made", "cli", expires=expires)
        return web.json_response(
            {
                "code": code,
                "expires": expires,
                "admin": admin,
                "person": person,
                **self.fingerprints(),
                "urls": self.urls(),
            }
        )

    async def list_phones(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"phones": [asdict(p) for p in self.phones.all()]})

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        """A phone unpairs itself, or any phone when it is an admin; the admin door (the CLI) any."""
        asking = request.get(PHONE)
        target = await asyncio.to_thread(self.phones.find, request.match_info["id"])
        if asking is not None and target.id != asking.id and not asking.admin:
            return error(
                403,
                "a phone may unpair only itself: unpair others from an admin phone "
                "(paired with `assistant pair --admin`) or with `assistant phones revoke`",
                "forbidden",
            )
        phone = await asyncio.to_thread(self.phones.revoke, target.id)
        who = "cli" if asking is None else f"phone:{asking.name}"
        await self._audit(
            "phone revoked",
            who,
            phone=phone.id,
            name=phone.name,
            **({} if asking is None else {"by_phone": asking.id, "by_admin": asking.admin}),
        )
        await self.unpaired(phone.id)
        return web.json_response({"revoked": asdict(phone)})

    async def _audit(self, action: str, who: str, **details: object) -> None:
        await asyncio.to_thread(record_admin, self.data_dir, action, who, **details)
