"""The companion page's server: HTTPS on the LAN, plain HTTP on loopback, one aiohttp application.

The page's files and the CA's root (`/ca.crt`) are public (they hold nothing private, and a phone
must load them to pair); every API call and the websocket need a paired phone's token, as a cookie
(set at pairing) or a bearer header, and first pass guard.py (Host, Origin, content type). A client
that keeps presenting bad tokens or codes is refused with 429 for a while; pairing codes are checked
one at a time, and refused for everyone after PAIR_FAILURES_ALL wrong ones in a minute (until the
block ends or `assistant pair` makes a new code: the owner is not kept out for long). Pairing and
unpairing are written to the audit trail with who did them. `assistant pair` reaches a running
server through the loopback port with the admin key, a file only the owner can read.
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
from assistant.core.errors import AssistantError, WebError
from assistant.core.health import health_response
from assistant.core.store import atomic_write
from assistant.plugins.api import ToolCall
from assistant.trust.admin import record_admin
from assistant.trust.vault import Vault
from assistant.web import views
from assistant.web.auth import FailureLimiter, PairingError, Phone, Phones
from assistant.web.certificate import Certificate, ensure_certificate, lan_addresses, served_names
from assistant.web.guard import COOKIE, bearer, refusal
from assistant.web.live import MAX_TEXT_CHARS, PhoneSockets, request_text
from assistant.web.talk import PhoneTalk

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_JSON_BYTES = 16 * 1024
ADMIN_HEADER = "X-Assistant-Admin"
PAIR_FAILURES_ALL = 10
"""Wrong pairing codes in a minute, from all addresses together, after which pairing is refused for a while
(until then, or until `assistant pair` makes a new code)."""
EVERYONE = "*"
PHOTO_ID = re.compile(r"[0-9]{1,18}")
CA_PATH = "/ca.crt"
_PHONE: web.RequestKey[Phone] = web.RequestKey("phone", Phone)


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
        self, core: Any, config: WebConfig, talk: PhoneTalk | None = None, addresses: list[str] | None = None
    ) -> None:
        """core: the built assistant (runtime.Core). talk: push-to-talk and typed requests (None:
        the page can look and press buttons but not talk). addresses: LAN addresses for the
        certificate and the printed links (None: this machine's)."""
        self.core = core
        self.config = config
        self.talk = talk
        self.phones = Phones(web_dir(core.data_dir))
        self.limiter = FailureLimiter()
        """Per address: wrong tokens and wrong pairing codes."""
        self.everyone = FailureLimiter(limit=PAIR_FAILURES_ALL)
        """Wrong pairing codes from all addresses together."""
        self._pairing = asyncio.Lock()
        self.addresses = lan_addresses() if addresses is None else addresses
        bound = [] if config.bind in ("0.0.0.0", "", "::") else [config.bind]
        self.names = frozenset(n.lower() for n in [*served_names(self.addresses), *bound])
        """The host names and addresses the page answers for (guard.py's Host check)."""
        self.certificate: Certificate | None = None
        self._admin = admin_key(core.data_dir)
        self._runners: list[web.AppRunner] = []
        self.sockets = PhoneSockets(core, talk, config.max_talk_s)
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
        app.router.add_get("/", self._index)
        app.router.add_get(CA_PATH, self._ca)
        app.router.add_get("/health", self._health)
        app.router.add_get(
            "/manifest.webmanifest", self._static_file("manifest.webmanifest", "application/manifest+json")
        )
        app.router.add_get("/sw.js", self._static_file("sw.js", "text/javascript"))
        app.router.add_static("/static/", STATIC, append_version=False)
        app.router.add_post("/api/pair", self._pair)
        app.router.add_get("/api/me", self._me)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/phones", self._list_phones)
        app.router.add_delete("/api/phones/{id}", self._revoke)
        app.router.add_post("/api/say", self._say)
        app.router.add_post("/api/call", self._call)
        app.router.add_get("/api/media/thumb/{id}", self._thumb)
        app.router.add_get("/api/ws", self._websocket)
        app.router.add_post("/admin/pair-code", self._admin_code)
        app.router.add_get("/admin/phones", self._list_phones)
        app.router.add_post("/admin/revoke/{id}", self._revoke)
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
            return _error(e.status, message, "bad_request" if e.status < 500 else "server")
        except AssistantError as e:
            return _error(400, e.message, e.code)

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        refused = refusal(request, self.names)
        if refused is not None:
            return _error(refused.status, refused.message, refused.code)
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
            if not _loopback(request) or not secrets.compare_digest(request.headers.get(ADMIN_HEADER, ""), self._admin):
                self.limiter.failed(client)
                return _error(401, "admin requests come from this machine, with the admin key", "unauthorized")
            return await handler(request)
        refused = self._refused(client)
        if refused is not None:
            return refused
        token = request.cookies.get(COOKIE) or bearer(request)
        phone = self.phones.check(token)  # from memory: the store reads its file once, at opening
        if phone is None:
            if token:  # a wrong token is a guess; none at all is only a page not paired yet
                self.limiter.failed(client)
            return _error(401, "this phone is not paired: pair it with the code from `assistant pair`", "unauthorized")
        request[_PHONE] = phone
        return await handler(request)

    def _refused(self, client: str, pairing: bool = False) -> web.Response | None:
        """429 for a client that failed too often lately (pairing: or when everyone together did);
        None when it may try."""
        wait = self.limiter.retry_after(client)
        if pairing:
            wait = max(wait, self.everyone.retry_after(EVERYONE))
        if wait <= 0:
            return None
        return _error(
            429,
            f"too many failed attempts; try again in {wait:.0f} s",
            "rate_limited",
            {"Retry-After": str(int(wait) + 1)},
        )

    # --- pages ----------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.StreamResponse:
        """Loopback only: a monitor on this machine needs no token, and the LAN learns nothing."""
        if not _loopback(request) or self.report is None:
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

    # --- pairing --------------------------------------------------------------------------------

    async def _pair(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        body = await _json(request)
        code, name = body.get("code"), body.get("name", "Phone")
        if not isinstance(code, str) or not isinstance(name, str) or len(code) > 32:
            return _error(400, 'send {"code": "the code from `assistant pair`", "name": "my phone"}', "bad_request")
        async with self._pairing:  # one guess at a time: each failure counts before the next is checked
            refused = self._refused(client, pairing=True)
            if refused is not None:
                return refused
            try:
                phone, token = await asyncio.to_thread(self.phones.pair, code, name)
            except PairingError as e:
                self.limiter.failed(client)
                self.everyone.failed(EVERYONE)
                return _error(403, e.message, e.code)
        try:
            await self._audit("phone paired", f"phone:{phone.name}", phone=phone.id, admin=phone.admin, address=client)
        except AssistantError:
            await asyncio.to_thread(self.phones.revoke, phone.id)  # no pairing the audit trail does not show
            raise
        response = web.json_response({"phone": asdict(phone), "token": token, **self._fingerprints()})
        response.set_cookie(
            COOKIE, token, max_age=10 * 365 * 86400, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
        return response

    async def _admin_code(self, request: web.Request) -> web.StreamResponse:
        admin = (await _json(request)).get("admin", False)
        if not isinstance(admin, bool):
            return _error(400, 'send {"admin": true or false}', "bad_request")
        code, expires = await asyncio.to_thread(self.phones.new_code, admin)
        self.everyone.forget(EVERYONE)  # the owner is pairing now: guessers elsewhere must not keep them out
        if admin:
            await self._audit("admin pairing code made", "cli", expires=expires)
        return web.json_response(
            {
                "code": code,
                "expires": expires,
                "admin": admin,
                **self._fingerprints(),
                "urls": self.served.https if self.served else [],
            }
        )

    def _fingerprints(self) -> dict[str, str | None]:
        """The server's certificate's and the CA root's SHA-256, for the person pairing to check."""
        cert = self.certificate
        return {
            "fingerprint": cert.fingerprint if cert else None,
            "ca_fingerprint": cert.ca_fingerprint if cert else None,
        }

    async def _audit(self, action: str, who: str, **details: Any) -> None:
        await asyncio.to_thread(record_admin, self.core.data_dir, action, who, **details)

    async def _me(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"phone": asdict(request[_PHONE]), "talk": self.talk is not None, "reply_on": self.config.reply_on}
        )

    async def _list_phones(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"phones": [asdict(p) for p in self.phones.all()]})

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        """A phone unpairs itself, or any phone when it is an admin; the admin door (the CLI) any."""
        asking = request.get(_PHONE)
        target = await asyncio.to_thread(self.phones.find, request.match_info["id"])
        if asking is not None and target.id != asking.id and not asking.admin:
            return _error(
                403,
                "a phone may unpair only itself: unpair others from an admin phone "
                "(paired with `assistant pair --admin`) or with `assistant phones revoke`",
                "forbidden",
            )
        phone = await asyncio.to_thread(self.phones.revoke, target.id)
        who = "cli" if asking is None else f"phone:{asking.name}"
        await self._audit(
            "phone revoked",
            who,
            phone=phone.id,
            name=phone.name,
            **({} if asking is None else {"by_phone": asking.id, "by_admin": asking.admin}),
        )
        await self.sockets.close(phone.id, 4001, b"this phone was unpaired")
        return web.json_response({"revoked": asdict(phone)})

    # --- state and actions ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        """Events out; typed text and push-to-talk in (live.py)."""
        return await self.sockets.serve(request, request[_PHONE])

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await views.state(self.core))

    async def _thumb(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not PHOTO_ID.fullmatch(raw):
            return _error(400, "a photo's id is a number of at most 18 digits", "bad_request")
        data = await asyncio.to_thread(views.thumbnail, self.core, int(raw))
        if data is None:
            return _error(404, "no such photo in the library", "not_found")
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    async def _say(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        text = request_text(body.get("text"))
        if text is None:
            return _error(400, f'send {{"text": "what to ask"}} (1 to {MAX_TEXT_CHARS} characters)', "bad_request")
        if self.talk is None:
            return _error(503, "the assistant is not ready to talk", "not_ready")
        turn, reply = await self.talk.typed(request[_PHONE].id, text)
        return web.json_response({"turn": turn, "reply": reply})

    async def _call(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        tool, args, confirmed = body.get("tool"), body.get("args", {}), body.get("confirmed", False)
        if not isinstance(tool, str) or not isinstance(args, dict) or not isinstance(confirmed, bool):
            return _error(400, 'send {"tool": "skill.tool", "args": {…}}', "bad_request")
        try:
            self.core.registry.tool(tool)
        except AssistantError:
            return _error(404, f"no tool '{tool}'", "not_found")
        turn = self.core.next_turn()
        call = ToolCall(tool=tool, args=args, source="phone", text="")
        done, said = await self.core.dialogue.another().perform(call, confirmed, turn)
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


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status, headers=headers)


def _loopback(request: web.Request) -> bool:
    return request.remote in ("127.0.0.1", "::1") and not request.secure


def _port(site: web.TCPSite) -> int:
    # aiohttp keeps the listening sockets here (a TCPSite's is what loop.create_server made); port 0 means "pick one"
    server = cast("asyncio.Server | None", site._server)
    return int(server.sockets[0].getsockname()[1]) if server is not None and server.sockets else 0
