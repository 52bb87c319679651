"""Network addresses as the config and the command line give them. Standard library only: every
config load reads this."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address, or a URL's host) is this machine alone: 127.0.0.0/8, ::1 or localhost."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # "", 0.0.0.0's spellings, a host name: it may well be the LAN
        return False
