"""What a command is told when another process holds the data folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core.store import RUNS, DataDirLock, StoreError

HOLD = """
import sys, time
from pathlib import Path
from assistant.core.store import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
assert lock.try_acquire(sys.argv[2])
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(
    "holder, said",
    [
        (RUNS, "the assistant is running on"),
        ("changing the household's voices", "another command (changing the household's voices) is running on"),
    ],
)
def test_the_message_says_who_holds_the_folder(tmp_path: Path, holder: str, said: str) -> None:
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), holder], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        with pytest.raises(StoreError) as refused:
            DataDirLock(tmp_path).acquire("changing the household's voices")
        assert said in refused.value.message, refused.value.message
    finally:
        other.kill()
        other.wait()
