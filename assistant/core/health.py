"""How the running assistant reports its services: `status.json` in the data folder (read by
`assistant status`, refreshed every few seconds so a stalled process shows as one) and `GET /health`
on the loopback port (for a monitor: 200 when every service runs, 503 when one does not)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiohttp is loaded by the endpoint, not by `assistant status`
    from aiohttp import web

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
HEARTBEAT_S = 5.0
STALE_S = 30.0
"""`assistant status` calls a running assistant whose report is older than this not responding."""

Report = Callable[[], dict[str, Any]]


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def write_status(data_dir: Path, report: dict[str, Any]) -> None:
    """Replace the file in one rename (a reader never sees half of it); not fsynced: it is a report,
    rewritten every few seconds, not data."""
    path = status_path(data_dir)
    # One temp file per writer: the heartbeat's thread and the supervisor's changes write at once.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    os.replace(temp, path)


async def heartbeat(data_dir: Path, report: Report) -> None:
    """Refresh the status file until cancelled."""
    while True:
        try:
            await asyncio.to_thread(write_status, data_dir, report())
        except OSError as e:
            log.warning("cannot write %s: %s", status_path(data_dir), e.strerror)
        await asyncio.sleep(HEARTBEAT_S)


def health_response(report: dict[str, Any]) -> web.Response:
    from aiohttp import web

    return web.json_response(report, status=200 if report.get("healthy") else 503)


@contextlib.asynccontextmanager
async def health_endpoint(report: Report, port: int) -> AsyncIterator[str | None]:
    """`GET /health` on 127.0.0.1:port, for a run without the phone page (which serves it itself).
    A port in use is a warning, not a reason to stop listening for the wake word. Yields the URL."""
    from aiohttp import web

    async def health(request: web.Request) -> web.Response:
        return health_response(report())

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    url = None
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        url = f"http://127.0.0.1:{port}/health"
    except OSError as e:
        log.warning(
            "the health endpoint cannot listen on 127.0.0.1:%d (%s); `assistant status` still works",
            port,
            e.strerror or e,
        )
    try:
        yield url
    finally:
        await runner.cleanup()


def read_status(data_dir: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(status_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("services"), list) else None


def age_s(report: dict[str, Any]) -> float:
    return max(0.0, time.time() - float(report.get("updated_at", 0)))
