"""A real clocked microphone and speaker: PulseAudio null sinks, sounddevice on both ends.

`paplay` speaks a rendered command into the `mic_feed` sink, whose monitor is the default source;
the assistant answers through the default sink, `speaker`, and `parecord` records its monitor.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.wav import read_wav, resample
from testbed import speech as sf
from testbed.harness import WAIT_S
from testbed.harness import wait_for as until
from testbed.pulse import private_pulseaudio, running_pulseaudio

pytestmark = [pytest.mark.pulseaudio, pytest.mark.slow_model]


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[dict[str, str]]:
    with private_pulseaudio(
        tmp_path, {"mic_feed": (16000, 1), "speaker": (22050, 1)}, source="mic_feed.monitor"
    ) as env:
        yield env


def wait_for(path: Path, predicate, timeout: float) -> list[dict]:  # type: ignore[no-untyped-def]
    """The events written to `path` once `predicate` accepts them; AssertionError after `timeout`."""

    def read() -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def accepted() -> list[dict] | None:  # type: ignore[type-arg]
        events = read()
        return events if predicate(events) else None

    try:
        return until(accepted, timeout, "the events asked for")
    except AssertionError as e:
        raise AssertionError(f"{e}; events so far: {[e['type'] for e in read()]}") from None


def recording_from(env: dict[str, str], source: str) -> bool:
    """A recording stream is connected to `source`: what reaches it from now on is recorded."""

    def listed(what: str) -> list[list[str]]:
        done = subprocess.run(["pactl", "list", "short", what], env=env, capture_output=True, text=True)
        return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]

    names = {row[0]: row[1] for row in listed("sources") if len(row) > 1}
    return any(names.get(row[1]) == source for row in listed("source-outputs") if len(row) > 1)


def loud_s(path: Path, rate: int = 22050) -> float:
    """Seconds of loud sound in what parecord has written to `path` so far (its WAV header is completed
    only when it stops), measured as the test measures the finished file: at 16 kHz, above 1000."""
    raw = path.read_bytes() if path.exists() else b""
    start = raw.find(b"data")
    if start < 0:
        return 0.0
    body = raw[start + 8 :]
    pcm = resample(np.frombuffer(body[: len(body) // 2 * 2], "<i2"), rate, 16000)
    return float((np.abs(pcm.astype(float)) > 1000).sum()) / 16000


@contextlib.contextmanager
def recording_the_speaker(env: dict[str, str], path: Path) -> Iterator[None]:
    """What the assistant plays, recorded from the speaker sink's monitor while the block runs (from
    the moment parecord's stream is connected)."""
    recorder = subprocess.Popen(
        [
            "parecord",
            "--device=speaker.monitor",
            "--rate=22050",
            "--channels=1",
            "--format=s16le",
            "--file-format=wav",
            str(path),
        ],
        env=env,
    )
    try:
        until(lambda: recording_from(env, "speaker.monitor"), WAIT_S, "parecord recording the speaker")
        yield
    finally:
        recorder.terminate()
        recorder.wait(10)


def test_microphone_in_speaker_out(pulse: dict[str, str], tmp_path: Path) -> None:
    clip = sf.save(tmp_path / "say.wav", sf.command("What time is it?", tail_s=0.5))
    events_file = tmp_path / "events.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text("understanding:\n  planner: false\n")  # a template request: no LLM to load
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--events",
            str(events_file),
            "--data-dir",
            str(tmp_path / "data"),
            "--config",
            str(config),
        ],
        env=pulse,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    recorded = tmp_path / "heard.wav"
    try:
        with recording_the_speaker(pulse, recorded):
            wait_for(events_file, lambda ev: any(e["type"] == "ready" for e in ev), 120)
            subprocess.run(["paplay", "--device=mic_feed", str(clip)], env=pulse, check=True, timeout=60)
            events = wait_for(events_file, lambda ev: any(e["type"] == "tts_end" for e in ev), 60)
            until(lambda: loud_s(recorded) > 0.5, WAIT_S, "the spoken reply recorded from the speaker")
    finally:
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(port: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def status(data: Path, env: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "status", "--json", "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def states(events: list[dict], service: str) -> list[str]:  # type: ignore[type-arg]
    return [e["state"] for e in events if e["type"] == "service" and e["service"] == service]


def test_sound_card_lost_and_back_is_survived_and_reported(tmp_path: Path) -> None:
    """The sound server goes away (as an unplugged card would) and comes back: the assistant says so
    in `assistant status` and on /health, reopens the microphone and the speaker, and answers again."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"web:\n  enabled: false\n  loopback_port: {port}\ndevices:\n  discovery: false\n  announce: false\n"
        "understanding:\n  planner: false\n"
    )  # a template request: no LLM to load
    data = tmp_path / "data"
    events_file = tmp_path / "events.jsonl"
    clip = sf.save(tmp_path / "say.wav", sf.command("What time is it?", tail_s=0.5))
    with running_pulseaudio(
        tmp_path, {"mic_feed": (16000, 1), "speaker": (22050, 1)}, source="mic_feed.monitor"
    ) as pulse:
        env = pulse.env
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistant",
                "run",
                "--events",
                str(events_file),
                "--data-dir",
                str(data),
                "--config",
                str(config),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(events_file, lambda ev: any(e["type"] == "ready" for e in ev), 120)
            code, report = health(port)
            assert code == 200 and report["healthy"], report
            running = {s["name"] for s in report["services"] if s["state"] == "running"}
            assert {"audio", "pipeline", "scheduler", "routines", "discovery", "media"} <= running, report
            code, report = status(data, env)
            assert code == 0 and report["running"] and report["healthy"], report

            pulse.stop()  # the sound card is gone
            wait_for(events_file, lambda ev: "restarting" in states(ev, "audio"), 30)

            def failed_to_open() -> tuple[int, dict] | None:  # type: ignore[type-arg]
                code, report = health(port)
                audio = next(s for s in report["services"] if s["name"] == "audio")
                return (code, report) if audio.get("last_error") and audio["state"] == "restarting" else None

            code, report = until(failed_to_open, 30, "a failed try to open the microphone again")
            audio = next(s for s in report["services"] if s["name"] == "audio")
            assert code == 503 and not report["healthy"] and audio["state"] == "restarting", report
            assert "microphone" in audio["last_error"], audio
            code, report = status(data, env)
            assert code == 1 and report["running"] and not report["healthy"]

            pulse.start()  # it is back
            wait_for(events_file, lambda ev: states(ev, "audio")[-1:] == ["running"], 60)
            assert health(port)[0] == 200
            recorded = tmp_path / "heard.wav"
            with recording_the_speaker(env, recorded):
                subprocess.run(["paplay", "--device=mic_feed", str(clip)], env=env, check=True, timeout=60)
                events = wait_for(events_file, lambda ev: any(e["type"] == "tts_end" for e in ev), 60)
                until(lambda: loud_s(recorded) > 0.5, WAIT_S, "the reply recorded from the speaker opened again")
            assert next(e for e in events if e["type"] == "intent")["tool"] == "clock.get_time"
            loud = np.abs(read_wav(recorded).astype(float)) > 1000
            assert loud.sum() / 16000 > 0.5, "the reply reached the speaker opened again"
            assert states(events, "pipeline") == ["running"], "the voice loop itself never stopped"

            app.send_signal(signal.SIGTERM)  # how systemd stops it
            out, err = app.communicate(timeout=30)
        finally:
            if app.poll() is None:
                app.kill()
                app.communicate(timeout=20)
    assert app.returncode == 0, err
    assert "Traceback" not in err, err
    assert not (data / "status.json").exists(), "a stopped assistant leaves no report saying it runs"
    code, report = status(data, env)
    assert code == 3 and not report["running"]
