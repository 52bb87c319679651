"""A realistic media library on disk, and the truth about every file in it, for tests and benchmarks.

`make_library` writes real files: JPEGs of generated pictures with camera EXIF (dates over
2021-2025, several cameras, GPS in real cities, some without), exact copies and resized re-encoded
near-duplicates in other folders, PNG screenshots, a few damaged files, two phone videos (PyAV) and
twelve tagged songs in MP3, FLAC, OGG and M4A (sox and PyAV, tagged with mutagen).
`make_small_photos` writes many tiny JPEGs fast, for index benchmarks.

    python -m testbed.fakes.media_library ROOT [--photos N] [--small N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import struct
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import av
import mutagen
import numpy as np
import piexif
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Made:
    """One generated file and what is true about it (None: the file does not say)."""

    path: Path
    kind: str
    """"photo", "video" or "music"."""
    taken: str | None = None
    """Capture time as written, "YYYY-MM-DDTHH:MM:SS" local."""
    camera: str | None = None
    """The camera as a reader should name it: "Make Model" without the make twice."""
    city: str | None = None
    """The city whose coordinates (with a few km of jitter) were written as GPS."""
    lat: float | None = None
    """Exactly what the written GPS rationals mean, in decimal degrees."""
    lon: float | None = None
    width: int | None = None
    """Pixels as shown (after the EXIF orientation)."""
    height: int | None = None
    duplicate_of: Path | None = None
    """This file is a byte-for-byte copy of that one."""
    near_duplicate_of: Path | None = None
    """This file is a resized, re-encoded copy of that one."""
    duration_s: float | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    track: int | None = None
    year: int | None = None
    corrupt: str | None = None
    """How the file is damaged: "text" (not media at all), "truncated_header" (cut inside its
    headers: metadata unreadable), "truncated_data" (cut inside the pixels: metadata intact)."""


CITIES: dict[str, tuple[float, float]] = {
    "Paris": (48.8566, 2.3522),
    "London": (51.5074, -0.1278),
    "New York": (40.7128, -74.0060),
    "Tokyo": (35.6762, 139.6503),
    "Rome": (41.9028, 12.4964),
    "Barcelona": (41.3874, 2.1686),
    "Sydney": (-33.8688, 151.2093),
    "Rio de Janeiro": (-22.9068, -43.1729),
    "Cape Town": (-33.9249, 18.4241),
}

# (Make as written, Model as written, the camera a reader should report, file name prefix)
CAMERAS: list[tuple[str, str, str, str]] = [
    ("Canon", "Canon EOS R6", "Canon EOS R6", "IMG_"),
    ("Apple", "iPhone 13", "Apple iPhone 13", "IMG_"),
    ("NIKON CORPORATION", "NIKON Z 6", "NIKON Z 6", "DSC_"),
    ("samsung", "SM-G991B", "samsung SM-G991B", "2023"),
    ("FUJIFILM", "X-T30", "FUJIFILM X-T30", "DSCF"),
    ("SONY\x00\x00", "ILCE-7M3   ", "SONY ILCE-7M3", "DSC"),
]

# artist, album, genre, year as tagged, tracks
ALBUMS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "Miles Davis",
        "Kind of Blue",
        "Jazz",
        "1959-08-17",
        ["So What", "Freddie Freeloader", "Blue in Green", "All Blues"],
    ),
    (
        "Queen",
        "A Night at the Opera",
        "Rock",
        "1975",
        ["Death on Two Legs", "Lazing on a Sunday Afternoon", "I'm in Love with My Car", "You're My Best Friend"],
    ),
    (
        "Glenn Gould",
        "The Goldberg Variations",
        "Classical",
        "1956",
        ["Aria", "Variation 1", "Variation 2", "Variation 3"],
    ),
]
MUSIC_FORMATS = ("mp3", "flac", "ogg", "m4a")

SIZE = (320, 240)


def make_library(root: Path, photos: int = 300, seed: int = 0) -> list[Made]:
    """Write the library under `root`: `photos` original JPEGs, plus about 5% exact copies and 5%
    near-duplicates of them, 4 PNGs, 2 videos, 12 songs and 5 damaged files. Returns every file."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    made: list[Made] = []
    originals: list[tuple[Made, Image.Image, bytes | None]] = []  # with the picture as shown
    for i in range(photos):
        entry, shown, exif = _photo(root, i, rng, nprng)
        made.append(entry)
        originals.append((entry, shown, exif))
    plain = [o for o in originals if o[0].taken is not None]
    for entry, _, _ in rng.sample(plain, max(1, photos // 20)):
        copy = root / "Backup" / f"Phone {entry.taken[:4]}" / entry.path.name  # type: ignore[index]
        _write(copy, entry.path.read_bytes())
        made.append(replace(entry, path=copy, duplicate_of=entry.path))
    for k, (entry, shown, exif) in enumerate(rng.sample(plain, max(1, photos // 20))):
        made.append(_near_duplicate(root, k, entry, shown, exif, rng))
    made += _pngs(root, rng, nprng)
    made += _heics(root, rng, nprng)
    made += _damaged(root, originals[0][0], rng, nprng)
    made += _videos(root)
    made += _music(root, rng)
    return made


def make_small_photos(root: Path, count: int, seed: int = 0) -> None:
    """Write `count` tiny (16x16) valid JPEGs under root/"bulk"/"NNNN"/, 500 to a folder, each
    with its own DateTimeOriginal, GPS and one of the cameras: one encoded picture, EXIF spliced
    in per file."""
    rng = random.Random(seed)
    buffer = BytesIO()
    Image.new("RGB", (16, 16), (90, 140, 200)).save(buffer, "JPEG", quality=80)
    body = buffer.getvalue()[2:]  # after SOI
    start = datetime(2021, 1, 1)
    cities = list(CITIES.values())
    folder = root
    for i in range(count):
        if i % 500 == 0:
            folder = root / "bulk" / f"{i // 500:04d}"
            folder.mkdir(parents=True, exist_ok=True)
        make, model, _, prefix = CAMERAS[i % len(CAMERAS)]
        when = (start + timedelta(seconds=i * 1577 + rng.randrange(1500))).strftime("%Y:%m:%d %H:%M:%S")
        lat, lon = cities[i % len(cities)]
        exif = piexif.dump(
            {
                "0th": {piexif.ImageIFD.Make: make, piexif.ImageIFD.Model: model},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: when},
                "GPS": _gps(lat + rng.uniform(-0.03, 0.03), lon + rng.uniform(-0.03, 0.03))[0],
            }
        )
        segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
        (folder / f"{prefix}{i:06d}.jpg").write_bytes(b"\xff\xd8" + segment + body)


# --- photos ---------------------------------------------------------------------------------


def _photo(
    root: Path, i: int, rng: random.Random, nprng: np.random.Generator
) -> tuple[Made, Image.Image, bytes | None]:
    make, model, camera, prefix = rng.choice(CAMERAS)
    when = _when(rng)
    dating = rng.choices(["original", "digitized", "datetime", "none"], [85, 5, 5, 5])[0]
    if dating == "none":
        when, camera, make, model = None, None, "", ""  # a scan: no date, no camera
    city = rng.choice(list(CITIES)) if dating != "none" and rng.random() < 0.8 else None
    portrait = rng.random() < 0.05
    shown = _picture(nprng, (SIZE[1], SIZE[0]) if portrait else SIZE)

    zeroth: dict[int, object] = {}
    details: dict[int, object] = {}
    gps: dict[int, object] = {}
    lat = lon = None
    if make:
        zeroth[piexif.ImageIFD.Make], zeroth[piexif.ImageIFD.Model] = make, model
    if when is not None:
        exif_when = when.strftime("%Y:%m:%d %H:%M:%S")
        edited = (when + timedelta(days=rng.randrange(1, 400))).strftime("%Y:%m:%d %H:%M:%S")
        if dating == "original":  # DateTime is when it was last edited: not the capture time
            details[piexif.ExifIFD.DateTimeOriginal] = exif_when
            details[piexif.ExifIFD.DateTimeDigitized] = exif_when
            zeroth[piexif.ImageIFD.DateTime] = edited if rng.random() < 0.3 else exif_when
        elif dating == "digitized":
            details[piexif.ExifIFD.DateTimeDigitized] = exif_when
            zeroth[piexif.ImageIFD.DateTime] = edited
        else:
            zeroth[piexif.ImageIFD.DateTime] = exif_when
    if city is not None:
        base_lat, base_lon = CITIES[city]
        jitter_lat, jitter_lon = base_lat + rng.uniform(-0.03, 0.03), base_lon + rng.uniform(-0.03, 0.03)
        if i % 50 == 7:  # a broken GPS fix: 0/0 rationals, as some phones write
            gps = {1: "N", 2: ((0, 0), (0, 0), (0, 0)), 3: "E", 4: ((0, 0), (0, 0), (0, 0))}
            city = None
        else:
            gps, (lat, lon) = _gps(jitter_lat, jitter_lon, decimal=i % 10 == 3)
    if portrait:
        zeroth[piexif.ImageIFD.Orientation] = 6  # stored sideways, shown upright
    exif = piexif.dump({"0th": zeroth, "Exif": details, "GPS": gps}) if zeroth or details or gps else None

    stored = shown.transpose(Image.Transpose.ROTATE_90) if portrait else shown
    if when is None:
        folder, suffix = root / "Scans", ".jpg"
    elif city is not None and when.month in (6, 7, 8, 12):
        folder, suffix = root / "Holidays" / f"{when.year} {city}", ".jpg"
    else:
        folder = root / "Camera Roll" / str(when.year) / f"{when.month:02d}"
        suffix = ".JPG" if prefix.startswith("DSC") else ".jpg"
    if i % 40 == 11:
        suffix = ".jpeg"
    path = folder / f"{'SCAN_' if when is None else prefix}{i:04d}{suffix}"
    _write(path, _jpeg(stored, exif, quality=rng.randrange(82, 96)))
    entry = Made(path, "photo", when.isoformat() if when else None, camera or None, city, lat, lon, *shown.size)
    return entry, shown, exif


def _near_duplicate(
    root: Path, k: int, entry: Made, shown: Image.Image, exif: bytes | None, rng: random.Random
) -> Made:
    """A resized, re-encoded copy: half keep the EXIF (sideways pixels stay sideways), half are
    'shared' copies without EXIF, whose pixels were turned upright."""
    scale = rng.uniform(0.5, 0.7)
    size = (round(shown.width * scale), round(shown.height * scale))
    picture = shown.resize(size, Image.Resampling.LANCZOS)
    folder = root / "Shared" / "WhatsApp Images"
    if k % 2 == 0 and exif is not None:
        rotated = piexif.load(exif)["0th"].get(piexif.ImageIFD.Orientation) == 6
        stored = picture.transpose(Image.Transpose.ROTATE_90) if rotated else picture
        path = root / "Edited" / f"{entry.path.stem}_small.jpg"
        _write(path, _jpeg(stored, exif, quality=rng.randrange(60, 80)))
        return replace(entry, path=path, width=size[0], height=size[1], near_duplicate_of=entry.path)
    path = folder / f"IMG-{(entry.taken or '2024')[:10].replace('-', '')}-WA{k:04d}.jpg"
    _write(path, _jpeg(picture, None, quality=rng.randrange(60, 80)))
    return Made(path, "photo", width=size[0], height=size[1], near_duplicate_of=entry.path)


def _pngs(root: Path, rng: random.Random, nprng: np.random.Generator) -> list[Made]:
    made = []
    for k in range(3):
        path = root / "Screenshots" / f"Screenshot_{k + 1}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        _picture(nprng, (300, 200)).save(path)
        made.append(Made(path, "photo", width=300, height=200))
    when = _when(rng)
    path = root / "Screenshots" / "edited_with_exif.png"
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: when.strftime("%Y:%m:%d %H:%M:%S")}})
    _picture(nprng, (200, 150)).save(path, exif=exif)
    made.append(Made(path, "photo", taken=when.isoformat(), width=200, height=150))
    return made


def _heics(root: Path, rng: random.Random, nprng: np.random.Generator) -> list[Made]:
    """Two iPhone HEIC photos, where pillow-heif can write them (it is optional)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - depends on the installation
        return []
    register_heif_opener()
    made = []
    for k, city in enumerate(("Tokyo", "Sydney")):
        when = _when(rng)
        gps, (lat, lon) = _gps(*CITIES[city])
        exif = piexif.dump(
            {
                "0th": {piexif.ImageIFD.Make: "Apple", piexif.ImageIFD.Model: "iPhone 15 Pro"},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: when.strftime("%Y:%m:%d %H:%M:%S")},
                "GPS": gps,
            }
        )
        path = root / "Camera Roll" / str(when.year) / f"IMG_{8000 + k}.HEIC"
        path.parent.mkdir(parents=True, exist_ok=True)
        _picture(nprng, SIZE).save(path, exif=exif, quality=80)
        made.append(Made(path, "photo", when.isoformat(), "Apple iPhone 15 Pro", city, lat, lon, *SIZE))
    return made


def _damaged(root: Path, model: Made, rng: random.Random, nprng: np.random.Generator) -> list[Made]:
    folder = root / "Camera Roll" / "Recovered"
    text = folder / "IMG_9001.jpg"
    _write(text, b"This is a shopping list, not a photo.\nmilk\neggs\n")
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: "Canon", piexif.ImageIFD.Model: "Canon EOS R6"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: "2022:05:01 09:30:00"},
        }
    )
    whole = _jpeg(_picture(nprng, SIZE), exif, quality=90)
    header = folder / "IMG_9002.jpg"
    _write(header, whole[: 2 + 4 + len(exif) // 2])  # ends inside the EXIF segment
    data = folder / "IMG_9003.jpg"
    _write(data, whole[: len(whole) * 6 // 10])  # ends inside the pixels
    song = root / "Music" / "Unknown" / "track01.mp3"
    _write(song, b"ID3 nothing to see here, just text\n" * 3)
    video = root / "Videos" / "VID_broken.mp4"
    _write(video, b"not a video either\n")
    return [
        Made(text, "photo", corrupt="text"),
        Made(header, "photo", corrupt="truncated_header"),
        Made(
            data,
            "photo",
            "2022-05-01T09:30:00",
            "Canon EOS R6",
            width=SIZE[0],
            height=SIZE[1],
            corrupt="truncated_data",
        ),
        Made(song, "music", corrupt="text"),
        Made(video, "video", corrupt="text"),
    ]


def _picture(nprng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A gradient sky and a few shapes: structured, so that no two pictures look alike."""
    width, height = size
    angle = nprng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    a, b = nprng.integers(0, 256, 3), nprng.integers(0, 256, 3)
    pixels = (a * (1 - t) + b * t).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(nprng.integers(4, 9))):
        x0, y0 = int(nprng.integers(-width // 4, width)), int(nprng.integers(-height // 4, height))
        w, h = int(nprng.integers(width // 8, width // 2)), int(nprng.integers(height // 8, height // 2))
        color = tuple(int(c) for c in nprng.integers(0, 256, 3))
        shape = int(nprng.integers(0, 3))
        if shape == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=color)
        elif shape == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=color)
        else:
            draw.polygon([(x0, y0 + h), (x0 + w // 2, y0), (x0 + w, y0 + h)], fill=color)
    return image


def _when(rng: random.Random) -> datetime:
    """2021-2025, more often in summer and December, as holiday photos are."""
    month = rng.choices(range(1, 13), [4, 4, 5, 6, 7, 12, 14, 14, 6, 5, 4, 12])[0]
    day, hour, minute, second = rng.randrange(1, 29), rng.randrange(6, 23), rng.randrange(60), rng.randrange(60)
    return datetime(rng.randrange(2021, 2026), month, day, hour, minute, second)


def _gps(lat: float, lon: float, decimal: bool = False) -> tuple[dict[int, object], tuple[float, float]]:
    """A GPS IFD (degrees, minutes, seconds; or one decimal-degree rational) and what it means."""

    def parts(value: float) -> tuple[tuple[tuple[int, int], ...], float]:
        value = abs(value)
        if decimal:
            micro = round(value * 1_000_000)
            return ((micro, 1_000_000), (0, 1), (0, 1)), micro / 1_000_000
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        milli = round(((value - degrees) * 60 - minutes) * 60 * 1000)
        return ((degrees, 1), (minutes, 1), (milli, 1000)), degrees + minutes / 60 + milli / 1000 / 3600

    lat_parts, lat_value = parts(lat)
    lon_parts, lon_value = parts(lon)
    ifd: dict[int, object] = {
        piexif.GPSIFD.GPSVersionID: (2, 2, 0, 0),
        piexif.GPSIFD.GPSLatitudeRef: "N" if lat >= 0 else "S",
        piexif.GPSIFD.GPSLatitude: lat_parts,
        piexif.GPSIFD.GPSLongitudeRef: "E" if lon >= 0 else "W",
        piexif.GPSIFD.GPSLongitude: lon_parts,
    }
    return ifd, (lat_value if lat >= 0 else -lat_value, lon_value if lon >= 0 else -lon_value)


def _jpeg(image: Image.Image, exif: bytes | None, quality: int) -> bytes:
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


# --- videos and music -----------------------------------------------------------------------


def _videos(root: Path) -> list[Made]:
    """An Android MP4 (UTC creation_time, ISO 6709 location) and an iPhone MOV (Apple's own tags:
    local creation date with its offset, make, model, location)."""
    folder = root / "Videos"
    folder.mkdir(parents=True, exist_ok=True)
    android = folder / "VID_20230714_102233.mp4"
    utc = datetime(2023, 7, 14, 10, 22, 33, tzinfo=UTC)
    _video(android, 1.5, {"creation_time": "2023-07-14T10:22:33.000000Z", "location": "+41.9028+012.4964/"}, {})
    iphone = folder / "IMG_0420.MOV"
    _video(
        iphone,
        2.0,
        {
            "creation_time": "2024-12-24T17:05:00.000000Z",
            "com.apple.quicktime.creationdate": "2024-12-24T18:05:00+0100",
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 13",
            "com.apple.quicktime.location.ISO6709": "+48.8566+002.3522+035.000/",
        },
        {"movflags": "use_metadata_tags"},
    )
    local = utc.astimezone().replace(tzinfo=None).isoformat()
    return [
        Made(android, "video", local, None, "Rome", 41.9028, 12.4964, 160, 120, duration_s=1.5),
        Made(
            iphone,
            "video",
            "2024-12-24T18:05:00",
            "Apple iPhone 13",
            "Paris",
            48.8566,
            2.3522,
            160,
            120,
            duration_s=2.0,
        ),
    ]


def _video(path: Path, seconds: float, metadata: dict[str, str], options: dict[str, str]) -> None:
    fps = 10
    with av.open(str(path), "w", options=options) as out:
        out.metadata.update(metadata)
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(round(seconds * fps)):
            frame = np.zeros((120, 160, 3), np.uint8)
            frame[..., 2] = 40 + i * 8
            frame[40:80, i * 6 : i * 6 + 40] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _music(root: Path, rng: random.Random) -> list[Made]:
    made = []
    n = 0
    for artist, album, genre, date, titles in ALBUMS:
        for number, title in enumerate(titles, start=1):
            ext = MUSIC_FORMATS[n % len(MUSIC_FORMATS)]
            n += 1
            seconds = round(rng.uniform(2.0, 4.0), 2)
            path = root / "Music" / artist / album / f"{number:02d} {title}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            frequency = 220 * 2 ** (rng.randrange(12) / 12)
            if ext in ("flac", "ogg"):
                wave = rng.choice(["sine", "triangle", "pluck"])
                subprocess.run(
                    ["sox", "-n", "-r", "44100", "-c", "2", str(path), "synth", str(seconds), wave, f"{frequency:.1f}"]
                    + ["fade", "0.05", str(seconds), "0.2"],
                    check=True,
                    capture_output=True,
                )
            else:
                _encode_tone(path, "libmp3lame" if ext == "mp3" else "aac", seconds, frequency)
            audio = mutagen.File(path, easy=True)  # type: ignore[attr-defined]
            if audio.tags is None:
                audio.add_tags()
            audio["title"], audio["artist"], audio["album"], audio["genre"] = title, artist, album, genre
            audio["tracknumber"] = f"{number}/{len(titles)}" if number % 2 else str(number)
            audio["date"] = date
            audio.save()
            made.append(
                Made(
                    path,
                    "music",
                    duration_s=seconds,
                    title=title,
                    artist=artist,
                    album=album,
                    genre=genre,
                    track=number,
                    year=int(date[:4]),
                )
            )
    return made


def _encode_tone(path: Path, codec: str, seconds: float, frequency: float) -> None:
    rate = 44100
    t = np.arange(round(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * frequency * t) + 0.1 * np.sin(3 * np.pi * frequency * t)).astype(np.float32)
    with av.open(str(path), "w", format="mp3" if codec == "libmp3lame" else "ipod") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


# --- plumbing -------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--photos", type=int, default=300, help="original photos of the full library (0: none)")
    parser.add_argument("--small", type=int, default=0, help="tiny JPEGs for benchmarks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.photos:
        start = time.perf_counter()
        made = make_library(args.root, args.photos, args.seed)
        counts: dict[str, int] = {}
        for entry in made:
            role = "damaged" if entry.corrupt else "copy" if entry.duplicate_of else ""
            role = role or ("near-duplicate" if entry.near_duplicate_of else "")
            label = f"{entry.kind} ({role})" if role else entry.kind
            counts[label] = counts.get(label, 0) + 1
        summary = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        print(f"library: {len(made)} files under {args.root} in {time.perf_counter() - start:.1f} s: {summary}")
    if args.small:
        start = time.perf_counter()
        make_small_photos(args.root, args.small, args.seed)
        print(f"small photos: {args.small} under {args.root / 'bulk'} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
