"""What every API request must show before its token is even looked at.

- Its Host is a name or address the page is served under, on the port it came in on: a page on
  another site whose name an attacker re-points at this machine (DNS rebinding) is refused.
- A request that changes something (POST, PUT, PATCH, DELETE) and the websocket come from the page
  itself: an Origin header, when sent, equals the page's own scheme://host:port; a request that
  carries the page's cookie must send one (browsers always do). A script with a bearer token and no
  Origin is not a browser tricked by another site, and passes.
- A request with a body declares it as application/json (415 otherwise): another site's form or
  `text/plain` fetch, which needs no permission from us, is never read as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from yarl import URL

COOKIE = "assistant_token"
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GUARDED = ("/api/", "/admin/")


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    code: str


def refusal(request: web.Request, names: frozenset[str]) -> Refusal | None:
    """Why `request` must be refused before anything else (None: it may go on). names: the host names
    and addresses the page is served under, in lower case."""
    if not request.path.startswith(GUARDED):
        return None
    own = _own_origin(request, names)
    if own is None:
        host = request.headers.get("Host", "")
        return Refusal(
            421,
            f"this assistant does not answer for the host {host[:80]!r}: open it by one of its own names or addresses",
            "wrong_host",
        )
    if request.method not in CHANGING and not _websocket(request):
        return None
    wrong = _origin_refusal(request, own)
    if wrong is not None:
        return wrong
    media_type = _media_type(request)
    if (request.method in ("POST", "PUT", "PATCH") or request.body_exists) and media_type != "application/json":
        return Refusal(
            415, f"send the body as application/json, not {media_type[:80] or 'nothing'}", "unsupported_media_type"
        )
    return None


def _media_type(request: web.Request) -> str:
    """The Content-Type's media type; "unreadable" for a header Python's email parser, which aiohttp
    uses for it and for the body's charset, raises on ("a/b; c*": IndexError, a 500 found by the
    fuzz). Refused here, no handler meets it."""
    try:
        return request.content_type
    except Exception:  # noqa: BLE001  (the parser's own bugs: IndexError, ValueError, …)
        return "unreadable"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _origin_refusal(request: web.Request, own: tuple[str, str, int]) -> Refusal | None:
    origin = request.headers.get("Origin")
    if origin is None:
        if COOKIE in request.cookies and bearer(request) is None:
            return Refusal(
                403,
                "a request carrying the page's cookie must say where it comes from (an Origin header)",
                "forbidden_origin",
            )
        return None
    if _origin_of(origin) != own:
        return Refusal(
            403,
            f"requests from {origin[:80]!r} are refused: only the page itself may change things",
            "forbidden_origin",
        )
    return None


def _own_origin(request: web.Request, names: frozenset[str]) -> tuple[str, str, int] | None:
    """(scheme, host, port) of the page as this request reached it; None when its Host is not ours."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not sockname:
        return None
    origin = _origin_of(f"{request.scheme}://{request.headers.get('Host', '')}")
    if origin is None or origin[1] not in names or origin[2] != sockname[1]:
        return None
    return origin


def _origin_of(text: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port) of an origin or URL, the default port filled in; None when malformed."""
    try:
        url = URL(text)
        if (
            url.scheme not in ("http", "https")
            or not url.host
            or url.port is None
            or url.path not in ("", "/")
            or url.user is not None
            or url.query_string
            or url.fragment
        ):
            return None
        return url.scheme, url.host.lower().rstrip("."), url.port
    except (ValueError, TypeError, UnicodeError, IndexError):  # IndexError: yarl on a Host such as "[]@" (the fuzz)
        return None


def _websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"
