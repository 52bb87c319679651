"""`assistant media add-folder|remove-folder|folders|scan|albums|album|duplicates|organize|undo|play`:
the media library from a shell, as text or `--json`. Long work shows a progress bar (on stderr);
every move can be previewed with --dry-run and is undone with `assistant media undo`."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.actions import actions_of
from assistant.core.config import Config
from assistant.core.errors import MediaError
from assistant.media.albums import Selection
from assistant.media.catalogue import FileRow
from assistant.media.moves import MoveReport
from assistant.media.names import shown
from assistant.trust.admin import record_admin

if TYPE_CHECKING:  # the library brings the place index (scipy) and the watcher: loaded when a command runs
    from assistant.media.service import MediaLibrary

WRITES = {"add-folder", "remove-folder", "scan", "album", "duplicates", "organize", "undo"}


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    action = actions_of(
        sub, "media", "the photo and music library: index, albums, duplicates, organizing, music", common
    )
    add = action("add-folder", "add a folder to the library and index it")
    add.add_argument("path", type=Path)
    add.add_argument("--no-scan", action="store_true", help="add it without indexing now")
    action("remove-folder", "take a folder out of the library (its files are not touched)").add_argument(
        "path", type=Path
    )
    action("folders", "the library's folders")
    action("scan", "bring the index up to date: new, changed, moved and removed files")
    action("albums", "every album and how many photos it holds")
    album = action("album", "show an album, or make one with --when/--place/--camera/--folder")
    album.add_argument("name")
    album.add_argument("--when", help="'last summer', '2023', 'march 2024' …")
    album.add_argument("--place", help="a city or country")
    album.add_argument("--camera")
    album.add_argument("--folder")
    album.add_argument(
        "--smart", action="store_true", help="keep the selection, not the files: new photos join by themselves"
    )
    album.add_argument("--replace", action="store_true", help="replace an album of that name")
    album.add_argument("--delete", action="store_true", help="delete the album (never its photos)")
    dup = action("duplicates", "list duplicate files; --move sets the copies aside in a review folder")
    dup.add_argument("--near", action="store_true", help="also photos that are resized or re-encoded copies")
    dup.add_argument(
        "--move", action="store_true", help="move the copies into 'Duplicates to review' (undo puts them back)"
    )
    dup.add_argument("--dry-run", action="store_true", help="show the moves without making them")
    org = action("organize", "move photos and videos into folders by year and month")
    org.add_argument("--dry-run", action="store_true", help="show the moves without making them")
    undo = action("undo", "put back the files of the last organize or duplicates move")
    undo.add_argument("--batch", type=int, help="a batch number from --list")
    undo.add_argument("--list", action="store_true", help="the recent batches of moves")
    play = action("play", "play music from the library here, until it ends or Ctrl+C")
    play.add_argument("--genre")
    play.add_argument("--artist")
    play.add_argument("--album")
    play.add_argument("--title")
    play.add_argument("--out", type=Path, help="write what is played to this WAV file instead of the speaker")


def writes(args: argparse.Namespace) -> str:
    if (
        args.action not in WRITES
        or (args.action == "album" and not _making(args) and not args.delete)
        or (args.action == "duplicates" and not args.move)
        or getattr(args, "dry_run", False)
        or (args.action == "undo" and args.list)
    ):
        return ""
    return "changing the media library from the shell (say it to the assistant, or stop it first)"


def run(args: argparse.Namespace, config: Config, data_dir: Path, roots: list[Path]) -> int:
    from assistant.media.service import MediaLibrary

    media = MediaLibrary(data_dir, config.media, roots)
    try:
        if args.action == "add-folder":
            return _add_folder(args, media, data_dir)
        return _ACTIONS[args.action](args, media)
    finally:
        media.close()


def _add_folder(args: argparse.Namespace, media: MediaLibrary, data_dir: Path) -> int:
    """Added folders are shown to the phones and can be reorganized: audited."""
    path, added = media.library.add(args.path)
    if added:
        record_admin(data_dir, "folder added", "cli", path=shown(path), to="media")
    report = None if args.no_scan else _scan_with_progress(media, args.json)
    if args.json:
        _json({"folder": str(path), "added": added, "scan": report.as_dict() if report else None})
    else:
        print(f"{'added' if added else 'already in the library:'} {shown(path)}")
        if report:
            _print_scan(report)
    return 0


def _remove_folder(args: argparse.Namespace, media: MediaLibrary) -> int:
    removed = media.library.remove(args.path)
    if not removed:
        raise MediaError(
            f"{shown(args.path)} is not one of the library's folders (`assistant media folders` lists them)"
        )
    _json({"removed": str(args.path)}) if args.json else print(
        f"removed {shown(args.path)} (its files are untouched; `assistant media scan` forgets them in the index)"
    )
    return 0


def _folders(args: argparse.Namespace, media: MediaLibrary) -> int:
    roots = [str(r) for r in media.library.roots()]
    if args.json:
        _json({"folders": roots, "counts": media.counts()})
    else:
        print("\n".join(map(shown, roots)) if roots else "no folders yet: `assistant media add-folder PATH`")
    return 0


def _scan(args: argparse.Namespace, media: MediaLibrary) -> int:
    report = _scan_with_progress(media, args.json)
    _json(report.as_dict()) if args.json else _print_scan(report)
    return 0


def _albums(args: argparse.Namespace, media: MediaLibrary) -> int:
    albums = [(a, media.albums.size(a.name)) for a in media.albums.all()]
    if args.json:
        _json(
            [
                {"name": a.name, "smart": a.smart, "photos": n, "selection": a.described, "created": a.created}
                for a, n in albums
            ]
        )
    elif not albums:
        print(
            'no albums yet: say "put my photos from last summer into an album called beach trip", '
            "or `assistant media album NAME --when 'last summer'`"
        )
    for a, n in albums if not args.json else []:
        print(f"{a.name:28s} {n:6d} photos  {'smart ' if a.smart else ''}{a.described}")
    return 0


def _making(args: argparse.Namespace) -> bool:
    return any((args.when, args.place, args.camera, args.folder))


def _album(args: argparse.Namespace, media: MediaLibrary) -> int:
    if args.delete:
        if not media.albums.delete(args.name):
            raise MediaError(f"there is no album called {args.name}")
        _json({"deleted": args.name}) if args.json else print(
            f"deleted the album {args.name} (its photos are untouched)"
        )
        return 0
    if _making(args):
        from assistant.media import spoken

        when, place = spoken.settle(args.when, args.place, media.albums.today(), media.places)  # --when "paris in 2023"
        album, count = media.albums.create(
            args.name, Selection(when, place, args.camera, args.folder), smart=args.smart, replace=args.replace
        )
        if args.json:
            _json({"album": album.name, "smart": album.smart, "photos": count, "selection": album.described})
        else:
            print(f"made the {'smart ' if album.smart else ''}album {album.name}: {count} photos {album.described}")
        return 0
    start = time.perf_counter()
    rows = media.albums.files(args.name)
    took = time.perf_counter() - start
    if args.json:
        _json({"album": args.name, "photos": [_row(r) for r in rows], "query_ms": round(took * 1000, 2)})
    else:
        for r in rows:
            print(f"{r.taken or '-':19s}  {r.place or '-':16s}  {shown(r.path)}")
        print(f"{len(rows)} photos")
    return 0


def _duplicates(args: argparse.Namespace, media: MediaLibrary) -> int:
    if args.move:
        report = media.review_duplicates(near=args.near, dry_run=args.dry_run)
        return _print_moves(args, report, "duplicates")
    groups = media.duplicates(near=args.near)
    if args.json:
        _json([{"exact": g.exact, "keep": g.keep.path, "copies": [r.path for r in g.others]} for g in groups])
        return 0
    for g in groups:
        print(f"{'exact' if g.exact else 'near '}  keep {shown(g.keep.path)}")
        for r in g.others:
            print(f"        copy {shown(r.path)}")
    copies = sum(len(g.others) for g in groups)
    print(f"{copies} copies in {len(groups)} groups" + (" (--move sets them aside for review)" if copies else ""))
    return 0


def _organize(args: argparse.Namespace, media: MediaLibrary) -> int:
    with _progress("moving", args.json) as tick:
        report, undated = media.organize(dry_run=args.dry_run, progress=tick)
    if not args.json and undated:
        print(f"{undated} photos or videos have no capture date and stay where they are")
    return _print_moves(args, report, "photos", {"undated": undated})


def _undo(args: argparse.Namespace, media: MediaLibrary) -> int:
    if args.list:
        batches = media.mover.batches()
        if args.json:
            _json(batches)
        for b in batches if not args.json else []:
            print(f"{b['batch']:4d}  {b['at']}  {b['state']:14s} {b['moves']:6d} moves  {b['what']}")
        return 0
    report = media.mover.undo(args.batch)
    if args.json:
        _json(report.as_dict())
    else:
        print(
            f"batch {report.batch} ({report.what}): {report.restored} files put back"
            + (f", {report.already_back} already in place" if report.already_back else "")
        )
        for c in report.conflicts:
            print(f"not put back: {shown(c)}")
    return 1 if report.conflicts else 0


def _play(args: argparse.Namespace, media: MediaLibrary) -> int:
    from assistant.audio.streams import SpeakerOutput, WavOutput
    from assistant.media.player import MusicPlayer

    rows = media.music(args.genre, args.artist, args.album, args.title)
    if not rows:
        raise MediaError("no music in the library matches that (`assistant media scan` first?)")
    done = threading.Event()
    player = MusicPlayer(
        (lambda: WavOutput(args.out, realtime=False)) if args.out else SpeakerOutput,
        on_change=lambda now: done.set() if now.track is None else None,
    )
    player.play([media.track_of(r) for r in rows])
    try:
        while not done.wait(0.5):
            now = player.now_playing()
            if now.track is not None and not args.json:
                print(f"\r{now.track.title[:40]:40s} {now.position_s:6.1f} s", end="", file=sys.stderr, flush=True)
    finally:
        player.close()
    if args.json:
        _json({"played": [r.path for r in rows]})
    else:
        print(f"\nplayed {len(rows)} tracks", file=sys.stderr)
    return 0


_ACTIONS: dict[str, Callable[[argparse.Namespace, MediaLibrary], int]] = {
    "remove-folder": _remove_folder,
    "folders": _folders,
    "scan": _scan,
    "albums": _albums,
    "album": _album,
    "duplicates": _duplicates,
    "organize": _organize,
    "undo": _undo,
    "play": _play,
}


# --- output ------------------------------------------------------------------------------------------


def _json(data: Any) -> None:
    print(json.dumps(data, indent=1, default=str))


def _row(r: FileRow) -> dict[str, Any]:
    return {"path": r.path, "taken": r.taken, "place": r.place, "camera": r.camera, "kind": r.kind}


@contextmanager
def _progress(what: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (nothing with --json or when stderr is not a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total or None)


def _scan_with_progress(media: MediaLibrary, quiet: bool) -> Any:
    with _progress("indexing", quiet) as tick:
        return media.scan(lambda stage, done, total: tick(done, total) if stage == "read" else None)


def _print_scan(report: Any) -> None:
    print(
        f"{report.added} new, {report.changed} changed, {report.moved} moved, {report.removed} gone, "
        f"{report.unchanged} unchanged in {report.seconds:.2f} s"
    )
    if report.links_skipped:
        print(f"{report.links_skipped} links not followed (a link could lead out of the library)")
    for label, lines in (("unreadable", report.unreadable), ("skipped", report.skipped)):
        for line in lines[:20]:
            print(f"{label}: {shown(line)}")
        if len(lines) > 20:
            print(f"… and {len(lines) - 20} more {label} files")


def _print_moves(args: argparse.Namespace, report: MoveReport, noun: str, extra: dict[str, Any] | None = None) -> int:
    if args.json:
        _json({**report.as_dict(), **(extra or {})})
        return 1 if report.failed else 0
    if report.dry_run:
        for m in report.planned:
            print(f"{shown(m.src)}\n  -> {shown(m.dst)}")
        print(f"{len(report.planned)} {noun} would move (nothing was moved: this was a dry run)")
        return 0
    print(
        f"moved {report.moved} {noun}"
        + (f" (batch {report.batch}; `assistant media undo` puts them back)" if report.moved else "")
    )
    for line in report.failed:
        print(f"not moved: {shown(line)}")
    return 1 if report.failed else 0
