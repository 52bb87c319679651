"""Google Cast speakers and ESPHome nodes: named from their mDNS TXT records and listed, so people
can see and name them, though the assistant cannot control them yet."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.devices.drivers.base import ListedOnly, mac_of
from assistant.devices.model import DeviceError, Found

if TYPE_CHECKING:
    import aiohttp

_CAST_ID = re.compile(r"^[0-9a-f]{32}$")


class CastDriver(ListedOnly):
    def __init__(self) -> None:
        super().__init__("cast")

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        cast_id = txt.get("id", "").replace("-", "").lower()
        if not _CAST_ID.match(cast_id):
            raise DeviceError(f"Cast device at {host} announced a bad id '{txt.get('id', '')[:40]}'", code="bad_txt")
        name = txt.get("fn") or service.split(".")[0]
        return [
            Found(f"cast:{cast_id}", name, self.protocol, "speaker", txt.get("md") or "Google Cast", (), host, port)
        ]


class EsphomeDriver(ListedOnly):
    def __init__(self) -> None:
        super().__init__("esphome")

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        try:
            mac = mac_of(txt.get("mac", ""))
        except ValueError as e:
            raise DeviceError(
                f"ESPHome node at {host} announced a bad mac '{txt.get('mac', '')[:20]}'", code="bad_txt"
            ) from e
        name = txt.get("friendly_name") or service.split(".")[0]
        model = " ".join(v for v in (txt.get("platform"), txt.get("board")) if v) or "ESPHome"
        return [Found(f"esphome:{mac}", name, self.protocol, "node", model, (), host, port)]
