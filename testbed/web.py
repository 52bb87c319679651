"""A running companion page for tests and the phone benchmark: the real assistant core and WebServer
on free loopback ports, driven from a background event loop so plain tests (and Playwright's sync
API) can talk to it; and Debian's Chromium as a phone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.web.server import ADMIN_HEADER, WebServer, admin_key
from assistant.web.talk import PhoneTalk
from testbed.harness import TEMPLATES_ONLY, Recorder, wait_for

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}

WEB_ENV = {
    **TEMPLATES_ONLY,
    "ASSISTANT__WEB__PORT": "0",
    "ASSISTANT__WEB__LOOPBACK_PORT": "0",
    "ASSISTANT__WEB__BIND": "127.0.0.1",
}


@dataclass
class Page:
    core: Core
    server: WebServer
    loop: asyncio.AbstractEventLoop
    recorder: Recorder
    https: str
    http: str
    data_dir: Path
    stops: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 180.0) -> T:
        """A wait for the work to finish, not a bound on it: a busy machine takes over a minute to scan."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def new_code(self, admin: bool = False, person: str | None = None) -> str:
        """A pairing code from the admin door, as `assistant pair [--admin] [--person NAME]` asks for one."""
        request = urllib.request.Request(
            self.http + "admin/pair-code",
            data=json.dumps({"admin": admin, "person": person}).encode(),
            method="POST",
            headers={ADMIN_HEADER: admin_key(self.data_dir), "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return str(json.loads(r.read())["code"])

    def pair(self, name: str = "Test phone", admin: bool = False, person: str | None = None) -> str:
        """A paired phone's token (a script pairing: no Origin, no cookie)."""
        body = json.dumps({"code": self.new_code(admin, person), "name": name}).encode()
        request = urllib.request.Request(
            self.http + "api/pair", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return str(json.loads(r.read())["token"])

    @property
    def origin(self) -> str:
        """The Origin a browser sends from the page on the loopback port."""
        return self.http.rstrip("/")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until `predicate()` holds (testbed.harness.wait_for); AssertionError after `timeout`."""
        wait_for(predicate, timeout, getattr(predicate, "__name__", "the page's condition"))


def start_page(
    data_dir: Path, speech_models: Any | None = None, env: dict[str, str] | None = None, reply_on: str = "phone"
) -> Page:
    """The assistant's core and its page, serving from a background thread's event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web-test-loop", daemon=True)
    thread.start()
    bus = Bus()
    recorder = Recorder(bus)
    config = load_config(environ={**WEB_ENV, "ASSISTANT__WEB__REPLY_ON": reply_on, **(env or {})})

    async def up() -> tuple[Core, WebServer]:
        core = build_core(config, data_dir, bus)
        await core.registry.start_all()
        await core.devices.open()
        if speech_models is not None:
            from assistant.voice.reply import ReplySpeaker

            talk = PhoneTalk(core, speech_models.transcriber, ReplySpeaker(bus, speech_models.synthesizer), reply_on)
        else:
            talk = PhoneTalk(core, None, None, reply_on)
        server = WebServer(core, config.web, talk, addresses=[])
        await server.start()
        return core, server

    core, server = asyncio.run_coroutine_threadsafe(up(), loop).result(60)
    assert server.served is not None
    return Page(core, server, loop, recorder, server.served.https[0], server.served.loopback, data_dir)


def stop_page(page: Page) -> None:
    async def down() -> None:
        for stop in page.stops:
            await stop()
        await page.server.stop()
        await page.core.devices.close()
        await page.core.registry.stop_all()
        if page.core.media is not None:
            page.core.media.close()

    page.run(down())
    page.loop.call_soon_threadsafe(page.loop.stop)


def launch_chromium(playwright: Any, fake_mic: Path | None = None, home: Path | None = None) -> Any:
    """Headless Debian Chromium (never `playwright install`); with `fake_mic`, its microphone plays
    that WAV once from when the page opens it; with `home`, it runs with that HOME (whose
    `.pki/nssdb` holds the certificates it trusts, as `trust_root` makes it)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: ./scripts/setup installs it")
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
    ]
    if fake_mic is not None:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic}%noloop",
        ]
    env = None if home is None else {**os.environ, "HOME": str(home)}
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, env=env)


def trust_root(home: Path, ca_der: bytes) -> None:
    """A HOME whose NSS database trusts `ca_der` to vouch for web sites, as a phone that installed the
    assistant's root does (certutil, from libnss3-tools)."""
    if shutil.which("certutil") is None:
        raise RuntimeError("certutil is missing: ./scripts/setup installs it (apt package libnss3-tools)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    ca = home / "assistant-ca.crt"
    ca.write_bytes(ca_der)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "assistant", "-i", str(ca)]):
        subprocess.run(
            ["certutil", "-d", f"sql:{nssdb}", *args], check=True, capture_output=True, text=True, timeout=30
        )


def open_phone(browser: Any, base: str, ignore_https_errors: bool = True) -> Any:
    """A tab the size of a phone that may use the microphone and (unless told otherwise) takes the
    assistant's certificate without its root installed, as a person does once, when pairing."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, ignore_https_errors=ignore_https_errors
    )
    context.grant_permissions(["microphone"], origin=base.rstrip("/"))
    return context.new_page()


def pair_in_browser(tab: Any, page: Page, base: str) -> None:
    """Pair the tab with a fresh code, as a person would, and wait until the page is ready."""
    tab.goto(base)
    tab.get_by_label("Pairing code").fill(page.new_code())
    tab.get_by_label("Name for this phone").fill("Test phone")
    tab.get_by_role("button", name="Pair").click()
    tab.get_by_role("heading", name="Talk").wait_for()
    tab.wait_for_function("() => document.querySelector('#status').textContent === 'Ready'")
