"""Pairing and tokens for the phone page.

A phone pairs once with a short one-time code that `assistant pair` shows (typed, or in the QR code's
link); it gets a long-lived token that every request and websocket must carry. Only hashes of codes
and tokens are kept, so the store on disk cannot be replayed. A client that keeps failing is refused
for a while (`FailureLimiter`), so six characters cannot be guessed at network speed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import Query

from assistant.errors import AssistantError
from assistant.store import open_db

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a code read off a terminal is typed right."""
CODE_LENGTH = 6
CODE_TTL_S = 600.0
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

    def new_code(self) -> tuple[str, float]:
        """A one-time pairing code and when it expires. Older unused codes stay valid until theirs."""
        now = self.clock()
        self._codes.remove(Query().expires < now)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + CODE_TTL_S
        self._codes.insert({"hash": _digest(code), "expires": expires})
        return code, expires

    def pair(self, code: str, name: str) -> tuple[Phone, str]:
        """Spend a code: the new phone and its token. PairingError for a wrong, used or old code."""
        digest = _digest(normal_code(code))
        now = self.clock()
        found = self._codes.get((Query().hash == digest) & (Query().expires >= now))
        if found is None:
            raise PairingError("that pairing code is wrong or has expired: run `assistant pair` for a new one")
        self._codes.remove(doc_ids=[found.doc_id])  # type: ignore[union-attr]
        token = secrets.token_urlsafe(TOKEN_BYTES)
        name = " ".join(name.split())[:60] or "Phone"
        phone = Phone(uuid.uuid4().hex[:8], name, now, now)
        self._phones.insert({"id": phone.id, "name": phone.name, "paired_at": now, "token": _digest(token)})
        return phone, token

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

    def revoke(self, phone_id: str) -> Phone:
        """Forget a phone: its token stops working at once. PairingError for an unknown id or name."""
        matches = [d for d in self._phones.all() if d["id"] == phone_id] or \
                  [d for d in self._phones.all() if d["name"].lower() == phone_id.lower()]
        if not matches:
            known = ", ".join(f"{p.id} ({p.name})" for p in self.all()) or "none"
            raise PairingError(f"no paired phone '{phone_id}' (paired: {known})")
        if len(matches) > 1:
            raise PairingError(f"{len(matches)} phones are called '{phone_id}': revoke one by its id")
        self._phones.remove(doc_ids=[matches[0].doc_id])
        return self._phone(matches[0])

    def _phone(self, doc: dict[str, Any]) -> Phone:
        return Phone(doc["id"], doc["name"], doc["paired_at"], self._seen.get(doc["id"]))


class FailureLimiter:
    """Refuses a client after `limit` failures within `window_s`, for `block_s`, doubling each time it
    comes back to fail again. Successes do not reset it: a guesser with one valid token gains nothing."""

    def __init__(self, limit: int = 5, window_s: float = 60.0, block_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.block_s, self.clock = limit, window_s, block_s, clock
        self._failures: dict[str, list[float]] = {}
        self._blocked: dict[str, tuple[float, int]] = {}  # client → (until, how many times)

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        until, _ = self._blocked.get(client, (0.0, 0))
        return max(0.0, until - self.clock())

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
