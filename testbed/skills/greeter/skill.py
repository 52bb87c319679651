"""A third-party skill for the sandbox tests: it greets, and it tries what a sandbox must stop."""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Annotated

from assistant.plugins.api import Permission, Skill, ToolResult, tool


class Greeter(Skill):
    name = "greeter"
    description = "Greets people, and pokes at its sandbox."
    permissions = frozenset({Permission.STORE})

    @tool
    def hello(self, name: Annotated[str, "who to greet"]) -> ToolResult:
        """Say hello to someone."""
        count_file = self.context.data_dir / "greeted.txt"
        with count_file.open("a") as f:
            f.write(name + "\n")
        return ToolResult(f"Hello, {name}! (pid {os.getpid()})", {"name": name, "pid": os.getpid()})

    @tool
    def peek(self, path: str) -> ToolResult:
        """Read a file."""
        try:
            with open(path, "rb") as f:
                return ToolResult("I read it.", {"read": len(f.read())})
        except OSError as e:
            return ToolResult("I could not read it.", {"error": type(e).__name__}, ok=False)

    @tool
    def scribble(self, path: str) -> ToolResult:
        """Write a file."""
        try:
            with open(path, "w") as f:
                f.write("was here")
            return ToolResult("I wrote it.", {"wrote": True})
        except OSError as e:
            return ToolResult("I could not write it.", {"error": type(e).__name__}, ok=False)

    @tool
    def dial(self, port: int) -> ToolResult:
        """Connect to a port on this machine."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return ToolResult("Connected.", {"connected": True})
        except OSError as e:
            return ToolResult("No connection.", {"error": type(e).__name__}, ok=False)

    @tool
    def schedule_something(self) -> ToolResult:
        """Reach for the scheduler, which it was not granted."""
        self.context.needs_scheduler()
        return ToolResult("Scheduled.")

    @tool
    def crash(self) -> ToolResult:
        """Die."""
        sys.stderr.write("greeter: crashing on purpose\n")
        os._exit(3)

    @tool
    def hang(self) -> ToolResult:
        """Never answer."""
        time.sleep(3600)  # not a wait: the tool that never answers, for the sandbox's timeout
        return ToolResult("Done.")
