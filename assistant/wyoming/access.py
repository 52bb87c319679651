"""Who may use the Wyoming services: the client allowlist (`wyoming.clients`) and the shared token
(`wyoming.token`), checked on every connection (the config's own check is `core/addresses.py`).

Bound to loopback, the services are this machine's alone and need neither. Bound anywhere else, at
least one is required, or any host on the network could run the assistant's tools:
- `clients`: the addresses (or CIDR networks) that may connect at all; any other is refused at once.
- `token`: intent handling (a `transcript` in, a tool run) needs it in the transcript event's data,
  `{"type": "transcript", "data": {"text": "…", "token": "…"}}`; speech-to-text, text-to-speech and
  the wake word do not. Home Assistant cannot send one: list its address in `clients` instead.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from assistant.core.addresses import Network, parse_clients


def peer_host(peername: object) -> str:
    """The address of a socket's peer (writer.get_extra_info("peername")); an IPv4 address mapped into
    IPv6 as plain IPv4; "" when there is none (a unix socket)."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return ""
    try:
        address = ipaddress.ip_address(peername[0].split("%")[0])
    except ValueError:
        return peername[0]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(frozen=True)
class Access:
    """The allowlist and the token of a Wyoming server; empty ones admit everyone."""

    clients: tuple[Network, ...] = ()
    """Who may connect at all; empty: any host that reaches the bound address."""
    token: str = ""
    """What a transcript must carry to be acted on; empty: none needed."""

    @classmethod
    def of(cls, clients: tuple[str, ...], token: str) -> Access:
        return cls(parse_clients(clients), token)

    def admits(self, host: str) -> bool:
        """Whether a peer at `host` may connect."""
        if not self.clients:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.clients)

    def may_handle(self, given: object) -> bool:
        """Whether a transcript carrying `given` as its token may be acted on."""
        if not self.token:
            return True
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.token.encode())
