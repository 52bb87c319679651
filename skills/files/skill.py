"""Backups of the household's named folders: new and changed files are copied, crash-safely, to the
backup folder (a second disk, a NAS mount); nothing is ever deleted there."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from assistant.language.lists import counted
from assistant.plugins.api import Permission, Skill, SkillContext, ToolResult, tool

Folder = Literal["photos", "music", "documents"]


class FilesSkill(Skill):
    name = "files"
    description = "Backs up the photos, music and documents folders."
    permissions = frozenset({Permission.FOLDERS})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.folders = context.folders

    @tool
    def backup(self, folder: Folder = "photos") -> ToolResult:
        """Copy new and changed files of a folder into the backup folder."""
        source, target = self.folders.get(folder), self.folders.get("backup")
        if source is None or target is None:
            missing = folder if source is None else "backup"
            return ToolResult(
                f"There's no {missing} folder set up: set folders.{missing} in the config.",
                {"error": "no_folder", "folder": missing},
                ok=False,
            )
        if not source.is_dir():
            return ToolResult(
                f"The {folder} folder {source} isn't there; is the disk connected?",
                {"error": "missing", "path": str(source)},
                ok=False,
            )
        copied = unchanged = 0
        failed: list[str] = []
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            destination = target / folder / path.relative_to(source)
            if _same(path, destination):
                unchanged += 1
                continue
            try:
                _copy(path, destination)
                copied += 1
            except OSError as e:
                failed.append(f"{path}: {e.strerror or e}")
        data = {
            "folder": folder,
            "copied": copied,
            "unchanged": unchanged,
            "failed": failed,
            "to": str(target / folder),
        }
        if failed:
            return ToolResult(f"Backed up {copied} {folder} files; {len(failed)} could not be copied.", data, ok=False)
        noun = {"photos": "photo", "music": "music", "documents": "document"}[folder]
        return ToolResult(
            f"Backed up {counted(copied, f'new or changed {noun} file')}"
            f"{f', {unchanged} already there' if unchanged else ''}.",
            data,
        )


def _same(source: Path, destination: Path) -> bool:
    try:
        a, b = source.stat(), destination.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def _copy(source: Path, destination: Path) -> None:
    """Into a temporary file beside the destination, fsynced, then renamed: a backup cut short by a
    crash leaves no half-written file under a real name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, tmp)
        os.replace(tmp, destination)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
