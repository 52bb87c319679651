"""What the phone page shows, as JSON: timers, alarms, reminders, routines with their recent runs,
devices by room with their state, albums and the player. The same records the CLIs print with
`--json`, so a script and the page never disagree."""

from __future__ import annotations

import asyncio
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.plugins.api import Speaker
from assistant.routines.workflows import routine_row
from assistant.scheduling.items import theirs
from assistant.scheduling.records import record
from assistant.web.page_core import PageCore

RECENT_RUNS = 5
STATE_TIMEOUT_S = 1.5
THUMB_PX = 320
ALBUM_PREVIEW = 4


async def state(core: PageCore, asker: Speaker | None) -> dict[str, Any]:
    """`asker`: whom the phone asks as (phone_person.speaker_of): a phone paired as Anna is shown her
    alarms and reminders and the household's, a guest's the household's only, as by voice."""
    scheduler = core.scheduler
    devices, (albums, playing) = await asyncio.gather(_devices(core), asyncio.to_thread(_media, core))
    return {
        "now": scheduler.now(),
        "timers": [record(scheduler, t) for t in scheduler.timers()],
        "alarms": [record(scheduler, a) for a in theirs(scheduler.alarms(), asker)],
        "reminders": [record(scheduler, r) for r in theirs(scheduler.reminders(), asker)],
        "routines": _routines(core),
        "devices": devices,
        "albums": albums,
        "playing": playing,
    }


def _routines(core: PageCore) -> list[dict[str, Any]]:
    host = core.routines
    out = []
    for routine in host.routines.values():
        runs = host.runner.history(routine.name)[-RECENT_RUNS:]
        out.append(
            {
                **routine_row(routine, host.enabled(routine.name)),
                "runs": [
                    {
                        "run_id": r["run_id"],
                        "trigger": r["trigger"],
                        "state": r["state"],
                        "started_at": r["started_at"],
                        "steps": {step: info.get("state") for step, info in r.get("steps", {}).items()},
                    }
                    for r in reversed(runs)
                ],
            }
        )
    return out


async def _devices(core: PageCore) -> list[dict[str, Any]]:
    hub = core.devices
    devices = hub.registry.all()
    online = [d for d in devices if d.online]
    # The state each device last reported (its pushes and polls keep it fresh: devices/watch.py);
    # only a device never heard from yet is asked now, so one slow device blanks no other's state.
    known = {d.id: state for d in online if (state := hub.registry.state_of(d.id)) is not None}
    states: dict[str, Any] = {device_id: asdict(state) for device_id, state in known.items()}
    unheard = [d for d in online if d.id not in known]
    if unheard:
        try:
            async with asyncio.timeout(STATE_TIMEOUT_S):
                outcomes = await hub.act(unheard, "state")
            states.update({o.device.id: asdict(o.state) for o in outcomes if o.ok and o.state is not None})
        except TimeoutError:
            pass
    return [{**asdict(d), "state": states.get(d.id)} for d in sorted(devices, key=lambda d: (d.room or "~", d.name))]


def _media(core: PageCore) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    media = core.media
    if media is None:
        return [], None
    albums = []
    for album in media.albums.all():
        files = media.albums.files(album.name)
        photos = [f for f in files if f.kind == "photo"]
        albums.append(
            {
                "name": album.name,
                "smart": album.smart,
                "described": album.described,
                "count": len(files),
                "preview": [f.id for f in photos[:ALBUM_PREVIEW]],
            }
        )
    return albums, media.player.now_playing().record() if media.player is not None else None


def thumbnail(core: PageCore, file_id: int) -> bytes | None:
    """A small JPEG of an indexed photo (made once, kept in the data folder); None when it is not a
    photo in the library any more or cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    media = core.media
    if media is None:
        return None
    row = media.catalogue.file(file_id)
    if row is None or row.kind != "photo":
        return None
    try:
        path = media.library.check(row.path)
    except Exception:
        return None
    cache = Path(core.data_dir) / "web" / "thumbs" / f"{file_id}-{row.mtime_ns}.jpg"
    if cache.exists():
        return cache.read_bytes()
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((THUMB_PX, THUMB_PX))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_bytes(out.getvalue())
    tmp.replace(cache)
    return out.getvalue()
