"""Network addresses as the config and the command line give them, and who may connect to a service
listening on one. Standard library only: every config load reads this."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlparse

from assistant.core.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address, or a URL's host) is this machine alone: 127.0.0.0/8, ::1 or localhost."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # "", 0.0.0.0's spellings, a host name: it may well be the LAN
        return False


def tcp_address(uri: str, where: str, what: str) -> tuple[str, int]:
    """(host, port) of "tcp://HOST:PORT" (or "HOST:PORT"); a ConfigError naming the setting for anything else."""
    try:
        parsed = urlparse(uri if "://" in uri else f"tcp://{uri}")
        host, port = parsed.hostname, parsed.port
    except ValueError:  # a bracketed host that is not IPv6, a port out of range
        host, port, parsed = None, None, None
    if parsed is None or parsed.scheme != "tcp" or not host or port is None:
        raise ConfigError(f"{where}: {uri!r} must look like tcp://HOST:PORT ({what})")
    return host, port


@dataclass(frozen=True)
class SatelliteAddress:
    room: str
    host: str
    port: int

    @classmethod
    def parse(cls, room: str, uri: str) -> SatelliteAddress:
        if not room:
            raise ConfigError("wyoming.satellites: each satellite is named by its room (bedroom: tcp://HOST:PORT)")
        host, port = tcp_address(uri, f"wyoming.satellites.{room}", "a satellite's address")
        return cls(room, host, port)


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
            raise ConfigError(
                f"{where}: {entry!r} is not an address or a network (like 192.168.1.20 or 192.168.1.0/24)"
            ) from None
    return tuple(networks)


def check_exposure(
    bind: str, clients: tuple[str, ...], token: str, serving: bool = True, where: str = "wyoming"
) -> None:
    """A ConfigError for a bad allowlist entry, a short token, or services (`serving`) bound off
    loopback with neither an allowlist nor a token."""
    parse_clients(clients, f"{where}.clients")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{where}.token must be at least {MIN_TOKEN_CHARS} characters (a random one: "
            "`python -c 'import secrets; print(secrets.token_urlsafe())'`)"
        )
    if serving and not is_loopback(bind) and not clients and not token:
        raise ConfigError(
            f"{where}.bind is {bind!r}, reachable from the network, but neither {where}.clients nor "
            f"{where}.token is set: any host could run the assistant's tools. List the hosts that may "
            f"connect in {where}.clients (Home Assistant's address), set {where}.token, "
            f"or bind 127.0.0.1"
        )
