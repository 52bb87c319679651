"""Background work gives way to the voice: the foreground gate, the low-priority worker thread, and
the media index pausing while someone is heard and answered."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from assistant.core.background import MAX_PAUSE_S, NICE, BackgroundWorker, Foreground
from assistant.core.bus import Bus
from assistant.core.config import MediaConfig
from assistant.core.errors import MediaError
from assistant.core.events import Ready, Wake
from assistant.media.service import MediaLibrary
from testbed.fakes.media_library import make_small_photos
from testbed.harness import WAIT_S, wait_for_async

AT_ONCE_S = 1.0
"""What "returns at once" allows on a busy machine: far below the pause it would take instead."""
SCAN_S = 240.0
"""How long to wait on the worker, at nice 19: its scan of the 600 photos below took about 90 s with
two CPU-bound processes beside the tests."""


def _in_thread(fn):  # type: ignore[no-untyped-def]
    done = threading.Event()
    out: dict[str, object] = {}

    def body() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e
        done.set()

    threading.Thread(target=body, daemon=True).start()
    return done, out


class WatchedForeground(Foreground):
    """The real foreground, telling the test when background work first comes to give way."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()

    def give_way(self, cancel: threading.Event | None = None) -> None:
        self.asked.set()
        super().give_way(cancel)


def test_give_way_waits_while_held_and_not_otherwise() -> None:
    fg = Foreground()
    start = time.monotonic()
    fg.give_way()
    assert time.monotonic() - start < AT_ONCE_S
    fg.hold("voice")
    fg.hold("phone-3")
    done, _ = _in_thread(fg.give_way)
    assert not done.wait(0.3)
    fg.release("voice")
    assert not done.wait(0.3), "one holder is still in the foreground"
    fg.release("phone-3")
    assert done.wait(WAIT_S)
    assert not fg.busy


def test_a_hold_pauses_work_for_at_most_max_pause_s_in_all() -> None:
    fg = Foreground(max_pause_s=1.0)
    fg.hold("voice")  # and never released: a missed `ready`
    start = time.monotonic()
    fg.give_way()
    assert 0.95 < time.monotonic() - start < 1.0 + WAIT_S, "paused for max_pause_s, not for ever"
    start = time.monotonic()
    fg.give_way()
    assert time.monotonic() - start < fg.max_pause_s / 2, "the same hold paused the work twice"
    fg.release("voice")
    fg.hold("voice")
    done, _ = _in_thread(fg.give_way)
    assert not done.wait(0.3), "a new hold pauses again"
    assert done.wait(WAIT_S)


def test_a_pause_is_cancellable() -> None:
    fg = Foreground()
    fg.hold("voice")
    cancel = threading.Event()
    done, _ = _in_thread(lambda: fg.give_way(cancel))
    assert not done.wait(0.3)
    cancel.set()
    assert done.wait(MAX_PAUSE_S / 3), "cancelled, not waiting out the pause"


def test_the_voice_holds_from_wake_to_ready() -> None:
    bus, fg = Bus(), Foreground()
    unsubscribe = fg.follow_voice(bus)
    bus.publish(Ready())
    assert not fg.busy
    bus.publish(Wake(word="hey_jarvis", score=0.9))
    assert fg.busy
    bus.publish(Ready())
    assert not fg.busy
    bus.publish(Wake(word="hey_jarvis", score=0.9))
    unsubscribe()
    assert not fg.busy, "no longer following lets go of the voice's hold (the stream ended mid-turn)"
    bus.publish(Wake(word="hey_jarvis", score=0.9))
    assert not fg.busy


def test_the_worker_thread_runs_at_the_lowest_priority() -> None:
    worker = BackgroundWorker("test")
    try:
        tid = worker.run(threading.get_native_id)
        assert tid != threading.get_native_id()
        assert worker.run(os.getpriority, os.PRIO_PROCESS, tid) == NICE
        assert worker.run(lambda: psutil.Process(tid).ionice().ioclass) == psutil.IOPRIO_CLASS_IDLE
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < NICE, "only the worker is lowered"
        assert worker.run(lambda: worker.run(lambda: 7)) == 7, "a job that starts another does not wait for itself"
        with pytest.raises(ZeroDivisionError):
            worker.run(lambda: 1 / 0)
    finally:
        worker.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bg") / "Pictures"
    make_small_photos(root, 600)
    return root


def test_indexing_waits_while_the_voice_is_in_the_foreground(photos: Path, tmp_path: Path) -> None:
    fg = WatchedForeground()
    media = MediaLibrary(tmp_path / "data", MediaConfig(), [photos], foreground=fg)
    try:
        fg.hold("voice")
        done, out = _in_thread(media.scan)
        assert fg.asked.wait(SCAN_S), "the scan never came to give way"
        assert not done.wait(1.0), "the scan ran while someone was being answered"
        assert media.counts() == {}
        fg.release("voice")
        assert done.wait(SCAN_S)
        assert out["value"].added == 600  # type: ignore[attr-defined]
        assert media.counts() == {"photo": 600}
    finally:
        media.close()


def test_stopping_ends_a_waiting_scan_promptly_and_keeps_the_index(photos: Path, tmp_path: Path) -> None:
    fg = WatchedForeground()
    media = MediaLibrary(tmp_path / "data", MediaConfig(), [photos], foreground=fg)
    fg.hold("voice")
    done, out = _in_thread(media.scan)
    assert fg.asked.wait(SCAN_S), "the scan never came to give way"
    start = time.monotonic()
    media.close()
    assert time.monotonic() - start < MAX_PAUSE_S / 3, "close waited for the foreground"
    assert done.wait(MAX_PAUSE_S / 3)
    assert isinstance(out.get("error"), MediaError)
    assert "stopping" in out["error"].message  # type: ignore[attr-defined]
    again = MediaLibrary(tmp_path / "data", MediaConfig(), [photos])
    try:
        assert again.scan().added == 600
    finally:
        again.close()


def test_the_running_assistant_holds_indexing_for_the_voice(tmp_path: Path) -> None:
    """The media service, as `assistant run` starts it, ties the core's foreground to the voice."""
    import asyncio

    from assistant.app.runtime import build_core
    from assistant.app.services import media_service
    from assistant.core.config import load_config

    core = build_core(load_config(environ={}), tmp_path / "data", Bus())
    assert core.media.foreground is core.foreground
    service = media_service(core)

    async def scenario() -> None:
        await service.start()
        core.bus.publish(Wake(word="hey_jarvis", score=0.9))
        assert core.foreground.busy
        core.bus.publish(Ready())
        assert not core.foreground.busy
        await service.stop()
        core.bus.publish(Wake(word="hey_jarvis", score=0.9))
        assert not core.foreground.busy

    try:
        asyncio.run(scenario())
    finally:
        core.media.close()


def test_the_event_loops_scan_runs_on_the_worker_and_waits_for_the_voice(photos: Path, tmp_path: Path) -> None:
    """`assistant run` awaits scan_async: that scan gives way to the voice like any other."""
    import asyncio

    fg = WatchedForeground()
    media = MediaLibrary(tmp_path / "data", MediaConfig(), [photos], foreground=fg)

    async def scenario() -> int:
        fg.hold("voice")
        task = asyncio.create_task(media.scan_async())
        await wait_for_async(fg.asked.is_set)
        finished, _ = await asyncio.wait({task}, timeout=0.8)
        assert not finished and media.counts() == {}, "the scan ran while someone was being answered"
        fg.release("voice")
        return (await asyncio.wait_for(task, SCAN_S)).added

    try:
        assert asyncio.run(scenario()) == 600
    finally:
        media.close()
