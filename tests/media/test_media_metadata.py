"""assistant.media.metadata against real files whose truth is known: a generated library (JPEG with
camera EXIF, PNG, HEIC, MP4/MOV, MP3/FLAC/OGG/M4A) and small hand-made JPEGs for the edge cases."""

from __future__ import annotations

import random
import time
from io import BytesIO
from pathlib import Path

import piexif
import pytest
from PIL import Image

from assistant.core.errors import MediaError
from assistant.media.metadata import (
    MUSIC_EXTENSIONS,
    PHOTO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    MediaInfo,
    hamming,
    kind_of,
    perceptual_hash,
    read_info,
)
from testbed.fakes.media_library import Made, make_library, make_small_photos


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[Made]:
    return make_library(tmp_path_factory.mktemp("library"), photos=300, seed=7)


def _readable(library: list[Made], kind: str) -> list[Made]:
    return [m for m in library if m.kind == kind and m.corrupt is None]


def _jpeg(path: Path, exif: dict | None) -> Path:
    """A small real JPEG with exactly this EXIF (piexif's dict form)."""
    buffer = BytesIO()
    extra = {"exif": piexif.dump(exif)} if exif else {}
    Image.new("RGB", (40, 30), (200, 120, 40)).save(buffer, "JPEG", **extra)
    path.write_bytes(buffer.getvalue())
    return path


# --- kinds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.jpg", "photo"), ("a.JPG", "photo"), ("a.jpeg", "photo"), ("a.png", "photo"),
        ("a.heic", "photo"), ("a.HEIF", "photo"),
        ("a.mp4", "video"), ("a.MOV", "video"), ("a.m4v", "video"),
        ("a.mp3", "music"), ("a.flac", "music"), ("a.ogg", "music"), ("a.m4a", "music"), ("a.opus", "music"),
        ("a.txt", None), ("a.gif", None), ("README", None), ("jpg", None), ("a.jpg.part", None),
    ],
)  # fmt: skip
def test_kind_of_goes_by_the_suffix_in_any_case(name: str, kind: str | None) -> None:
    assert kind_of(Path("/some/folder") / name) == kind


def test_extension_sets_are_disjoint_and_lower_case() -> None:
    every = PHOTO_EXTENSIONS | VIDEO_EXTENSIONS | MUSIC_EXTENSIONS
    assert len(every) == len(PHOTO_EXTENSIONS) + len(VIDEO_EXTENSIONS) + len(MUSIC_EXTENSIONS)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in every)
    assert {".jpg", ".jpeg", ".png", ".heic", ".heif"} <= PHOTO_EXTENSIONS
    assert {".mp3", ".flac", ".ogg", ".m4a"} <= MUSIC_EXTENSIONS


# --- photos ---------------------------------------------------------------------------------


def test_photos_give_back_exactly_what_the_camera_wrote(library: list[Made]) -> None:
    photos = _readable(library, "photo")
    wrong = []
    for made in photos:
        info = read_info(made.path)
        got = (info.kind, info.taken, info.camera, info.width, info.height)
        want = ("photo", made.taken, made.camera, made.width, made.height)
        if got != want:
            wrong.append(f"{made.path.name}: {got} != {want}")
        for axis in ("lat", "lon"):
            value, truth = getattr(info, axis), getattr(made, axis)
            if (value is None) != (truth is None) or (truth is not None and abs(value - truth) > 1e-4):
                wrong.append(f"{made.path.name}: {axis} {value} != {truth}")
    assert not wrong, "\n".join(wrong[:20])
    # the library really holds the hard cases this test is meant to cover
    assert sum(m.taken is None for m in photos) >= 5
    assert sum(m.lat is None and m.taken is not None for m in photos) >= 20
    assert any(m.lat is not None and m.lat < 0 for m in photos)
    assert any(m.lon is not None and m.lon < 0 for m in photos)
    assert any(m.height is not None and m.width is not None and m.height > m.width for m in photos)
    assert {"Canon EOS R6", "NIKON Z 6", "SONY ILCE-7M3", "Apple iPhone 13"} <= {m.camera for m in photos}
    assert {m.taken[5:7] for m in photos if m.taken} >= {"07", "08", "12"}


def test_capture_time_prefers_original_then_digitized_then_datetime(tmp_path: Path) -> None:
    all_three = _jpeg(tmp_path / "a.jpg", {
        "0th": {piexif.ImageIFD.DateTime: "2024:01:02 03:04:05"},
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: "2022:12:24 18:30:00",
            piexif.ExifIFD.DateTimeDigitized: "2023:01:01 00:00:00",
        },
    })  # fmt: skip
    digitized = _jpeg(tmp_path / "b.jpg", {
        "0th": {piexif.ImageIFD.DateTime: "2024:01:02 03:04:05"},
        "Exif": {piexif.ExifIFD.DateTimeDigitized: "2023:06:30 23:59:59"},
    })  # fmt: skip
    only_datetime = _jpeg(tmp_path / "c.jpg", {"0th": {piexif.ImageIFD.DateTime: "2021:08:15 07:00:01"}})
    no_clock = _jpeg(tmp_path / "d.jpg", {
        "0th": {piexif.ImageIFD.DateTime: "    :  :     :  :  "},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: "0000:00:00 00:00:00"},
    })  # fmt: skip
    no_exif = _jpeg(tmp_path / "e.jpg", None)
    assert read_info(all_three).taken == "2022-12-24T18:30:00"
    assert read_info(digitized).taken == "2023-06-30T23:59:59"
    assert read_info(only_datetime).taken == "2021-08-15T07:00:01"
    assert read_info(no_clock).taken is None
    assert read_info(no_exif) == MediaInfo("photo", width=40, height=30)


@pytest.mark.parametrize(
    ("make", "model", "camera"),
    [
        ("Canon", "Canon EOS R6", "Canon EOS R6"),
        ("Apple", "iPhone 13", "Apple iPhone 13"),
        ("Canon\x00\x00 ", "  Canon EOS 5D Mark IV\x00", "Canon EOS 5D Mark IV"),
        ("NIKON CORPORATION", "NIKON D750", "NIKON D750"),
        ("samsung", "", "samsung"),
        ("", "Pixel 8", "Pixel 8"),
        ("\x00", " ", None),
    ],
)
def test_camera_is_make_and_model_cleaned(tmp_path: Path, make: str, model: str, camera: str | None) -> None:
    path = _jpeg(tmp_path / "p.jpg", {"0th": {piexif.ImageIFD.Make: make, piexif.ImageIFD.Model: model}})
    assert read_info(path).camera == camera


@pytest.mark.parametrize(
    ("gps", "where"),
    [
        (
            {1: "S", 2: ((33, 1), (52, 1), (7680, 1000)), 3: "E", 4: ((151, 1), (12, 1), (33480, 1000))},
            (-33.8688, 151.2093),
        ),
        (
            {1: "N", 2: ((40712800, 1000000), (0, 1), (0, 1)), 3: "W", 4: ((74006000, 1000000), (0, 1), (0, 1))},
            (40.7128, -74.006),
        ),
        ({1: "N", 2: ((48, 0), (51, 0), (0, 0)), 3: "E", 4: ((2, 0), (21, 0), (0, 0))}, None),  # 0/0 rationals
        ({1: "N", 2: ((0, 1), (0, 1), (0, 1)), 3: "E", 4: ((0, 1), (0, 1), (0, 1))}, None),  # no fix: 0, 0
        ({1: "N", 2: ((95, 1), (0, 1), (0, 1)), 3: "E", 4: ((10, 1), (0, 1), (0, 1))}, None),  # beyond the pole
        ({1: "N", 2: ((45, 1), (0, 1), (0, 1))}, None),  # latitude without longitude
    ],
)
def test_gps_in_decimal_degrees_or_none_when_invalid(
    tmp_path: Path, gps: dict, where: tuple[float, float] | None
) -> None:
    info = read_info(_jpeg(tmp_path / "g.jpg", {"GPS": gps}))
    if where is None:
        assert (info.lat, info.lon) == (None, None)
    else:
        assert info.lat == pytest.approx(where[0], abs=1e-4)
        assert info.lon == pytest.approx(where[1], abs=1e-4)


def test_png_without_exif_has_no_capture_time_and_png_with_exif_has_one(library: list[Made]) -> None:
    pngs = [m for m in library if m.path.suffix == ".png"]
    assert len(pngs) >= 2
    for made in pngs:
        info = read_info(made.path)
        assert (info.taken, info.width, info.height) == (made.taken, made.width, made.height)
    assert any(m.taken is None for m in pngs) and any(m.taken is not None for m in pngs)


def test_reading_a_photo_does_not_decode_its_pixels(library: list[Made], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: Image.Image) -> None:
        raise AssertionError(f"{self.format} pixels decoded by read_info")

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    photos = _readable(library, "photo")
    assert {".png", ".jpg"} <= {m.path.suffix for m in photos}
    for made in photos:
        assert read_info(made.path).kind == "photo"


# --- videos and music -----------------------------------------------------------------------


def test_videos_give_duration_size_place_and_creation_time(library: list[Made]) -> None:
    videos = _readable(library, "video")
    assert {m.path.suffix for m in videos} == {".mp4", ".MOV"}
    for made in videos:
        info = read_info(made.path)
        assert info.kind == "video"
        assert info.duration_s == pytest.approx(made.duration_s, abs=0.2)
        assert (info.taken, info.camera, info.width, info.height) == (made.taken, made.camera, made.width, made.height)
        assert info.lat == pytest.approx(made.lat, abs=1e-4) and info.lon == pytest.approx(made.lon, abs=1e-4)


@pytest.fixture
def tokyo_time(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_video_creation_time_is_shown_in_local_time(library: list[Made], tokyo_time: None) -> None:
    android = next(m for m in library if m.path.name == "VID_20230714_102233.mp4")
    iphone = next(m for m in library if m.path.name == "IMG_0420.MOV")
    assert read_info(android.path).taken == "2023-07-14T19:22:33"  # 10:22:33 UTC, read in Tokyo
    assert read_info(iphone.path).taken == "2024-12-24T18:05:00"  # the iPhone's own wall clock in Paris


def test_music_tags_and_duration(library: list[Made]) -> None:
    songs = _readable(library, "music")
    assert {m.path.suffix for m in songs} == {".mp3", ".flac", ".ogg", ".m4a"}
    assert len(songs) == 12
    for made in songs:
        info = read_info(made.path)
        got = (info.kind, info.title, info.artist, info.album, info.genre, info.track, info.year)
        assert got == ("music", made.title, made.artist, made.album, made.genre, made.track, made.year), made.path.name
        assert info.duration_s == pytest.approx(made.duration_s, abs=0.2), made.path.name
    kind_of_blue = [m for m in songs if m.album == "Kind of Blue"]
    assert len(kind_of_blue) >= 2 and {m.artist for m in kind_of_blue} == {"Miles Davis"}
    assert {m.genre for m in songs} == {"Jazz", "Rock", "Classical"}


# --- damaged files --------------------------------------------------------------------------


def test_damaged_files_raise_media_error_naming_the_file(library: list[Made]) -> None:
    damaged = [m for m in library if m.corrupt in ("text", "truncated_header")]
    assert {m.kind for m in damaged} == {"photo", "video", "music"}
    for made in damaged:
        with pytest.raises(MediaError) as raised:
            read_info(made.path)
        assert type(raised.value) is MediaError
        assert raised.value.message.startswith(f"cannot read {made.path.name}: ")
        assert str(made.path.parent) not in raised.value.message  # the name, not the whole path


def test_a_jpeg_cut_inside_its_pixels_keeps_its_metadata_but_cannot_be_hashed(library: list[Made]) -> None:
    made = next(m for m in library if m.corrupt == "truncated_data")
    info = read_info(made.path)
    assert (info.taken, info.camera) == (made.taken, made.camera)
    with pytest.raises(MediaError, match=made.path.name):
        perceptual_hash(made.path)


def test_unreadable_paths_raise_media_error(tmp_path: Path) -> None:
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.flac").write_bytes(b"")
    for name in ("missing.jpg", "missing.mp4", "missing.mp3", "folder.jpg", "notes.txt", "empty.flac"):
        with pytest.raises(MediaError, match=f"^cannot read {name}: "):
            read_info(tmp_path / name)
    with pytest.raises(MediaError, match="^cannot read missing.jpg: "):
        perceptual_hash(tmp_path / "missing.jpg")


# --- perceptual hashes ----------------------------------------------------------------------


def test_copies_and_resized_copies_hash_alike_and_different_photos_do_not(library: list[Made]) -> None:
    photos = [m for m in _readable(library, "photo") if m.path.suffix.lower() in (".jpg", ".jpeg")]
    hashes = {m.path: perceptual_hash(m.path) for m in photos}
    assert all(0 <= h < 2**64 for h in hashes.values())
    copies = [m for m in photos if m.duplicate_of]
    near = [m for m in photos if m.near_duplicate_of]
    assert len(copies) >= 10 and len(near) >= 10
    assert all(hashes[m.path] == hashes[m.duplicate_of] for m in copies)
    distances = {m.path.name: hamming(hashes[m.path], hashes[m.near_duplicate_of]) for m in near}
    assert max(distances.values()) <= 6, distances
    originals = [m.path for m in photos if not m.duplicate_of and not m.near_duplicate_of]
    rng = random.Random(0)
    pairs = [rng.sample(originals, 2) for _ in range(2000)]
    far = sum(hamming(hashes[a], hashes[b]) > 10 for a, b in pairs)
    assert far / len(pairs) > 0.95


def test_hash_follows_the_exif_orientation(tmp_path: Path, library: list[Made]) -> None:
    portraits = [m for m in _readable(library, "photo") if m.path.suffix == ".jpg" and m.taken and m.height > m.width]  # type: ignore[operator]
    made = portraits[0]
    with Image.open(made.path) as image:
        upright = image.transpose(Image.Transpose.ROTATE_270)  # what orientation 6 shows
    plain = tmp_path / "upright.jpg"
    upright.save(plain, quality=90)
    assert hamming(perceptual_hash(plain), perceptual_hash(made.path)) <= 4


def test_hamming_counts_differing_bits() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(2**64 - 1, 0) == 64


def test_heic_photos_are_read_when_pillow_heif_is_installed(library: list[Made]) -> None:
    heics = [m for m in library if m.path.suffix == ".HEIC"]
    if not heics:
        pytest.skip("pillow-heif cannot write HEIC here")
    for made in heics:
        info = read_info(made.path)
        assert (info.taken, info.camera, info.width, info.height) == (made.taken, made.camera, made.width, made.height)
        assert info.lat == pytest.approx(made.lat, abs=1e-4) and info.lon == pytest.approx(made.lon, abs=1e-4)
        assert 0 <= perceptual_hash(made.path) < 2**64


# --- the benchmark's generator --------------------------------------------------------------


def test_small_photos_are_valid_jpegs_each_with_its_own_exif(tmp_path: Path) -> None:
    make_small_photos(tmp_path, 1200)
    files = sorted(tmp_path.rglob("*.jpg"))
    assert len(files) == 1200
    assert len({f.parent for f in files}) == 3  # 500 to a folder
    infos = [read_info(f) for f in files]
    assert len({i.taken for i in infos}) == 1200
    assert len({(i.lat, i.lon) for i in infos}) == 1200
    assert all(i.taken and i.camera and i.lat is not None and (i.width, i.height) == (16, 16) for i in infos)
    with Image.open(files[-1]) as image:
        image.load()  # the pixels decode too
