"""Skills published as Python packages: `assistant skills install PACKAGE` (a name from the package
index pip is set up for, with a version if wanted, or a wheel file).

pip fetches wheels only (`--only-binary=:all:`: a wheel is unpacked, never built, so nothing in it
runs at install time), with their dependencies. Nothing is installed into the assistant's own
environment: the skill's wheel, and each dependency the assistant does not already have, are
unpacked into the skill's own folder (`site/`), which only its sandboxed process puts on its path,
after the assistant's packages.

The skill inside a package is named by an `assistant.skills` entry point (`name = pkg.skill:Class`,
the same one that loads a trusted skill installed into the environment), or is the one folder in the
wheel holding skill.py and sentences/.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import SkillError

ENTRY_POINT_GROUP = "assistant.skills"
SITE_DIR = "site"
"""In an installed skill's folder: the unpacked wheels, put on its sandboxed process's path."""
FETCH_TIMEOUT_S = 600


@dataclass(frozen=True)
class Unpacked:
    name: str
    """The distribution's name, normalized."""
    version: str
    skill_folder: Path
    """The folder in `site` that holds skill.py and sentences/."""
    site: Path
    """The skill's wheel and the dependencies it brought, unpacked."""
    dependencies: list[str]
    """"name version" of each dependency unpacked beside it."""


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def looks_like_package(target: str) -> bool:
    """A wheel file or a requirement ("greeter-skill", "greeter-skill==1.2"), not a folder path."""
    return (
        target.endswith(".whl")
        or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*([<>=!~].*)?", target) is not None
    )


def fetch(target: str, into: Path) -> list[Path]:
    """The skill's wheel and its dependencies' wheels, fetched by pip (or copied, for a wheel file)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--dest",
        str(into),
        target,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SkillError(
            f"fetching {target} took over {FETCH_TIMEOUT_S} s; check the network and the package index"
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = next(
            (line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1] if lines else "pip failed"
        )
        raise SkillError(
            f"could not fetch {target}: {reason.removeprefix('ERROR: ')} (a skill must be published as a "
            "wheel; pip's own settings choose the package index: PIP_INDEX_URL, pip.conf)"
        )
    return sorted(into.glob("*.whl"))


def _wheel_name(wheel: Path) -> tuple[str, str]:
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) < 5:
        raise SkillError(f"{wheel.name} is not a wheel's file name")
    return normalized(parts[0]), parts[1]


def unpack(target: str, wheels: list[Path], site: Path) -> Unpacked:
    """Unpack the skill's wheel and the dependencies the assistant lacks into `site`."""
    wanted = normalized(
        _wheel_name(Path(target))[0] if target.endswith(".whl") else re.split(r"[\s\[<>=!~]", target, maxsplit=1)[0]
    )
    named = {wheel: _wheel_name(wheel) for wheel in wheels}
    skill_wheel = next((w for w, (name, _) in named.items() if name == wanted), None)
    if skill_wheel is None:
        raise SkillError(f"pip fetched no wheel named {wanted}")
    site.mkdir(parents=True, exist_ok=True)
    dependencies = []
    for wheel, (name, version) in named.items():
        if wheel != skill_wheel:
            if _installed(name):
                continue  # the assistant's own copy is used: it is first on the skill's path
            dependencies.append(f"{name} {version}")
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)  # extractall drops absolute paths and ".." from member names
        except (zipfile.BadZipFile, OSError) as e:
            raise SkillError(f"{wheel.name} could not be unpacked: {e}") from None
    name, version = named[skill_wheel]
    return Unpacked(name, version, _skill_folder(skill_wheel, site), site, dependencies)


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _skill_folder(wheel: Path, site: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        members = archive.namelist()
        entry_points = next(
            (m for m in members if m.count("/") == 1 and m.endswith(".dist-info/entry_points.txt")), None
        )
        module = None
        if entry_points is not None:
            parser = configparser.ConfigParser()
            parser.read_string(archive.read(entry_points).decode("utf-8", "replace"))
            if parser.has_section(ENTRY_POINT_GROUP):
                values = list(parser[ENTRY_POINT_GROUP].values())
                if len(values) != 1:
                    raise SkillError(
                        f"{wheel.name} names {len(values)} skills under [{ENTRY_POINT_GROUP}]; one package, one skill"
                    )
                module = values[0].split(":")[0].strip()
    if module is not None:
        path = site / Path(*module.split("."))
        folder = path if path.is_dir() else path.parent
        if not (folder / "skill.py").is_file():
            raise SkillError(f"{wheel.name}: the entry point's module {module} has no skill.py beside it")
        return folder
    folders = {m[: -len("skill.py")] for m in members if m.endswith("/skill.py") or m == "skill.py"}
    found = sorted(
        f for f in folders if ".dist-info/" not in f and any(m.startswith(f + "sentences/") for m in members)
    )
    if len(found) != 1:
        raise SkillError(
            f"{wheel.name} holds no skill: it needs an [{ENTRY_POINT_GROUP}] entry point, or one folder "
            "with skill.py and sentences/"
        )
    return site / found[0]
