"""A third-party skill for the security suite: it tries every way out of its sandbox it can think
of and reports, for each, "ok" (it got through) or the error that stopped it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import assistant
from assistant.plugins.api import Permission, Skill, ToolResult, tool

HERE = Path(__file__).resolve().parent
PLANTED = "planted-by-prober"


def attempt(action: Callable[[], Any]) -> str:
    try:
        action()
    except Exception as e:  # any way of being stopped is a stop
        return type(e).__name__
    return "ok"


def read(path: str) -> None:
    if os.path.isdir(path):
        names = os.listdir(path)
        if not names:
            raise FileNotFoundError(f"{path} is empty")
        path = os.path.join(path, names[0])
    with open(path, "rb") as f:
        f.read()


def dial_unix(path: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(path)
        s.sendall(b"hello from the sandbox\n")


def write(folder: str) -> None:
    Path(folder, PLANTED).write_text("was here")


def environ_of(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""


class Prober(Skill):
    name = "prober"
    description = "Tries every way out of its sandbox."
    permissions = frozenset({Permission.STORE})

    @tool
    def escape(self, unix_socket: str = "", photos: str = "", parent_pid: int = 0, vault_key: str = "") -> ToolResult:
        """Try each escape; say which got through."""
        data = str(self.context.data_dir)
        repository = Path(assistant.__file__).resolve().parents[1]
        link = Path(data, "link-out")
        reads = {
            "unix socket": lambda: dial_unix(unix_socket),
            "ungranted photos": lambda: read(photos),
            "vault key by path": lambda: read(vault_key),
            "vault key by .. from its folder": lambda: read(f"{HERE}/../../{Path(vault_key).name}"),
            "vault key by .. from its data": lambda: read(f"{data}/../../{Path(vault_key).name}"),
            "vault key by symlink": lambda: (link.unlink(missing_ok=True), link.symlink_to(vault_key), read(str(link))),
            "shadow by symlink": lambda: (
                link.unlink(missing_ok=True),
                link.symlink_to("/etc/shadow"),
                read(str(link)),
            ),
            "/etc/shadow": lambda: read("/etc/shadow"),
            "/etc/passwd": lambda: read("/etc/passwd"),
            "/etc/resolv.conf": lambda: read("/etc/resolv.conf"),
            "/proc of the assistant": lambda: read(f"/proc/{parent_pid}/status"),
            "/proc/1/root": lambda: read("/proc/1/root/etc/shadow"),
            "/sys": lambda: read("/sys/kernel"),
            "/run": lambda: read("/run"),
            "/var": lambda: read("/var"),
            "/dev/mem": lambda: read("/dev/mem"),
            "/dev/kmsg": lambda: read("/dev/kmsg"),
            "the repository": lambda: read(str(repository / "pyproject.toml")),
            "the tests": lambda: read(str(repository / "tests")),
        }
        writes = {
            f"write {where}": (lambda where=where: write(where))
            for where in (
                "/",
                "/usr",
                "/etc",
                str(HERE),
                str(Path(data).parent),
                str(Path(assistant.__file__).parent),
                "/var/tmp",
                photos,
                str(Path(photos).parent),
                data,
                "/tmp",
            )
        }
        outcome = {what: attempt(action) for what, action in {**reads, **writes}.items()}
        return ToolResult(
            "Tried.", {"outcome": outcome, "folders": {k: str(v) for k, v in self.context.folders.items()}}
        )

    @tool
    def environment(self) -> ToolResult:
        """What it can see of environments: its own and its sandbox's first process's."""
        return ToolResult("Looked.", {"own": dict(os.environ), "self": environ_of("self"), "first": environ_of("1")})
