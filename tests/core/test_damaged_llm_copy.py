"""A damaged copy of the LLM made here (the compact copy cut short by a full disk or a copy stopped
half way) is found when it does not load, deleted and made again, and loaded once more; a whole
copy that fails for another reason (memory) is kept. `assistant models --check` makes a copy that
differs from the recorded one again before it blames llama.cpp's rounding."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.app.runtime import build_core, make_planner
from assistant.core import models, requantize
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import LLMUnavailable
from assistant.core.models import QWEN_15B_COMPACT_FILE, drop_if_damaged, resolve_llm
from assistant.core.requantize import gguf_damage
from assistant.understanding.planner import LocalPlanner

SMALL = resolve_llm("smollm2-135m").path
"""A real GGUF file, small enough to copy and load in a test."""


def cut_short(target: Path, keep: int) -> Path:
    with SMALL.open("rb") as whole, target.open("wb") as part:
        part.write(whole.read(keep))
    return target


# --- is it whole? ----------------------------------------------------------------------------


def test_whole_files_are_whole_to_the_last_byte() -> None:
    """The header's tensors end where the file does: the table of ggml's block sizes is right for
    every type these files hold (Q4_1, Q4_K, Q5_K, Q6_K, Q8_0, F32)."""
    for path in (SMALL, resolve_llm("qwen2.5-coder-1.5b").path):
        assert gguf_damage(path) is None
        with path.open("rb") as f:
            assert requantize.gguf_extent(f.read(32 << 20)) == path.stat().st_size, path.name


def test_a_file_cut_short_or_not_a_gguf_file_is_damaged(tmp_path: Path) -> None:
    size = SMALL.stat().st_size
    assert gguf_damage(cut_short(tmp_path / "half.gguf", 8 << 20)) == (
        f"it is {8 << 20:,} bytes and its tensors take {size:,}: cut short"
    )
    assert gguf_damage(cut_short(tmp_path / "header.gguf", 300_000)) == "its header is cut short (300,000 bytes in all)"
    assert gguf_damage(cut_short(tmp_path / "nothing.gguf", 0)) == "it does not begin as a GGUF file does"
    (tmp_path / "text.gguf").write_text("<html>404 not found</html>")
    assert gguf_damage(tmp_path / "text.gguf") == "it does not begin as a GGUF file does"
    assert cut_short(tmp_path / "whole.gguf", size).stat().st_size == size
    assert gguf_damage(tmp_path / "whole.gguf") is None


# --- the default model's copy, made in a folder of the test's own ---------------------------------


class Packaged:
    """The default model's resolution in `folder`: its packaged parts joined by the real code, and
    the requantization (half a minute on the real file) standing in as a copy of SmolLM2."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch, made: bytes | None = None) -> None:
        self.compact = folder / QWEN_15B_COMPACT_FILE
        self.made, self.calls = made, 0
        monkeypatch.setattr(models, "models_cache_dir", lambda: folder)
        folder.mkdir(exist_ok=True)
        part = folder / "part"
        part.write_bytes(b"packaged")
        monkeypatch.setattr(models, "_part_paths", lambda *args: [part])
        monkeypatch.setattr(models, "QWEN_15B_SHA256", hashlib.sha256(b"packaged").hexdigest())
        monkeypatch.setattr(requantize, "derive", self.derive)

    def derive(self, source: Path, target: Path, lock_fd: int) -> None:
        self.calls += 1
        if self.made is None:
            shutil.copyfile(SMALL, target)
        else:
            target.write_bytes(self.made)


def load_default(data: Path, **settings: str) -> LocalPlanner:
    """The planner as `assistant run` and `ask` load it (make_planner), not yet warmed: its system
    prompt's first evaluation on a fresh file takes minutes on a busy machine."""
    environ = {
        "ASSISTANT__PLANNER__THREADS": "2",
        **{f"ASSISTANT__PLANNER__{k.upper()}": v for k, v in settings.items()},
    }
    config = load_config(environ=environ)
    core = build_core(config, data, Bus())
    backend = make_planner(config, core.registry.tools(), core.dialogue.router.matcher)
    assert isinstance(backend, LocalPlanner)
    return backend


def test_a_compact_copy_cut_short_is_made_again_and_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    packaged = Packaged(tmp_path / "models", monkeypatch)
    cut_short(packaged.compact, 8 << 20)  # the file a full disk left
    caplog.set_level(logging.WARNING)
    planner = load_default(tmp_path / "data")
    assert planner.engine.model_path == str(packaged.compact)
    assert packaged.calls == 1 and gguf_damage(packaged.compact) is None
    assert (
        f"{packaged.compact}, made here from the packaged LLM, is damaged (it is {8 << 20:,} bytes and its tensors "
        f"take {SMALL.stat().st_size:,}: cut short): deleting it to make it again"
    ) in caplog.text


def test_a_whole_copy_that_fails_to_load_for_want_of_memory_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context of 8 M tokens (150 GB of keys and values): llama.cpp cannot allocate it. The file is
    not at fault, and deleting it would cost half a minute of making it again for nothing."""
    packaged = Packaged(tmp_path / "models", monkeypatch)
    shutil.copyfile(SMALL, packaged.compact)
    before = packaged.compact.stat()
    with pytest.raises(LLMUnavailable) as refused:
        load_default(tmp_path / "data", context=str(1 << 23))
    assert refused.value.code == "planner_unavailable"
    assert refused.value.message == (
        f"the language model could not be loaded (cannot load the LLM {packaged.compact}: Failed to create "
        "llama_context): run `assistant models --check`, then start the assistant again"
    )
    after = packaged.compact.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns) and packaged.calls == 0


def test_only_the_files_made_here_are_ever_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged file the config names is the person's: said, never deleted."""
    Packaged(tmp_path / "models", monkeypatch)
    theirs = cut_short(tmp_path / "mine.gguf", 8 << 20)
    assert not drop_if_damaged(theirs) and theirs.exists()
    joined = cut_short(tmp_path / "models" / models.QWEN_15B_FILE, 8 << 20)
    assert drop_if_damaged(joined) and not joined.exists()
    assert not drop_if_damaged(joined), "gone already: nothing to do"


# --- assistant models --check ----------------------------------------------------------------

MEASURED = b"the copy the benchmarks measured"


def test_the_check_makes_a_copy_that_differs_again_and_finds_it_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = Packaged(tmp_path, monkeypatch, made=MEASURED)
    monkeypatch.setattr(models, "QWEN_15B_COMPACT_SHA256", hashlib.sha256(MEASURED).hexdigest())
    packaged.compact.write_bytes(MEASURED[:-1] + b"?")  # one byte flipped: whole by its header and size
    checked = models._check_default_llm()
    assert packaged.calls == 1 and packaged.compact.read_bytes() == MEASURED
    assert checked.path == packaged.compact
    assert checked.source.endswith(
        ", made again (the copy that was here differed), byte for byte the file the benchmarks measured"
    )
    assert not (tmp_path / models.QWEN_15B_FILE).exists(), "the joined original goes once the copy is right"


def test_the_check_blames_llama_cpps_rounding_only_when_a_fresh_copy_differs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = Packaged(tmp_path, monkeypatch, made=b"rounded another way")
    monkeypatch.setattr(models, "QWEN_15B_COMPACT_SHA256", hashlib.sha256(MEASURED).hexdigest())
    packaged.compact.write_bytes(b"damaged")
    checked = models._check_default_llm()
    assert packaged.calls == 1, "made again once, not in a loop"
    assert checked.source.endswith(
        ", not byte for byte the file the benchmarks measured even made again here: the llama.cpp built here "
        "rounds differently"
    )
    packaged.calls = 0
    assert models._check_default_llm().source.endswith("rounds differently") and packaged.calls == 1


JUDGED_WITH_LITTLE_MEMORY = """
import resource, sys
from pathlib import Path
from assistant.core.requantize import gguf_damage
with open("/proc/self/status") as status:
    (used,) = [int(line.split()[1]) << 10 for line in status if line.startswith("VmSize:")]
room = used + (24 << 20)  # the address space this process has, and 24 MB: not the whole file's
assert room < used + Path(sys.argv[1]).stat().st_size
resource.setrlimit(resource.RLIMIT_AS, (room, room))
for path in sys.argv[1:]:
    print(gguf_damage(Path(path)))
"""


def test_a_whole_file_is_whole_with_too_little_memory_to_map_it(tmp_path: Path) -> None:
    """Under an address-space limit (ulimit -v: when llama.cpp fails for want of memory) the file is
    judged by its header, read in bounded pieces; not mapping it whole, which would fail and make a
    good copy look damaged, to be deleted and made again."""
    half = cut_short(tmp_path / "half.gguf", 8 << 20)
    judged = subprocess.run(
        [sys.executable, "-c", JUDGED_WITH_LITTLE_MEMORY, str(SMALL), str(half)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert judged.stdout.splitlines() == [
        "None",
        f"it is {8 << 20:,} bytes and its tensors take {SMALL.stat().st_size:,}: cut short",
    ], judged.stderr


def test_a_file_that_cannot_be_read_is_not_judged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Cannot read (EIO, ENOMEM, permissions): cannot tell, so not damaged, and said in the log."""
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    assert gguf_damage(folder) is None
    assert f"cannot tell whether {folder} is whole: Is a directory" in caplog.text


def test_a_header_past_the_limit_is_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requantize, "HEADER_LIMIT", 1 << 20)
    assert gguf_damage(SMALL) is None
    with SMALL.open("rb") as f:
        with pytest.raises(requantize._TooLong):
            requantize.gguf_extent(f.read(2 << 20))
