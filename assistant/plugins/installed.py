"""Third-party skills the household installed with `assistant skills install`: their code (copied
into the data folder, fingerprinted), the permissions approved for them, and whether they are on.

A skill whose files changed since it was approved is not loaded: it has to be installed, and its
permissions approved, again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb import Query

from assistant.core.config import Config
from assistant.core.errors import SkillError
from assistant.core.store import open_db
from assistant.plugins.api import Permission
from assistant.plugins.remote import CoreServices
from assistant.plugins.sandbox import (
    SandboxedSkill,
    SkillProcess,
    describe,
    sandbox_kind,
    sandboxed_class,
    worker_command,
)

log = logging.getLogger(__name__)

CODE_DIR = "skills-installed"
SCHEMA = 1


def fingerprint(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (caches left out)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class InstalledSkills:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._db = open_db(data_dir / "skills.json", SCHEMA)
        self._table = self._db.table("installed")

    def all(self) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self._table.all()), key=lambda r: r["name"])

    def get(self, name: str) -> dict[str, Any] | None:
        found = self._table.get(Query().name == name)
        return dict(found) if isinstance(found, dict) else None

    def put(self, record: dict[str, Any]) -> None:
        self._table.upsert(record, Query().name == record["name"])

    def remove(self, name: str) -> None:
        self._table.remove(Query().name == name)

    def code_dir(self, name: str) -> Path:
        return self.data_dir / CODE_DIR / name


def skill_process(
    data_dir: Path,
    config: Config,
    name: str,
    code_dir: Path,
    permissions: frozenset[Permission],
    on_event: Callable[[dict[str, Any]], None] = lambda event: None,
    skill_data: Path | None = None,
    on_ask: Callable[[str, str, Any, str | None], Any] | None = None,
) -> SkillProcess:
    """The sandboxed process for a skill, granted exactly `permissions` (not started yet); `on_ask`
    answers its calls into the core."""
    skill_data = skill_data or data_dir / "skills" / name
    skill_data.mkdir(parents=True, exist_ok=True)
    folders = config.folders.named() if Permission.FOLDERS in permissions else {}
    command = worker_command(
        sandbox_kind(config.skills.sandbox),
        code_dir,
        skill_data,
        [data_dir, Path.home()],
        {n: p for n, p in folders.items() if p.is_dir()},
        Permission.NETWORK in permissions,
    )
    return SkillProcess(
        name, command, config.skills.call_timeout_s, data_dir / "logs" / "skills" / f"{name}.log", on_event, on_ask
    )


def enabled_skill_classes(
    data_dir: Path,
    config: Config,
    refused: Callable[[str, str], None],
    problems: dict[str, str],
    services: Callable[[str], dict[str, Any]] | None = None,
) -> list[type[SandboxedSkill]]:
    """A class for each enabled installed skill that still matches what was approved; the others
    are left out, with what to do in `problems` (by skill name) and in a warning. `services(name)`:
    the core objects that skill may call across its sandbox, as its grants allow."""
    classes = []
    installed = InstalledSkills(data_dir)
    for record in installed.all():
        if not record.get("enabled", True):
            continue
        name = record["name"]
        code = installed.code_dir(name)
        try:
            if not code.is_dir() or fingerprint(code) != record["fingerprint"]:
                raise SkillError(f"skill '{name}' changed since its permissions were approved; install it again")
            granted = frozenset(Permission(p) for p in record["permissions"])

            def on_event(event: dict[str, Any], name: str = name) -> None:
                if event.get("event") == "refused":
                    refused(name, str(event.get("permission")))

            core_side = CoreServices(name, services(name) if services else {}, granted, refused)
            process = skill_process(data_dir, config, name, code, granted, on_event, on_ask=core_side.answer)
            described = describe(process)
            core_side.risky = frozenset(
                str(t.get("name")) for t in described["tools"] if isinstance(t, dict) and t.get("risky")
            )
            asked = frozenset(Permission(p) for p in described.get("permissions", []))
            if described.get("name") != name or not asked <= granted:
                process.stop()
                raise SkillError(f"skill '{name}' now asks for more than was approved; install it again")
            classes.append(sandboxed_class(process, described, code))
        except (SkillError, ValueError) as e:
            not_loaded(problems, name, str(getattr(e, "message", e)))
    return classes


def not_loaded(problems: dict[str, str], name: str, why: str) -> None:
    """An installed skill is left out: say so once, where the CLI and the log both see it."""
    problems[name] = why
    log.warning("not loading the installed skill '%s': %s", name, why)
