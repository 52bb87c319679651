"""The small pieces every route of the page shares: reading a JSON body, answering an error, and
telling a request from this machine's loopback apart from the LAN's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from assistant.web.auth import Phone

MAX_JSON_BYTES = 16 * 1024
PHONE: web.RequestKey[Phone] = web.RequestKey("phone", Phone)
"""The paired phone a request came from, set by the server's token check."""


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or 400 (never a 500 for a body that is not one)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    """What the page and the CLI show: a sentence that says what to do, and a code to act on."""
    return web.json_response({"error": message, "code": code}, status=status, headers=headers)


def from_loopback(request: web.Request) -> bool:
    """From this machine, on the plain-HTTP loopback port (never through the LAN's HTTPS)."""
    return request.remote in ("127.0.0.1", "::1") and not request.secure
