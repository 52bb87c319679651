"""The companion page's server: HTTPS on the LAN, plain HTTP on loopback, one aiohttp application.

The page's files and the CA's root (`/ca.crt`) are public (they hold nothing private, and a phone
must load them to pair); every API call and the websocket need a paired phone's token, as a cookie
(set at pairing) or a bearer header, and first pass guard.py (Host, Origin, content type). A client
that keeps presenting bad tokens is refused with 429 for a while (pairing.py holds those limits and
the routes that pair and unpair phones). `assistant pair` reaches a running server through the
loopback port with the admin key, a file only the owner can read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from assistant.core.config import WebConfig
from assistant.core.errors import AssistantError, NotForThisRole, WebError
from assistant.core.health import health_response
from assistant.core.store import atomic_write
from assistant.plugins.api import ToolCall, spoken_by
from assistant.trust.vault import Vault
from assistant.web import views
from assistant.web.auth import Phones
from assistant.web.certificate import Certificate, ensure_certificate, lan_addresses, served_names
from assistant.web.guard import COOKIE, bearer, refusal
from assistant.web.http import MAX_JSON_BYTES, PHONE, error, from_loopback, read_json
from assistant.web.live import MAX_TEXT_CHARS, PhoneSockets, request_text
from assistant.web.page_core import PageCore
from assistant.web.pairing import Pairing
from assistant.web.phone_person import enrolled_name, speaker_of
from assistant.web.talk import PhoneTalk
from assistant.web.voices import PageVoices

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
ADMIN_HEADER = "X-Assistant-Admin"
PHOTO_ID = re.compile(r"[0-9]{1,18}")
CA_PATH = "/ca.crt"


@dataclass(frozen=True)
class Addresses:
    """Where the page is served, as printed at start and written to web/server.json."""

    https: list[str]
    loopback: str


def web_dir(data_dir: Path) -> Path:
    return data_dir / "web"


def admin_key(data_dir: Path) -> str:
    """The key `assistant pair` shows the running server: made once, kept in the vault (an older
    plain `web/admin.key` file is moved into it)."""
    vault = Vault(data_dir)
    old = web_dir(data_dir) / "admin.key"
    if old.exists() and vault.get("web.admin") is None:
        vault.put("web.admin", old.read_text().strip())
    old.unlink(missing_ok=True)
    return vault.get_or_make("web.admin")


class WebServer:
    def __init__(
        self, core: PageCore, config: WebConfig, talk: PhoneTalk | None = None, addresses: list[str] | None = None
    ) -> None:
        """core: the built assistant (runtime.Core). talk: push-to-talk and typed requests (None:
        the page can look and press buttons but not talk). addresses: LAN addresses for the
        certificate and the printed links (None: this machine's)."""
        self.core = core
        self.config = config
        self.talk = talk
        self.phones = Phones(web_dir(core.data_dir))
        self.addresses = lan_addresses() if addresses is None else addresses
        bound = [] if config.bind in ("0.0.0.0", "", "::") else [config.bind]
        self.names = frozenset(n.lower() for n in [*served_names(self.addresses), *bound])
        """The host names and addresses the page answers for (guard.py's Host check)."""
        self.certificate: Certificate | None = None
        self._admin = admin_key(core.data_dir)
        self._runners: list[web.AppRunner] = []
        self.sockets = PhoneSockets(core, talk, config.max_talk_s)
        self.pairing = Pairing(
            self.phones,
            core.data_dir,
            self._fingerprints,
            lambda: self.served.https if self.served else [],
            lambda phone_id: self.sockets.close(phone_id, 4001, b"this phone was unpaired"),
            lambda name: enrolled_name(core.household, name),
        )
        self.voices = PageVoices(core.household)
        self._page: str | None = None
        self.served: Addresses | None = None
        self.report: Callable[[], dict[str, Any]] | None = None
        """The services' health, for `GET /health` on loopback (set by `assistant run`)."""

    # --- start and stop -------------------------------------------------------------------------

    async def start(self) -> Addresses:
        import ssl

        self.certificate = await asyncio.to_thread(ensure_certificate, web_dir(self.core.data_dir), self.addresses)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate.cert, self.certificate.key)
        app = self.app()
        https = web.AppRunner(app, access_log=None, handle_signals=False)
        await https.setup()
        self._runners.append(https)
        try:
            secure = web.TCPSite(https, self.config.bind, self.config.port, ssl_context=context)
            await secure.start()
            loopback = web.TCPSite(https, "127.0.0.1", self.config.loopback_port)
            await loopback.start()
        except OSError as e:
            await self.stop()
            raise WebError(
                f"the phone page cannot listen on port {self.config.port} or {self.config.loopback_port}: "
                f"{e.strerror or e}; set web.port and web.loopback_port to free ports, or web.enabled: false",
                code="web",
            ) from e
        https_port = _port(secure)
        hosts = self.addresses if self.config.bind in ("0.0.0.0", "") else [self.config.bind]
        self.served = Addresses(
            [f"https://{h}:{https_port}/" for h in hosts] or [f"https://127.0.0.1:{https_port}/"],
            f"http://127.0.0.1:{_port(loopback)}/",
        )
        atomic_write(
            web_dir(self.core.data_dir) / "server.json",
            json.dumps({"https": self.served.https, "loopback": self.served.loopback, "pid": os.getpid()}),
        )
        return self.served

    async def stop(self) -> None:
        await self.sockets.close(None, 1001, b"the assistant is stopping")
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        (web_dir(self.core.data_dir) / "server.json").unlink(missing_ok=True)
        self.phones.close()

    # --- the application ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._guard, self._auth], client_max_size=MAX_JSON_BYTES)
        pairing = self.pairing
        app.router.add_get("/", self._index)
        app.router.add_get(CA_PATH, self._ca)
        app.router.add_get("/health", self._health)
        app.router.add_get(
            "/manifest.webmanifest", self._static_file("manifest.webmanifest", "application/manifest+json")
        )
        app.router.add_get("/sw.js", self._static_file("sw.js", "text/javascript"))
        app.router.add_static("/static/", STATIC, append_version=False)
        app.router.add_post("/api/pair", pairing.pair)
        app.router.add_get("/api/me", self._me)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/phones", pairing.list_phones)
        app.router.add_delete("/api/phones/{id}", pairing.revoke)
        app.router.add_post("/api/say", self._say)
        app.router.add_post("/api/call", self._call)
        app.router.add_get("/api/media/thumb/{id}", self._thumb)
        app.router.add_get("/api/people", self.voices.list)
        app.router.add_delete("/api/people/{name}", self.voices.forget)
        app.router.add_put("/api/people/{name}/role", self.voices.set_role)
        app.router.add_get("/api/ws", self._websocket)
        app.router.add_post("/admin/pair-code", pairing.new_code)
        app.router.add_get("/admin/phones", pairing.list_phones)
        app.router.add_post("/admin/revoke/{id}", pairing.revoke)
        return app

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as e:
            if (
                e.content_type == "application/json"
                or not request.path.startswith(("/api/", "/admin/"))
                or e.status < 400
            ):
                raise
            message = (
                e.reason if e.status != 413 else f"the request is too large (at most {MAX_JSON_BYTES // 1024} KiB)"
            )
            return error(e.status, message, "bad_request" if e.status < 500 else "server")
        except AssistantError as e:
            return error(400, e.message, e.code)

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        refused = refusal(request, self.names)
        if refused is not None:
            return error(refused.status, refused.message, refused.code)
        return await handler(request)

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if not path.startswith(("/api/", "/admin/")) or path == "/api/pair":
            return await handler(request)
        client = request.remote or "?"
        if path.startswith("/admin/"):
            # The admin key is 256 random bits in a file only the owner reads: no limiter in its way.
            if not from_loopback(request) or not secrets.compare_digest(
                request.headers.get(ADMIN_HEADER, ""), self._admin
            ):
                self.pairing.limiter.failed(client)
                return error(401, "admin requests come from this machine, with the admin key", "unauthorized")
            return await handler(request)
        refused = self.pairing.refused(client)
        if refused is not None:
            return refused
        token = request.cookies.get(COOKIE) or bearer(request)
        phone = self.phones.check(token)  # from memory: the store reads its file once, at opening
        if phone is None:
            if token:  # a wrong token is a guess; none at all is only a page not paired yet
                self.pairing.limiter.failed(client)
            return error(401, "this phone is not paired: pair it with the code from `assistant pair`", "unauthorized")
        request[PHONE] = phone
        return await handler(request)

    # --- pages ----------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.StreamResponse:
        """Loopback only: a monitor on this machine needs no token, and the LAN learns nothing."""
        if not from_loopback(request) or self.report is None:
            raise web.HTTPNotFound()
        return health_response(self.report())

    async def _index(self, request: web.Request) -> web.StreamResponse:
        """The page, with the fingerprint of the root it offers for installing."""
        if self._page is None:
            fingerprint = self.certificate.ca_fingerprint if self.certificate else ""
            page = await asyncio.to_thread((STATIC / "index.html").read_text)
            self._page = page.replace("%CA_FINGERPRINT%", fingerprint)
        return web.Response(text=self._page, content_type="text/html", headers=_PAGE_HEADERS)

    async def _ca(self, request: web.Request) -> web.StreamResponse:
        """The CA's root, for a phone to install once (its fingerprint is on the page and in `assistant pair`)."""
        if self.certificate is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=self.certificate.ca_der(),
            content_type="application/x-x509-ca-cert",
            headers={"Content-Disposition": 'attachment; filename="assistant-ca.crt"', "Cache-Control": "no-cache"},
        )

    def _static_file(self, name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})

        return serve

    # --- phones ---------------------------------------------------------------------------------

    def _fingerprints(self) -> dict[str, str | None]:
        """The server's certificate's and the CA root's SHA-256, for the person pairing to check."""
        cert = self.certificate
        return {
            "fingerprint": cert.fingerprint if cert else None,
            "ca_fingerprint": cert.ca_fingerprint if cert else None,
        }

    async def _me(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"phone": asdict(request[PHONE]), "talk": self.talk is not None, "reply_on": self.config.reply_on}
        )

    # --- state and actions ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        """Events out; typed text and push-to-talk in (live.py)."""
        return await self.sockets.serve(request, request[PHONE])

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await views.state(self.core, speaker_of(request[PHONE], self.core.household)))

    async def _thumb(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not PHOTO_ID.fullmatch(raw):
            return error(400, "a photo's id is a number of at most 18 digits", "bad_request")
        data = await asyncio.to_thread(views.thumbnail, self.core, int(raw))
        if data is None:
            return error(404, "no such photo in the library", "not_found")
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    async def _say(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        text = request_text(body.get("text"))
        if text is None:
            return error(400, f'send {{"text": "what to ask"}} (1 to {MAX_TEXT_CHARS} characters)', "bad_request")
        if self.talk is None:
            return error(503, "the assistant is not ready to talk", "not_ready")
        turn, reply = await self.talk.typed(request[PHONE], text)
        return web.json_response({"turn": turn, "reply": reply})

    async def _call(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        tool, args, confirmed = body.get("tool"), body.get("args", {}), body.get("confirmed", False)
        if not isinstance(tool, str) or not isinstance(args, dict) or not isinstance(confirmed, bool):
            return error(400, 'send {"tool": "skill.tool", "args": {…}}', "bad_request")
        try:
            self.core.registry.tool(tool)
        except AssistantError:
            return error(404, f"no tool '{tool}'", "not_found")
        turn = self.talk.next_turn(request[PHONE].id) if self.talk is not None else self.core.next_turn()
        call = ToolCall(tool=tool, args=args, source="phone", text="")
        try:
            with spoken_by(speaker_of(request[PHONE], self.core.household)):
                done, said = await self.core.dialogue.another().perform(call, confirmed, turn)
        except NotForThisRole as e:
            return error(403, e.message, e.code)
        if not done:
            return web.json_response({"done": False, "question": said, "turn": turn}, status=409)
        return web.json_response({"done": True, "reply": said, "turn": turn})


_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _port(site: web.TCPSite) -> int:
    # aiohttp keeps the listening sockets here (a TCPSite's is what loop.create_server made); port 0 means "pick one"
    server = cast("asyncio.Server | None", site._server)
    return int(server.sockets[0].getsockname()[1]) if server is not None and server.sockets else 0
