"""A simulated home for tests: fake devices on their own loopback addresses, advertised over mDNS.

mDNS must never reach a real network, so FakeHome refuses to start in a network namespace with
any interface but lo; run tests inside one of their own (see /work/shared/TESTING.md):

    unshare -n sh -c 'ip link set lo up && .venv/bin/python -m pytest tests/...'

From a shell, `python -m testbed.fakes.devices --count 20 [--seconds S] [--run CMD]` starts a
populated home and, outside such a namespace, first re-runs itself inside a fresh one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from zeroconf.asyncio import AsyncZeroconf

from testbed.fakes.base import (
    BAD_TXT,
    FakeDevice,
    NotIsolatedError,
    Request,
    ensure_isolated,
    malformed_txt,
    non_loopback_interfaces,
    rerun_isolated,
)
from testbed.fakes.hue_api import FakeHueBridge
from testbed.fakes.listed import FakeCast, FakeEsphome
from testbed.fakes.shelly_api import FakeShelly, FakeShellyDimmer, FakeShellyPlug, RpcError
from testbed.fakes.wled_api import FakeWled

__all__ = [
    "BAD_TXT", "KINDS", "FakeCast", "FakeDevice", "FakeEsphome", "FakeHome", "FakeHueBridge",
    "FakeShelly", "FakeShellyDimmer", "FakeShellyPlug", "FakeWled", "NotIsolatedError",
    "Request", "RpcError", "ensure_isolated", "malformed_txt", "non_loopback_interfaces",
]  # fmt: skip

KINDS: dict[str, type[FakeDevice]] = {
    cls.kind: cls for cls in (FakeWled, FakeShellyPlug, FakeShellyDimmer, FakeHueBridge, FakeCast, FakeEsphome)
}

# What populate() adds, in order; past the end the list starts again with numbered names.
MIX: list[tuple[str, str, dict[str, Any]]] = [
    ("wled", "Kitchen light", {}),
    ("shelly_plug", "Washing machine", {"on": True, "load_w": 1200.0}),
    ("hue", "Philips hue", {"lights": ["Porch light", "Hallway"]}),
    ("shelly_dimmer", "Bedroom lamp", {}),
    ("cast", "Living room speaker", {}),
    ("esphome", "Garage sensor", {}),
    ("wled", "Living room strip", {}),
    ("shelly_plug", "Coffee machine", {"load_w": 1450.0}),
    ("wled", "Bedroom strip", {"on": True}),
    ("shelly_dimmer", "Dining room light", {"on": True, "brightness": 80}),
    ("shelly_plug", "Desk lamp", {"load_w": 9.5}),
    ("cast", "Kitchen speaker", {}),
]

_FIRST_HOST = 10


def _numbered(name: str, round_: int) -> str:
    return name if round_ == 1 else f"{name} {round_}"


class FakeHome:
    """Fake devices on 127.0.0.10, .11 …, port 80, all advertised by one AsyncZeroconf."""

    def __init__(self, interfaces: Sequence[str] = ("127.0.0.1",)) -> None:
        self.interfaces = list(interfaces)
        self.devices: list[FakeDevice] = []
        self.zeroconf: AsyncZeroconf | None = None

    async def __aenter__(self) -> FakeHome:
        ensure_isolated()
        self.zeroconf = AsyncZeroconf(interfaces=self.interfaces)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _free_hosts(self) -> Iterator[str]:
        used = {device.host for device in self.devices}
        for n in range(_FIRST_HOST, 255):
            if (host := f"127.0.0.{n}") not in used:
                yield host

    async def add(self, kind: str, name: str, *, host: str | None = None, **options: Any) -> FakeDevice:
        """Start a `kind` of device (see KINDS) on `host` or the next free address; announce it."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(KINDS)}")
        if self.zeroconf is None:
            raise RuntimeError("use FakeHome as `async with FakeHome() as home`")
        device = KINDS[kind](name, host or "", zeroconf=self.zeroconf, **options)
        for candidate in [host] if host else self._free_hosts():
            device.host = candidate
            try:
                await device.start()
            except OSError as error:
                # Another home in this namespace may hold the address: take the next.
                if host or error.errno != errno.EADDRINUSE:
                    raise
                continue
            self.devices.append(device)
            return device
        raise RuntimeError("no free loopback address left")

    async def remove(self, device: FakeDevice) -> None:
        """Unplug a device: mDNS goodbye, then its server stops."""
        self.devices.remove(device)
        await device.stop()

    async def move(self, device: FakeDevice, host: str | None = None) -> str:
        """Give a device a new address (`host` or the next free one); returns it."""
        for new_host in [host] if host else self._free_hosts():
            try:
                await device.move_to(new_host)
            except OSError as error:
                if host or error.errno != errno.EADDRINUSE:
                    raise
                continue
            return new_host
        raise RuntimeError("no free loopback address left")

    async def populate(self, count: int) -> list[FakeDevice]:
        """Add `count` devices of a realistic mix (MIX), with unique names."""
        added = []
        for i in range(count):
            kind, name, options = MIX[i % len(MIX)]
            round_ = i // len(MIX) + 1
            if "lights" in options:
                options = {**options, "lights": [_numbered(n, round_) for n in options["lights"]]}
            added.append(await self.add(kind, _numbered(name, round_), **options))
        return added

    async def close(self) -> None:
        """Say goodbye for every device, stop them all, and close zeroconf."""
        devices, self.devices = self.devices, []
        await asyncio.gather(*(device.stop() for device in devices))
        if self.zeroconf is not None:
            await self.zeroconf.async_close()
            self.zeroconf = None


# The command line.


def _describe(device: FakeDevice) -> dict[str, Any]:
    return {"kind": device.kind, "name": device.name, "host": device.host,
            "port": device.port, "mac": device.mac, "mdns_name": device.mdns_name}  # fmt: skip


async def _run(count: int, seconds: float | None, command: str | None) -> int:
    async with FakeHome() as home:
        devices = await home.populate(count)
        for device in devices:
            print(f"{device.kind:<14} {device.name:<24} {device.host}:{device.port:<5} "
                  f"{device.mdns_name}", flush=True)  # fmt: skip
        if command is not None:
            env = {**os.environ, "FAKE_HOME_DEVICES": json.dumps([_describe(d) for d in devices])}
            process = await asyncio.create_subprocess_shell(command, env=env)
            code = await process.wait()
            return code if code >= 0 else 128 - code
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.fakes.devices",
        description="Start a home of fake devices on loopback, advertised over mDNS, "
        "in a network namespace of its own.",
    )
    parser.add_argument("--count", type=int, default=len(MIX), help="how many devices")
    parser.add_argument("--seconds", type=float, help="serve this long (default: until Ctrl-C)")
    parser.add_argument("--run", metavar="CMD", help="run CMD in a shell beside the devices, "
                        "exit with its code; $FAKE_HOME_DEVICES holds them as JSON")  # fmt: skip
    args_list = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(args_list)
    if non_loopback_interfaces():
        rerun_isolated([sys.executable, "-m", "testbed.fakes.devices", *args_list])
    # Only lo is here, so bringing it up touches nothing outside.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, stderr=subprocess.DEVNULL)
    return asyncio.run(_run(args.count, args.seconds, args.run))


if __name__ == "__main__":
    sys.exit(main())
