"""Another host for tests: a program in a network namespace of its own, joined to the test's own
namespace by a veth pair (this side 10.77.N.1, that side 10.77.N.2). Needs root, which the test run
has inside the namespace scripts/test makes; nothing reaches the real network."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from testbed.harness import wait_for


@dataclass
class Host:
    process: subprocess.Popen[str]
    address: str
    """Its address, as this namespace reaches it."""
    ours: str
    """This namespace's address, as it reaches us."""


def _until_apart(pid: int, timeout_s: float = 5.0) -> None:
    """Popen returns before `unshare` has made the namespace: a veth moved into it too early lands here."""
    wait_for(
        lambda: os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net"),
        timeout_s,
        "the other host's network namespace",
    )


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def other_host(argv: list[str], subnet: int = 1) -> Iterator[Host]:
    """Run `argv` on a host of its own; it starts once its network is up, with lo up too."""
    process = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", 'read go && ip link set lo up && exec "$@"', "sh", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ours, theirs = f"vh{subnet}a", f"vh{subnet}b"
    try:
        _until_apart(process.pid)
        _ip("link", "add", ours, "type", "veth", "peer", "name", theirs, "netns", str(process.pid))
        _ip("addr", "add", f"10.77.{subnet}.1/24", "dev", ours)
        _ip("link", "set", ours, "up")
        for step in (["addr", "add", f"10.77.{subnet}.2/24", "dev", theirs], ["link", "set", theirs, "up"]):
            subprocess.run(["nsenter", "-t", str(process.pid), "-n", "ip", *step], check=True, capture_output=True)
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
        yield Host(process, f"10.77.{subnet}.2", f"10.77.{subnet}.1")
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run(["ip", "link", "del", ours], capture_output=True)  # gone with the namespace, or now
