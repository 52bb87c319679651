"""Pairing and tokens for the phone page.

A phone pairs once with a short one-time code that `assistant pair` shows (typed, or in the QR code's
link); it gets a long-lived token that every request and websocket must carry. Only hashes of codes
and tokens are kept, so the store on disk cannot be replayed. A code lives CODE_TTL_S and dies after
MAX_CODE_MISSES wrong guesses (a wrong guess names no code, so it counts against every open one). A
client that keeps failing is refused for a while (`FailureLimiter`, per address and for all addresses
together), so six characters cannot be guessed at network speed.

A phone paired with a code from `assistant pair --admin` is an admin: it may unpair any phone; any
other phone may unpair only itself. The command line on the assistant's machine may unpair any.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import Query
from tinydb.table import Document

from assistant.core.errors import AssistantError
from assistant.core.store import open_db

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a code read off a terminal is typed right."""
CODE_LENGTH = 6
CODE_TTL_S = 300.0
MAX_CODE_MISSES = 5
"""Wrong guesses (at any code) after which every open code is void."""
TOKEN_BYTES = 32
SCHEMA = 1


class PairingError(AssistantError):
    code = "pairing"


@dataclass(frozen=True)
class Phone:
    """A paired phone, as the CLI and the page list it (never its token)."""

    id: str
    name: str
    paired_at: float
    last_seen: float | None
    admin: bool = False
    """Paired with a code from `assistant pair --admin`: may unpair other phones."""
    person: str | None = None
    """Paired with a code from `assistant pair --person NAME`: what it asks is that person's (their
    reminders, their role), as if said in their voice."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normal_code(code: str) -> str:
    """What a person typed, as the code was issued: case and separators do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


class Phones:
    """Pairing codes and phone tokens in `web.json` in the data folder."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._db = open_db(data_dir / "web.json", SCHEMA)
        self._codes = self._db.table("pairing_codes")
        self._phones = self._db.table("phones")
        self._seen: dict[str, float] = {}  # last use, kept in memory: no disk write per request

    def close(self) -> None:
        self._db.close()

    def new_code(self, admin: bool = False, person: str | None = None) -> tuple[str, float]:
        """A one-time pairing code and when it expires (admin: the phone it pairs is an admin; person:
        the enrolled person it is). Older unused codes stay valid until theirs."""
        now = self.clock()
        self._codes.remove(Query().expires < now)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + CODE_TTL_S
        self._codes.insert({"hash": _digest(code), "expires": expires, "misses": 0, "admin": admin, "person": person})
        return code, expires

    def pair(self, code: str, name: str) -> tuple[Phone, str]:
        """Spend a code: the new phone and its token. PairingError for a wrong, used or old code, or
        one that too many wrong guesses made void."""
        digest = _digest(normal_code(code))
        now = self.clock()
        found = self._codes.get((Query().hash == digest) & (Query().expires >= now))
        if found is None:
            self._missed()
            raise PairingError(
                "that pairing code is wrong or has expired (wrong guesses void it too): "
                "run `assistant pair` for a new one"
            )
        self._codes.remove(doc_ids=[found.doc_id])
        token = secrets.token_urlsafe(TOKEN_BYTES)
        name = " ".join(name.split())[:60] or "Phone"
        admin = bool(found.get("admin", False))
        person = found.get("person")
        phone = Phone(uuid.uuid4().hex[:8], name, now, now, admin, person)
        self._phones.insert(
            {
                "id": phone.id,
                "name": phone.name,
                "paired_at": now,
                "token": _digest(token),
                "admin": admin,
                "person": person,
            }
        )
        return phone, token

    def _missed(self) -> None:
        """A wrong guess: one miss more for every open code; a code with MAX_CODE_MISSES is void."""

        def miss(doc: MutableMapping[str, Any]) -> None:
            doc["misses"] = int(doc.get("misses", 0)) + 1

        self._codes.update(miss)
        self._codes.remove((Query().misses >= MAX_CODE_MISSES) | (Query().expires < self.clock()))

    def check(self, token: str | None) -> Phone | None:
        """The phone this token belongs to, or None."""
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        for doc in self._phones.all():
            if hmac.compare_digest(doc["token"], digest):
                self._seen[doc["id"]] = self.clock()
                return self._phone(doc)
        return None

    def all(self) -> list[Phone]:
        return sorted((self._phone(d) for d in self._phones.all()), key=lambda p: p.paired_at)

    def waiting(self) -> list[str | None]:
        """The person each pairing code not yet used or expired would pair a phone as."""
        now = self.clock()
        return [c.get("person") for c in self._codes.all() if c.get("expires", 0) >= now]

    def find(self, phone_id: str) -> Phone:
        """The phone with this id (or else this name). PairingError for an unknown or ambiguous one."""
        return self._phone(self._doc(phone_id))

    def revoke(self, phone_id: str) -> Phone:
        """Forget a phone: its token stops working at once. PairingError for an unknown id or name."""
        doc = self._doc(phone_id)
        self._phones.remove(doc_ids=[doc.doc_id])
        return self._phone(doc)

    def _doc(self, phone_id: str) -> Document:
        matches = [d for d in self._phones.all() if d["id"] == phone_id] or [
            d for d in self._phones.all() if d["name"].lower() == phone_id.lower()
        ]
        if not matches:
            known = ", ".join(f"{p.id} ({p.name})" for p in self.all()) or "none"
            raise PairingError(f"no paired phone '{phone_id}' (paired: {known})")
        if len(matches) > 1:
            raise PairingError(f"{len(matches)} phones are called '{phone_id}': revoke one by its id")
        return matches[0]

    def _phone(self, doc: dict[str, Any]) -> Phone:
        return Phone(
            doc["id"],
            doc["name"],
            doc["paired_at"],
            self._seen.get(doc["id"]),
            bool(doc.get("admin", False)),
            doc.get("person"),
        )


class FailureLimiter:
    """Refuses a client after `limit` failures within `window_s`, for `block_s`, doubling each time it
    comes back to fail again. Successes do not reset it: a guesser with one valid token gains nothing."""

    def __init__(
        self, limit: int = 5, window_s: float = 60.0, block_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.block_s, self.clock = limit, window_s, block_s, clock
        self._failures: dict[str, list[float]] = {}
        self._blocked: dict[str, tuple[float, int]] = {}  # client → (until, how many times)

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        until, _ = self._blocked.get(client, (0.0, 0))
        return max(0.0, until - self.clock())

    def forget(self, client: str) -> None:
        """Clear `client`'s failures and block, as if it had never failed."""
        self._failures.pop(client, None)
        self._blocked.pop(client, None)

    def failed(self, client: str) -> None:
        now = self.clock()
        recent = [t for t in self._failures.get(client, []) if now - t < self.window_s] + [now]
        self._failures[client] = recent
        if len(recent) >= self.limit:
            _, times = self._blocked.get(client, (0.0, 0))
            self._blocked[client] = (now + self.block_s * 2 ** min(times, 10), times + 1)
            self._failures[client] = []
        if len(self._failures) > 10_000:  # a flood of addresses must not grow memory without end
            self._failures = {c: f for c, f in self._failures.items() if f and now - f[-1] < self.window_s}
        if len(self._blocked) > 10_000:
            self._blocked = {c: b for c, b in self._blocked.items() if b[0] > now}
