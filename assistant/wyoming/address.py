"""Where a Wyoming peer is: "tcp://HOST:PORT", checked when the config loads. Only the standard
library here: every config load reads these, `assistant ask` included."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from assistant.core.errors import ConfigError


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
