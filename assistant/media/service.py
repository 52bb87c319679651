"""The media library as one service: the index, its roots, scanning and watching, albums, duplicates,
organizing with undo, and finding music. The skill and `assistant media …` both use it; its
methods do disk work and are called from worker threads, never from the event loop. Scans and
moves run on the library's own low-priority thread and give way to the voice (assistant/core/background.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from assistant.core.background import BackgroundWorker, Foreground
from assistant.core.config import MediaConfig
from assistant.core.errors import MediaError
from assistant.media.albums import Albums
from assistant.media.catalogue import Catalogue, FileRow
from assistant.media.library import Library
from assistant.media.moves import Mover, MoveReport
from assistant.media.names import shown
from assistant.media.organize import DuplicateGroup, by_year_and_month, exact_duplicates, near_duplicates, to_review
from assistant.media.places import Places
from assistant.media.player import MusicPlayer, Track
from assistant.media.scan import Progress, Scanner, ScanReport

log = logging.getLogger(__name__)

INDEX_FILE = "media.sqlite"
WATCH_RETRY_S, WATCH_RETRY_MAX_S = 1.0, 60.0
"""How long the watcher waits before it starts again after it failed, doubling up to the most."""


class MediaLibrary:
    def __init__(
        self,
        data_dir: Path,
        config: MediaConfig,
        extra_roots: list[Path] | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        player: MusicPlayer | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self.config = config
        self.foreground = foreground or Foreground()
        self.background = BackgroundWorker("media")
        self._closing = threading.Event()
        self.player = player
        self.catalogue = Catalogue(data_dir / INDEX_FILE)
        self.library = Library(self.catalogue, [Path(p) for p in config.folders] + (extra_roots or []))
        self.places = Places()
        self.scanner = Scanner(self.catalogue, self.library, self.places, self._give_way)
        self.albums = Albums(self.catalogue, self.places, today)
        self.mover = Mover(self.catalogue, self.library, self.foreground.give_way)
        self._watch_task: asyncio.Task[None] | None = None
        self._stop_watch: asyncio.Event | None = None

    def close(self) -> None:
        """Stops a scan in progress at its next file (what it read is kept) and closes the index."""
        self._closing.set()
        self.background.close()
        if self.player is not None:
            self.player.close()
        self.catalogue.close()

    def _give_way(self) -> None:
        self.foreground.give_way(self._closing)
        if self._closing.is_set():
            raise MediaError(
                "the assistant is stopping: the scan stopped here and what it read is kept; "
                "the next scan goes on from there"
            )

    # --- the index ------------------------------------------------------------------------------

    def scan(self, progress: Progress | None = None) -> ScanReport:
        self._check_roots()
        return self.background.run(self._scan, progress)

    async def scan_async(self) -> ScanReport:
        """The same from the event loop, awaited without holding one of its worker threads for the
        whole scan (the voice loop runs on those)."""
        self._check_roots()
        return await self.background.run_async(self._scan, None)

    def _scan(self, progress: Progress | None) -> ScanReport:
        """A fault the scanner did not foresee is a MediaError too: the running assistant's media
        service logs it and carries on (an exception would restart it into the same fault, over and
        over), and the shell shows a sentence, not a traceback. What was read before it is kept."""
        try:
            return self.scanner.scan(progress)
        except MediaError:
            raise
        except Exception as e:
            log.exception("media scan failed")
            raise MediaError(
                f"the scan stopped at an unexpected fault ({type(e).__name__}: {shown(str(e))}); "
                "what it read before is kept"
            ) from e

    def _check_roots(self) -> None:
        if not self.library.roots():
            raise MediaError(
                "the library has no folders yet: add one with `assistant media add-folder PATH` "
                "or media.folders in the config"
            )

    def counts(self) -> dict[str, int]:
        return {kind: n for kind, n in self.catalogue.query("SELECT kind, COUNT(*) FROM files GROUP BY kind")}

    # --- organizing -----------------------------------------------------------------------------

    def organize(
        self, dry_run: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> tuple[MoveReport, int]:
        moves, undated = by_year_and_month(self.catalogue, self.library.roots())
        return self.background.run(
            self.mover.run, "organize photos by year and month", moves, dry_run, progress
        ), undated

    def duplicates(self, near: bool = False) -> list[DuplicateGroup]:
        groups = exact_duplicates(self.catalogue)
        return groups + near_duplicates(self.catalogue) if near else groups

    def review_duplicates(self, near: bool = False, dry_run: bool = False) -> MoveReport:
        moves = to_review(self.duplicates(near), self.library.roots())
        return self.background.run(self.mover.run, "duplicates to the review folder", moves, dry_run)

    # --- music ----------------------------------------------------------------------------------

    def music(
        self, genre: str | None = None, artist: str | None = None, album: str | None = None, title: str | None = None
    ) -> list[FileRow]:
        """Tracks matching every given tag (case-insensitive, whole value or words within it), in
        album and track order."""
        where, params = ["kind = 'music'"], []
        for column, value in (("genre", genre), ("artist", artist), ("album", album), ("title", title)):
            if value:
                where.append(f"({column} = ? COLLATE NOCASE OR {column} LIKE ? COLLATE NOCASE)")
                params += [value.strip(), f"%{value.strip()}%"]
        return self.catalogue.files(" AND ".join(where), params, order="artist, album, track, path")

    @staticmethod
    def track_of(row: FileRow) -> Track:
        """A music row as the player's track (the title falls back to the file's name)."""
        return Track(Path(row.path), row.title or "", row.artist, row.album, row.duration_s)

    def music_names(self) -> dict[str, list[str]]:
        """Album, artist and genre names in the library: sentence slot lists and speech hints."""
        out = {}
        for column in ("album", "artist", "genre"):
            rows = self.catalogue.query(
                f"SELECT DISTINCT {column} FROM files WHERE kind = 'music' AND {column} IS NOT NULL "
                f"ORDER BY {column} COLLATE NOCASE"
            )
            out[column] = [r[0] for r in rows if r[0].strip()]
        return out

    # --- watching -------------------------------------------------------------------------------

    async def start_watching(self, on_change: Callable[[ScanReport], None] | None = None) -> None:
        """Follow changes under the roots while the assistant runs (inotify through watchfiles)."""
        roots = [r for r in self.library.roots() if r.is_dir()]
        if not roots or self._watch_task is not None:
            return
        import watchfiles

        self._stop_watch = asyncio.Event()
        stop = self._stop_watch

        async def handle(paths: list[Path] | None) -> None:
            """Index what changed (None: everything, when the watcher could not say what)."""
            try:
                if paths is None:
                    report = await self.background.run_async(self._scan, None)
                else:
                    report = await self.background.run_async(self.scanner.scan_paths, paths)
            except MediaError as e:
                log.warning("media watcher: %s", e.message)
                return
            except Exception:
                log.exception("media watcher failed on %s changes", len(paths) if paths is not None else "unknown")
                return
            if on_change is not None and (report.added or report.changed or report.moved or report.removed):
                on_change(report)

        async def watch() -> None:
            pause, said = WATCH_RETRY_S, ""
            while not stop.is_set():
                try:
                    async for changes in watchfiles.awatch(
                        *roots, stop_event=stop, debounce=400, step=100, recursive=True, ignore_permission_denied=True
                    ):
                        await handle([Path(p) for _, p in changes])
                        pause = WATCH_RETRY_S
                    return  # stopped
                except Exception as e:  # noqa: BLE001 - the watcher's own fault, e.g. a name that is not UTF-8
                    # watchfiles cannot hand over a name that is not UTF-8 ("Unable to decode path"): a
                    # file's ends it when the file changes, a folder's as soon as it starts. Which files
                    # changed is lost with it, so the whole library is looked over (a stat() per
                    # unchanged file) and the watcher starts again, waiting longer each time it fails
                    # again: under a folder it can never follow, the library is looked over each minute.
                    fault = shown(str(e))
                    (log.debug if fault == said else log.warning)(
                        "media watcher stopped (%s); the library is scanned whole and watched again", fault
                    )
                    said = fault
                    await handle(None)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
                    pause = min(pause * 2, WATCH_RETRY_MAX_S)

        self._watch_task = asyncio.create_task(watch())

    async def wait_watching(self) -> None:
        """Returns when the watcher has ended (or none runs); raises if it crashed."""
        if self._watch_task is not None:
            await asyncio.shield(self._watch_task)

    async def stop_watching(self) -> None:
        if self._watch_task is None or self._stop_watch is None:
            return
        self._stop_watch.set()
        try:
            await asyncio.wait_for(self._watch_task, 5)
        except (TimeoutError, asyncio.CancelledError):
            self._watch_task.cancel()
        except Exception:  # it had crashed: it is stopped all the same
            pass
        self._watch_task = None
