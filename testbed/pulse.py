"""A private PulseAudio server for a test: its own runtime folder, null sinks as the sound card."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.harness import wait_for


class PulseServer:
    """One null sink per `sinks` entry (name → (rate, channels)); `sink` is the default sink and
    `source` (a sink's monitor, say "mic_feed.monitor") the default source. `stop` and `start` again
    take the sound card away and bring it back, as unplugging it would."""

    def __init__(
        self, tmp_path: Path, sinks: dict[str, tuple[int, int]], source: str | None = None, sink: str = "speaker"
    ) -> None:
        if shutil.which("pulseaudio") is None:
            pytest.fail("pulseaudio is not installed: run ./scripts/setup")
        runtime = tmp_path / "xdg"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
        self.env.pop("PULSE_SERVER", None)
        self.sinks, self.source, self.sink = sinks, source, sink
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--load=module-native-protocol-unix",
                *(
                    f"--load=module-null-sink sink_name={name} rate={rate} channels={channels}"
                    for name, (rate, channels) in self.sinks.items()
                ),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def answering() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"pulseaudio exited ({server.returncode})")
            return subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0

        try:
            wait_for(answering, 20, "pulseaudio answering `pactl info`")
        except AssertionError as e:
            server.kill()
            pytest.fail(f"pulseaudio did not start ({e}): {server.stderr.read().decode() if server.stderr else ''}")
        if self.source is not None:
            subprocess.run(["pactl", "set-default-source", self.source], env=self.env, check=True)
        subprocess.run(["pactl", "set-default-sink", self.sink], env=self.env, check=True)
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(10)
            self._server = None


@contextlib.contextmanager
def private_pulseaudio(
    tmp_path: Path, sinks: dict[str, tuple[int, int]], source: str | None = None, sink: str = "speaker"
) -> Iterator[dict[str, str]]:
    """A running PulseServer for the test's length; yields the environment that reaches it."""
    with running_pulseaudio(tmp_path, sinks, source, sink) as server:
        yield server.env


@contextlib.contextmanager
def running_pulseaudio(
    tmp_path: Path, sinks: dict[str, tuple[int, int]], source: str | None = None, sink: str = "speaker"
) -> Iterator[PulseServer]:
    server = PulseServer(tmp_path, sinks, source, sink)
    server.start()
    try:
        yield server
    finally:
        server.stop()
