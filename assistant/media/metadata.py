"""What a media file says about itself: capture time, camera, place and size of a photo (EXIF),
length and creation time of a video (the container), and the tags of a song (mutagen).

Reading never decodes pixels or audio, so the index can read thousands of photos a second; only
`perceptual_hash` decodes, at a reduced (JPEG draft) scale. Every failure is a `MediaError` that
names the file. No database and no content hashing here: the index scanner does that.
"""

from __future__ import annotations

import errno
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import imagehash
import mutagen
import numpy as np
from PIL import Image, UnidentifiedImageError

from assistant.core.errors import MediaError
from assistant.media.files import NotAFile, open_regular
from assistant.media.names import shown

if TYPE_CHECKING:
    from _typeshed import ConvertibleToFloat

try:  # HEIC/HEIF photos (iPhones): readable only where pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORTED = False

PHOTO_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".heic", ".heif"})
VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".m4v"})
MUSIC_EXTENSIONS: frozenset[str] = frozenset({".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a"})

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _DATETIME, _ORIENTATION = 0x010F, 0x0110, 0x0132, 0x0112
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

# "2023:07:14 10:22:33" (EXIF), also with "-" or "/" in the date or "T" between (sloppy writers)
_DATE_TIME = re.compile(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
# ISO 6709, as videos carry their place: "+48.8566+002.3522+035.000/"
_ISO6709 = re.compile(r"([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")
FIRST_YEAR, LAST_YEAR = 1800, 2200
"""Capture dates and music years outside these are a camera's unset clock or a tagger's garbage
("0000:00:00", "9999:12:31"): not a date. The same bounds as the times a person can ask for (when.py)."""


@dataclass(frozen=True)
class MediaInfo:
    """What one file says about itself. A field the file does not state is None."""

    kind: str
    """"photo", "video" or "music"."""
    taken: str | None = None
    """Capture time, naive local "YYYY-MM-DDTHH:MM:SS"; never the file's mtime."""
    camera: str | None = None
    """"Make Model", without the make twice ("Canon EOS R6", "Apple iPhone 13")."""
    lat: float | None = None
    """Decimal degrees, north positive."""
    lon: float | None = None
    """Decimal degrees, east positive."""
    width: int | None = None
    """Pixels as shown: a photo's EXIF orientation is applied (a portrait photo is taller than wide);
    a video's is its coded size (PyAV does not expose the display rotation)."""
    height: int | None = None
    duration_s: float | None = None
    """Seconds, for videos and music."""
    title: str | None = None
    artist: str | None = None
    """The track's artist (not the album artist)."""
    album: str | None = None
    genre: str | None = None
    track: int | None = None
    """Track number on its disc: "3/12" -> 3."""
    year: int | None = None


def kind_of(path: Path) -> str | None:
    """ "photo", "video", "music" by the file's suffix (any case), or None for anything else."""
    suffix = path.suffix.lower()
    if suffix in PHOTO_EXTENSIONS:
        return "photo"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in MUSIC_EXTENSIONS:
        return "music"
    return None


def read_info(path: Path) -> MediaInfo:
    """Read a file's metadata without decoding its pixels or samples.

    Raises MediaError("cannot read <name>: <reason>") for an unsupported suffix or a file that is
    unreadable, corrupt or truncated before its metadata ends. (A JPEG cut short inside its image
    data still has all its metadata; `perceptual_hash`, which decodes, fails on it.)"""
    kind = kind_of(path)
    if kind is None:
        raise MediaError(
            f"cannot read {shown(path.name)}: {shown(path.suffix) or 'no suffix'} is not a photo, video or music file"
        )
    try:
        with open_regular(path) as f:
            if f.seek(0, os.SEEK_END) == 0:
                raise MediaError(f"cannot read {shown(path.name)}: the file is empty")
            f.seek(0)
            if kind == "photo":
                return _photo_info(f)
            if kind == "video":
                return _video_info(f)
            return _music_info(f, path)
    except MediaError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt files make the decoders raise anything at all
        raise MediaError(f"cannot read {shown(path.name)}: {_reason(path, e)}") from e


def perceptual_hash(path: Path) -> int:
    """64-bit DCT perceptual hash (pHash) of a photo as shown (EXIF orientation applied).

    Resized and re-encoded copies of a photo come out within a Hamming distance of a few bits;
    different photos are typically 20-40 bits apart. JPEGs are decoded at a reduced scale."""
    try:
        with open_regular(path) as f, Image.open(f) as image:
            if image.format == "JPEG":
                image.draft("L", (64, 64))
            orientation = image.getexif().get(_ORIENTATION)
            small = image.convert("L")
        small = _orient(small, orientation)
        bits = imagehash.phash(small).hash.flatten()
        return int.from_bytes(np.packbits(bits).tobytes(), "big")
    except Exception as e:  # noqa: BLE001 - as read_info
        raise MediaError(f"cannot read {shown(path.name)}: {_reason(path, e)}") from e


def hamming(a: int, b: int) -> int:
    """Number of bits in which two perceptual hashes differ."""
    return (a ^ b).bit_count()


# --- photos ---------------------------------------------------------------------------------


def _photo_info(f: BinaryIO) -> MediaInfo:
    with Image.open(f) as image:  # lazy: reads the headers, not the pixels
        width, height = image.size
        if image.format == "PNG":  # PNG's own getexif() decodes the pixels to look behind them
            exif = Image.Image.getexif(image)  # eXIf chunk before the pixels, or ImageMagick's text
        else:
            exif = image.getexif()
        details = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
    if exif.get(_ORIENTATION) in (5, 6, 7, 8):  # stored sideways, shown upright
        width, height = height, width
    taken = None
    for value in (details.get(_DATETIME_ORIGINAL), details.get(_DATETIME_DIGITIZED), exif.get(_DATETIME)):
        taken = _exif_time(value)
        if taken is not None:
            break
    lat = _gps_degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S", 90.0)
    lon = _gps_degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):  # 0/0: a placeholder, not a fix
        lat = lon = None
    camera = _camera(_text(exif.get(_MAKE)), _text(exif.get(_MODEL)))
    return MediaInfo("photo", taken, camera, lat, lon, width, height)


def _exif_time(value: object) -> str | None:
    text = _text(value)
    match = _DATE_TIME.match(text) if text else None
    if match is None:
        return None  # absent, blank, or the "0000:00:00 00:00:00" of a camera without a clock
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return moment.isoformat() if FIRST_YEAR <= moment.year <= LAST_YEAR else None


def _gps_degrees(value: object, ref: object, negative: str, limit: float) -> float | None:
    """(degrees, minutes, seconds) rationals, or one rational of decimal degrees, and a ref."""
    if value is None:
        return None
    parts = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [_float(part) for part in parts]  # IFDRational n/0 is nan
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(n) and n >= 0 for n in numbers):
        return None
    degrees: float = sum(n / 60**i for i, n in enumerate(numbers))
    if degrees > limit:
        return None
    return -degrees if _text(ref).upper().startswith(negative) else degrees


def _camera(make: str, model: str) -> str | None:
    if make and model:
        first_word = make.split()[0].lower()
        if model.lower().startswith(first_word):  # "Canon"+"Canon EOS R6", "NIKON CORPORATION"+"NIKON Z 6"
            return model
        return f"{make} {model}"
    return make or model or None


def _text(value: object) -> str:
    """A tag's text, always valid Unicode (bytes are read as UTF-8, a lone surrogate becomes "?"),
    without NULs and outer blanks; "" for a value that is no text at all."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()


def _orient(image: Image.Image, orientation: object) -> Image.Image:
    methods: dict[object, Image.Transpose] = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }
    method = methods.get(orientation)
    return image.transpose(method) if method is not None else image


# --- videos ---------------------------------------------------------------------------------


def _video_info(f: BinaryIO) -> MediaInfo:
    import av  # PyAV: imported when a video is first read, not by every command that imports the library

    with av.open(f, "r") as container:  # reads the container's index, decodes nothing
        tags = {key.lower(): value for key, value in container.metadata.items()}
        duration = _seconds(container.duration / av.time_base if container.duration else None)
        width = height = None
        if container.streams.video:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width or None, stream.codec_context.height or None
            tags.setdefault("creation_time", stream.metadata.get("creation_time", ""))
    lat, lon = _iso6709(tags.get("com.apple.quicktime.location.iso6709") or tags.get("location"))
    camera = _camera(
        _text(tags.get("com.apple.quicktime.make") or tags.get("make")),
        _text(tags.get("com.apple.quicktime.model") or tags.get("model")),
    )
    return MediaInfo("video", _video_time(tags), camera, lat, lon, width, height, duration)


def _video_time(tags: dict[str, str]) -> str | None:
    # An iPhone's own tag carries the wall-clock time where it was filmed, like EXIF does.
    apple = _iso_time(tags.get("com.apple.quicktime.creationdate"))
    if apple is not None:
        return apple.replace(tzinfo=None).isoformat(timespec="seconds")
    created = _iso_time(tags.get("creation_time"))
    if created is None:
        return None
    if created.tzinfo is not None:  # UTC by the MP4 standard: shown in this machine's time zone
        try:
            created = created.astimezone().replace(tzinfo=None)
        except (OverflowError, ValueError):  # December 9999 UTC is the year 10000 somewhere
            return None
    return created.isoformat(timespec="seconds")


def _iso_time(value: str | None) -> datetime | None:
    text = (value or "").strip()
    if not text:
        return None
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # "+0200" -> "+02:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(microsecond=0) if 1970 < moment.year <= LAST_YEAR else None


def _iso6709(value: str | None) -> tuple[float | None, float | None]:
    match = _ISO6709.match((value or "").strip())
    if match is None:
        return None, None
    lat, lon = float(match.group(1)), float(match.group(2))
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0.0 and lon == 0.0):
        return None, None
    return lat, lon


# --- music ----------------------------------------------------------------------------------


def _music_info(f: BinaryIO, path: Path) -> MediaInfo:
    audio = mutagen.File(f, easy=True)
    if audio is None:
        raise MediaError(f"cannot read {shown(path.name)}: not an audio file mutagen knows")
    tags = audio.tags or {}
    length = getattr(audio.info, "length", None)
    return MediaInfo(
        "music",
        duration_s=_seconds(length),
        title=_tag(tags, "title"),
        artist=_tag(tags, "artist"),
        album=_tag(tags, "album"),
        genre=_tag(tags, "genre"),
        track=_leading_int(_tag(tags, "tracknumber")),
        year=_year(_leading_int(_tag(tags, "date"), digits=4)),
    )


def _tag(tags: Any, key: str) -> str | None:
    try:
        values = tags.get(key)
    except (KeyError, ValueError):
        return None
    if not values:
        return None
    text = _text(values[0] if isinstance(values, list) else values)
    return text or None


def _leading_int(text: str | None, digits: int = 0) -> int | None:
    """The number a tag starts with ("3/12" -> 3); None for none, for another count of digits than
    `digits`, and for more than six (SQLite holds 64 bits, a garbage tag may hold thirty nines)."""
    match = re.match(r"\s*(\d+)", text or "")
    if match is None or (digits and len(match.group(1)) != digits) or len(match.group(1)) > 6:
        return None
    return int(match.group(1))


def _year(year: int | None) -> int | None:
    return year if year is not None and FIRST_YEAR <= year <= LAST_YEAR else None


def _seconds(value: object) -> float | None:
    """A length in seconds, or None for none, zero, a negative, an infinite or a NaN one."""
    try:
        seconds = _float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _float(value: object) -> float:
    """float(value), which itself refuses (TypeError) what is no number, numeric text or buffer of one."""
    return float(cast("ConvertibleToFloat", value))


def _reason(path: Path, error: Exception) -> str:
    if isinstance(error, NotAFile):
        return str(error.strerror)
    if isinstance(error, FileNotFoundError):
        return "the file does not exist"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "it is a folder"
    if isinstance(error, UnidentifiedImageError):
        if path.suffix.lower() in (".heic", ".heif") and not HEIF_SUPPORTED:
            return "HEIC photos need pillow-heif, which is not installed"
        return "not a picture Pillow recognises (damaged, or another format under this name)"
    if isinstance(error, OSError) and error.errno == errno.ELOOP:
        return "it is a link, which is not followed"
    detail = getattr(error, "strerror", None) or str(error).replace(str(path), path.name).strip()
    detail = shown(detail)
    detail = detail or type(error).__name__
    return f"damaged or truncated ({detail})"
