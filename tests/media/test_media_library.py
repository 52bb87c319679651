"""The media library on a generated, realistic library: index, rescan, moves recognised, albums by
time and place, duplicates, organizing with undo, path safety, and SIGKILL in the middle of organizing."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant.core.config import MediaConfig
from assistant.core.errors import MediaError
from assistant.media.albums import Selection
from assistant.media.scan import content_hash
from assistant.media.service import MediaLibrary
from testbed.fakes.media_library import Made, make_library

TODAY = dt.date(2025, 11, 25)  # the generated photos run to 2025


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Made]]:
    root = tmp_path_factory.mktemp("pristine") / "Pictures"
    return root, make_library(root, photos=120, seed=3)


@pytest.fixture
def library(pristine: tuple[Path, list[Made]], tmp_path: Path) -> tuple[Path, list[Made]]:
    """A fresh copy for each test: tests move files around."""
    root = tmp_path / "Pictures"
    shutil.copytree(pristine[0], root, symlinks=True)
    made = [_rebased(m, pristine[0], root) for m in pristine[1]]
    return root, made


def _rebased(m: Made, old: Path, new: Path) -> Made:
    def move(p: Path | None) -> Path | None:
        return None if p is None else new / p.relative_to(old)

    return Made(
        **{
            **m.__dict__,
            "path": move(m.path),
            "duplicate_of": move(m.duplicate_of),
            "near_duplicate_of": move(m.near_duplicate_of),
        }
    )


def _media(tmp_path: Path, root: Path) -> MediaLibrary:
    media = MediaLibrary(tmp_path / "data", MediaConfig(), [root], today=lambda: TODAY)
    return media


def _hashes(root: Path) -> Counter[str]:
    return Counter(content_hash(str(p)) for p in root.rglob("*") if p.is_file())


def test_index_holds_what_the_files_say(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    media = _media(tmp_path, root)
    report = media.scan()
    assert report.added == len(made) and report.unreadable  # the damaged files are named, not fatal
    counts = media.counts()
    assert counts["music"] == sum(m.kind == "music" for m in made)
    assert counts["video"] == sum(m.kind == "video" for m in made)
    rows = {r.path: r for r in media.catalogue.files()}
    photos = [m for m in made if m.kind == "photo" and m.taken and m.city and m.duplicate_of is None]
    assert photos
    for m in photos:
        row = rows[str(m.path)]
        assert (row.taken, row.camera) == (m.taken, m.camera)
        assert row.place is not None and m.city is not None  # the nearest well-known place: "Setagaya" in Tokyo
    for city in {m.city for m in photos}:  # and a photo taken in a city is among "photos from" it
        assert city is not None
        chosen = {r.path for r in media.albums.select(Selection(place=city))}
        assert {str(m.path) for m in photos if m.city == city} <= chosen, city
    music = [m for m in made if m.kind == "music"]
    assert {rows[str(m.path)].genre for m in music} == {m.genre for m in music}


def test_rescan_reads_only_what_changed_and_follows_moved_files(
    library: tuple[Path, list[Made]], tmp_path: Path
) -> None:
    root, made = library
    media = _media(tmp_path, root)
    media.scan()
    again = media.scan()
    assert (again.added, again.changed, again.moved, again.removed) == (0, 0, 0, 0)
    photo = next(
        m for m in made if m.kind == "photo" and m.taken and m.duplicate_of is None and m.near_duplicate_of is None
    )
    album, count = media.albums.create("keep", Selection(when=photo.taken[:4]))
    row = media.catalogue.files("path = ?", (str(photo.path),))[0]
    moved_to = root / "Elsewhere" / "renamed.jpg"
    moved_to.parent.mkdir()
    os.rename(photo.path, moved_to)
    gone = next(m for m in made if m.kind == "music")
    gone.path.unlink()
    report = media.scan()
    assert (report.moved, report.removed, report.added) == (1, 1, 0)
    after = media.catalogue.files("path = ?", (str(moved_to),))[0]
    assert after.id == row.id and after.taken == row.taken
    assert str(moved_to) in {r.path for r in media.albums.files("keep")} and media.albums.size("keep") == count


def test_albums_by_time_place_and_camera(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    media = _media(tmp_path, root)
    media.scan()
    visual = [m for m in made if m.kind in ("photo", "video") and m.taken]
    summer = {str(m.path) for m in visual if m.taken and m.taken[:7] in ("2025-06", "2025-07", "2025-08")}
    album, count = media.albums.create("beach trip", Selection(when="last summer"))
    assert {r.path for r in media.albums.files("beach trip")} == summer and count == len(summer)
    paris = {str(m.path) for m in made if m.city == "Paris"}
    assert {r.path for r in media.albums.select(Selection(place="paris"))} >= paris - {
        str(m.path) for m in made if not m.taken and False
    }
    camera = next(m.camera for m in visual if m.camera)
    chosen = media.albums.select(Selection(camera=camera))
    assert chosen and all(r.camera == camera for r in chosen)
    with pytest.raises(MediaError, match="already an album"):
        media.albums.create("Beach Trip", Selection(when="last summer"))
    with pytest.raises(MediaError, match="place"):
        media.albums.select(Selection(place="atlantis-on-sea"))


def test_a_smart_album_takes_in_new_photos(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    media = _media(tmp_path, root)
    media.scan()
    media.albums.create("paris", Selection(place="Paris"), smart=True)
    before = media.albums.size("paris")
    source = next(m for m in made if m.city == "Paris" and m.duplicate_of is None)
    (root / "New").mkdir()
    shutil.copy(source.path, root / "New" / "copy.jpg")
    media.scan()
    assert media.albums.size("paris") == before + 1


def test_organize_by_year_and_month_and_undo(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    media = _media(tmp_path, root)
    media.scan()
    before = {str(p): content_hash(str(p)) for p in root.rglob("*") if p.is_file()}
    preview, _ = media.organize(dry_run=True)
    assert preview.planned and preview.moved == 0
    assert {str(p): content_hash(str(p)) for p in root.rglob("*") if p.is_file()} == before
    report, undated = media.organize()
    assert report.moved == len(preview.planned) and not report.failed
    dated = [m for m in made if m.kind == "photo" and m.taken and m.path.suffix != ".txt"]
    for row in media.catalogue.files("kind = 'photo' AND taken IS NOT NULL"):
        assert Path(row.path).parent.parent.name == row.taken[:4] and Path(row.path).exists()
    assert dated and _hashes(root) == Counter(before.values())
    undo = media.mover.undo()
    assert undo.restored == report.moved and not undo.conflicts
    assert {str(p): content_hash(str(p)) for p in root.rglob("*") if p.is_file()} == before
    assert {r.path for r in media.catalogue.files()} == {p for p in before if media.catalogue.count("path = ?", (p,))}


def test_duplicates_go_to_review_and_come_back(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    media = _media(tmp_path, root)
    media.scan()
    exact = {str(m.path) for m in made if m.duplicate_of is not None}
    near = {str(m.path) for m in made if m.near_duplicate_of is not None}
    groups = media.duplicates(near=True)
    found_exact = {r.path for g in groups if g.exact for r in [g.keep, *g.others]}
    assert exact <= found_exact
    found_near = {r.path for g in groups if not g.exact for r in [g.keep, *g.others]}
    assert len(near & found_near) >= 0.8 * len(near)
    before = _hashes(root)
    report = media.review_duplicates(near=True)
    assert report.moved == sum(len(g.others) for g in groups)
    assert _hashes(root) == before  # nothing deleted
    assert all("Duplicates to review" in m.dst for m in report.planned)
    assert not media.duplicates()  # the copies under review are not counted again
    media.mover.undo()
    assert _hashes(root) == before and not (root / "Duplicates to review").exists()


def test_paths_never_leave_the_library(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, _ = library
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"not yours")
    (root / "link-out").symlink_to(outside)
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    media = _media(tmp_path, root)
    report = media.scan()
    assert report.links_skipped >= 2
    assert not media.catalogue.files("path LIKE ?", ("%secret%",))
    for bad in (root / ".." / "outside" / "secret.jpg", root / "link-out" / "secret.jpg", outside):
        with pytest.raises(MediaError, match="outside the media library"):
            media.library.check(bad)
    # A year folder that is a link out of the library: organizing refuses before moving anything.
    row = media.catalogue.files("kind = 'photo' AND taken IS NOT NULL")[0]
    (root / row.taken[:4]).symlink_to(outside, target_is_directory=True)
    before = _hashes(root)
    with pytest.raises(MediaError, match="outside the media library"):
        media.organize()
    assert _hashes(root) == before and [p.name for p in outside.iterdir()] == ["secret.jpg"]


def test_adding_folders(tmp_path: Path) -> None:
    media = _media(tmp_path, tmp_path / "none")
    with pytest.raises(MediaError, match="does not exist"):
        media.library.add(tmp_path / "nope")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert media.library.add(tmp_path / "a")[1] is True
    assert media.library.add(tmp_path / "a")[1] is False
    with pytest.raises(MediaError, match="already in the library"):
        media.library.add(tmp_path / "a" / "b")


CRASH_CHILD = """
import sys
from pathlib import Path
from assistant.core.config import MediaConfig
from assistant.media.service import MediaLibrary
import assistant.media.moves as moves
moves.CHUNK = 3
media = MediaLibrary(Path(sys.argv[1]), MediaConfig(), [Path(sys.argv[2])])
print("ready", flush=True)
media.organize()
print("finished", flush=True)
"""


def test_sigkill_while_organizing_loses_nothing_and_undo_restores_all(
    library: tuple[Path, list[Made]], tmp_path: Path
) -> None:
    root, _ = library
    media = _media(tmp_path, root)
    media.scan()
    media.close()
    before = {str(p.relative_to(root)): content_hash(str(p)) for p in root.rglob("*") if p.is_file()}
    rng = random.Random(11)
    for round_ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(tmp_path / "data"), str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))  # not a wait: the kill lands at a random moment of the moves
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        # Every file is at its old place or its new one: the same contents, nothing lost or doubled.
        assert _hashes(root) == Counter(before.values()), f"round {round_}"
        media = _media(tmp_path, root)
        while True:
            try:
                report = media.mover.undo()
            except MediaError:
                break
            assert not report.conflicts
        media.close()
        after = {str(p.relative_to(root)): content_hash(str(p)) for p in root.rglob("*") if p.is_file()}
        assert after == before, f"round {round_}"
