"""The files skill's backup, by voice and as the nightly routine: new and changed files copied, the
rest left, nothing half-written, and a clear answer when a folder is not set up."""

import asyncio
import os
from pathlib import Path

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from testbed.harness import TEMPLATES_ONLY


def make(tmp_path: Path, **folders: Path) -> Core:
    env = {**TEMPLATES_ONLY, **{f"ASSISTANT__FOLDERS__{k.upper()}": str(v) for k, v in folders.items()}}
    return build_core(load_config(environ=env), tmp_path / "data", Bus())


def ask(core: Core, text: str) -> str:
    return asyncio.run(core.dialogue.handle(text))


def test_backup_copies_new_and_changed_files_only(tmp_path: Path) -> None:
    photos, backup = tmp_path / "photos", tmp_path / "backup"
    (photos / "2026").mkdir(parents=True)
    (photos / "2026" / "a.jpg").write_bytes(b"a" * 5000)
    (photos / "b.jpg").write_bytes(b"b" * 10)
    core = make(tmp_path, photos=photos, backup=backup)
    assert ask(core, "back up my photos") == "Backed up 2 new or changed photo files."
    assert (backup / "photos" / "2026" / "a.jpg").read_bytes() == b"a" * 5000
    (photos / "b.jpg").write_bytes(b"changed")
    os.utime(photos / "b.jpg", (1, 1))
    assert ask(core, "back up my photos") == "Backed up 1 new or changed photo file, 1 already there."
    assert (backup / "photos" / "b.jpg").read_bytes() == b"changed"
    assert not [p for p in backup.rglob(".*")], "no temporary files are left behind"


def test_backup_without_folders_says_what_to_set(tmp_path: Path) -> None:
    core = make(tmp_path, photos=tmp_path / "photos")
    assert ask(core, "back up my photos") == "There's no backup folder set up: set folders.backup in the config."
    core = make(tmp_path, photos=tmp_path / "nowhere", backup=tmp_path / "backup")
    assert "isn't there" in ask(core, "back up my photos")


def test_the_nightly_photo_backup_routine_runs(tmp_path: Path) -> None:
    photos, backup = tmp_path / "photos", tmp_path / "backup"
    photos.mkdir()
    (photos / "x.jpg").write_bytes(b"x")
    core = make(tmp_path, photos=photos, backup=backup)
    routine = core.routines.get("nightly photo backup")
    assert routine is not None and routine.crons() == ["0 3 * * *"] and routine.catch_up == "once"
    run = asyncio.run(core.routines.runner.run(routine))
    assert run["state"] == "done" and run["steps"]["backup"]["data"]["copied"] == 1
    assert (backup / "photos" / "x.jpg").exists()
