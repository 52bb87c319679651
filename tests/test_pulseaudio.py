"""A real clocked microphone and speaker: PulseAudio null sinks, sounddevice on both ends.

`paplay` speaks a rendered command into the `mic_feed` sink, whose monitor is the default source;
the assistant answers through the default sink, `speaker`, and `parecord` records its monitor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.wav import read_wav
from tests import speech_fixtures as sf
from tests.pulse import private_pulseaudio

pytestmark = pytest.mark.pulseaudio


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[dict[str, str]]:
    with private_pulseaudio(tmp_path, {"mic_feed": (16000, 1), "speaker": (22050, 1)}, source="mic_feed.monitor") as env:
        yield env


def wait_for(path: Path, predicate, timeout: float) -> list[dict]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []
        if predicate(events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"timed out; events so far: {[e['type'] for e in events]}")


def test_microphone_in_speaker_out(pulse: dict[str, str], tmp_path: Path) -> None:
    clip = sf.save(tmp_path / "say.wav", sf.command("What time is it?", tail_s=0.5))
    events_file = tmp_path / "events.jsonl"
    app = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--events", str(events_file), "--data-dir", str(tmp_path / "data")],
        env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    recorded = tmp_path / "heard.wav"
    recorder = subprocess.Popen(
        ["parecord", "--device=speaker.monitor", "--rate=22050", "--channels=1", "--format=s16le", "--file-format=wav", str(recorded)],
        env=pulse,
    )
    try:
        wait_for(events_file, lambda ev: any(e["type"] == "ready" for e in ev), 120)
        subprocess.run(["paplay", "--device=mic_feed", str(clip)], env=pulse, check=True, timeout=60)
        events = wait_for(events_file, lambda ev: any(e["type"] == "tts_end" for e in ev), 60)
        time.sleep(0.5)
    finally:
        recorder.terminate()
        recorder.wait(10)
        app.terminate()
        out, err = app.communicate(timeout=20)
    types = [e["type"] for e in events]
    assert "wake" in types, types
    assert next(e for e in events if e["type"] == "intent")["tool"] == "clock.get_time"
    assert next(e for e in events if e["type"] == "tts_end")["audio_s"] > 0.8
    heard = read_wav(recorded).astype(float)
    loud = np.abs(heard) > 1000
    assert loud.sum() / 16000 > 0.5, "the spoken reply reached the speaker"
    assert "Traceback" not in err, err
