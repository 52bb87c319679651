"""How much of the server one client, or all of them, may hold (issue 24): connections at once, in
all and per address, and how long a connection may take over an event or sit silent.

What a slow client can pin is bounded by these: at most `clients` connections, each holding at most
one event's bytes (wire.py: a header of 64 KiB, 1 MiB of data, a 4 MiB payload; only the bytes that
have arrived, never the declared size) for at most `event_s`. Once an event has begun it must be
whole within `event_s`; between events a connection may rest for `idle_s` (Home Assistant keeps
its connections), then it is closed. An audio stream in progress is no exception: a live stream
sends a chunk every few tens of milliseconds, and a stream that has said nothing for minutes is a
dead peer holding a place.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

MAX_CLIENTS = 32
"""Connections at once, all addresses together (wyoming.max_clients)."""
MAX_PER_ADDRESS = 8
"""Connections at once from one address."""
EVENT_S = 10.0
"""Seconds for a whole event, from the first byte of its header, and for a reply to be taken."""
IDLE_S = 300.0
"""Seconds a connection may send nothing between events before it is closed."""

TOO_MANY = "too many connections"


@dataclass(frozen=True)
class Limits:
    """What one Wyoming server allows its clients."""

    clients: int = MAX_CLIENTS
    """Connections at once, all addresses together; one more is told "too many connections"."""
    per_address: int = MAX_PER_ADDRESS
    """Connections at once from one address."""
    event_s: float = EVENT_S
    """Seconds from an event's first byte to its last, and for a client to take an event sent to it."""
    idle_s: float = IDLE_S
    """Seconds a connection may be silent between events."""


class Gate:
    """The connections open now, in all and by address, within `Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._open: Counter[str] = Counter()

    def __len__(self) -> int:
        return self._open.total()

    def enter(self, peer: str) -> str | None:
        """Count a new connection from `peer` and return None; or, past a limit, the reason it is
        refused (and it is not counted)."""
        if len(self) >= self.limits.clients:
            return f"{TOO_MANY} (at most {self.limits.clients})"
        if self._open[peer] >= self.limits.per_address:
            return f"{TOO_MANY} from {peer or 'this address'} (at most {self.limits.per_address})"
        self._open[peer] += 1
        return None

    def leave(self, peer: str) -> None:
        self._open[peer] -= 1
        if self._open[peer] <= 0:
            del self._open[peer]
