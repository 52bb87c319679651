"""The assistant's hands on its own computer: disk space, load, the busiest programs, finding files
in the household's folders, and running the named commands the config allows (never a shell; one
that changes the system only after a spoken yes)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Literal, TypedDict

import psutil

from assistant.core.errors import SkillError
from assistant.language.lists import and_list
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, tool
from assistant.trust.system_commands import CommandRunner

Folder = Literal["photos", "music", "documents", "backup"]
FIND_LIMIT_ENTRIES = 200_000
FIND_LIMIT_S = 3.0
SAY_AT_MOST = 3


class _Disk(TypedDict):
    disk: str
    path: str
    free: int
    total: int
    percent_used: float


class _Program(TypedDict):
    pid: int
    name: str
    cpu_percent: float
    memory: int


class _Found(TypedDict):
    path: str
    folder: str
    modified: float


def gigabytes(n: float) -> str:
    gb = n / 1e9
    if gb < 1:
        return f"{n / 1e6:.0f} MB"
    return f"{gb:.0f} GB" if gb >= 10 else f"{gb:.1f} GB"


class SystemSkill(Skill):
    name = "system"
    description = "Reports on the computer itself (disk, load, programs), finds files, and runs allowlisted commands."
    permissions = frozenset({Permission.FOLDERS, Permission.COMMANDS})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.folders = context.folders
        self.commands = context.needs(Permission.COMMANDS, CommandRunner)

    def slot_values(self) -> dict[str, list[str]]:
        return {
            "system_check": self.commands.names(changes=False),
            "system_change": self.commands.names(changes=True),
            "system_value": sorted({c for cmd in self.commands.commands.values() if cmd.arg for c in cmd.arg.choices}),
        }

    def vocabulary(self) -> list[str]:
        names: list[str] = self.commands.names()
        return names

    # --- how the machine is -------------------------------------------------------------------

    @tool(reads=True)
    def disk_space(self) -> ToolResult:
        """Say how much disk space is free (the assistant's own disk and the household folders' disks)."""
        places: dict[int, tuple[str, Path]] = {}
        for label, path in [
            ("the assistant's disk", self.context.data_dir),
            *((f"the {k} disk", p) for k, p in self.folders.items()),
        ]:
            where = _existing(path)
            if where is not None:
                places.setdefault(os.stat(where).st_dev, (label, where))
        disks: list[_Disk] = []
        for label, where in places.values():
            usage = psutil.disk_usage(str(where))
            disks.append(
                {
                    "disk": label,
                    "path": str(where),
                    "free": usage.free,
                    "total": usage.total,
                    "percent_used": usage.percent,
                }
            )
        if len(disks) == 1:
            d = disks[0]
            speech = f"There are {gigabytes(d['free'])} free of {gigabytes(d['total'])}."
        else:
            speech = (
                "; ".join(f"{d['disk'][0].upper()}{d['disk'][1:]} has {gigabytes(d['free'])} free" for d in disks) + "."
            )
        low = [d for d in disks if d["percent_used"] >= 90]
        if low:
            speech += f" {low[0]['disk'][0].upper()}{low[0]['disk'][1:]} is almost full."
        return ToolResult(speech, {"disks": disks})

    @tool(reads=True)
    def load(self) -> ToolResult:
        """Say how busy the computer is: processor load and memory in use."""
        one, five, _ = os.getloadavg()
        cores = psutil.cpu_count() or 1
        memory = psutil.virtual_memory()
        busy = one / cores
        word = "barely busy" if busy < 0.3 else "fairly busy" if busy < 0.8 else "very busy"
        speech = (
            f"The computer is {word}: a load of {one:.1f} on {cores} cores, and "
            f"{gigabytes(memory.used)} of {gigabytes(memory.total)} of memory in use."
        )
        return ToolResult(
            speech,
            {"load_1m": one, "load_5m": five, "cores": cores, "memory_used": memory.used, "memory_total": memory.total},
        )

    @tool(reads=True)
    def busiest(self, by: Literal["processor", "memory"] = "processor") -> ToolResult:
        """Say which programs use the most processor time or memory right now."""
        processes = list(psutil.process_iter(["name", "memory_info"]))
        for p in processes:
            try:
                p.cpu_percent(None)  # the first reading only starts the measurement
            except psutil.Error:
                pass
        time.sleep(0.5)
        rows: list[_Program] = []
        for p in processes:
            try:
                rows.append(
                    {
                        "pid": p.pid,
                        "name": p.info["name"] or "?",
                        "cpu_percent": p.cpu_percent(None),
                        "memory": p.info["memory_info"].rss if p.info["memory_info"] else 0,
                    }
                )
            except psutil.Error:  # ended meanwhile, or not ours to look at
                continue
        cores = psutil.cpu_count() or 1
        for r in rows:  # psutil counts one busy core as 100 %: say the share of the whole computer
            r["cpu_percent"] = r["cpu_percent"] / cores
        key: Literal["cpu_percent", "memory"] = "cpu_percent" if by == "processor" else "memory"
        top = sorted(rows, key=lambda r: r[key], reverse=True)[:SAY_AT_MOST]
        if by == "processor":
            said = [f"{r['name']} at {r['cpu_percent']:.0f} percent" for r in top]
        else:
            said = [f"{r['name']} with {gigabytes(r['memory'])}" for r in top]
        return ToolResult(f"The busiest programs are {and_list(said)}.", {"by": by, "top": top})

    # --- files ----------------------------------------------------------------------------------

    @tool(reads=True)
    def find_files(
        self,
        name: Annotated[str, Ask("What is the file called?"), "words in the file's name"],
        folder: Folder | None = None,
    ) -> ToolResult:
        """Find files by words in their names, in the household's folders (documents, photos, music, backup)."""
        roots = {k: p for k, p in self.folders.items() if folder is None or k == folder}
        if not roots:
            missing = folder or "documents"
            return ToolResult(
                f"There's no {missing} folder set up: set folders.{missing} in the config.",
                {"error": "no_folder"},
                ok=False,
            )
        words = [
            w
            for w in name.lower().replace("_", " ").replace("-", " ").split()
            if w not in ("a", "the", "my", "file", "files")
        ]
        if not words:
            return ToolResult("Which file?", {"error": "no_name"}, ok=False)
        found, complete = _find(roots, words)
        found.sort(key=lambda f: f["modified"], reverse=True)
        data = {"words": words, "count": len(found), "files": found[:20], "complete": complete}
        if not found:
            return ToolResult(f"I found no file named like {name} in {and_list([f'the {k}' for k in roots])}.", data)
        said = [f"{Path(f['path']).name} in {f['folder']}" for f in found[:SAY_AT_MOST]]
        count = f"{len(found)} files" if len(found) != 1 else "one file"
        more = "" if complete else " (I stopped looking after a while)"
        return ToolResult(
            f"I found {count}{more}: {and_list(said)}{', and more' if len(found) > SAY_AT_MOST else ''}.", data
        )

    # --- named commands -------------------------------------------------------------------------

    @tool(reads=True)
    def check(
        self,
        command: Annotated[str, Ask("Which command?"), "the command's name, as in the config"],
        value: str | None = None,
    ) -> ToolResult:
        """Run one of the allowlisted commands that only looks (changes nothing), and say what it printed."""
        return self._run(command, value, may_change=False)

    @tool(risky=True, confirm="Should I {command}?", roles=("adult",))
    def run(
        self,
        command: Annotated[str, Ask("Which command?"), "the command's name, as in the config"],
        value: str | None = None,
    ) -> ToolResult:
        """Run one of the allowlisted commands (one that changes the system, after a yes)."""
        return self._run(command, value, may_change=True)

    def _run(self, command: str, value: str | None, may_change: bool) -> ToolResult:
        """Errors are said, not raised: the person hears what was wrong with the command or its argument."""
        try:
            named = self.commands.get(command)
            if named.changes and not may_change:
                return ToolResult(
                    f"'{named.name}' changes the system: ask me to run it, and I'll ask you first.",
                    {"error": "changes"},
                    ok=False,
                )
            outcome = self.commands.run(named, value)
        except SkillError as e:
            return ToolResult(f"{e.message[0].upper()}{e.message[1:]}.", {"error": e.code}, ok=False)
        data = {
            "command": named.name,
            "exit_code": outcome.code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "took_s": round(outcome.took_s, 3),
        }
        if outcome.code != 0:
            return ToolResult(f"'{named.name}' failed (exit code {outcome.code}).", data, ok=False)
        first = next((line.strip() for line in outcome.stdout.splitlines() if line.strip()), "")
        if named.changes or not first:
            return ToolResult("Done.", data)
        return ToolResult(first[:160], data)


def _existing(path: Path) -> Path | None:
    """The nearest folder that exists (the data folder may not be made yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def _find(roots: dict[str, Path], words: list[str]) -> tuple[list[_Found], bool]:
    found: list[_Found] = []
    seen = 0
    deadline = time.monotonic() + FIND_LIMIT_S
    for label, root in roots.items():
        stack = [root]
        while stack:
            try:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        seen += 1
                        if seen > FIND_LIMIT_ENTRIES or time.monotonic() > deadline:
                            return found, False
                        if entry.name.startswith("."):
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            plain = entry.name.lower().replace("_", " ").replace("-", " ")
                            if all(w in plain for w in words):
                                found.append({"path": entry.path, "folder": label, "modified": entry.stat().st_mtime})
            except OSError:  # a folder we may not read, or one that went away: the rest still counts
                continue
    return found, True
