"""Devices the assistant only lists: a Google Cast speaker and an ESPHome node, mDNS only."""

from __future__ import annotations

import re
import uuid as uuids
from typing import Any

from testbed.fakes.base import FakeDevice


class FakeCast(FakeDevice):
    """A Google Home Mini, as it advertises itself on _googlecast._tcp (port 8009)."""

    kind = "cast"
    service_type = "_googlecast._tcp.local."
    default_port = 8009
    oui = "F4F5D8"

    def __init__(self, name: str, host: str, *, uuid: str | None = None, **options: Any) -> None:
        super().__init__(name, host, **options)
        self.uuid = uuid or uuids.uuid4().hex

    def instance_name(self) -> str:
        return f"Google-Home-Mini-{self.uuid}"

    def hostname(self) -> str:
        return f"{uuids.UUID(hex=self.uuid)}.local."

    def txt(self) -> dict[str, str]:
        return {
            "id": self.uuid, "fn": self.name, "md": "Google Home Mini", "ve": "05",
            "ca": "199172", "st": "0", "rs": "",
        }  # fmt: skip


class FakeEsphome(FakeDevice):
    """An ESPHome node, as it advertises its native API on _esphomelib._tcp (port 6053)."""

    kind = "esphome"
    service_type = "_esphomelib._tcp.local."
    default_port = 6053
    oui = "24A160"

    def __init__(self, name: str, host: str, *, node_name: str | None = None, **options: Any) -> None:
        super().__init__(name, host, **options)
        self.node_name = node_name or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")

    def instance_name(self) -> str:
        return self.node_name

    def hostname(self) -> str:
        return f"{self.node_name}.local."

    def txt(self) -> dict[str, str]:
        return {
            "mac": self.mac.lower(), "friendly_name": self.name, "version": "2025.10.0",
            "platform": "ESP32", "board": "esp32dev", "network": "wifi",
        }  # fmt: skip
