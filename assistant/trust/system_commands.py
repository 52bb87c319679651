"""Runs the allowlisted commands the system skill may run, declared in the config (`system.commands`;
what a declaration may be is `core/named_commands.py`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import SkillError
from assistant.core.named_commands import NamedCommand

MAX_OUTPUT = 4000


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    took_s: float


class CommandRunner:
    """Runs a named command: no shell, no inherited secrets in the environment, stdin closed, its
    output cut to a few KiB, killed at its time limit."""

    def __init__(self, commands: dict[str, NamedCommand], workdir: Path) -> None:
        self.commands = commands
        self.workdir = workdir

    def names(self, changes: bool | None = None) -> list[str]:
        return sorted(n for n, c in self.commands.items() if changes is None or c.changes == changes)

    def get(self, name: str) -> NamedCommand:
        wanted = " ".join(name.lower().split())
        command = self.commands.get(wanted)
        if command is None:
            raise SkillError(f"there is no command called '{name}' in the config", code="unknown_command")
        return command

    def run(self, command: NamedCommand, value: str | None = None) -> Outcome:
        argv = command.argv(value)
        program = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if program is None:
            raise SkillError(f"the program {argv[0]!r} of '{command.name}' is not installed", code="command_missing")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/"),
            **{k: v for k, v in os.environ.items() if k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")},
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            done = subprocess.run(
                [program, *argv[1:]],
                shell=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=command.timeout_s,
                cwd=self.workdir,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SkillError(
                f"'{command.name}' took longer than {command.timeout_s:g} s and was stopped", code="command_timeout"
            ) from None
        except OSError as e:
            raise SkillError(f"'{command.name}' could not start: {e.strerror or e}", code="command_failed") from None
        return Outcome(done.returncode, _text(done.stdout), _text(done.stderr), time.monotonic() - started)


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= MAX_OUTPUT else "…" + text[-MAX_OUTPUT:]
