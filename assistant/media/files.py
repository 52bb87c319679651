"""What the library may open: regular files only. A named pipe called "pipe.jpg" would make a read
wait forever for a writer, and opening a device node may act on the device; neither is ever opened.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotAFile(OSError):
    """A name that is no regular file (a named pipe, a socket, a device, a folder or a link): never
    opened, as opening a named pipe waits for a writer forever and opening a device may act on it."""


def what_it_is(mode: int) -> str | None:
    """Why a file of this `st_mode` is not read, as said to a person; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, words in (
        (stat.S_ISFIFO, "it is a named pipe, not a file"),
        (stat.S_ISSOCK, "it is a socket, not a file"),
        (stat.S_ISCHR, "it is a device, not a file"),
        (stat.S_ISBLK, "it is a device, not a file"),
        (stat.S_ISDIR, "it is a folder"),
        (stat.S_ISLNK, "it is a link, which is not followed"),
    ):
        if test(mode):
            return words
    return "it is not a regular file"


def open_regular(path: Path | str, follow_links: bool = False) -> BinaryIO:
    """Open a regular file for reading; NotAFile (an OSError) for anything else, which is looked at
    with lstat (stat when `follow_links`) and never opened. O_NONBLOCK, O_NOFOLLOW, and a check of
    what was opened close the gap where the name is swapped for a pipe or a link in between."""

    def opener(name: str, flags: int) -> int:
        kind = what_it_is((os.stat if follow_links else os.lstat)(name).st_mode)
        if kind is not None:
            raise NotAFile(errno.EINVAL, kind, name)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW))
        kind = what_it_is(os.fstat(fd).st_mode)
        if kind is not None:
            os.close(fd)
            raise NotAFile(errno.EINVAL, kind, name)
        return fd

    return open(path, "rb", opener=opener)  # noqa: SIM115 - the caller closes it
