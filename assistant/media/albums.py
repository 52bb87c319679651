"""Albums: a selection of photos and videos by date range, place, camera or folder.

A plain album keeps the files chosen when it was made (they stay in it when they are moved, as the
index follows them by id). A smart album keeps its selection instead and is worked out again on
every look, so new photos from the same trip join it by themselves; its time is re-read against
today ("this year" moves on).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from assistant.core.errors import MediaError
from assistant.media.catalogue import Catalogue, FileRow
from assistant.media.names import is_text, shown, spoken_name
from assistant.media.places import KM_PER_DEGREE, Places
from assistant.media.when import date_range

VISUAL = "kind IN ('photo', 'video')"


@dataclass(frozen=True)
class Selection:
    """What a person asked for; every part optional. `when` and `place` are kept as said."""

    when: str | None = None
    place: str | None = None
    camera: str | None = None
    folder: str | None = None

    def describe(self, today: dt.date, places: Places) -> str:
        parts = []
        if self.when:
            span = date_range(self.when, today)
            parts.append(f"from {span.spoken}" if span else f"from {self.when}")
        if self.place:
            parts.append(f"in {self.place.title()}")
        if self.camera:
            parts.append(f"taken with the {spoken_name(self.camera)}")
        if self.folder:
            parts.append(f"in the folder {spoken_name(self.folder)}")
        return " ".join(parts) or "everything"


@dataclass(frozen=True)
class Album:
    name: str
    smart: bool
    selection: Selection
    described: str
    created: str


class Albums:
    def __init__(self, catalogue: Catalogue, places: Places, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.catalogue = catalogue
        self.places = places
        self.today = today

    # --- selecting -------------------------------------------------------------------------------

    def select(self, selection: Selection, limit: int | None = None) -> list[FileRow]:
        """The photos and videos a selection covers, oldest first. MediaError for a time or place
        that cannot be understood, so nobody gets an album of everything by mistake."""
        where, params = [VISUAL], []
        if selection.when:
            span = date_range(selection.when, self.today())
            if span is None:
                raise MediaError(f"I don't know which dates '{selection.when}' means")
            low, high = span.iso_bounds()
            where.append("taken >= ? AND taken < ?")
            params += [low, high]
        if selection.camera:
            where.append("camera LIKE ? COLLATE NOCASE")
            params.append(f"%{selection.camera.strip()}%")
        if selection.folder:
            # A folder whose name is not UTF-8 is stored as bytes: matched by the name as it is said.
            where.append(
                "(folder LIKE ? COLLATE NOCASE OR root LIKE ? COLLATE NOCASE OR (typeof(folder) = 'blob' "
                "AND spoken_name(folder) LIKE ?) OR (typeof(root) = 'blob' AND spoken_name(root) LIKE ?))"
            )
            params += [f"%{spoken_name(selection.folder.strip())}%"] * 4
        if selection.place:
            clause, place_params = self._place_filter(selection.place)
            if not selection.when:
                # Without a date range, the place's own indexes (country, lat) find the few rows
                # faster than walking every photo by kind: 59 ms instead of 130 ms at 100,000.
                where[0] = "+" + VISUAL
            where.append(clause)
            params += place_params
        return self.catalogue.files(" AND ".join(where), params, limit=limit)

    def _place_filter(self, spoken: str) -> tuple[str, list[Any]]:
        """SQL for "taken in `spoken`": a country by its code; a city when the photo's nearest city
        (worked out at indexing) is that city, or it lies within the city's radius. The distance is
        the equirectangular one, done by SQLite without a call back into Python per row; within a
        city's radius (tens of km) it differs from the great-circle distance by well under 1 %."""
        code = self.places.country(spoken)
        if code is not None:
            return "country = ?", [code]
        candidates = self.places.find(spoken)
        if not candidates:
            raise MediaError(f"I don't know a place called '{spoken}'")
        place = candidates[0]
        radius = self.places.radius_km(place)
        dlat = radius / KM_PER_DEGREE
        shrink = max(0.01, math.cos(math.radians(place.lat)))
        dlon = dlat / shrink
        clause = (
            "((place = ? COLLATE NOCASE AND country = ?) OR (lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
            " AND (lat - ?) * (lat - ?) + (lon - ?) * (lon - ?) * ? <= ?))"
        )
        params = [
            place.name,
            place.country_code,
            place.lat - dlat,
            place.lat + dlat,
            place.lon - dlon,
            place.lon + dlon,
            place.lat,
            place.lat,
            place.lon,
            place.lon,
            shrink * shrink,
            dlat * dlat,
        ]
        return clause, params

    # --- albums ------------------------------------------------------------------------------------

    def create(self, name: str, selection: Selection, smart: bool = False, replace: bool = False) -> tuple[Album, int]:
        """Make an album; (the album, how many files it holds). Refuses an empty selection and a
        name in use (unless `replace`)."""
        name = " ".join(name.split())
        if not name:
            raise MediaError("an album needs a name")
        if not is_text(name):
            raise MediaError(f"an album's name must be text; {shown(name)} holds bytes that are no letters")
        rows = self.select(selection)
        if not rows:
            raise MediaError(
                f"there are no photos {selection.describe(self.today(), self.places)} in the library"
                + (
                    ""
                    if self.catalogue.count(VISUAL)
                    else " (it is empty: add a folder with `assistant media add-folder PATH`)"
                )
            )
        described = selection.describe(self.today(), self.places)
        album = Album(name, smart, selection, described, dt.datetime.now().isoformat(timespec="seconds"))
        with self.catalogue.transaction() as db:
            exists = db.execute("SELECT 1 FROM albums WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise MediaError(f"there is already an album called {name}")
            db.execute("DELETE FROM albums WHERE name = ?", (name,))
            db.execute(
                "INSERT INTO albums VALUES (?, ?, ?, ?, ?)",
                (name, int(smart), json.dumps(asdict(selection)), described, album.created),
            )
            if not smart:
                db.executemany("INSERT INTO album_files VALUES (?, ?)", [(name, r.id) for r in rows])
        return album, len(rows)

    def get(self, name: str) -> Album | None:
        rows = self.catalogue.query(
            "SELECT name, smart, query, described, created FROM albums WHERE name = ?", (" ".join(name.split()),)
        )
        return _album(rows[0]) if rows else None

    def all(self) -> list[Album]:
        return [
            _album(r)
            for r in self.catalogue.query("SELECT name, smart, query, described, created FROM albums ORDER BY name")
        ]

    def files(self, name: str) -> list[FileRow]:
        album = self.get(name)
        if album is None:
            raise MediaError(f"there is no album called {name}" + _known(self.all()))
        if album.smart:
            return self.select(album.selection)
        return self.catalogue.files("id IN (SELECT file FROM album_files WHERE album = ?)", (album.name,))

    def size(self, name: str) -> int:
        return len(self.files(name))

    def delete(self, name: str) -> bool:
        """Removes the album, never its files."""
        with self.catalogue.transaction() as db:
            return db.execute("DELETE FROM albums WHERE name = ?", (" ".join(name.split()),)).rowcount > 0

    def names(self) -> list[str]:
        return [a.name for a in self.all()]


def _album(row: tuple[Any, ...]) -> Album:
    name, smart, query, described, created = row
    return Album(name, bool(smart), Selection(**json.loads(query)), described, created)


def _known(albums: list[Album]) -> str:
    return f" (there are: {', '.join(a.name for a in albums[:8])})" if albums else " (there are none yet)"
