"""`assistant skills list|install|enable|disable|remove`: the skills, and the third-party ones a
household adds. Installing shows what the skill asks for and needs a yes; what is approved is
fingerprinted, so changed code is never run under an old approval."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.bus import Bus
from assistant.core.config import Config
from assistant.core.errors import AssistantError, CommandLineError, SkillError
from assistant.plugins.api import PERMISSION_MEANING, Permission
from assistant.plugins.installed import CODE_DIR, InstalledSkills, fingerprint, skill_process
from assistant.plugins.packages import SITE_DIR, fetch, looks_like_package, unpack
from assistant.plugins.registry import builtin_skill_classes, entry_point_skill_classes
from assistant.plugins.sandbox import IN_THE_CORE, SandboxedSkill, describe, sandbox_kind
from assistant.plugins.wire import permissions_from_wire
from assistant.trust.audit import AuditLog
from assistant.trust.vault import Vault


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], data_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser(
        "skills", help="list skills, their tools and permissions; install, enable, disable, remove third-party ones"
    )
    p.add_argument("action", choices=["list", "install", "enable", "disable", "remove"])
    p.add_argument(
        "target",
        nargs="?",
        metavar="PATH|PACKAGE|NAME",
        help="install: the skill's folder, a package name for pip's index or a wheel file; enable, disable, remove: its name",
    )
    p.add_argument("--yes", action="store_true", help="install: approve the permissions it asks for without asking")
    p.add_argument("--json", action="store_true", help="list: one JSON object per skill")
    p.add_argument(
        "--knowledge-folder",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="install: a folder of documents a skill with the knowledge permission may search (repeat for more); "
        "it never sees the assistant's notes",
    )
    data_options(p)


def writes(args: argparse.Namespace) -> str:
    return "" if args.action == "list" else "changing skills (stop the assistant first, then start it again)"


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    if args.action == "list":
        return _list(args, config, data_dir)
    if not args.target:
        raise CommandLineError(
            f"say which skill: assistant skills {args.action} {'PATH' if args.action == 'install' else 'NAME'}",
            code="usage",
        )
    audit = AuditLog(data_dir, Vault(data_dir).derived_key("audit"))
    if args.action == "install":
        return _install(args.target, args.yes, config, data_dir, audit, args.knowledge_folder)
    installed = InstalledSkills(data_dir)
    record = installed.get(args.target)
    if record is None:
        builtin = args.target in {c.name for c in builtin_skill_classes()}
        raise SkillError(
            f"'{args.target}' is {'a built-in skill, which cannot be changed' if builtin else 'not an installed skill'}; "
            "`assistant skills list` shows them"
        )
    if args.action in ("enable", "disable"):
        record["enabled"] = args.action == "enable"
        installed.put(record)
        audit.append(f"skill_{args.action}d", skill=record["name"], who="cli")
        print(f"{record['name']}: {args.action}d; it takes effect when the assistant starts again")
        return 0
    _uninstall_hook(record, config, data_dir)
    shutil.rmtree(installed.code_dir(record["name"]), ignore_errors=True)
    shutil.rmtree(data_dir / "skills" / record["name"], ignore_errors=True)
    installed.remove(record["name"])
    audit.append("skill_removed", skill=record["name"], who="cli")
    print(f"{record['name']}: removed, with its data")
    return 0


def _uninstall_hook(record: dict[str, Any], config: Config, data_dir: Path) -> None:
    """The skill's own on_uninstall, in its sandbox; a skill that fails it is removed all the same."""
    name = record["name"]
    process = skill_process(
        data_dir,
        config,
        name,
        InstalledSkills(data_dir).code_dir(name),
        permissions_from_wire(name, record["permissions"]),
    )
    try:
        process.request("uninstall")
    except AssistantError as e:
        print(f"note: {name}'s own clean-up failed ({e.message}); removing it anyway", file=sys.stderr)
    finally:
        process.stop()


def _install(
    target: str, yes: bool, config: Config, data_dir: Path, audit: AuditLog, knowledge_folders: list[Path] | None = None
) -> int:
    """A skill folder as it is, or a package (a name for pip's index, or a wheel file) unpacked first."""
    folder = Path(target).expanduser()
    if folder.is_dir():
        return _install_folder(folder, str(folder.resolve()), None, yes, config, data_dir, audit, knowledge_folders)
    if not looks_like_package(target):
        raise SkillError(
            f"{target} is neither a skill folder nor a package: give the folder that holds skill.py and "
            "sentences/, a package name (greeter-skill, greeter-skill==1.2) or a wheel file"
        )
    with tempfile.TemporaryDirectory() as scratch:
        wheel = str(folder.resolve()) if target.endswith(".whl") else target
        print(f"fetching {target} …")
        unpacked = unpack(target, fetch(wheel, Path(scratch) / "wheels"), Path(scratch) / "site")
        with_deps = f", with {', '.join(unpacked.dependencies)}" if unpacked.dependencies else ""
        print(f"{unpacked.name} {unpacked.version}{with_deps}")
        return _install_folder(
            unpacked.skill_folder,
            f"package {unpacked.name} {unpacked.version}",
            unpacked.site,
            yes,
            config,
            data_dir,
            audit,
            knowledge_folders,
        )


def _install_folder(
    source: Path,
    origin: str,
    site: Path | None,
    yes: bool,
    config: Config,
    data_dir: Path,
    audit: AuditLog,
    knowledge_folders: list[Path] | None = None,
) -> int:
    """`site`: the unpacked wheels of a package, put beside the skill's code for its own path.
    `knowledge_folders`: where a skill with the knowledge permission may search."""
    if not (source / "skill.py").is_file():
        raise SkillError(
            f"{source} is not a skill folder (no skill.py); give the folder that holds skill.py and "
            "sentences/, or a package"
        )
    if not (source / "sentences" / f"{config.skills.language}.yaml").is_file():
        raise SkillError(f"{source} has no sentences/{config.skills.language}.yaml")
    installed = InstalledSkills(data_dir)
    staging = data_dir / CODE_DIR / f".staging-{uuid.uuid4().hex[:8]}"
    # Links are copied as links, never followed, and refused below when they lead out of the copy.
    shutil.copytree(source, staging, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        if site is not None:  # inside the try: a failed copy leaves no staging folder behind
            shutil.copytree(
                site, staging / SITE_DIR, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        _refuse_links_out(staging, source)
        with tempfile.TemporaryDirectory() as scratch:
            # Described in its sandbox with no permissions at all: its code never runs in this process.
            process = skill_process(data_dir, config, source.name, staging, frozenset(), skill_data=Path(scratch))
            try:
                described = describe(process)
            finally:
                process.stop()
        name = str(described.get("name", ""))
        permissions = permissions_from_wire(name, list(described.get("permissions", [])))
        taken = {c.name for c in [*builtin_skill_classes(), *entry_point_skill_classes()]}
        if not name.isidentifier():
            raise SkillError(f"the skill in {source} is named {name!r}, which is not an identifier")
        if name in taken or installed.get(name) is not None:
            raise SkillError(
                f"a skill named '{name}' is already there; `assistant skills remove {name}` first to replace it"
            )
        if permissions & IN_THE_CORE:
            names = ", ".join(sorted(p.value for p in permissions & IN_THE_CORE))
            raise SkillError(
                f"'{name}' asks for {names}, which third-party skills cannot be granted: raw microphone "
                "audio and the household's voiceprints stay inside the assistant"
            )
        searched = _knowledge_folders(name, permissions, knowledge_folders or [])
        print(f"{name}: {described.get('description', '')}")
        print(f"  tools: {', '.join(str(t['name']) for t in described['tools'])}")
        print(
            f"  runs in: {'a bubblewrap sandbox' if sandbox_kind(config.skills.sandbox) == 'bwrap' else 'a restricted subprocess (install bubblewrap to isolate it)'}"
        )
        print("  it asks to:" if permissions else "  it asks for no permissions")
        for p in sorted(permissions, key=lambda p: p.value):
            print(f"    {p.value}: {PERMISSION_MEANING[p]}")
            if p is Permission.KNOWLEDGE:
                print(f"      only in: {', '.join(str(f) for f in searched)} (never the assistant's notes)")
        if not yes and not _approved(name):
            print("not installed")
            return 1
        target = installed.code_dir(name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        record = {
            "name": name,
            "description": described.get("description", ""),
            "source": origin,
            "permissions": sorted(p.value for p in permissions),
            "enabled": True,
            "fingerprint": fingerprint(target),
            "installed_at": round(time.time(), 3),
        }
        if searched:
            record["knowledge_folders"] = [str(f) for f in searched]
        installed.put(record)
        try:
            _check_loads(name, config, data_dir)
        except AssistantError:
            installed.remove(name)
            shutil.rmtree(target, ignore_errors=True)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    audit.append(
        "skill_installed",
        who="cli",
        skill=name,
        permissions=record["permissions"],
        source=record["source"],
        fingerprint=record["fingerprint"],
    )
    print(f"{name}: installed and enabled; it is loaded when the assistant starts again")
    return 0


def _refuse_links_out(copy: Path, source: Path) -> None:
    """SkillError for a symlink in the copied skill that leads outside it (to the vault key, say):
    its target would be read, and fingerprinted, as if it were the skill's own file."""
    root = Path(os.path.realpath(copy))
    for folder, dirs, files in os.walk(copy):
        for name in (*dirs, *files):
            path = Path(folder, name)
            if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(root):
                raise SkillError(
                    f"{source / path.relative_to(copy)} is a symlink to {os.readlink(path)}, outside the "
                    "skill's folder; a skill folder may link only to its own files"
                )


def _knowledge_folders(name: str, permissions: frozenset[Permission], given: list[Path]) -> list[Path]:
    """The folders a skill asking for knowledge may search: named by the person installing it."""
    if Permission.KNOWLEDGE not in permissions:
        if given:
            raise SkillError(f"'{name}' does not ask to search documents: leave out --knowledge-folder")
        return []
    if not given:
        raise SkillError(
            f"'{name}' asks to search the household's documents: name the folders it may search with "
            "--knowledge-folder PATH (it never sees the assistant's notes)"
        )
    folders = []
    for folder in given:
        path = folder.expanduser().resolve()
        if not path.is_dir():
            raise SkillError(f"--knowledge-folder {folder} is not a folder")
        folders.append(path)
    return list(dict.fromkeys(folders))


def _approved(name: str) -> bool:
    if not sys.stdin.isatty():
        raise SkillError(f"there is no terminal to ask on: run again with --yes to approve what '{name}' asks for")
    return input(f"Install '{name}' and grant it these permissions? [y/N] ").strip().lower() in ("y", "yes")


def _check_loads(name: str, config: Config, data_dir: Path) -> None:
    """Load the whole assistant with the new skill (its tools, sentences and names checked with
    everyone else's); SkillError when it does not load."""
    from assistant.app.runtime import build_core

    core = build_core(config, data_dir, Bus())
    for loaded in core.registry.skills:
        if isinstance(loaded.skill, SandboxedSkill):
            loaded.skill.process.stop()
    if name in core.skill_problems:
        raise SkillError(core.skill_problems[name])
    if name not in {s.skill.name for s in core.registry.skills}:
        raise SkillError(f"'{name}' did not load")


def _list(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    from assistant.app.runtime import build_core

    core = build_core(config, data_dir, Bus())
    kind = sandbox_kind(config.skills.sandbox)
    sources = {r["name"]: r.get("source", "") for r in InstalledSkills(data_dir).all()}
    for loaded in core.registry.skills:
        skill = loaded.skill
        third = isinstance(skill, SandboxedSkill)
        if isinstance(skill, SandboxedSkill):
            skill.process.stop()
        perms = sorted(p.value for p in skill.permissions)
        if args.json:
            print(
                json.dumps(
                    {
                        "name": skill.name,
                        "description": skill.description,
                        "permissions": perms,
                        "third_party": third,
                        "enabled": True,
                        "sandbox": kind if third else None,
                        "source": sources.get(skill.name) if third else None,
                        "tools": [s.qualified for s in loaded.tools],
                    }
                )
            )
            continue
        where = f" [third-party, sandbox: {kind}, from {sources.get(skill.name)}]" if third else ""
        print(f"{skill.name}: {skill.description} (permissions: {', '.join(perms) or 'none'}){where}")
        for spec in loaded.tools:
            params = ", ".join(f"{p.name}: {p.kind.__name__}{'' if p.required else '?'}" for p in spec.params)
            print(f"  {spec.qualified}({params}) - {spec.description}")
    loaded_names = {s.skill.name for s in core.registry.skills}
    for record in InstalledSkills(data_dir).all():
        if record["name"] in loaded_names:
            continue
        state = (
            "disabled"
            if not record.get("enabled", True)
            else f"not loaded: {core.skill_problems.get(record['name'], 'unknown')}"
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "name": record["name"],
                        "description": record["description"],
                        "permissions": record["permissions"],
                        "third_party": True,
                        "enabled": bool(record.get("enabled", True)),
                        "sandbox": kind,
                        "source": record.get("source"),
                        "tools": [],
                    }
                )
            )
        else:
            print(
                f"{record['name']}: {record['description']} (permissions: {', '.join(record['permissions']) or 'none'}) [third-party, {state}, from {record.get('source')}]"
            )
    return 0
