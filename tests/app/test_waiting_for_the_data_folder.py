"""A one-shot command that finds another holding the data folder (`ask` twice at once) waits for it:
long enough for a cold `ask` that loads the LLM (about 7 s), and says so clearly when it gives up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from assistant.app.control import ControlError, running_or_alone
from assistant.core.store import DataDirLock
from testbed.harness import WAIT_S, wait_for

COLD_ASK_S = 7.5
"""A little over a cold `ask` that needs the LLM on a slow machine (3.7 s in docs/benchmarks/startup.md,
about 7 s seen elsewhere); the wait used to be 5 s."""


def test_a_second_command_waits_out_a_cold_ask(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    assert first.try_acquire("a question")
    second = DataDirLock(tmp_path)
    tries: list[float] = []

    def try_lock() -> bool:
        tries.append(time.monotonic())
        return second.try_acquire("a question")

    got: list[object] = []
    waiting = threading.Thread(
        target=lambda: got.append(running_or_alone(tmp_path, try_lock, lambda: False)), daemon=True
    )
    waiting.start()
    try:
        # The first holds the folder as long as a cold ask: the second is still trying all along.
        wait_for(
            lambda: not waiting.is_alive() or (len(tries) > 1 and tries[-1] - tries[0] >= COLD_ASK_S),
            COLD_ASK_S + WAIT_S,
        )
        assert waiting.is_alive() and not got, f"gave up after {tries[-1] - tries[0]:.1f} s"
    finally:
        first.release()
    waiting.join(WAIT_S)
    assert got == [None], "it has the folder to itself: no socket, no refusal"
    second.release()


def test_a_command_that_never_finishes_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    assert first.try_acquire("a question")
    try:
        with pytest.raises(ControlError) as refused:
            running_or_alone(tmp_path, DataDirLock(tmp_path).try_acquire, lambda: False, busy_s=0.3, poll_s=0.05)
    finally:
        first.release()
    assert refused.value.message == (
        f"another command is running on {tmp_path} and would race this one (waited 0.3 s): try again when it has finished"
    )
