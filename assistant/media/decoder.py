"""A music file's audio, decoded with PyAV and resampled for the output, chunk by chunk."""

from __future__ import annotations

import errno
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.core.errors import MediaError
from assistant.media.files import NotAFile, what_it_is
from assistant.media.names import shown

if TYPE_CHECKING:
    import av

LAYOUTS = {1: "mono", 2: "stereo"}


def reason(e: BaseException) -> str:
    return shown(getattr(e, "strerror", None) or str(e) or type(e).__name__)


def check_regular(path: Path | str) -> None:
    """NotAFile for a named pipe, socket, device or folder: FFmpeg would wait forever on a pipe."""
    why = what_it_is(os.stat(path).st_mode)
    if why is not None:
        raise NotAFile(errno.EINVAL, why, str(path))


class Decoder:
    """A file's audio as float32 frames at `rate`, at most `chunk` frames at a time. The file is
    opened here; opening and reading raise MediaError."""

    def __init__(self, path: Path, rate: int, channels: int, chunk: int) -> None:
        if channels not in LAYOUTS:
            raise MediaError(f"cannot play to {channels} channels, only 1 or 2")
        import av  # PyAV: imported when a track is first played

        self.path = path
        try:
            check_regular(path)
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(path.name)} cannot be played: {reason(e)}") from e
        if not self._container.streams.audio:
            self._container.close()
            raise MediaError(f"{shown(path.name)} holds no audio")
        self._resampler = av.AudioResampler(format="flt", layout=LAYOUTS[channels], rate=rate)
        self._chunks = self._read(channels, chunk)

    def __iter__(self) -> Decoder:
        return self

    def __next__(self) -> np.ndarray:
        return next(self._chunks)

    def _read(self, channels: int, chunk: int) -> Generator[np.ndarray, None, None]:
        import av

        try:
            for frame in _with_flush(self._container.decode(audio=0)):
                for out in self._resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, channels)
                    for start in range(0, len(pcm), chunk):
                        yield pcm[start : start + chunk]
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(self.path.name)} stopped decoding: {reason(e)}") from e

    def close(self) -> None:
        self._chunks.close()
        self._container.close()


def _with_flush(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    yield from frames
    yield None  # flushes the resampler
