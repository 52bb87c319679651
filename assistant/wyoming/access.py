"""Who may use the Wyoming services: the client allowlist (`wyoming.clients`) and the shared token
(`wyoming.token`), checked when the config loads and on every connection. Only the standard library
here: every config load reads these.

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

from assistant.core.addresses import is_loopback
from assistant.core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_TOKEN_CHARS = 16
"""A shared token shorter than this is refused: it could be guessed."""


def parse_clients(entries: tuple[str, ...], where: str = "wyoming.clients") -> tuple[Network, ...]:
    """Each entry an address or a CIDR network; a ConfigError naming the entry for anything else."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{where}: {entry!r} is not an address or a network "
                              "(like 192.168.1.20 or 192.168.1.0/24)") from None
    return tuple(networks)


def check_exposure(bind: str, clients: tuple[str, ...], token: str, serving: bool = True, where: str = "wyoming") -> None:
    """A ConfigError for a bad allowlist entry, a short token, or services (`serving`) bound off
    loopback with neither an allowlist nor a token."""
    parse_clients(clients, f"{where}.clients")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{where}.token must be at least {MIN_TOKEN_CHARS} characters (a random one: "
                          "`python -c 'import secrets; print(secrets.token_urlsafe())'`)")
    if serving and not is_loopback(bind) and not clients and not token:
        raise ConfigError(f"{where}.bind is {bind!r}, reachable from the network, but neither {where}.clients nor "
                          f"{where}.token is set: any host could run the assistant's tools. List the hosts that may "
                          f"connect in {where}.clients (Home Assistant's address), set {where}.token, "
                          f"or bind 127.0.0.1")


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
