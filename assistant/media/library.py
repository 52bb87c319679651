"""The library's roots, and the one check every path passes: it must stay inside a root.

A path is judged by where it really leads (os.path.realpath), so neither `..` nor a symbolic link
anywhere along it can take the assistant outside the folders the household gave it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from assistant.core.errors import MediaError
from assistant.media.catalogue import Catalogue
from assistant.media.names import shown


def real(path: Path | str) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


class Library:
    def __init__(self, catalogue: Catalogue, configured: list[Path]) -> None:
        self.catalogue = catalogue
        self.configured = [real(p) for p in configured]

    def roots(self) -> list[Path]:
        seen: dict[Path, None] = {}
        for root in [*self.configured, *(Path(p) for p in self.catalogue.added_roots())]:
            seen.setdefault(root, None)
        return list(seen)

    def add(self, folder: Path | str) -> tuple[Path, bool]:
        """Add a root; (its real path, False if it was already one). Refuses a folder that is not
        there, a file, or one inside (or around) an existing root, which would index files twice."""
        path = real(folder)
        if not path.exists():
            raise MediaError(f"{shown(folder)} does not exist; check the path (is the disk mounted?)")
        if not path.is_dir():
            raise MediaError(f"{shown(folder)} is a file, not a folder")
        for root in self.roots():
            if path == root:
                return path, False
            if path.is_relative_to(root):
                raise MediaError(f"{shown(folder)} is already in the library, inside {shown(root)}")
            if root.is_relative_to(path):
                raise MediaError(
                    f"{shown(folder)} holds {shown(root)}, which is already in the library; remove that one first "
                    "(`assistant media remove-folder`) to add the whole folder"
                )
        added = self.catalogue.add_root(str(path), dt.datetime.now().isoformat(timespec="seconds"))
        return path, added

    def remove(self, folder: Path | str) -> bool:
        path = real(folder)
        if path in self.configured:
            raise MediaError(
                f"{shown(folder)} is set in the config file (media.folders or folders.photos/music); remove it there"
            )
        return self.catalogue.remove_root(str(path))

    def root_of(self, path: Path | str) -> Path | None:
        """The root that `path` really lies in, or None."""
        target = real(path)
        for root in self.roots():
            if target == root or target.is_relative_to(root):
                return root
        return None

    def check(self, path: Path | str) -> Path:
        """`path`'s real location, or MediaError when it lies outside every root."""
        root = self.root_of(path)
        if root is None:
            raise MediaError(
                f"{shown(path)} is outside the media library; the assistant only touches files in "
                f"{', '.join(map(shown, self.roots())) or 'the folders you add (`assistant media add-folder PATH`)'}"
            )
        return real(path)
