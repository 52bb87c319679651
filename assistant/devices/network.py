"""mDNS for the running assistant: browse for devices and announce itself, on one zeroconf instance;
while it browses, the devices' own changes are followed too (watch.py)."""

from __future__ import annotations

from pathlib import Path

from zeroconf.asyncio import AsyncZeroconf

from assistant.core.config import DevicesConfig
from assistant.devices.announce import Announcer, own_addresses
from assistant.devices.discovery import Discovery
from assistant.devices.hub import DeviceHub
from assistant.devices.watch import DeviceWatcher


class HomeNetwork:
    def __init__(self, hub: DeviceHub, config: DevicesConfig, data_dir: Path, watch: bool = True) -> None:
        """watch: follow the devices' own changes while discovery runs (not for a one-off discover)."""
        self.interfaces = config.interface_list()
        self.discovery = Discovery(hub) if config.discovery else None
        self.watcher = DeviceWatcher(hub) if config.discovery and watch else None
        self.announcer = (
            Announcer(data_dir, config.announce_name, config.announce_port, own_addresses(self.interfaces))
            if config.announce
            else None
        )
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        if self.watcher is not None:
            await self.watcher.start()
        if self.discovery is None and self.announcer is None:
            return
        self._zc = AsyncZeroconf(interfaces=self.interfaces) if self.interfaces else AsyncZeroconf()
        if self.discovery is not None:
            await self.discovery.start(self._zc)
        if self.announcer is not None:
            await self.announcer.start(self._zc)

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.discovery is not None:
            await self.discovery.stop()
        if self.announcer is not None:
            await self.announcer.stop()
        if self._zc is not None:
            await self._zc.async_close()
            self._zc = None
