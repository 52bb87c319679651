"""Third-party skills run in a process of their own, inside a sandbox, and talk to the core over a
small RPC (worker.py): one JSON line per request and per answer.

With bubblewrap the operating system enforces what the skill was granted: it runs in a minimal root
(worker_command) that holds the interpreter and its libraries read-only, the assistant's own package,
its own folder read-only, its data folder writable and the household's folders only with the folders
permission; no /run, /sys, home, other skills' data or host sockets, a /proc of its own PID namespace
only, a private /tmp, and an environment of its own (no variable of the assistant's). Without the
network permission it has no network at all; it runs with no capabilities and dies with the
assistant. Without bubblewrap it is a plain subprocess with resource limits: its own process and
limits, but no file or network isolation (`assistant skills list` says so).

A call that takes longer than `skills.call_timeout_s` kills the process; a process that dies is
started again on the next call, with backoff, so a broken skill costs its own answers, never the
assistant's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import assistant
from assistant.core.backoff import Backoff
from assistant.core.errors import AssistantError, ConfigError, SkillError
from assistant.plugins.api import Permission, Skill, SkillContext, ToolResult, ToolSpec
from assistant.plugins.wire import permissions_from_wire, tool_from_wire

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
MEMORY_LIMIT = 2 << 30
"""Address space a skill's process may use (bytes)."""
RESTARTS = Backoff()
"""The supervisor's schedule (assistant/core/backoff.py): the wait before the n-th restart in a row; a
call that answers starts the count over."""

IN_THE_CORE = frozenset({Permission.AUDIO, Permission.PEOPLE})
"""Permissions that do not cross the sandbox: raw microphone audio and the household's voiceprints
stay in the core process. The
others that hand over a core object cross as calls (plugins/remote.py); the household's documents
cross only as searches and answers within the folders granted at install, never the notes."""


class SkillTimeout(SkillError):
    code = "skill_timeout"


class SkillCrashed(SkillError):
    code = "skill_crashed"


class SkillBusy(SkillError):
    code = "skill_busy"


def sandbox_kind(setting: str) -> str:
    """ "bwrap" or "subprocess", as `skills.sandbox` asks and this machine allows."""
    if setting not in ("auto", "bwrap", "subprocess"):
        raise ConfigError(f"skills.sandbox must be auto, bwrap or subprocess, not {setting!r}", code="config")
    if setting == "subprocess":
        return "subprocess"
    if _bwrap_works():
        return "bwrap"
    if setting == "bwrap":
        raise SkillError(
            "skills.sandbox is bwrap, but bubblewrap is missing or cannot run here: install it "
            "(apt-get install bubblewrap) or set skills.sandbox: auto"
        )
    return "subprocess"


ETC = ("ld.so.cache", "localtime")
"""What a skill sees of /etc (read-only, where the host has them)."""
ETC_NETWORK = ("resolv.conf", "hosts", "nsswitch.conf", "ssl")
"""And with the network permission: name resolution and certificates."""
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Top-level folders beside /usr: a symlink again where the host has one (merged /usr), else bound."""
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

Mount = tuple[str, ...]
"""One bubblewrap mount option with its arguments; the last is where it lands in the sandbox."""


@functools.cache
def _bwrap_works() -> bool:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    try:
        done = subprocess.run(
            [bwrap, *(a for m in _system_mounts(False) for a in m), "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        log.warning(
            "bubblewrap cannot run here (%s); third-party skills run as restricted subprocesses",
            done.stderr.decode(errors="replace").strip(),
        )
    return done.returncode == 0


def _system_mounts(network: bool) -> list[Mount]:
    """/usr and its top-level companions read-only, and a short list of /etc."""
    mounts: list[Mount] = [("--ro-bind", "/usr", "/usr")]
    for name in SYSTEM_DIRS:
        host = Path("/", name)
        if host.is_symlink():
            mounts.append(("--symlink", os.readlink(host), str(host)))
        elif host.is_dir():
            mounts.append(("--ro-bind", str(host), str(host)))
    for name in (*ETC, *(ETC_NETWORK if network else ())):
        mounts.append(("--ro-bind-try", f"/etc/{name}", f"/etc/{name}"))
    return mounts


def _python_paths() -> list[Path]:
    """The interpreter's installation, the environment it runs in and the assistant's package (not
    the repository around it), each at its real path; those under /usr are there already."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), _package()}
    return sorted(p for p in paths if p != Path("/") and not p.is_relative_to("/usr"))


def _package() -> Path:
    return Path(assistant.__file__).resolve().parent


def _mounts(skill_dir: Path, skill_data: Path, folders: list[Path], network: bool) -> list[Mount]:
    """Every mount of the minimal root but the masks."""
    mounts = [
        *_system_mounts(network),
        ("--proc", "/proc"),
        ("--dev", "/dev"),
        ("--tmpfs", "/tmp"),
        *(("--ro-bind", str(p), str(p)) for p in _python_paths()),
        ("--ro-bind", str(skill_dir), str(skill_dir)),
        ("--bind", str(skill_data), str(skill_data)),
        *(("--bind", str(p), str(p)) for p in folders),
    ]
    return mounts


def _masked(mounts: list[Mount], hidden: list[Path]) -> list[Mount]:
    """`mounts` in order, parents before children so no bind covers a deeper one, with an empty
    read-only folder over each hidden path a bind would show (a granted folder that holds the
    assistant's data), last at its depth so it covers that bind."""
    binds = [Path(m[-1]) for m in mounts if m[0] in ("--bind", "--ro-bind")]
    masks = [p for p in hidden if p != Path("/") and any(p.is_relative_to(b) for b in binds)]
    masked = sorted([*mounts, *(("--tmpfs", str(p)) for p in masks)], key=lambda m: len(Path(m[-1]).parts))
    return [*masked, *(("--remount-ro", str(p)) for p in masks)]


def _environment(skill_data: Path) -> list[str]:
    """Only what the worker needs: nothing of the assistant's environment (tokens, keys) crosses."""
    env = {
        "PATH": SANDBOX_PATH,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(skill_data),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(_package().parent),
    }
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    return ["--clearenv", *(a for name, value in env.items() for a in ("--setenv", name, value))]


def worker_command(
    kind: str, skill_dir: Path, skill_data: Path, hidden: list[Path], folders: dict[str, Path], network: bool
) -> list[str]:
    """The command that runs `skill_dir`'s skill: inside bubblewrap, or plainly for "subprocess".
    Every path is bound, and given to the worker, at its real path; `hidden` (the assistant's data,
    home) stays hidden even inside a granted folder."""
    skill_dir, skill_data = skill_dir.resolve(), skill_data.resolve()
    folders = {name: path.resolve() for name, path in folders.items()}
    inner = [
        sys.executable,
        "-m",
        "assistant.plugins.worker",
        str(skill_dir),
        str(skill_data),
        *(f"{name}={path}" for name, path in folders.items()),
    ]
    if kind != "bwrap":
        return inner
    mounts = _masked(_mounts(skill_dir, skill_data, list(folders.values()), network), [p.resolve() for p in hidden])
    # --unshare-all takes the PID namespace (its /proc shows only its own processes), IPC, UTS and
    # the network (given back with --share-net); the root itself is read-only.
    return [
        shutil.which("bwrap") or "bwrap",
        *(a for m in mounts for a in m),
        "--remount-ro",
        "/",
        "--unshare-all",
        *(["--share-net"] if network else []),
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *_environment(skill_data),
        "--chdir",
        str(skill_data),
        "--",
        *inner,
    ]


def _limits() -> None:
    """In the child before it runs: its own session, lower priority than the voice, bounded memory."""
    os.setsid()
    os.nice(5)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


class SkillProcess:
    """One sandboxed skill's process: started on demand, asked one request at a time."""

    def __init__(
        self,
        name: str,
        command: list[str],
        timeout_s: float,
        log_path: Path,
        on_event: Callable[[dict[str, Any]], None] = lambda event: None,
        on_ask: Callable[[str, str, Any, str | None], Any] | None = None,
    ) -> None:
        """on_ask(service, method, args, tool): answers the skill's calls into the core
        (plugins/remote.py), told which of its tools is asking; none are answered without it."""
        self.name = name
        self.on_ask = on_ask
        self.command = command
        self.timeout_s = timeout_s
        self.log_path = log_path
        self.on_event = on_event
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ids = iter(range(1, 1 << 62))
        self._failures = 0
        self._failed_at = 0.0
        self.restarts = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        wait = RESTARTS.delay(self._failures) - (time.monotonic() - self._failed_at)
        if self._failures and wait > 0:
            raise SkillCrashed(f"the {self.name} skill stopped working and is restarting (in {wait:.0f} s)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH")}
        with self.log_path.open("a") as stderr:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**env, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_limits,
            )
        self._proc = proc
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(proc, self._lines), daemon=True, name=f"skill-{self.name}").start()
        first = self._next(START_TIMEOUT_S)
        if first.get("event") != "ready":
            self._kill()
            raise SkillCrashed(f"the {self.name} skill did not start: {first.get('error') or self._log_tail()}")
        if self._failures:
            self.restarts += 1

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _next(self, timeout_s: float, allowed_s: float | None = None) -> dict[str, Any]:
        """The next message from the process; SkillTimeout or SkillCrashed when none comes.
        allowed_s: the whole time the request had, for the message (timeout_s is what is left of it)."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            self._failed()
            raise SkillTimeout(
                f"the {self.name} skill did not answer within {allowed_s or timeout_s:g} s, so it was stopped"
            ) from None
        if line is None:
            self._failed()
            raise SkillCrashed(f"the {self.name} skill stopped working ({self._log_tail()})")
        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            self._failed()
            raise SkillCrashed(f"the {self.name} skill answered something that is not the protocol") from None
        return message

    def _failed(self) -> None:
        self._kill()
        self._failures += 1
        self._failed_at = time.monotonic()

    def _log_tail(self) -> str:
        try:
            lines = deque(self.log_path.read_text(errors="replace").splitlines(), maxlen=1)
        except OSError:
            return "no log"
        return lines[0] if lines else "no message"

    def request(self, op: str, timeout_s: float | None = None, wait: bool = True, **fields: Any) -> Any:
        """The worker's answer to one request; SkillError with its message when the skill refused.
        wait=False: SkillBusy at once while another request is running, instead of queueing."""
        if not self._lock.acquire(blocking=wait):
            raise SkillBusy(f"the {self.name} skill is busy")
        try:
            return self._request(op, timeout_s, fields)
        finally:
            self._lock.release()

    def _request(self, op: str, timeout_s: float | None, fields: dict[str, Any]) -> Any:
        if not self.running:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        ident = next(self._ids)
        try:
            self._proc.stdin.write(json.dumps({"id": ident, "op": op, **fields}, default=str) + "\n")
            self._proc.stdin.flush()
        except OSError:
            self._failed()
            raise SkillCrashed(f"the {self.name} skill stopped working") from None
        allowed_s = timeout_s or self.timeout_s
        deadline = time.monotonic() + allowed_s
        while True:
            message = self._next(max(0.0, deadline - time.monotonic()), allowed_s)
            if "event" in message:
                self.on_event(message)
                continue
            if "ask" in message:
                self._answer(message, fields.get("tool") if op == "call" else None)
                continue
            if message.get("id") != ident:
                continue
            self._failures = 0
            if not message.get("ok"):
                raise SkillError(str(message.get("error", "failed")), code=str(message.get("code", "skill")))
            return message.get("value")

    def _answer(self, ask: dict[str, Any], tool: str | None) -> None:
        """The skill calls into the core in the middle of a request; the answer goes back at once."""
        reply: dict[str, Any] = {"answer": ask.get("ask")}
        try:
            if self.on_ask is None:
                raise SkillError(f"the {self.name} skill has no core services")
            reply.update(
                ok=True, value=self.on_ask(str(ask.get("service")), str(ask.get("method")), ask.get("args", {}), tool)
            )
        except AssistantError as e:
            reply.update(ok=False, error=e.message)
        except Exception as e:  # a bug on our side must not hang the skill: it gets the error
            log.exception("answering the %s skill's %s.%s", self.name, ask.get("service"), ask.get("method"))
            reply.update(ok=False, error=f"{type(e).__name__}: {e}")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(reply, default=str) + "\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # it died: the wait for its answer says so

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()


class SandboxedSkill(Skill):
    """A third-party skill, seen from the core: its tools call across the sandbox."""

    process: ClassVar[SkillProcess]
    described: ClassVar[dict[str, Any]]
    sentences_dir: ClassVar[Path]

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self._slots: dict[str, list[str]] = {}

    def tools(self) -> list[ToolSpec]:
        return [
            tool_from_wire(self.name, t, functools.partial(self._call, str(t["name"]))) for t in self.described["tools"]
        ]

    def _call(self, tool: str, **args: Any) -> ToolResult:
        try:
            value = self.process.request("call", tool=tool, args=args)
        except SkillTimeout as e:
            log.warning("%s", e.message)
            # "the greeter skill did not answer within 10 s, so it was stopped"
            return ToolResult(f"Sorry, {e.message}.", {"error": e.message}, ok=False)
        except SkillCrashed as e:
            log.warning("%s", e.message)  # with the last line of its log, which is no sentence to say
            return ToolResult(
                f"Sorry, the {self.name} skill stopped working while doing that; it restarts on its own.",
                {"error": e.message},
                ok=False,
            )
        except SkillError as e:
            return ToolResult(
                f"Sorry, the {self.name} skill could not do that: {e.message}", {"error": e.message}, ok=False
            )
        return ToolResult(str(value["speech"]), dict(value["data"]), bool(value["ok"]))

    def slot_values(self) -> dict[str, list[str]]:
        """Asked for on every request: never waits behind a slow call (the last answer stands)."""
        try:
            value = self.process.request("slots", timeout_s=1.0, wait=False)
        except SkillError:
            return self._slots
        if isinstance(value, dict):
            self._slots = {str(k): [str(v) for v in items] for k, items in value.items() if isinstance(items, list)}
        return self._slots

    async def on_install(self) -> None:
        await asyncio.to_thread(self.process.request, "install")

    async def on_start(self) -> None:
        await asyncio.to_thread(self.process.request, "start")

    async def on_stop(self) -> None:
        """A process that is not running (it hung and was stopped, or crashed) is not started again
        only to be told to stop."""
        try:
            if self.process.running:
                await asyncio.to_thread(self.process.request, "stop", 3.0)
        finally:
            await asyncio.to_thread(self.process.stop)

    async def on_uninstall(self) -> None:
        await asyncio.to_thread(self.process.request, "uninstall")


def sandboxed_class(process: SkillProcess, described: dict[str, Any], sentences_dir: Path) -> type[SandboxedSkill]:
    """A Skill class for the registry, made from what the worker described (checked here)."""
    name = str(described.get("name", ""))
    if not name.isidentifier():
        raise SkillError(f"a third-party skill is named {name!r}, which is not an identifier")
    attrs = {
        "name": name,
        "description": str(described.get("description", "")),
        "permissions": permissions_from_wire(name, list(described.get("permissions", []))),
        "process": process,
        "described": described,
        "sentences_dir": sentences_dir,
    }
    return type(f"Sandboxed_{name}", (SandboxedSkill,), attrs)


def describe(process: SkillProcess) -> dict[str, Any]:
    value = process.request("describe")
    if not isinstance(value, dict) or not isinstance(value.get("tools"), list):
        raise SkillError(f"the {process.name} skill described itself badly")
    return value
