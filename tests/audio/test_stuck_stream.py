"""A stream whose close never returns (PortAudio's ALSA thread spinning after its device went away)
neither freezes the voice loop nor keeps the process from ending."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from assistant.audio import portaudio
from assistant.audio.sources import MicrophoneSource
from assistant.core.errors import AudioDeviceError

STUCK = threading.Event()  # never set
STUCK_S = 10.0
"""How long a stuck close takes here: bounded, so the code before the fix failed instead of hanging."""


class StuckStream:
    """Delivers one block, then its close waits forever, as Pa_CloseStream joining a spinning thread does."""

    def __init__(self, callback: Any, **_: Any) -> None:
        self.callback = callback
        self.active = True
        self.closing = threading.Event()

    def start(self) -> None:
        self.callback(np.zeros((1280, 1), dtype=np.int16), 1280, None, None)

    def stop(self, ignore_errors: bool = True) -> None:
        STUCK.wait(STUCK_S)

    def close(self, ignore_errors: bool = True) -> None:
        self.closing.set()
        STUCK.wait(STUCK_S)


def test_a_stuck_close_is_left_behind_after_its_wait() -> None:
    stream = StuckStream(lambda *a: None)
    started = time.monotonic()
    assert portaudio.close_stream(stream, "microphone", wait_s=0.3) is False
    assert stream.closing.is_set()
    assert time.monotonic() - started < 2.0


def test_a_stream_that_closes_is_closed_and_drained_when_asked() -> None:
    calls: list[str] = []
    stream = SimpleNamespace(
        stop=lambda ignore_errors: calls.append("stop"), close=lambda ignore_errors: calls.append("close")
    )
    assert portaudio.close_stream(stream, "speaker", drain=True) is True
    assert calls == ["stop", "close"]
    calls.clear()
    assert portaudio.close_stream(stream, "speaker") is True
    assert calls == ["close"]


def test_a_close_that_fails_because_the_device_is_gone_counts_as_closed() -> None:
    def gone(ignore_errors: bool) -> None:
        raise RuntimeError("Error closing stream: Unanticipated host error")

    assert portaudio.close_stream(SimpleNamespace(close=gone), "speaker") is True


def test_the_microphone_stops_at_once_while_its_stream_will_not_close(monkeypatch: Any) -> None:
    opened: list[StuckStream] = []

    def input_stream(**kwargs: Any) -> StuckStream:
        opened.append(StuckStream(**kwargs))
        return opened[-1]

    fake_sd = SimpleNamespace(check_input_settings=lambda **_: None, InputStream=input_stream)
    monkeypatch.setattr("assistant.audio.sources.sounddevice", lambda: fake_sd)
    monkeypatch.setattr(portaudio, "CLOSE_WAIT_S", 0.3)

    async def main() -> float:
        mic = MicrophoneSource()
        got = asyncio.Event()

        async def read() -> None:
            async for _ in mic.blocks():
                got.set()

        task = asyncio.create_task(read())
        await asyncio.wait_for(got.wait(), 5)
        ticks = 0

        async def tick() -> None:  # the loop keeps running while the close is stuck
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        took = time.monotonic() - started
        ticker.cancel()
        assert ticks >= 5, "the event loop froze while the microphone closed"
        return took

    took = asyncio.run(main())
    assert opened and opened[0].closing.is_set()
    assert took < 3.0


def test_a_process_with_a_stuck_stream_still_exits() -> None:
    code = textwrap.dedent(
        """
        import threading
        from types import SimpleNamespace
        from assistant.audio.portaudio import close_stream
        stuck = SimpleNamespace(close=lambda ignore_errors: threading.Event().wait())
        assert close_stream(stuck, "speaker", wait_s=0.2) is False
        print("left behind")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left behind"


def test_a_microphone_that_delivers_nothing_while_running_is_reported_gone(monkeypatch: Any) -> None:
    """A driver spinning on a vanished device keeps its stream 'active' but delivers no audio."""
    fake_sd = SimpleNamespace(
        check_input_settings=lambda **_: None,
        InputStream=lambda **kw: SimpleNamespace(
            start=lambda: kw["callback"](np.zeros((1280, 1), dtype=np.int16), 1280, None, None),
            active=True,
            close=lambda ignore_errors: None,
        ),
    )
    monkeypatch.setattr("assistant.audio.sources.sounddevice", lambda: fake_sd)
    monkeypatch.setattr(MicrophoneSource, "STALL_S", 0.6)
    monkeypatch.setattr(MicrophoneSource, "CHECK_S", 0.1)

    async def main() -> tuple[int, str, float]:
        mic, got = MicrophoneSource(), 0
        started = time.monotonic()
        try:
            async for _ in mic.blocks():
                got += 1
        except AudioDeviceError as e:
            return got, e.message, time.monotonic() - started
        raise AssertionError("the microphone never said it stopped")

    got, message, took = asyncio.run(main())
    assert got == 1
    assert "stopped delivering audio" in message
    assert 0.5 < took < 3.0
