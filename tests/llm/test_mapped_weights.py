"""The LLM's file is mapped, and llama.cpp's MAP_POPULATE does not leave all of it resident: the
pages the load read (for the repacked copy, or not needed until a request) are let go of."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from assistant.core.models import resolve_llm
from assistant.llm import local
from assistant.llm.local import LocalLLM


def resident_mb(path: Path) -> int:
    """This process's resident MB of the file's mappings."""
    inode, total, inside = str(path.stat().st_ino), 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields[0].endswith(":"):
                inside = len(fields) > 4 and fields[4] == inode
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total // 1024


def test_the_loaded_models_file_is_not_left_resident_and_still_answers() -> None:
    path = resolve_llm("smollm2-135m").path
    size_mb = os.path.getsize(path) // 2**20
    engine = LocalLLM(str(path), n_ctx=512, threads=2)
    try:
        assert resident_mb(path) <= size_mb // 10, f"{resident_mb(path)} of {size_mb} MB of the file resident"
        engine.llm.eval(engine.tokens("The capital of France is"))
        assert resident_mb(path) > 0, "a request reads the weights it uses back from the file"
        logits = np.ctypeslib.as_array(engine.llm._ctx.get_logits(), shape=(engine.llm.n_vocab(),))
        assert engine.llm.detokenize([int(logits.argmax())]).strip() == b"Paris"
    finally:
        engine.llm.close()


def test_ctrl_c_during_the_load_stops_it_and_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp calls back into Python while it loads; ctypes would print and drop an exception there."""
    calls = []

    def interrupted(path: str) -> int:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return 0

    monkeypatch.setattr(local, "drop_mapped_pages", interrupted)
    with pytest.raises(KeyboardInterrupt):
        LocalLLM(str(resolve_llm("smollm2-135m").path), n_ctx=512, threads=2)
    assert len(calls) == 2, "the load went on after Ctrl-C"
