"""The default LLM is the packaged file requantized here once (core/requantize.py): the exact file
the benchmarks measured, made atomically, by one process at a time, and where it cannot be made the
packaged file is used with the reason said."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.core import models, requantize
from assistant.core.models import QWEN_15B_COMPACT_FILE, QWEN_15B_COMPACT_SHA256, ResolvedModel, resolve_llm, sha256_of
from assistant.core.requantize import RequantizeError, derive
from assistant.llm.local import LocalLLM


def test_the_default_llm_is_the_compact_copy_the_benchmarks_measured() -> None:
    path = resolve_llm("qwen2.5-coder-1.5b").path
    assert path.name == QWEN_15B_COMPACT_FILE
    assert sha256_of(path) == QWEN_15B_COMPACT_SHA256
    assert not list(path.parent.glob("*.partial")), "a partial copy was left beside it"


def test_a_real_model_is_requantized_and_still_answers(tmp_path: Path) -> None:
    small = resolve_llm("smollm2-135m").path
    printed = subprocess.run(
        [sys.executable, "-m", "assistant.core.requantize", str(small), str(tmp_path / "probe.gguf")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = tmp_path / "small.gguf"
    derive(small, target, printed)
    assert sha256_of(target) == printed, "the copy is byte for byte what the conversion printed"
    assert target.stat().st_size < small.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob("*.partial"))
    engine = LocalLLM(str(target), n_ctx=512, threads=2)
    try:
        engine.llm.eval(engine.tokens("The capital of France is"))
        logits = np.ctypeslib.as_array(engine.llm._ctx.get_logits(), shape=(engine.llm.n_vocab(),))
        assert engine.llm.detokenize([int(logits.argmax())]).strip() == b"Paris"
    finally:
        engine.llm.close()


def test_a_copy_that_is_not_the_measured_file_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(RequantizeError, match="not the file the benchmarks measured") as caught:
        derive(resolve_llm("smollm2-135m").path, tmp_path / "small.gguf", "0" * 64)
    assert caught.value.lasting
    assert list(tmp_path.iterdir()) == []


def test_a_source_that_is_not_a_model_is_refused_with_llama_cpps_reason(tmp_path: Path) -> None:
    source = tmp_path / "broken.gguf"
    source.write_bytes(b"GGUF" + b"\xff" * 4096)
    with pytest.raises(RequantizeError, match="llama.cpp could not requantize broken.gguf: ") as caught:
        derive(source, tmp_path / "out.gguf", QWEN_15B_COMPACT_SHA256)
    assert caught.value.lasting
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.gguf"]


def test_a_pipe_where_the_model_should_be_is_refused_not_waited_on(tmp_path: Path) -> None:
    source = tmp_path / "pipe.gguf"
    os.mkfifo(source)
    with pytest.raises(RequantizeError, match="is not a regular file"):
        derive(source, tmp_path / "out.gguf", QWEN_15B_COMPACT_SHA256)


def test_a_full_disk_is_said_before_anything_is_written_and_a_dead_ones_partial_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.gguf"
    stale = tmp_path / "out.gguf.4242.1.partial"  # a process killed with -9 while converting
    stale.write_bytes(b"half")
    monkeypatch.setattr(requantize, "_free_bytes", lambda folder: 10 << 20)
    with pytest.raises(RequantizeError, match=r"not enough free disk .* MB needed, 10 MB free") as caught:
        derive(resolve_llm("smollm2-135m").path, target, QWEN_15B_COMPACT_SHA256)
    assert not caught.value.lasting, "freeing the disk is enough: the next start tries again"
    assert list(tmp_path.iterdir()) == []


class FakeQwen:
    """The default model's resolution with a small packaged file and a stand-in conversion."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder, self.calls = folder, 0
        self.original = folder / models.QWEN_15B_FILE
        self.failure: RequantizeError | None = None
        monkeypatch.setattr(models, "models_cache_dir", lambda: folder)
        monkeypatch.setattr(models, "_joined_qwen", self.joined)
        monkeypatch.setattr(models, "derive", self.derive)

    def joined(self) -> ResolvedModel:
        if not self.original.exists():
            self.original.write_bytes(b"packaged")
        return ResolvedModel(self.original, "packages", "licence")

    def derive(self, source: Path, target: Path, sha256: str) -> None:
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
    assert not fake.original.exists(), "the joined original is deleted once the copy is made"


def test_where_llama_cpp_fails_the_packaged_file_is_used_and_not_tried_at_every_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeQwen(tmp_path, monkeypatch)
    fake.failure = RequantizeError("llama.cpp could not requantize it: bad tensor", lasting=True)
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    assert "bad tensor: using qwen2.5-coder-1.5b-instruct-q4_k_m.gguf as packaged" in caplog.text
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    assert fake.calls == 1, "a failure of llama.cpp's own is not retried at the next start"
    assert "run `assistant models --check` to try again" in caplog.text
    fake.failure = None
    (tmp_path / (QWEN_15B_COMPACT_FILE + ".failed")).unlink()  # what `models --check` does first
    assert resolve_llm("qwen2.5-coder-1.5b").path.name == QWEN_15B_COMPACT_FILE


def test_a_full_disk_is_tried_again_at_the_next_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeQwen(tmp_path, monkeypatch)
    fake.failure = RequantizeError("not enough free disk", lasting=False)
    assert resolve_llm("qwen2.5-coder-1.5b").path == fake.original
    fake.failure = None
    assert resolve_llm("qwen2.5-coder-1.5b").path.name == QWEN_15B_COMPACT_FILE
    assert fake.calls == 2
