"""`assistant service install [--print] [--force]`: a systemd user unit for the always-on assistant.

A user unit (not a system one) because the assistant needs the user's sound server (PulseAudio or
PipeWire) and keeps its data in the user's folders. `loginctl enable-linger` lets it run without
anyone logged in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.core.errors import CommandLineError
from assistant.core.store import atomic_write

UNIT_NAME = "assistant.service"


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    service = sub.add_parser("service", help="run the assistant as a systemd service (install writes the unit)")
    service.add_argument("action", choices=["install"])
    service.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    service.add_argument("--force", action="store_true", help="replace a unit that is already there")
    common(service)


def unit_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def assistant_command() -> Path:
    """The `assistant` this is: beside the running Python (the project's .venv/bin)."""
    beside = Path(sys.executable).with_name("assistant")
    if beside.exists():
        return beside.absolute()
    found = shutil.which("assistant")
    if found is None:
        raise CommandLineError("cannot find the `assistant` command to run: install the project with ./scripts/setup")
    return Path(found).absolute()


def _quoted(word: str) -> str:
    """One argument as systemd's ExecStart reads it (double quotes, backslash escapes, % doubled)."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"' if any(c in word for c in " \t\"\\'") or not word else escaped


def unit_text(command: Path, data_dir: Path, config: Path | None) -> str:
    argv = [str(command), "run", "--data-dir", str(data_dir.absolute())]
    if config is not None:
        argv += ["--config", str(config.absolute())]
    return f"""\
[Unit]
Description=Offline voice assistant (wake word, speech, skills)
After=sound.target network-online.target pulseaudio.service pipewire-pulse.service
Wants=network-online.target
# systemd restarts the whole process if it dies, and gives up after five tries in a minute.
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=exec
ExecStart={" ".join(_quoted(a) for a in argv)}
# The assistant restarts its own services when one crashes; this is for the process itself.
Restart=on-failure
RestartSec=5
# SIGTERM stops every service cleanly (timers and the index are saved first).
KillSignal=SIGTERM
TimeoutStopSec=30
Environment=PYTHONUNBUFFERED=1
UMask=0077
NoNewPrivileges=yes

[Install]
WantedBy=default.target
"""


def run(args: argparse.Namespace, data_dir: Path) -> int:
    text = unit_text(assistant_command(), data_dir, args.config)
    if args.print:
        print(text, end="")
        return 0
    path = unit_dir() / UNIT_NAME
    if path.exists() and path.read_text() != text and not args.force:
        raise CommandLineError(
            f"{path} already exists and differs: add --force to replace it (or --print to see the new one)"
        )
    atomic_write(path, text)
    path.chmod(0o644)
    print(f"Wrote {path}. To start the assistant now and at every boot:")
    print("  systemctl --user daemon-reload")
    print(f"  systemctl --user enable --now {UNIT_NAME}")
    print(f"  loginctl enable-linger {os.environ.get('USER', '$USER')}   # keep it running when nobody is logged in")
    print("Then `assistant status` shows its services, and `journalctl --user -u assistant` its log.")
    return 0
