"""Joining a model from its packaged parts on a disk that fills: one line saying which file could not
be written where, why, and the room it needs; no half-joined file left behind."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from assistant.core import models
from assistant.core.errors import ModelNotFoundError
from assistant.core.models import QWEN_15B_FILE, resolve_llm

MIB = 1 << 20


def parts_in(folder: Path, sizes: tuple[int, ...] = (2 * MIB, MIB + MIB // 2)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for n, size in enumerate(sizes):
        part = folder / f"part{n}"
        part.write_bytes(os.urandom(size))
        parts.append(part)
    return parts


def joined_sha(parts: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()


def test_a_full_disk_says_which_file_where_why_and_how_much_and_leaves_nothing(tmp_path: Path) -> None:
    parts = parts_in(tmp_path / "package")
    cache = tmp_path / "cache"
    cache.mkdir()
    target = cache / "model.gguf"
    (cache / "model.gguf.partial").symlink_to("/dev/full")  # every write: No space left on device
    with pytest.raises(ModelNotFoundError) as refused:
        models._join_parts(parts, target, joined_sha(parts), "the-package==1.0")
    assert refused.value.message.startswith(
        f"cannot write model.gguf in {cache}: No space left on device (it needs 3.5 MiB, "
    )
    assert refused.value.message.endswith(" MiB free there): free some space and try again")
    assert isinstance(refused.value.__cause__, OSError) and refused.value.__cause__.errno == errno.ENOSPC
    assert list(cache.iterdir()) == [], "the partial file (here the link) is gone, and no target was made"


def test_the_default_llm_joined_on_a_full_disk_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """resolve_llm as `assistant run` and `ask` call it."""
    parts = parts_in(tmp_path / "package")
    monkeypatch.setattr(models, "models_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(models, "_part_paths", lambda *args: parts)
    monkeypatch.setattr(models, "QWEN_15B_SHA256", joined_sha(parts))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f"{QWEN_15B_FILE}.partial").symlink_to("/dev/full")
    with pytest.raises(ModelNotFoundError, match=rf"cannot write {QWEN_15B_FILE} in .*: No space left on device"):
        resolve_llm("qwen2.5-coder-1.5b-q4_k_m")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["qwen2.5-coder-1.5b.lock"]
    resolved = resolve_llm("qwen2.5-coder-1.5b-q4_k_m")  # room again: joined whole
    assert resolved.path.read_bytes() == b"".join(p.read_bytes() for p in parts)


def test_a_part_that_cannot_be_read_is_the_packages_fault_not_the_disks(tmp_path: Path) -> None:
    parts = parts_in(tmp_path / "package")
    parts[1].unlink()
    parts[1].mkdir()
    with pytest.raises(ModelNotFoundError, match=r"cannot read .*/part1: Is a directory: reinstall the-package==1.0"):
        models._join_parts(parts, tmp_path / "model.gguf", joined_sha(parts[:1]), "the-package==1.0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["package"]


def test_whisper_base_joined_on_a_full_disk_leaves_no_partial_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "package"
    parts = parts_in(package)
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (package / extra).write_text("{}")
    monkeypatch.setattr(models, "models_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(models, "_part_paths", lambda *args: parts)
    monkeypatch.setattr(models, "WHISPER_BASE_SHA256", joined_sha(parts))

    copyfile = models.shutil.copyfile

    def full(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(models.shutil, "copyfile", full)
    with pytest.raises(
        ModelNotFoundError, match=r"cannot write whisper-base in .*/cache: No space left on device \(it needs 3\.5 MiB"
    ):
        models.resolve_whisper("base", None, False)
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.setattr(models.shutil, "copyfile", copyfile)  # room again
    (tmp_path / "cache" / "whisper-base.partial").mkdir()
    (tmp_path / "cache" / "whisper-base.partial" / "model.bin.partial").symlink_to("/dev/full")
    # The partial folder is made afresh, so a link left in it is gone: the join is whole.
    assert (models.resolve_whisper("base", None, False).path / "model.bin").stat().st_size == 3.5 * MIB
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["whisper-base"]


def test_whisper_base_missing_a_file_of_its_package_says_to_reinstall_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.json missing from the package: its fault, said as such, not a write that failed (nor a
    FileNotFoundError from sizing it for that message); nothing is left in the cache."""
    package = tmp_path / "package"
    parts = parts_in(package)
    for extra in ("tokenizer.json", "vocabulary.txt"):
        (package / extra).write_text("{}")
    monkeypatch.setattr(models, "models_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(models, "_part_paths", lambda *args: parts)
    monkeypatch.setattr(models, "WHISPER_BASE_SHA256", joined_sha(parts))
    with pytest.raises(ModelNotFoundError) as refused:
        models.resolve_whisper("base", None, False)
    assert refused.value.message == (
        f"cannot read {package / 'config.json'}: No such file or directory: reinstall {models.WHISPER_BASE_PIP}"
    )
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []

    (package / "config.json").mkdir()  # there, but not a file that can be read
    with pytest.raises(ModelNotFoundError, match=r"cannot read .*/config\.json: Is a directory: reinstall "):
        models.resolve_whisper("base", None, False)
