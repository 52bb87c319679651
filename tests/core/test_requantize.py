"""The default LLM is the packaged file requantized here once (core/requantize.py): the exact file
the benchmarks measured, made atomically, by one process at a time, and where it cannot be made the
packaged file is used with the reason said."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.core import models, requantize
from assistant.core.errors import ModelNotFoundError
from assistant.core.models import QWEN_15B_COMPACT_FILE, QWEN_15B_COMPACT_SHA256, resolve_llm, sha256_of
from assistant.core.requantize import RequantizeError, derive, locked
from assistant.llm.local import LocalLLM


def test_the_default_llm_is_the_compact_copy_the_benchmarks_measured() -> None:
    path = resolve_llm("qwen2.5-coder-1.5b").path
    assert path.name == QWEN_15B_COMPACT_FILE
    assert sha256_of(path) == QWEN_15B_COMPACT_SHA256
    assert not list(path.parent.glob("*.partial")), "a partial copy was left beside it"


def test_a_real_model_is_requantized_and_still_answers(tmp_path: Path) -> None:
    small = resolve_llm("smollm2-135m").path
    target = tmp_path / "small.gguf"
    with locked(tmp_path / "lock") as fd:
        derive(small, target, fd)
    assert target.stat().st_size < small.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "small.gguf"], "a partial copy was left"
    engine = LocalLLM(str(target), n_ctx=512, threads=2)
    try:
        engine.llm.eval(engine.tokens("The capital of France is"))
        logits = np.ctypeslib.as_array(engine.llm._ctx.get_logits(), shape=(engine.llm.n_vocab(),))
        assert engine.llm.detokenize([int(logits.argmax())]).strip() == b"Paris"
    finally:
        engine.llm.close()


def test_a_source_that_is_not_a_model_is_refused_with_llama_cpps_reason(tmp_path: Path) -> None:
    source = tmp_path / "broken.gguf"
    source.write_bytes(b"GGUF" + b"\xff" * 4096)
    with (
        locked(tmp_path / "lock") as fd,
        pytest.raises(RequantizeError, match="llama.cpp could not requantize broken.gguf: ") as caught,
    ):
        derive(source, tmp_path / "out.gguf", fd)
    assert caught.value.lasting
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.gguf", "lock"]


@pytest.mark.parametrize(("status", "lasting"), [(requantize.LLAMA_FAILED, True), (-2, False), (-9, False), (1, False)])
def test_only_llama_cpps_own_refusal_is_lasting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, lasting: bool
) -> None:
    """Ctrl-C (-2), the OOM killer (-9) or a missing llama-cpp-python (1) are tried again next time."""
    monkeypatch.setattr(
        requantize.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, status, b"", b"stopped\n")
    )
    with locked(tmp_path / "lock") as fd, pytest.raises(RequantizeError, match="stopped") as caught:
        derive(resolve_llm("smollm2-135m").path, tmp_path / "out.gguf", fd)
    assert caught.value.lasting is lasting


def test_a_pipe_where_the_model_should_be_is_refused_not_waited_on(tmp_path: Path) -> None:
    source = tmp_path / "pipe.gguf"
    os.mkfifo(source)
    with locked(tmp_path / "lock") as fd, pytest.raises(RequantizeError, match="is not a regular file"):
        derive(source, tmp_path / "out.gguf", fd)
    os.mkfifo(tmp_path / "fifo.lock")
    with (
        pytest.raises(ModelNotFoundError, match="fifo.lock is not a regular file: remove it"),
        locked(tmp_path / "fifo.lock"),
    ):
        pass


def test_a_cache_that_cannot_be_written_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(models, "models_cache_dir", lambda: tmp_path / "file" / "models")
    with pytest.raises(ModelNotFoundError, match=r"cannot make model files in .*/file/models: Not a directory"):
        resolve_llm("qwen2.5-coder-1.5b")


def test_a_full_disk_is_said_before_anything_is_written_and_a_dead_ones_partial_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.gguf"
    stale = tmp_path / "out.gguf.4242.1.partial"  # a process killed with -9 while converting
    stale.write_bytes(b"half")
    monkeypatch.setattr(requantize, "free_bytes", lambda folder: 10 << 20)
    with (
        locked(tmp_path / "lock") as fd,
        pytest.raises(RequantizeError, match=r"not enough free disk .* MB needed, 10 MB free") as caught,
    ):
        derive(resolve_llm("smollm2-135m").path, target, fd)
    assert not caught.value.lasting, "freeing the disk is enough: the next start tries again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock"]


KILLED_WHILE_CONVERTING = """
import sys
from pathlib import Path
from assistant.core.requantize import derive, locked
with locked(Path(sys.argv[1])) as fd:
    derive(Path(sys.argv[2]), Path(sys.argv[3]), fd)
"""


def test_a_process_killed_while_converting_leaves_the_lock_to_its_conversion(tmp_path: Path) -> None:
    """kill -9 of the assistant does not kill its conversion: the next start must wait for it, not
    start a second one beside it (and then delete the partial copy it is writing)."""
    lock, target = tmp_path / "lock", tmp_path / "small.gguf"
    parent = subprocess.Popen(
        [sys.executable, "-c", KILLED_WHILE_CONVERTING, str(lock), str(resolve_llm("smollm2-135m").path), str(target)]
    )
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("*.partial")):
        assert time.monotonic() < deadline and parent.poll() is None, "the conversion never began"
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    with open(lock, "a") as held:
        with pytest.raises(BlockingIOError):
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(held, fcntl.LOCK_EX)  # the orphaned conversion ends, and lets go
    assert not target.exists(), "nobody renamed the orphan's copy into place"
    with locked(lock) as fd:
        derive(resolve_llm("smollm2-135m").path, target, fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "small.gguf"], "the orphan's partial stayed"


class FakeQwen:
    """The default model's resolution with a small packaged file and a stand-in conversion."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder, self.calls = folder, 0
        self.original = folder / models.QWEN_15B_FILE
        self.failure: RequantizeError | None = None
        monkeypatch.setattr(models, "models_cache_dir", lambda: folder)
        monkeypatch.setattr(models, "_part_paths", self.parts)
        monkeypatch.setattr(models, "QWEN_15B_SHA256", hashlib.sha256(b"packaged").hexdigest())
        monkeypatch.setattr(requantize, "derive", self.derive)

    def parts(self, *args: object) -> list[Path]:
        """The packaged parts, joined by the real code."""
        part = self.folder / "part"
        part.write_bytes(b"packaged")
        return [part]

    def derive(self, source: Path, target: Path, lock_fd: int) -> None:
        self.calls += 1
        time.sleep(0.2)  # long enough for a second process to come while it works
        if self.failure:
            raise self.failure
        target.write_bytes(b"compact " + source.read_bytes())


def test_the_copy_is_made_once_even_when_two_start_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeQwen(tmp_path, monkeypatch)
    found: list[Path] = []
    starts = [threading.Thread(target=lambda: found.append(resolve_llm("qwen2.5-coder-1.5b").path)) for _ in range(3)]
    for t in starts:
        t.start()
    for t in starts:
        t.join()
    assert fake.calls == 1
    assert found == [tmp_path / QWEN_15B_COMPACT_FILE] * 3
    assert resolve_llm("qwen2.5-coder-1.5b-q4_k_m").path == fake.original, "the joined file stays until the check"


def test_the_check_makes_the_copy_again_after_a_refusal_and_deletes_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeQwen(tmp_path, monkeypatch)
    fake.failure = RequantizeError("llama.cpp could not requantize it: bad tensor", lasting=True)
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    assert "bad tensor: using qwen2.5-coder-1.5b-instruct-q4_k_m.gguf as packaged" in caplog.text
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    assert fake.calls == 1, "llama.cpp's own refusal is not tried again at the next start"
    assert "run `assistant models --check` to try again" in caplog.text
    fake.failure = None
    checked = models._check_default_llm()
    # Made, then made once more: the stand-in copy is not the recorded one (test_damaged_llm_copy.py).
    assert checked.path.name == QWEN_15B_COMPACT_FILE and fake.calls == 3
    assert not fake.original.exists(), "the check deletes the joined original once the copy is made"
    assert "not byte for byte the file the benchmarks measured" in checked.source


def test_a_full_disk_is_tried_again_at_the_next_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeQwen(tmp_path, monkeypatch)
    fake.failure = RequantizeError("not enough free disk", lasting=False)
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    fake.failure = None
    assert resolve_llm("qwen2.5-coder-1.5b").path.name == QWEN_15B_COMPACT_FILE
    assert fake.calls == 2
