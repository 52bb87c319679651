"""Real-life edges of the media library (issue 25): names that are not UTF-8, named pipes, sockets,
devices, folders called x.jpg, link loops, links out, empty and damaged files, very deep folders,
garbage in EXIF and ID3 tags, absurd spoken times, and selections that say a place and a time in one
breath. Each is indexed or skipped with a reason, never a hang, a traceback or a crash."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import piexif
import pytest
from PIL import Image

from assistant.core.config import MediaConfig
from assistant.core.errors import MediaError
from assistant.media.albums import Selection
from assistant.media.decoder import Decoder
from assistant.media.metadata import read_info
from assistant.media.player import Track
from assistant.media.scan import ScanReport
from assistant.media.service import MediaLibrary
from assistant.media.when import date_range
from assistant.plugins.api import saying

ASSISTANT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "assistant"
TODAY = dt.date(2025, 11, 25)
CAFE = b"caf\xe9.jpg"
"""A Latin-1 name, as an old camera or a Windows copy writes it: not UTF-8."""
T = TypeVar("T")


def jpeg(taken: str | None = "2023:07:14 10:00:00", gps: dict[int, Any] | None = None, colour: int = 10) -> bytes:
    exif: dict[str, Any] = {"0th": {}, "Exif": {}, "GPS": gps or {}}
    if taken is not None:
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    out = BytesIO()
    Image.new("RGB", (32, 24), (200, colour, 10)).save(out, "JPEG", exif=piexif.dump(exif))
    return out.getvalue()


def put(root: Path, name: bytes, data: bytes) -> bytes:
    """Write a file by its raw name (bytes: any name Linux allows); the name back."""
    path = os.path.join(os.fsencode(root), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def media_of(tmp_path: Path, root: Path) -> MediaLibrary:
    return MediaLibrary(tmp_path / "data", MediaConfig(), [root], today=lambda: TODAY)


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()` on a daemon thread, waited for on an event: a hang fails the test, it does not hang it."""
    done = threading.Event()
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), f"still running after {seconds} s: it hangs"
    if "error" in out:
        raise out["error"]
    return out["value"]


def snapshot(root: Path) -> dict[bytes, str]:
    """Every regular file under root by its raw relative name → a hash of its bytes."""
    out = {}
    base = os.fsencode(root)
    for folder, _, names in os.walk(base):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    out[os.path.relpath(path, base)] = hashlib.sha256(f.read()).hexdigest()
    return out


# --- 1. names that are not UTF-8 ------------------------------------------------------------------


@pytest.fixture
def latin1_library(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    put(root, b"ok.jpg", jpeg("2023:05:01 10:00:00", colour=10))
    put(root, CAFE, jpeg("2023:07:14 10:00:00", colour=90))
    put(root, b"d\xe9j\xe0/vu.jpg", jpeg("2022:01:02 10:00:00", colour=170))  # a folder, too
    put(root, b"copies/caf\xe9 (copy).jpg", jpeg("2023:07:14 10:00:00", colour=90))  # an exact copy
    return root


def test_a_name_that_is_not_utf8_is_indexed_under_its_own_name(latin1_library: Path, tmp_path: Path) -> None:
    media = media_of(tmp_path, latin1_library)
    report = media.scan()
    assert (report.added, report.unreadable, report.skipped) == (4, [], [])
    rows = {os.fsencode(r.path): r for r in media.catalogue.files()}
    cafe = rows[os.path.join(os.fsencode(latin1_library), CAFE)]  # the very bytes: it opens that file
    assert cafe.taken == "2023-07-14T10:00:00" and cafe.folder == ""
    assert rows[os.path.join(os.fsencode(latin1_library), b"d\xe9j\xe0/vu.jpg")].folder == os.fsdecode(b"d\xe9j\xe0")
    assert len(media.albums.select(Selection(when="july 2023"))) == 2
    again = media.scan()  # and a rescan knows it: nothing new, nothing gone
    assert (again.added, again.removed, again.unchanged) == (0, 0, 4)
    media.close()


def test_moves_and_albums_with_such_names_never_lose_or_change_a_file(latin1_library: Path, tmp_path: Path) -> None:
    before = snapshot(latin1_library)
    media = media_of(tmp_path, latin1_library)
    media.scan()
    album, count = media.albums.create("summer", Selection(when="2023"))
    assert count == 3
    report, undated = media.organize()
    assert (report.moved, report.failed, undated) == (4, [], 0)
    assert os.path.exists(os.path.join(os.fsencode(latin1_library), b"2023/07 July", CAFE))
    assert media.scan().added == 0  # the index followed every move
    assert {os.path.basename(os.fsencode(r.path)) for r in media.albums.files("summer")} == {
        b"ok.jpg",
        CAFE,
        b"caf\xe9 (copy).jpg",
    }
    undone = media.mover.undo()
    assert (undone.restored, undone.conflicts) == (4, [])
    assert snapshot(latin1_library) == before
    review = media.review_duplicates()
    assert (review.moved, review.failed) == (1, [])
    media.mover.undo()
    assert snapshot(latin1_library) == before
    media.close()


def test_such_names_in_albums_folders_and_songs_are_said_as_words(latin1_library: Path, tmp_path: Path) -> None:
    media = media_of(tmp_path, latin1_library)
    media.scan()
    assert len(media.albums.select(Selection(folder="déjà"))) == 1  # the Latin-1 folder, by its spoken name
    assert len(media.albums.select(Selection(folder="déjà", when="2022"))) == 1
    with pytest.raises(MediaError, match="an album's name must be text"):
        media.albums.create(os.fsdecode(b"caf\xe9"), Selection(when="2023"))
    media.close()
    song = os.fsdecode(put(tmp_path, b"caf\xe9 au lait.mp3", id3_mp3({})))
    assert Track(Path(song)).title == "café au lait"  # the title a voice can say; the path is untouched
    assert os.path.exists(Track(Path(song)).path)


def test_the_cli_shows_such_names_and_never_a_traceback(latin1_library: Path, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]

    def media(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ASSISTANT), "media", *args, *data], capture_output=True, text=True, timeout=120)

    added = media("add-folder", str(latin1_library))
    assert added.returncode == 0 and "Traceback" not in added.stderr, added.stderr
    assert "4 new" in added.stdout
    assert media("album", "july", "--when", "july 2023").returncode == 0
    shown = media("album", "july")
    assert shown.returncode == 0 and "caf\\xe9.jpg" in shown.stdout, shown.stderr  # the odd byte shown, escaped
    moved = media("organize")
    assert moved.returncode == 0 and "moved 4 photos" in moved.stdout, moved.stderr
    assert media("undo").returncode == 0
    odd_root = os.fsdecode(put(tmp_path, b"\xe9t\xe9/a.jpg", jpeg()))  # a library folder whose own name is not UTF-8
    other = media("add-folder", os.path.dirname(odd_root))
    assert other.returncode == 0 and "Traceback" not in other.stderr and "\\xe9t\\xe9" in other.stdout, other.stderr


def test_the_media_service_indexes_such_a_library_and_keeps_running(latin1_library: Path, tmp_path: Path) -> None:
    """The running assistant's media service: its first scan ends in the log line, not in an exception
    that would make the supervisor restart it into the same fault (6 restarts in 25 s)."""
    import logging

    from assistant.app.runtime import build_core
    from assistant.app.services import media_service
    from assistant.core.bus import Bus
    from assistant.core.config import load_config
    from testbed.harness import TEMPLATES_ONLY

    os.mkfifo(latin1_library / "pipe.jpg")
    env = {**TEMPLATES_ONLY, "ASSISTANT__FOLDERS__PHOTOS": str(latin1_library), "ASSISTANT__MEDIA__WATCH": "false"}
    core = build_core(load_config(environ=env), tmp_path / "data", Bus())

    async def run() -> str:
        loop = asyncio.get_running_loop()
        indexed = asyncio.Event()
        lines: list[str] = []

        class Catch(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.getMessage().startswith("media index"):
                    lines.append(record.getMessage())
                    loop.call_soon_threadsafe(indexed.set)

        handler = Catch(logging.INFO)
        services_log = logging.getLogger("assistant.app.services")
        services_log.addHandler(handler)
        services_log.setLevel(logging.INFO)
        service = media_service(core)
        await service.start()
        task = asyncio.create_task(service.watch())
        try:
            waiter = asyncio.create_task(indexed.wait())
            await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            assert not task.done(), task.exception() if task.done() else None  # still running: no crash
            assert lines, "the first scan did not end within 60 s"
            return lines[0]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.stop()
            services_log.removeHandler(handler)

    assert asyncio.run(run()) == "media index: 4 new, 0 changed, 0 moved, 0 gone"
    core.media.close()


# --- 2. things that are no regular file, and odd files -----------------------------------------------


@pytest.fixture
def odd_library(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    put(root, b"ok.jpg", jpeg())
    os.mkfifo(root / "pipe.jpg")
    os.mkfifo(root / "pipe.mp3")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "socket.mp4"))
    listener.close()  # the socket file stays
    if os.geteuid() == 0:  # /dev/zero under a photo's name: reading it would never end
        os.mknod(root / "zero.jpg", 0o600 | 0o020000, os.makedev(1, 5))
    put(root, b"folder.jpg/inside.jpg", jpeg("2021:01:01 10:00:00"))  # a folder named like a photo
    os.symlink("loop.jpg", root / "loop.jpg")  # a link to itself
    os.symlink("/etc/hostname", root / "out.jpg")  # links out of the library
    os.symlink("/etc", root / "outside")
    for name in (b"empty.jpg", b"empty.mp3", b"empty.mp4"):
        put(root, name, b"")
    put(root, b"cut.jpg", jpeg()[:40])
    put(root, b"noise.mp3", bytes(range(256)) * 20)
    put(root, b"noise.mp4", bytes(range(256)) * 20)
    put(root, b"/".join([b"d"] * 300) + b"/deep.jpg", jpeg("2020:01:01 10:00:00"))
    return root


def test_pipes_sockets_devices_links_and_damaged_files_never_hang_the_scan(odd_library: Path, tmp_path: Path) -> None:
    media = media_of(tmp_path, odd_library)
    report: ScanReport = within(60, media.scan)
    paths = {os.path.relpath(r.path, odd_library): r for r in media.catalogue.files()}
    assert {"ok.jpg", "folder.jpg/inside.jpg", "/".join(["d"] * 300) + "/deep.jpg"} <= set(paths)
    assert not {"pipe.jpg", "pipe.mp3", "socket.mp4", "zero.jpg", "loop.jpg", "out.jpg"} & set(paths)
    skipped = "\n".join(report.skipped)
    assert "pipe.jpg: it is a named pipe" in skipped and "socket.mp4: it is a socket" in skipped
    if os.geteuid() == 0:  # the fixture made /dev/zero's twin, which only root may
        assert "zero.jpg: it is a device" in skipped
    else:  # no device node without root: nothing of that name to skip
        assert not os.path.lexists(odd_library / "zero.jpg") and "zero.jpg" not in skipped
    assert report.links_skipped == 3
    unreadable = "\n".join(report.unreadable)
    for name in ("empty.jpg", "empty.mp3", "empty.mp4"):
        assert f"cannot read {name}: the file is empty" in unreadable
        assert paths[name].error is not None  # indexed, with the reason
    assert "cut.jpg" in unreadable and "noise.mp3" in unreadable and "noise.mp4" in unreadable
    assert paths["folder.jpg/inside.jpg"].taken == "2021-01-01T10:00:00"
    media.close()


def test_the_watcher_skips_a_pipe_and_reads_a_folder_moved_in(odd_library: Path, tmp_path: Path) -> None:
    media = media_of(tmp_path, odd_library)
    within(60, media.scan)
    os.mkfifo(odd_library / "new pipe.jpg")
    elsewhere = tmp_path / "elsewhere"
    put(elsewhere, b"trip.jpg/one.jpg", jpeg("2019:05:05 10:00:00"))
    put(elsewhere, b"trip.jpg/" + CAFE, jpeg("2019:05:06 10:00:00", colour=50))
    os.rename(elsewhere / "trip.jpg", odd_library / "trip.jpg")  # inotify tells of the folder only
    report = within(60, lambda: media.scanner.scan_paths([odd_library / "new pipe.jpg", odd_library / "trip.jpg"]))
    assert report.added == 2 and any("new pipe.jpg: it is a named pipe" in s for s in report.skipped)
    assert len(media.albums.select(Selection(when="may 2019"))) == 2
    media.close()


async def _watching(media: MediaLibrary, root: Path, steps: list[tuple[bytes, int]]) -> None:
    """Start the watcher, then for each (name, tries): write photos called name (N: the try) until the
    watcher reports one. It starts (again) in a thread of its own, and a file written before it
    watches is no news to it; a waited-for report is the only sign that it watches."""
    changed = asyncio.Event()
    await media.start_watching(lambda report: changed.set())
    try:
        for name, tries in steps:
            for n in range(tries):
                changed.clear()
                put(root, name.replace(b"N", str(n).encode()), jpeg(colour=n))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), 30 / tries)
                    break
            else:
                raise AssertionError(f"the watcher never reported {name!r}")
    finally:
        await media.stop_watching()


def _names(media: MediaLibrary) -> set[bytes]:
    return {os.path.basename(os.fsencode(r.path)) for r in media.catalogue.files()}


def test_the_watcher_survives_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """watchfiles cannot hand such a name over and ends ("Unable to decode path"): the library is then
    scanned whole, so the file is indexed, and watched again, so the next change is seen too."""
    root = tmp_path / "Pictures"
    put(root, b"ok.jpg", jpeg())
    media = media_of(tmp_path, root)
    media.scan()
    asyncio.run(_watching(media, root, [(b"probe N.jpg", 30), (CAFE, 1), (b"later N.jpg", 30)]))
    assert CAFE in _names(media) and any(n.startswith(b"later") for n in _names(media))
    media.close()


def test_a_folder_the_watcher_cannot_follow_is_looked_over_instead(latin1_library: Path, tmp_path: Path) -> None:
    """Under a folder whose name is not UTF-8 watchfiles cannot start at all: the library is looked
    over instead (soon, then each minute), never a watcher that restarts in a busy loop."""
    media = media_of(tmp_path, latin1_library)
    media.scan()
    asyncio.run(_watching(media, latin1_library, [(b"new.jpg", 1)]))
    assert b"new.jpg" in _names(media)
    media.close()


def test_the_player_refuses_a_pipe_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "song.mp3")
    with pytest.raises(MediaError, match="song.mp3 cannot be played: it is a named pipe"):
        within(20, lambda: Decoder(tmp_path / "song.mp3", 16000, 1, 1024))
    with pytest.raises(MediaError, match="song.mp3 cannot be read as audio: it is a named pipe"):
        within(20, lambda: Track.from_file(tmp_path / "song.mp3"))


def test_an_unforeseen_fault_ends_the_scan_with_a_media_error_not_an_exception(
    latin1_library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running assistant's media service logs a MediaError and carries on; any other exception
    restarts it into the same fault, over and over."""
    media = media_of(tmp_path, latin1_library)

    def broken(coords: Any, max_km: float = 50.0) -> Any:
        raise RuntimeError("the geocoder broke")

    monkeypatch.setattr(media.places, "nearest_many", broken)
    put(
        latin1_library,
        b"gps.jpg",
        jpeg(gps={1: b"N", 2: ((48, 1), (51, 1), (0, 1)), 3: b"E", 4: ((2, 1), (21, 1), (0, 1))}),
    )
    with pytest.raises(MediaError, match="the scan stopped at an unexpected fault .*the geocoder broke"):
        media.scan()
    media.close()


# --- 4. garbage inside files, absurd spoken times ------------------------------------------------------


def id3_mp3(frames: dict[bytes, bytes]) -> bytes:
    """An MPEG audio frame of silence behind an ID3v2.3 tag holding these raw frames."""

    def syncsafe(n: int) -> bytes:
        return bytes((n >> s) & 0x7F for s in (21, 14, 7, 0))

    body = b"".join(fid + struct.pack(">I", len(data)) + b"\0\0" + data for fid, data in frames.items())
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    return b"ID3\x03\0\0" + syncsafe(len(body)) + body + frame * 20


def test_garbage_in_tags_is_no_value_and_never_stops_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    put(root, b"year0.jpg", jpeg("0000:00:00 00:00:00"))
    put(root, b"year9999.jpg", jpeg("9999:12:31 23:59:59"))
    put(
        root, b"far north.jpg", jpeg(gps={1: b"N", 2: ((500, 1), (0, 1), (0, 1)), 3: b"E", 4: ((1, 0), (0, 1), (0, 1))})
    )
    put(
        root,
        b"odd tags.mp3",
        id3_mp3(
            {
                b"TIT2": b"\x01\xff\xfe\x00\xd8a\x00",  # UTF-16 with a lone surrogate
                b"TPE1": b"\x00caf\xe9\x00",  # Latin-1
                b"TRCK": b"\x00" + b"9" * 30,  # more than SQLite's 64 bits
                b"TYER": b"\x000000",
            }
        ),
    )
    media = media_of(tmp_path, root)
    report = within(60, media.scan)
    assert report.added == 4
    rows = {os.path.basename(r.path): r for r in media.catalogue.files()}
    assert rows["year0.jpg"].taken is None and rows["year9999.jpg"].taken is None
    assert (rows["far north.jpg"].lat, rows["far north.jpg"].place) == (None, None)
    song = rows["odd tags.mp3"]
    assert (song.artist, song.track, song.year) == ("café", None, None)
    assert media.organize(dry_run=True)[1] == 2  # the two without a date stay where they are
    media.close()
    info = read_info(Path(os.fsdecode(os.path.join(os.fsencode(root), b"odd tags.mp3"))))
    assert info.title is None or info.title.encode("utf-8")  # always text that can be stored and said


@pytest.mark.parametrize(
    "said",
    [
        "the last 99999999999 days",
        "the past 5000 years",
        "last 999999 weeks",
        "the last nine hundred ninety nine thousand years",
    ],
)
def test_an_absurd_span_is_no_time_rather_than_an_error(said: str) -> None:
    assert date_range(said, TODAY) is None


# --- 3. a place and a time in one breath ----------------------------------------------------------------


@pytest.fixture(scope="module")
def trips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos in Paris in 2023 and 2024, in Tokyo in summer 2025, in London in March 2024, one without a place."""
    root = tmp_path_factory.mktemp("trips") / "Pictures"

    def gps(lat: float, lon: float) -> dict[int, Any]:
        def dms(x: float) -> tuple[tuple[int, int], ...]:
            return ((int(x), 1), (int(x % 1 * 60), 1), (int((x * 3600) % 60 * 100), 100))

        return {1: b"N" if lat >= 0 else b"S", 2: dms(abs(lat)), 3: b"E" if lon >= 0 else b"W", 4: dms(abs(lon))}

    paris, tokyo, london = gps(48.8566, 2.3522), gps(35.6762, 139.6503), gps(51.5074, -0.1278)
    for i, (taken, where) in enumerate(
        [
            ("2023:05:01", paris),
            ("2023:07:14", paris),
            ("2023:09:09", paris),
            ("2024:05:01", paris),
            ("2025:07:01", tokyo),
            ("2025:08:02", tokyo),
            ("2024:03:03", london),
            ("2024:04:04", london),
            ("2023:06:06", None),
        ]
    ):
        put(root, f"{i}.jpg".encode(), jpeg(f"{taken} 10:00:00", where, colour=i * 25))
    return root


@pytest.fixture
def core(trips: Path, tmp_path: Path) -> Iterator[Any]:
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.clock import ManualClock
    from assistant.core.config import load_config
    from testbed.harness import TEMPLATES_ONLY

    clock = ManualClock(time.mktime((2025, 11, 25, 12, 0, 0, 0, 0, -1)))
    env = {**TEMPLATES_ONLY, "ASSISTANT__FOLDERS__PHOTOS": str(trips)}
    built = build_core(load_config(environ=env), tmp_path / "data", Bus(), clock)
    built.media.scan()
    yield built
    built.media.close()


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("how many photos did I take in Paris in 2023", "You have 3 photos from 2023 in Paris."),
        ("how many photos did I take in 2023 in paris", "You have 3 photos from 2023 in Paris."),
        ("how many photos did I take in japan last summer", "You have 2 photos from summer 2025 in Japan."),
        ("photos from japan last summer", "You have 2 photos from summer 2025 in Japan."),
        ("show me photos from london in march 2024", "You have one photo from March 2024 in London."),
        ("how many photos are there from paris in the summer of 2023", "You have one photo from summer 2023 in Paris."),
        # a place the library does not know: said, never a count of every photo from 2023
        ("how many photos did I take in narnia in 2023", "Sorry, I don't know a place called 'narnia'."),
        # words that are no time: named, never dropped
        (
            "how many photos did I take in paris in the blue moon",
            "Sorry, I don't know which dates 'the blue moon' means.",
        ),
        (
            "make an album called summer days with my photos from last summer",
            "I made the album summer days with 2 photos from summer 2025.",
        ),
    ],
)
def test_a_place_and_a_time_said_together_are_both_understood(core: Any, said: str, reply: str) -> None:
    assert asyncio.run(core.dialogue.handle(said)) == reply


def test_a_time_the_planner_filed_wrongly_or_left_out_is_still_used(core: Any) -> None:
    """The planner's arguments go through the same settle hook: a time filed as a folder, a place and a
    time in one argument, or a time left out of the arguments but said in the request."""
    count = core.registry.tool("media.count_photos")
    with saying("photos from japan last summer"):
        assert count.validate({"place": "japan", "folder": "last summer"}) == {"place": "japan", "when": "last summer"}
    with saying("how many photos did I take in paris in 2023"):
        assert count.validate({"place": "paris in 2023"}) == {"place": "paris", "when": "2023"}
    with saying("show me photos from london in march 2024"):
        assert count.validate({"place": "london"}) == {"place": "london", "when": "march 2024"}
    album = core.registry.tool("media.make_album")
    with saying("make an album called march 2024 with my photos from london"):  # the time is the album's name
        assert album.validate({"name": "march 2024", "place": "london"}) == {"name": "march 2024", "place": "london"}
    assert count.validate({"when": "paris", "place": "london"}) == {
        "when": "paris",
        "place": "london",
    }  # two places: said so


def test_the_cli_reads_a_place_and_a_time_in_one_option(trips: Path, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    assert (
        subprocess.run(
            [str(ASSISTANT), "media", "add-folder", str(trips), *data], capture_output=True, timeout=120
        ).returncode
        == 0
    )
    made = subprocess.run(
        [str(ASSISTANT), "media", "album", "p", "--when", "paris in 2023", *data],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0 and "3 photos from 2023 in Paris" in made.stdout, made.stderr
    unknown = subprocess.run(
        [str(ASSISTANT), "media", "album", "n", "--when", "narnia in 2023", *data],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        unknown.returncode != 0
        and "I don't know a place called 'narnia'" in unknown.stderr
        and "Traceback" not in unknown.stderr
    )
