"""The sound card vanishes and comes back under a running `assistant run`: a private PulseAudio
whose microphone and speaker are null sinks (TESTING.md); both modules are unloaded (the devices
are gone, the sound server stays), then loaded again.

The assistant must say what happened (its audio service's state and message on the event
stream, which `assistant status` and /health show), keep its process, open the devices again by
itself, and speak through the speaker again: a 2 s timer set through `assistant ask` (forwarded
to the running assistant) must ring audibly on the speaker's monitor.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

from faults.common import ENV, Figures, has_traceback, trace_summary

SINKS = {"mic_feed": (16000, 1), "speaker": (22050, 1)}
CONFIG = (
    "web:\n  enabled: false\ndevices:\n  discovery: false\n  announce: false\n"
    "understanding:\n  planner: false\nknowledge:\n  semantic: false\n"
)
ROOT = Path(__file__).resolve().parents[3]


class Pulse:
    def __init__(self, work: Path) -> None:
        runtime = work / "xdg"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(work)}
        self.env.pop("PULSE_SERVER", None)
        self.server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--load=module-native-protocol-unix",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while self.pactl("info").returncode != 0:
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pulseaudio did not start")
            time.sleep(0.1)
        self.plug()

    def pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=20)

    def plug(self) -> None:
        for name, (rate, channels) in SINKS.items():
            self.pactl("load-module", "module-null-sink", f"sink_name={name}", f"rate={rate}", f"channels={channels}")
        self.pactl("set-default-source", "mic_feed.monitor")
        self.pactl("set-default-sink", "speaker")

    def unplug(self) -> None:
        for line in self.pactl("list", "short", "modules").stdout.splitlines():
            if "module-null-sink" in line:
                self.pactl("unload-module", line.split()[0])

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(10)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # the line being written
    return out


def _audio(events: list[dict[str, Any]], after: float) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == "service" and e.get("service") == "audio" and e["t"] >= after]


def _wait(path: Path, until: Any, timeout_s: float) -> list[dict[str, Any]] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = _events(path)
        if until(events):
            return events
        time.sleep(0.1)
    return None


def run(work: Path, trials: int) -> Figures:
    f = Figures("sound card lost")
    if not (shutil.which("pulseaudio") and shutil.which("pactl")):
        f.skipped = "pulseaudio is not installed (scripts/setup installs it)"
        return f
    pulse = Pulse(work)
    events_file, config, data = work / "events.jsonl", work / "config.yaml", work / "data"
    config.write_text(CONFIG)
    env = {**pulse.env, **ENV}
    log = (work / "stderr.log").open("wb")  # a file, not a pipe: a flood of driver messages cannot block it
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
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        if _wait(events_file, lambda ev: any(e["type"] == "ready" for e in ev), 240) is None:
            f.tracebacks += 1
            f.find("`assistant run` never became ready")
            return f
        for _ in range(trials):
            _one(f, pulse, events_file)
        _speaks(f, pulse, env, data, work)
        f.info["process"] = "the same one throughout" if app.poll() is None else f"ended with {app.returncode}"
        if app.poll() is not None:
            f.lost += 1
            f.find(f"`assistant run` ended (exit {app.returncode}) instead of recovering")
        app.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        try:
            app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            f.lost += 1
            app.send_signal(signal.SIGUSR1)  # every thread's stack on its stderr (faulthandler)
            time.sleep(2)
            stacks = _head(work / "stderr.log")[-6000:]
            f.find(f"`assistant run` was still there 60 s after SIGTERM; the end of its stderr, its threads:\n{stacks}")
        f.info["exit after SIGTERM"] = app.returncode
        f.info["seconds to exit after SIGTERM"] = round(time.monotonic() - stopping, 2)
        err = _head(work / "stderr.log")
        f.info["stderr bytes"] = (work / "stderr.log").stat().st_size
        if has_traceback(err):
            f.tracebacks += 1
            f.find(f"a traceback on stderr: {trace_summary(err)}")
        said = sorted(
            {
                line.split(": ", 1)[-1].split("; trying again")[0]
                for line in err.splitlines()
                if line.startswith("WARNING assistant.app.supervisor: audio stopped")
            }
        )
        f.info["logged"] = said
        if any("no sound card" in s for s in said):
            f.unclear += 1
            f.find(
                "while the devices were gone the log said 'no microphone found (this machine has no sound card?): "
                "use a file instead: assistant run --audio-in …', advice for a machine without a card, not for a "
                "card that went away (assistant/audio/portaudio.py NO_SOUND_CARD from MicrophoneSource._check)"
            )
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=20)
        log.close()
        pulse.stop()
    return f


def _head(path: Path, limit: int = 4 << 20) -> str:
    """The first and the last `limit` bytes of the log: every line of ours before a driver's flood,
    and whatever was printed at the end (a traceback at shutdown), not the flood between."""
    with path.open("rb") as f:
        head = f.read(limit)
        size = f.seek(0, 2)
        f.seek(max(len(head), size - limit))
        return (head + b"\n" + f.read()).decode("utf-8", "replace")


def _one(f: Figures, pulse: Pulse, events_file: Path) -> None:
    f.trials += 1
    gone = time.time()
    pulse.unplug()
    events = _wait(events_file, lambda ev: any(e["state"] == "restarting" for e in _audio(ev, gone)), 20)
    if events is None:
        f.unclear += 1
        f.find("the devices went away and the audio service said nothing within 20 s")
    else:
        first = next(e for e in _audio(events, gone) if e["state"] == "restarting")
        f.info["said when gone"] = first.get("error")
        f.info["noticed after"] = f"{first['t'] - gone:.2f} s"
        if not first.get("error") or len(first["error"].split()) < 4:
            f.unclear += 1
            f.find(f"the audio service restarted without a clear message: {first}")
    time.sleep(3)
    back = time.time()
    pulse.plug()

    def settled(ev: list[dict[str, Any]]) -> bool:
        states = _audio(ev, back)
        return bool(states) and states[-1]["state"] == "running" and time.time() - states[-1]["t"] > 2.0

    events = _wait(events_file, settled, 60)
    if events is None:
        f.lost += 1
        f.find("the audio service did not run again within 60 s of the devices coming back")
        return
    running = [e for e in _audio(events, back) if e["state"] == "running"]
    f.recovery_s.append(running[-1]["t"] - back)


def _speaks(f: Figures, pulse: Pulse, env: dict[str, str], data: Path, work: Path) -> None:
    """A 2 s timer, set through the running assistant, rings audibly on the speaker opened again."""
    recorded = work / "speaker.wav"
    recorder = subprocess.Popen(
        ["parecord", "--device=speaker.monitor", "--file-format=wav", str(recorded)],
        env=pulse.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "assistant", "ask", "set a timer for 2 seconds", "--data-dir", str(data)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        f.info["timer set"] = done.stdout.strip() or done.stderr.strip()[-200:]
        time.sleep(8)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(10)
    loud = _loud_seconds(recorded)
    f.info["speaker heard"] = f"{loud:.1f} s of sound"
    if loud < 0.3:
        f.lost += 1
        f.find("the timer's ring did not reach the speaker after the sound card came back")


def _loud_seconds(path: Path) -> float:
    import numpy as np

    try:
        with wave.open(str(path)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            rate = w.getframerate() * w.getnchannels()
    except (OSError, EOFError, wave.Error):
        return 0.0
    return float((np.abs(pcm.astype(float)) > 1000).sum() / max(rate, 1))
