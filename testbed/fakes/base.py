"""What every fake device shares: an HTTP server on its own loopback address, and its mDNS record.

A kind says what it serves (`routes`) and how it is advertised (`service_type`, `instance_name`,
`hostname`, `txt`); this base runs the server, records what it was asked, and keeps the mDNS
record in step with the address. Faults a test can switch on at any time: `slow_s` delays every
answer, `malformed` spoils every answer, `bad_txt` spoils the TXT record (see `malformed_txt`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shlex
import socket
import sys
import time
from typing import Any, ClassVar, Literal, NamedTuple, NoReturn

from aiohttp import web
from aiohttp.typedefs import Handler
from zeroconf import DNSOutgoing  # type: ignore[attr-defined]  # exported, not in __all__
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
from zeroconf.const import _FLAGS_AA, _FLAGS_QR_RESPONSE

Malformed = bool | Literal["json", "shape", "huge"]
"""False: answer properly. True or "json": a body that is no JSON. "shape": JSON, wrong shape.
"huge": a JSON list of 8 MB, far more than any device's answer."""

Txt = dict[str | bytes, str | bytes | None]
BadTxt = str | Txt | bytes | None
"""A preset name from BAD_TXT, keys to merge over the real TXT, or raw TXT wire data."""

BAD_TXT = ("bad_mac", "bad_gen", "non_utf8", "overlong", "empty")

_NOT_JSON = '{"on": tru'
_WRONG_SHAPE = {"unexpected": [1, "two", None]}


class Request(NamedTuple):
    """One HTTP request a fake received; a tuple, so tests can compare it with a plain tuple."""

    method: str
    path: str
    """The path with its query string, as sent."""
    body: Any
    """The body parsed as JSON, else its text; None when empty."""


_serials = itertools.count(1)


def next_mac(oui: str) -> str:
    """A MAC address no other fake in this process has: the vendor's OUI and a serial."""
    return f"{oui}{next(_serials):06X}"


def malformed_txt(txt: dict[str, str], how: BadTxt) -> Txt | bytes:
    """The TXT record `txt` spoiled the way `how` says, for tests of a browser's validation.

    "overlong" is a string that claims 255 bytes and carries a 300-byte value: no valid record can
    hold a value that long, so the bytes after the first 255 read as a broken second string.
    """
    if isinstance(how, bytes):
        return how
    spoiled: Txt = {key: value for key, value in txt.items()}
    first = next(iter(txt), "mac")
    if isinstance(how, dict):
        spoiled.update(how)
    elif how == "bad_mac":
        spoiled["mac"] = "zz"
    elif how == "bad_gen":
        spoiled["gen"] = "banana"
    elif how == "non_utf8":
        spoiled[first] = b"\xff\xfe\xc3\x28"
    elif how == "overlong":
        return bytes([255]) + f"{first}=".encode() + b"a" * 300
    elif how == "empty":
        return {}
    else:
        raise ValueError(f"unknown bad_txt {how!r}; one of {BAD_TXT}, a dict or bytes")
    return spoiled


class NotIsolatedError(RuntimeError):
    """mDNS would leave the machine: this network namespace has more than loopback."""


def non_loopback_interfaces() -> list[str]:
    """The interfaces of this process's network namespace other than lo.

    /sys/class/net will not do: it lists the namespace that mounted /sys, which after a plain
    `unshare -n` is still the host's.
    """
    return [name for _, name in socket.if_nameindex() if name != "lo"]


_REEXEC_MARK = "FAKE_HOME_NETNS"


def rerun_isolated(argv: list[str]) -> NoReturn:
    """Run the command `argv` again, in place of this process, inside a fresh network namespace
    that has only lo (brought up); refuses if even that one is not isolated."""
    if os.environ.get(_REEXEC_MARK):
        sys.exit(f"still beside {non_loopback_interfaces()} after unshare; refusing to start")
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    os.environ[_REEXEC_MARK] = "1"
    os.execvp(unshare[0], [*unshare, "sh", "-c", f"ip link set lo up && exec {shlex.join(argv)}"])


def ensure_isolated() -> None:
    """Refuse to go on where mDNS could reach a real network."""
    if extra := non_loopback_interfaces():
        raise NotIsolatedError(
            f"refusing to run mDNS beside {', '.join(extra)}; run in a namespace of its own: "
            "unshare -n sh -c 'ip link set lo up && …'"
        )


def _parse_body(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class FakeDevice:
    """A device on `host`:`port`, advertised over mDNS once started with a `zeroconf`."""

    kind: ClassVar[str]
    service_type: ClassVar[str]
    default_port: ClassVar[int] = 80
    oui: ClassVar[str] = "A8032A"

    def __init__(
        self,
        name: str,
        host: str,
        *,
        port: int | None = None,
        mac: str | None = None,
        slow_s: float = 0.0,
        malformed: Malformed = False,
        bad_txt: BadTxt = None,
        zeroconf: AsyncZeroconf | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = self.default_port if port is None else port
        self.mac = (mac or next_mac(self.oui)).replace(":", "").upper()
        if not re.fullmatch(r"[0-9A-F]{12}", self.mac):
            raise ValueError(f"a MAC is 12 hex digits, not {mac!r}")
        self.state: dict[str, Any] = {}
        self.requests: list[Request] = []
        self.slow_s = slow_s
        self.malformed = malformed
        self.bad_txt = bad_txt
        self.zeroconf = zeroconf
        self.booted_at = time.time()
        self.announced_at: float | None = None
        """time.monotonic() when it was last (re)announced, to measure discovery."""
        self._runner: web.AppRunner | None = None
        self._info: AsyncServiceInfo | None = None
        self._announcing: asyncio.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.host}:{self.port}>"

    # What each kind provides.

    def instance_name(self) -> str:
        raise NotImplementedError

    def hostname(self) -> str:
        """The device's own mDNS host name, which carries its A record."""
        raise NotImplementedError

    def txt(self) -> dict[str, str]:
        raise NotImplementedError

    def routes(self) -> list[web.RouteDef]:
        """The HTTP API; none for a device that is only listed."""
        return []

    # mDNS.

    @property
    def mdns_name(self) -> str:
        return f"{self.instance_name()}.{self.service_type}"

    @property
    def uptime_s(self) -> int:
        return int(time.time() - self.booted_at)

    def service_info(self) -> AsyncServiceInfo:
        txt = self.txt()
        properties = txt if self.bad_txt is None else malformed_txt(txt, self.bad_txt)
        return AsyncServiceInfo(
            self.service_type,
            self.mdns_name,
            port=self.port,
            properties=properties,
            server=self.hostname(),
            addresses=[socket.inet_aton(self.host)],
        )

    async def _announce(self) -> None:
        if self.zeroconf is None:
            return
        ensure_isolated()
        self._info = self.service_info()
        # Cooperating responders skip the 1.7 s probe; a name taken in this zeroconf still fails.
        announcing = await self.zeroconf.async_register_service(self._info, cooperating_responders=True)
        self._announcing = asyncio.ensure_future(announcing)
        self.announced_at = time.monotonic()

    async def _stop_announcing(self) -> None:
        """Cancel announcements still due, which would otherwise undo a goodbye or a move."""
        if self._announcing is not None and not self._announcing.done():
            self._announcing.cancel()
            await asyncio.gather(self._announcing, return_exceptions=True)
        self._announcing = None

    async def _withdraw(self) -> None:
        if self.zeroconf is None or self._info is None:
            return
        await self._stop_announcing()
        goodbyes = await self.zeroconf.async_unregister_service(self._info)
        await goodbyes
        self._info = None

    def _goodbye_addresses(self, info: AsyncServiceInfo) -> None:
        """Withdraw only the old A record, so browsers drop the old address at once.

        Without this, an address announced less than a second ago stays in their caches beside
        the new one (RFC 6762 10.2 flushes only records older than a second).
        """
        assert self.zeroconf is not None
        out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
        for record in info.dns_addresses(override_ttl=0):
            out.add_answer_at_time(record, 0)
        self.zeroconf.zeroconf.async_send(out)

    # HTTP.

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.text() if request.can_read_body else ""
        self.requests.append(Request(request.method, request.path_qs, _parse_body(body)))
        if self.slow_s:  # not a wait: a device that answers late on purpose, for the timeout tests
            await asyncio.sleep(self.slow_s)
        response = await handler(request)
        if self.malformed == "shape":
            return web.json_response(_WRONG_SHAPE, status=response.status)
        if self.malformed == "huge":
            return web.Response(
                body=b"[" + b"0," * (4 * 1024 * 1024) + b"0]", status=response.status, content_type="application/json"
            )
        if self.malformed:
            return web.Response(text=_NOT_JSON, status=response.status, content_type="application/json")
        return response

    async def _serve(self) -> None:
        routes = self.routes()
        if not routes:
            return
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def _close_http(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Life cycle.

    async def start(self) -> None:
        await self._serve()
        try:
            await self._announce()
        except BaseException:
            await self._close_http()
            raise

    async def stop(self) -> None:
        """Say goodbye over mDNS, then stop answering."""
        await self._withdraw()
        await self._close_http()

    async def move_to(self, new_host: str) -> None:
        """Come back on another address, as after a new DHCP lease: same name, MAC and state."""
        await self._close_http()
        old_host, self.host = self.host, new_host
        try:
            await self._serve()
        except BaseException:
            self.host = old_host
            await self._serve()
            raise
        if self.zeroconf is None or self._info is None:
            return
        await self._stop_announcing()
        self._goodbye_addresses(self._info)
        self._info = self.service_info()
        self._announcing = asyncio.ensure_future(await self.zeroconf.async_update_service(self._info))
        self.announced_at = time.monotonic()
