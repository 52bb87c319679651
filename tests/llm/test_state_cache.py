"""The cached prompt states on disk stay within their limit, dropping the least recently used."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.llm.local import IN_USE_S, prune_states

NOW = 1_800_000_000 + 2 * IN_USE_S


def _state(folder: Path, name: str, size: int, age_s: float) -> Path:
    path = folder / f"{name}.npz"
    path.write_bytes(b"\0" * size)
    when = NOW - IN_USE_S - 1 - age_s  # every one older than a day, unless a test says otherwise
    os.utime(path, (when, when))
    return path


def test_the_least_recently_used_go_first_and_the_new_one_stays(tmp_path: Path) -> None:
    old = _state(tmp_path, "old", 400, age_s=3000)
    used = _state(tmp_path, "used", 400, age_s=10)
    middle = _state(tmp_path, "middle", 400, age_s=2000)
    new = _state(tmp_path, "new", 400, age_s=0)
    prune_states(tmp_path, keep=new, limit=1000, now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.npz", "used.npz"]
    assert not old.exists() and not middle.exists() and used.exists()


def test_the_state_just_written_is_kept_even_when_it_alone_is_over(tmp_path: Path) -> None:
    other = _state(tmp_path, "other", 50, age_s=100)
    big = _state(tmp_path, "big", 5000, age_s=0)
    prune_states(tmp_path, keep=big, limit=1000, now=NOW)
    assert big.exists() and not other.exists()


def test_other_files_are_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "README"
    notes.write_text("not a state")
    new = _state(tmp_path, "new", 400, age_s=0)
    prune_states(tmp_path, keep=new, limit=10, now=NOW)
    assert notes.exists() and new.exists()


def test_states_in_use_and_half_written_ones_are_kept(tmp_path: Path) -> None:
    """A bigger model's prompts may each be over the limit: the ones used today never push each other out."""
    new = _state(tmp_path, "new", 4000, age_s=0)
    today = tmp_path / "today.npz"
    today.write_bytes(b"\0" * 4000)
    os.utime(today, (NOW - 3600, NOW - 3600))
    partial = tmp_path / "other.llama-state.1234-5678.partial"
    partial.write_bytes(b"\0" * 4000)
    os.utime(partial, (NOW - 3600, NOW - 3600))
    prune_states(tmp_path, keep=new, limit=1000, now=NOW)
    assert new.exists() and today.exists() and partial.exists()


def test_a_half_written_state_a_killed_process_left_goes_after_a_day(tmp_path: Path) -> None:
    new = _state(tmp_path, "new", 400, age_s=0)
    left = [tmp_path / "a.llama-state.99-1.partial", tmp_path / "b.partial.npz"]
    for path in left:
        path.write_bytes(b"\0" * 4000)
        os.utime(path, (NOW - 10 * IN_USE_S, NOW - 10 * IN_USE_S))
    prune_states(tmp_path, keep=new, limit=100_000, now=NOW)
    assert new.exists() and not any(path.exists() for path in left)


def test_states_of_every_kind_are_pruned(tmp_path: Path) -> None:
    """llama.cpp's session files (this stop), the .npz ones of before and the prompts' token counts."""
    new = _state(tmp_path, "new", 400, age_s=0)
    for name in ("old.llama-state", "old.tokens"):
        path = tmp_path / name
        path.write_bytes(b"\0" * 400)
        os.utime(path, (NOW - 10 * IN_USE_S, NOW - 10 * IN_USE_S))
    prune_states(tmp_path, keep=new, limit=500, now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.npz"]
