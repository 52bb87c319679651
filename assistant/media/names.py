"""File names that are not UTF-8: how the index stores them and how people are shown them.

Linux file names are bytes. Python hands a name that is not valid UTF-8 (b"caf\\xe9.jpg", written
by an old camera or a Windows copy) over as a str with lone surrogates ("caf\\udce9.jpg"), which
opens, renames and lists the same file, but which SQLite, a terminal and JSON cannot take as text.
So the index stores such a name as its exact bytes (a BLOB in the same column) and gives it back as
the same str, never as a look-alike that would lead to another file or to none; and people are
shown it with the odd bytes escaped ("caf\\xe9.jpg").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def is_text(name: str) -> bool:
    """Whether `name` is valid Unicode text (it has no byte smuggled in as a lone surrogate)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stored(value: Any) -> Any:
    """A value as the index keeps it: a str that is not text becomes its file-system bytes."""
    if isinstance(value, str) and not is_text(value):
        return os.fsencode(value)
    return value


def loaded(value: Any) -> Any:
    """A value as the index gave it: bytes (the only BLOBs in the index are such names) become
    the str that opens the same file."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def shown(name: str | Path) -> str:
    """A path or name for a person, a terminal or a log: the bytes that are not text as \\xe9."""
    text = str(name)
    if is_text(text):
        return text
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def spoken_name(name: str) -> str:
    """A name to be said: the bytes that are not UTF-8 read as Windows-1252, what such names mostly
    are ("caf\xe9" → "café"); a guess fit for the voice only, never for finding the file again."""
    if is_text(name):
        return name
    return os.fsencode(name).decode("cp1252", "replace")
