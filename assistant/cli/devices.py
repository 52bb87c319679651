"""`assistant devices discover|list|rename|room|alias|home-assistant`: the home's devices from a shell,
as text or `--json`. `discover` browses the network by mDNS for a few seconds and records what
answers; `home-assistant` keeps Home Assistant's token in the vault and lists its lights and switches."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from assistant.core.bus import Bus
from assistant.core.config import Config
from assistant.core.errors import CommandLineError
from assistant.core.events import DeviceRejected, Event
from assistant.devices.model import Device
from assistant.devices.registry import DeviceRegistry


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("devices", help="find, list and name the home's devices")
    actions = p.add_subparsers(dest="action", required=True)
    discover = actions.add_parser("discover", help="browse the network by mDNS and record the devices that answer")
    discover.add_argument("--seconds", type=float, default=5.0, help="how long to browse (default 5)")
    discover.add_argument("--json", action="store_true")
    common(discover)
    listing = actions.add_parser("list", help="every known device, by room")
    listing.add_argument("--json", action="store_true")
    common(listing)
    rename = actions.add_parser("rename", help="give a device the name you will say")
    rename.add_argument("device", help="its id, name or alias")
    rename.add_argument("name")
    rename.add_argument("--json", action="store_true")
    common(rename)
    room = actions.add_parser("room", help="put a device in a room ('' takes it out)")
    room.add_argument("device")
    room.add_argument("room")
    room.add_argument("--json", action="store_true")
    common(room)
    alias = actions.add_parser("alias", help="another name a device answers to")
    alias.add_argument("device")
    alias.add_argument("alias")
    alias.add_argument("--remove", action="store_true", help="take the alias away instead")
    alias.add_argument("--json", action="store_true")
    common(alias)
    ha = actions.add_parser(
        "home-assistant",
        help="keep Home Assistant's long-lived access token (read from "
        "stdin or asked for) in the vault, and check it against devices.home_assistant_url",
    )
    ha.add_argument("--remove", action="store_true", help="forget the token instead")
    ha.add_argument("--json", action="store_true")
    common(ha)


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    if args.action == "home-assistant":
        return _home_assistant(args, config, data_dir)
    registry = DeviceRegistry(data_dir)
    try:
        if args.action == "discover":
            rejected = asyncio.run(_discover(registry, config, data_dir, args.seconds))
            devices = registry.all()
            if args.json:
                print(
                    json.dumps(
                        {
                            "devices": [asdict(d) for d in devices],
                            "rejected": [
                                {"service": r.service, "code": r.code, "message": r.message} for r in rejected
                            ],
                        },
                        indent=1,
                    )
                )
                return 0
            for device in devices:
                print(_line(device))
            for r in rejected:
                print(f"not added: {r.message}")
            if not devices:
                print("no devices found")
            return 0
        if args.action == "list":
            devices = registry.all()
            if args.json:
                print(json.dumps([asdict(d) for d in devices], indent=1))
            else:
                print(
                    "\n".join(_line(d) for d in devices)
                    if devices
                    else "no devices yet: run `assistant devices discover`"
                )
            return 0
        if args.action == "rename":
            device = registry.rename(args.device, args.name)
        elif args.action == "room":
            device = registry.set_room(args.device, args.room or None)
        elif args.remove:
            device = registry.remove_alias(args.device, args.alias)
        else:
            device = registry.add_alias(args.device, args.alias)
        print(json.dumps(asdict(device)) if args.json else _line(device))
        return 0
    finally:
        registry.close()


async def _discover(registry: DeviceRegistry, config: Config, data_dir: Path, seconds: float) -> list[DeviceRejected]:
    from assistant.devices.network import HomeNetwork  # zeroconf loads only for this command

    bus = Bus()
    rejected: list[DeviceRejected] = []

    def keep(event: Event) -> None:
        if isinstance(event, DeviceRejected):
            rejected.append(event)

    bus.subscribe(keep)
    from assistant.devices.hub import DeviceHub

    hub = DeviceHub(registry, bus)
    await hub.open()
    network = HomeNetwork(hub, replace(config.devices, discovery=True, announce=False), data_dir, watch=False)
    try:
        await network.start()
        await asyncio.sleep(seconds)
        if network.discovery is not None:
            await network.discovery.settle()
    finally:
        await network.stop()
        await hub.close()
    return rejected


def _line(d: Device) -> str:
    state = "online" if d.online else "offline"
    extras = f"  aliases: {', '.join(d.aliases)}" if d.aliases else ""
    return (
        f"{d.name:24s} {d.room or '-':14s} {d.kind:8s} {d.protocol:8s} {d.address:15s} {state:8s} "
        f"{','.join(d.capabilities) or 'listed only':32s} {d.id}{extras}"
    )


def _home_assistant(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    """Keep (or forget) the token; with a URL configured, check it first (saved only if Home Assistant
    accepts it) and list what Home Assistant offers with it."""
    from assistant.devices.drivers.home_assistant import TOKEN
    from assistant.trust.admin import record_admin
    from assistant.trust.vault import Vault

    vault = Vault(data_dir)
    if args.remove:
        removed = vault.delete(TOKEN)
        if removed:
            record_admin(data_dir, "home assistant token forgotten", "cli")
        print(
            json.dumps({"removed": removed})
            if args.json
            else "the Home Assistant token is forgotten"
            if removed
            else "there was no Home Assistant token"
        )
        return 0
    token = _typed_token()
    url = config.devices.home_assistant_url
    devices = _checked_devices(data_dir, url, token) if url else None
    vault.put(TOKEN, token)
    record_admin(data_dir, "home assistant token saved", "cli", url=url or None, checked=devices is not None)
    if devices is None:
        print(
            json.dumps({"saved": True, "checked": False})
            if args.json
            else "token saved (not checked); set devices.home_assistant_url in the config to use it"
        )
    elif args.json:
        print(json.dumps({"saved": True, "checked": True, "devices": [asdict(d) for d in devices]}, indent=1))
    else:
        print(f"token saved; Home Assistant at {url} offers {len(devices)} lights and switches:")
        for device in devices:
            print(_line(device))
    return 0


def _typed_token() -> str:
    import getpass
    import sys

    from assistant.core.errors import ConfigError

    token = (
        getpass.getpass("Home Assistant long-lived access token: ") if sys.stdin.isatty() else sys.stdin.readline()
    ).strip()
    if not token or any(c.isspace() for c in token) or len(token) > 1024:
        raise ConfigError(
            "that is not a token: paste the long-lived access token from your Home Assistant "
            "profile page (Security, Long-lived access tokens)"
        )
    return token


def _checked_devices(data_dir: Path, url: str, token: str) -> list[Device]:
    """Home Assistant's lights and switches, asked for with `token` before it is saved anywhere."""
    registry = DeviceRegistry(data_dir)
    try:
        return asyncio.run(_sync_home_assistant(registry, url, token))
    finally:
        registry.close()


async def _sync_home_assistant(registry: DeviceRegistry, url: str, token: str) -> list[Device]:
    from assistant.devices.hub import DeviceHub
    from assistant.devices.model import DeviceError

    hub = DeviceHub(registry, Bus(), lambda name: token)
    await hub.open()
    try:
        found = await hub.home_assistant.entities(hub.session, url)
        return await hub.record(found)
    except DeviceError as e:
        raise CommandLineError(f"the token was not saved: {e.message}", code=e.code) from None
    finally:
        await hub.close()
