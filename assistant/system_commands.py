"""The allowlisted commands the system skill may run, declared in the config (`system.commands`).

Each has the name a person says, an argument vector (never a shell, never a string to split), at
most one argument slot whose values are checked against a list or a pattern, whether it changes
the system (then the assistant asks for a spoken yes first), and a time limit:

    system:
      commands:
        restart the music server:
          run: [systemctl, --user, restart, mpd]
          changes: true
        check the internet:
          run: [ping, -c, "1", -W, "2", "{host}"]
          changes: false
          arg: {name: host, choices: [router, nas]}

A command with a slot never runs a program that takes code (a shell, an interpreter, env -S, xargs,
find -exec, ssh …), nor one through a wrapper (env, nice, timeout, sudo …) that runs such a program:
a spoken value would be code. Such an entry is refused when the config loads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, SkillError, shown

MAX_OUTPUT = 4000
_NAME = re.compile(r"^[a-z][a-z0-9' -]{1,59}$")
_SLOT = re.compile(r"^\{([a-z_]{1,20})\}$")

_TAKES_CODE = re.compile(r"^(sh|bash|dash|zsh|ksh|mksh|ash|csh|tcsh|fish|rbash|busybox|toybox|"
                         r"python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|deno|bun|php[0-9.]*|"
                         r"lua[0-9.]*|luajit|tclsh[0-9.]*|awk|gawk|mawk|nawk|xargs|parallel|watch|ssh|su|runuser|script)$")
"""Programs that run code or a command given as an argument: with a slot, a spoken value could be anything."""
_FIND_RUNS = {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprintf", "-fls"}
_WRAPPERS: dict[str, tuple[set[str], int]] = {
    "env": ({"-u", "--unset", "-C", "--chdir"}, 0),
    "nice": ({"-n", "--adjustment"}, 0),
    "timeout": ({"-s", "--signal", "-k", "--kill-after"}, 1),
    "sudo": ({"-u", "--user", "-g", "--group", "-h", "--host", "-p", "--prompt", "-C", "--close-from",
              "-D", "--chdir", "-r", "--role", "-t", "--type", "-T", "--command-timeout", "-U", "--other-user"}, 0),
    "stdbuf": ({"-i", "--input", "-o", "--output", "-e", "--error"}, 0),
    "setsid": (set(), 0),
    "ionice": ({"-c", "--class", "-n", "--classdata"}, 0),
    "nohup": (set(), 0),
    "chrt": ({"-T", "--sched-runtime", "-P", "--sched-period", "-D", "--sched-deadline"}, 1),
}
"""Programs that run the command after their own options: option names that take a value, and how
many plain arguments come before the command (timeout's duration, chrt's priority)."""
_WRAPPER_FLAGS: dict[str, set[str]] = {
    "env": {"-i", "--ignore-environment", "-0", "--null", "-v", "--debug"},
    "nice": set(),
    "timeout": {"--preserve-status", "--foreground", "-v", "--verbose"},
    "sudo": {"-E", "--preserve-env", "-H", "--set-home", "-n", "--non-interactive", "-b", "--background",
             "-k", "--reset-timestamp", "-P", "--preserve-groups", "-A", "--askpass", "-B", "--bell"},
    "stdbuf": set(),
    "setsid": {"-c", "--ctty", "-f", "--fork", "-w", "--wait"},
    "ionice": {"-t", "--ignore"},
    "nohup": set(),
    "chrt": {"-a", "--all-tasks", "-m", "--max", "-v", "--verbose", "-R", "--reset-on-fork",
             "-b", "--batch", "-d", "--deadline", "-f", "--fifo", "-i", "--idle", "-o", "--other", "-r", "--rr"},
}
"""The options of each wrapper that take no value; any other option is not understood, and refused."""
_RUNS_SHELL = {"env": {"-S", "--split-string"}, "sudo": {"-s", "--shell", "-i", "--login", "-e", "--edit"}}
"""Wrapper options that make the wrapper itself run a shell (or an editor) with the arguments."""


@dataclass(frozen=True)
class CommandArg:
    name: str
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int = 64

    def check(self, value: str) -> str:
        value = value.strip()
        if self.choices:
            lowered = {c.lower(): c for c in self.choices}
            if value.lower() not in lowered:
                raise SkillError(f"{value!r} is not one of {', '.join(self.choices)}", code="bad_argument")
            return lowered[value.lower()]
        if len(value) > self.max_length or self.pattern is None or not re.fullmatch(self.pattern, value):
            raise SkillError(f"{value!r} is not an allowed {self.name}", code="bad_argument")
        if value.startswith("-"):  # never an option smuggled in as a value
            raise SkillError(f"{value!r} is not an allowed {self.name}", code="bad_argument")
        return value


@dataclass(frozen=True)
class NamedCommand:
    name: str
    run: tuple[str, ...]
    changes: bool = True
    timeout_s: float = 30.0
    arg: CommandArg | None = None

    def argv(self, value: str | None) -> list[str]:
        """The exact argument vector: the slot is one whole element, replaced by a checked value."""
        if self.arg is None:
            if value:
                raise SkillError(f"'{self.name}' takes nothing more", code="bad_argument")
            return list(self.run)
        if not value:
            raise SkillError(f"'{self.name}' needs a {self.arg.name}", code="missing_argument")
        checked = self.arg.check(value)
        return [checked if _SLOT.match(part) else part for part in self.run]


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    took_s: float


def parse_commands(data: Any, where: str = "system.commands") -> dict[str, NamedCommand]:
    """Validate the config's commands; a bad one is a ConfigError naming it and saying what is wrong."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of spoken names to commands")
    out: dict[str, NamedCommand] = {}
    for raw_name, spec in data.items():
        name = str(raw_name).strip().lower()
        here = f"{where}.{shown(raw_name)}"
        if not _NAME.match(name):
            raise ConfigError(f"{here}: the name is what you say: lower-case words, 2 to 60 letters")
        if not isinstance(spec, dict):
            raise ConfigError(f"{here} must be a mapping with run: [program, arguments …]")
        unknown = sorted(set(spec) - {"run", "changes", "timeout_s", "arg"})
        if unknown:
            raise ConfigError(f"unknown setting {here}.{unknown[0]} (known: arg, changes, run, timeout_s)")
        run = spec.get("run")
        if not isinstance(run, list) or not run or not all(isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in run):
            raise ConfigError(f"{here}.run must be a list: the program, then each argument (never one string for a shell)")
        run = [str(p) for p in run]
        if _SLOT.match(run[0]):
            raise ConfigError(f"{here}.run: the program itself cannot be an argument")
        changes = spec.get("changes", True)
        if not isinstance(changes, bool):
            raise ConfigError(f"{here}.changes must be true or false")
        timeout = spec.get("timeout_s", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise ConfigError(f"{here}.timeout_s must be a number of seconds, at most 600")
        slots = [m.group(1) for p in run if (m := _SLOT.match(p))]
        if any("{" in p or "}" in p for p in run if not _SLOT.match(p)):
            raise ConfigError(f"{here}.run: an argument slot must be a whole element, like \"{{host}}\"")
        arg = _parse_arg(spec.get("arg"), here)
        if len(set(slots)) > 1 or (slots and (arg is None or arg.name != slots[0])) or (arg is not None and not slots):
            raise ConfigError(f"{here}: use at most one slot, and declare it under arg: (name, and choices or pattern)")
        if slots:
            _refuse_code_runners(run, here)
        out[name] = NamedCommand(name, tuple(run), changes, float(timeout), arg)
    return out


def _refuse_code_runners(run: list[str], here: str) -> None:
    """A ConfigError when the program a command with a slot runs (after its wrappers) takes code."""
    why = _runs_code(run)
    if why is not None:
        raise ConfigError(f"{here}.run: {why}, and the command has an argument slot: a spoken value could run "
                          "anything. Name a program that does one thing, or drop the slot")


def _runs_code(run: list[str]) -> str | None:
    """Why `run` could run code given as an argument, or None. Wrappers are unwrapped to what they run."""
    rest = run
    while rest:
        program = os.path.basename(rest[0])
        if _SLOT.match(rest[0]):
            return "the program it runs is the argument slot itself"
        if program in _WRAPPERS:
            unwrapped = _unwrap(program, rest[1:])
            if isinstance(unwrapped, str):
                return unwrapped
            rest = unwrapped
            continue
        if _TAKES_CODE.match(program):
            return f"{program!r} runs code or commands given as its arguments (a shell, an interpreter …)"
        if program == "find" and _FIND_RUNS & set(rest[1:]):
            return f"'find' with {sorted(_FIND_RUNS & set(rest[1:]))[0]} runs commands or changes files"
        return None
    return None


def _unwrap(wrapper: str, args: list[str]) -> list[str] | str:
    """What a wrapper runs (the rest of the vector from its program on), or why it cannot be told."""
    takes_value, positionals = _WRAPPERS[wrapper]
    flags = _WRAPPER_FLAGS[wrapper]
    i = 0
    while i < len(args):
        part = args[i]
        name = part.split("=", 1)[0]
        if part == "--":
            i += 1
            break
        if name in _RUNS_SHELL.get(wrapper, set()):
            return f"{wrapper!r} with {name} runs a shell"
        if wrapper in ("env", "sudo") and not part.startswith("-") and "=" in part:
            i += 1  # VAR=value
        elif part.startswith("-") and len(part) > 1:
            if name in takes_value:
                i += 1 if "=" in part else 2
            elif name in flags or (wrapper == "nice" and part[1:].isdigit()) or _joined(part, takes_value):
                i += 1
            else:
                return f"{wrapper!r} with the option {part!r} cannot be told apart from what it runs"
        else:
            break
    i += positionals
    return args[i:] if i < len(args) else []


def _joined(part: str, takes_value: set[str]) -> bool:
    """A short option with its value joined on (-oL, -n10)."""
    return not part.startswith("--") and len(part) > 2 and part[:2] in takes_value


def _parse_arg(data: Any, here: str) -> CommandArg | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigError(f"{here}.arg must be a mapping with a name and choices or a pattern")
    choices = data.get("choices") or []
    pattern = data.get("pattern")
    if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
        raise ConfigError(f"{here}.arg.choices must be a list of words")
    if bool(choices) == (pattern is not None):
        raise ConfigError(f"{here}.arg needs either choices or a pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as e:
            raise ConfigError(f"{here}.arg.pattern is not a regular expression: {e}") from None
    max_length = data.get("max_length", 64)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= 256:
        raise ConfigError(f"{here}.arg.max_length must be a whole number from 1 to 256")
    return CommandArg(data["name"], tuple(choices), pattern, max_length)


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
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/"),
               **{k: v for k, v in os.environ.items() if k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}}
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            done = subprocess.run([program, *argv[1:]], shell=False, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=command.timeout_s, cwd=self.workdir, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise SkillError(f"'{command.name}' took longer than {command.timeout_s:g} s and was stopped",
                             code="command_timeout") from None
        except OSError as e:
            raise SkillError(f"'{command.name}' could not start: {e.strerror or e}", code="command_failed") from None
        return Outcome(done.returncode, _text(done.stdout), _text(done.stderr), time.monotonic() - started)


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= MAX_OUTPUT else "…" + text[-MAX_OUTPUT:]
