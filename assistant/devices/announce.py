"""The assistant's own mDNS announcement, so the phone page and satellites find it on the network."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from assistant import __version__

SERVICE_TYPE = "_homevoice._tcp.local."


def assistant_id(data_dir: Path) -> str:
    """A stable id for this assistant, made once per data folder."""
    path = data_dir / "assistant-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
        return value


def lan_ipv4() -> list[str]:
    """This machine's IPv4 addresses on every interface, loopback aside (nothing is sent to find them)."""
    import ifaddr

    return [
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]


def local_host_name() -> str:
    """This machine's `.local` name, which the page's certificate and its Host check name too (a name
    made from the announced one, "home-assistant.local", was in neither: the page refused it)."""
    return f"{socket.gethostname().lower().rstrip('.')}.local."


def own_addresses(interfaces: list[str] | None) -> list[str]:
    """The IPv4 addresses to announce: the configured interfaces', else every non-loopback one."""
    if interfaces:
        return list(interfaces)
    return lan_ipv4() or ["127.0.0.1"]


class Announcer:
    """Announces `name` at `port` (the companion page's) while the assistant runs."""

    def __init__(self, data_dir: Path, name: str, port: int, addresses: list[str]) -> None:
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=port,
            addresses=[socket.inet_aton(a) for a in addresses],
            properties={"id": assistant_id(data_dir), "version": __version__, "name": name},
            server=local_host_name(),
        )
        self._zc: AsyncZeroconf | None = None

    async def start(self, zc: AsyncZeroconf) -> None:
        self._zc = zc
        await zc.async_register_service(self.info, allow_name_change=True)

    async def stop(self) -> None:
        if self._zc is not None:
            await self._zc.async_unregister_service(self.info)
            self._zc = None
