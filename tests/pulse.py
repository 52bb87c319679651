"""A private PulseAudio server for a test: its own runtime folder, null sinks as the sound card."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def private_pulseaudio(tmp_path: Path, sinks: dict[str, tuple[int, int]], source: str | None = None,
                       sink: str = "speaker") -> Iterator[dict[str, str]]:
    """Run PulseAudio with one null sink per `sinks` entry (name → (rate, channels)); `sink` is the
    default sink and `source` (a sink's monitor, say "mic_feed.monitor") the default source. Yields
    the environment that reaches it."""
    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is not installed: run ./scripts/setup")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    env.pop("PULSE_SERVER", None)
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
         "--load=module-native-protocol-unix",
         *(f"--load=module-null-sink sink_name={name} rate={rate} channels={channels}"
           for name, (rate, channels) in sinks.items())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"pulseaudio did not start: {server.stderr.read().decode() if server.stderr else ''}")
        time.sleep(0.1)
    if source is not None:
        subprocess.run(["pactl", "set-default-source", source], env=env, check=True)
    subprocess.run(["pactl", "set-default-sink", sink], env=env, check=True)
    try:
        yield env
    finally:
        server.terminate()
        server.wait(10)
