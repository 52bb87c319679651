"""The companion page's server: HTTPS on the LAN, plain HTTP on loopback, one aiohttp application.

The page's files are public (they hold nothing private, and a phone must load them to pair); every
API call and the websocket need a paired phone's token, as a cookie (set at pairing) or a bearer
header. A client that keeps presenting bad tokens or codes is refused with 429 for a while.
`assistant pair` reaches a running server through the loopback port with the admin key, a file only
the owner can read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from assistant.config import WebConfig
from assistant.errors import AssistantError
from assistant.events import Event
from assistant.health import health_response
from assistant.plugins.api import ToolCall
from assistant.store import atomic_write
from assistant.vault import Vault
from assistant.web import views
from assistant.web.auth import FailureLimiter, PairingError, Phone, Phones
from assistant.web.certificate import Certificate, ensure_certificate, lan_addresses
from assistant.web.talk import PhoneTalk

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
COOKIE = "assistant_token"
MAX_JSON_BYTES = 16 * 1024
MAX_TEXT_CHARS = 500
ADMIN_HEADER = "X-Assistant-Admin"
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
    def __init__(self, core: Any, config: WebConfig, talk: PhoneTalk | None = None,
                 addresses: list[str] | None = None) -> None:
        """core: the built assistant (runtime.Core). talk: push-to-talk and typed requests (None:
        the page can look and press buttons but not talk). addresses: LAN addresses for the
        certificate and the printed links (None: this machine's)."""
        self.core = core
        self.config = config
        self.talk = talk
        self.phones = Phones(web_dir(core.data_dir))
        self.limiter = FailureLimiter()
        self.addresses = lan_addresses() if addresses is None else addresses
        self.certificate: Certificate | None = None
        self._admin = admin_key(core.data_dir)
        self._runners: list[web.AppRunner] = []
        self._sockets: dict[web.WebSocketResponse, str] = {}  # open websockets → their phone's id
        self._requests: set[asyncio.Task[Any]] = set()  # phone requests in progress (held, or the loop may drop them)
        self.served: Addresses | None = None
        self.report: Callable[[], dict[str, Any]] | None = None
        """The services' health, for `GET /health` on loopback (set by `assistant run`)."""

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run a phone's request beside its websocket's reading, keeping hold of it until it ends."""
        task = asyncio.create_task(work)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

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
            raise AssistantError(f"the phone page cannot listen on port {self.config.port} or {self.config.loopback_port}: "
                                 f"{e.strerror or e}; set web.port and web.loopback_port to free ports, or web.enabled: false",
                                 code="web") from e
        https_port = _port(secure)
        hosts = self.addresses if self.config.bind in ("0.0.0.0", "") else [self.config.bind]
        self.served = Addresses([f"https://{h}:{https_port}/" for h in hosts] or [f"https://127.0.0.1:{https_port}/"],
                                f"http://127.0.0.1:{_port(loopback)}/")
        atomic_write(web_dir(self.core.data_dir) / "server.json",
                     json.dumps({"https": self.served.https, "loopback": self.served.loopback, "pid": os.getpid()}))
        return self.served

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"the assistant is stopping")
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        (web_dir(self.core.data_dir) / "server.json").unlink(missing_ok=True)
        self.phones.close()

    # --- the application ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=MAX_JSON_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/health", self._health)
        app.router.add_get("/manifest.webmanifest", self._static_file("manifest.webmanifest", "application/manifest+json"))
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
    async def _errors(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.content_type == "application/json" or not request.path.startswith(("/api/", "/admin/")) or e.status < 400:
                raise
            message = e.reason if e.status != 413 else f"the request is too large (at most {MAX_JSON_BYTES // 1024} KiB)"
            return _error(e.status, message, "bad_request" if e.status < 500 else "server")
        except AssistantError as e:
            return _error(400, e.message, e.code)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
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
        token = request.cookies.get(COOKIE) or _bearer(request)
        phone = self.phones.check(token)  # from memory: the store reads its file once, at opening
        if phone is None:
            if token:  # a wrong token is a guess; none at all is only a page not paired yet
                self.limiter.failed(client)
            return _error(401, "this phone is not paired: pair it with the code from `assistant pair`", "unauthorized")
        request[_PHONE] = phone
        return await handler(request)

    def _refused(self, client: str) -> web.Response | None:
        """429 for a client that failed too often lately; None when it may try."""
        wait = self.limiter.retry_after(client)
        if wait <= 0:
            return None
        return _error(429, f"too many failed attempts; try again in {wait:.0f} s", "rate_limited",
                      {"Retry-After": str(int(wait) + 1)})

    # --- pages ----------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.StreamResponse:
        """Loopback only: a monitor on this machine needs no token, and the LAN learns nothing."""
        if not _loopback(request) or self.report is None:
            raise web.HTTPNotFound()
        return health_response(self.report())

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    def _static_file(self, name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        return serve

    # --- pairing --------------------------------------------------------------------------------

    async def _pair(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        refused = self._refused(client)
        if refused is not None:
            return refused
        body = await _json(request)
        code, name = body.get("code"), body.get("name", "Phone")
        if not isinstance(code, str) or not isinstance(name, str) or len(code) > 32:
            return _error(400, "send {\"code\": \"the code from `assistant pair`\", \"name\": \"my phone\"}", "bad_request")
        try:
            phone, token = await asyncio.to_thread(self.phones.pair, code, name)
        except PairingError as e:
            self.limiter.failed(client)
            return _error(403, e.message, e.code)
        response = web.json_response({"phone": asdict(phone), "token": token,
                                      "fingerprint": self.certificate.fingerprint if self.certificate else None})
        response.set_cookie(COOKIE, token, max_age=10 * 365 * 86400, httponly=True, samesite="Strict",
                            secure=request.secure, path="/")
        return response

    async def _admin_code(self, request: web.Request) -> web.StreamResponse:
        code, expires = await asyncio.to_thread(self.phones.new_code)
        return web.json_response({"code": code, "expires": expires, "urls": self.served.https if self.served else [],
                                  "fingerprint": self.certificate.fingerprint if self.certificate else None})

    async def _me(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"phone": asdict(request[_PHONE]), "talk": self.talk is not None,
                                  "reply_on": self.config.reply_on})

    async def _list_phones(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"phones": [asdict(p) for p in self.phones.all()]})

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        phone = await asyncio.to_thread(self.phones.revoke, request.match_info["id"])
        for ws, owner in list(self._sockets.items()):
            if owner == phone.id:
                await ws.close(code=4001, message=b"this phone was unpaired")
        return web.json_response({"revoked": asdict(phone)})

    # --- state and actions ----------------------------------------------------------------------

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await views.state(self.core))

    async def _thumb(self, request: web.Request) -> web.StreamResponse:
        try:
            file_id = int(request.match_info["id"])
        except ValueError:
            return _error(400, "a photo's id is a number", "bad_request")
        data = await asyncio.to_thread(views.thumbnail, self.core, file_id)
        if data is None:
            return _error(404, "no such photo in the library", "not_found")
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    async def _say(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        text = _request_text(body.get("text"))
        if text is None:
            return _error(400, f"send {{\"text\": \"what to ask\"}} (1 to {MAX_TEXT_CHARS} characters)", "bad_request")
        if self.talk is None:
            return _error(503, "the assistant is not ready to talk", "not_ready")
        turn, reply = await self.talk.typed(request[_PHONE].id, text)
        return web.json_response({"turn": turn, "reply": reply})

    async def _call(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        tool, args, confirmed = body.get("tool"), body.get("args", {}), body.get("confirmed", False)
        if not isinstance(tool, str) or not isinstance(args, dict) or not isinstance(confirmed, bool):
            return _error(400, "send {\"tool\": \"skill.tool\", \"args\": {…}}", "bad_request")
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

    # --- the websocket: events out; typed text and push-to-talk in ---------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=256 * 1024)
        await ws.prepare(request)
        phone = request[_PHONE]
        self._sockets[ws] = phone.id
        outbox: asyncio.Queue[dict[str, Any] | bytes | None] = asyncio.Queue(maxsize=1000)
        loop = asyncio.get_running_loop()

        def on_event(event: Event) -> None:  # published on the loop, or from a worker thread
            loop.call_soon_threadsafe(_offer, outbox, event.to_dict())

        unsubscribe = self.core.bus.subscribe(on_event)
        sender = asyncio.create_task(_send_all(ws, outbox))
        recording: Recording | None = None
        try:
            await ws.send_json({"type": "hello", "phone": asdict(phone), "talk": self.talk is not None})
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    if recording is None:
                        await ws.send_json(_ws_error("audio came before ptt_start", "bad_request"))
                    elif not recording.add(msg.data):
                        recording = None
                        await ws.send_json(_ws_error(f"push-to-talk is limited to {self.config.max_talk_s:g} s", "too_long"))
                    continue
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                    kind = data["type"]
                except (ValueError, KeyError, TypeError):
                    await ws.send_json(_ws_error("messages are JSON objects with a type", "bad_request"))
                    continue
                if self.talk is None and kind in ("text", "ptt_start", "ptt_end"):
                    await ws.send_json(_ws_error("the assistant is not ready to talk", "not_ready"))
                elif kind == "text":
                    text = _request_text(data.get("text"))
                    if text is None:
                        await ws.send_json(_ws_error(f"text must be 1 to {MAX_TEXT_CHARS} characters", "bad_request"))
                        continue
                    assert self.talk is not None
                    self._spawn(self.talk.typed(phone.id, text))
                elif kind == "ptt_start":
                    rate = data.get("rate")
                    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
                        await ws.send_json(_ws_error("ptt_start needs the audio's rate, 8000 to 48000", "bad_request"))
                        continue
                    recording = Recording(rate, self.config.max_talk_s)
                elif kind == "ptt_end":
                    if recording is None:
                        continue
                    assert self.talk is not None
                    done, recording = recording, None
                    self._spawn(self.talk.spoken(phone.id, done.pcm(), done.rate, lambda item: _offer(outbox, item)))
                elif kind == "ptt_cancel":
                    recording = None
                else:
                    await ws.send_json(_ws_error(f"unknown message type {kind!r}", "bad_request"))
        finally:
            unsubscribe()
            self._sockets.pop(ws, None)
            sender.cancel()
        return ws


class Recording:
    """Push-to-talk audio as it arrives: int16 mono little-endian frames at `rate`, bounded."""

    def __init__(self, rate: int, max_s: float) -> None:
        self.rate = rate
        self._limit = int(rate * max_s) * 2
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> bool:
        """False when the recording grew past its limit (it is then dropped)."""
        self._size += len(data)
        if self._size > self._limit:
            self._parts.clear()
            return False
        self._parts.append(data)
        return True

    def pcm(self) -> Any:
        import numpy as np

        raw = b"".join(self._parts)
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)


_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _offer(outbox: asyncio.Queue[Any], item: Any) -> None:
    """Queue for the page, dropping when a dead connection lets the queue fill."""
    if not outbox.full():
        outbox.put_nowait(item)


async def _send_all(ws: web.WebSocketResponse, outbox: asyncio.Queue[dict[str, Any] | bytes | None]) -> None:
    while True:
        item = await outbox.get()
        if item is None or ws.closed:
            return
        try:
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(json.dumps(item, default=str))
        except (ConnectionError, RuntimeError):
            return


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status, headers=headers)


def _ws_error(message: str, code: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def _request_text(value: Any) -> str | None:
    """A typed request as sent, or None when it is not 1 to MAX_TEXT_CHARS characters of text."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_CHARS:
        return None
    return value


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _loopback(request: web.Request) -> bool:
    return request.remote in ("127.0.0.1", "::1") and not request.secure


def _port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the listening sockets here; port 0 means "pick one"
    return int(server.sockets[0].getsockname()[1]) if server is not None and server.sockets else 0  # type: ignore[union-attr]
