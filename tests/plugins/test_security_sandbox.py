"""The security suite's sandbox part (issue 24, hole 1): a probe skill (testbed/skills/prober) tries
every way out of its bubblewrap sandbox: a listening unix socket outside its grants, a configured
but ungranted folder, /proc of other processes, /sys, /etc, the vault key by path, by `..` and by
symlink, writes outside its data folder and /tmp, the assistant's environment. Each must fail, and
what a grant names must work, bound at its real path."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant.app.runtime import Core
from assistant.trust.vault import Vault
from testbed import SKILLS
from tests.plugins.test_sandbox import core_of, install

PROBER = SKILLS / "prober"
SECRET = ("ASSISTANT_SECRET_TEST", f"never-in-a-skill-{uuid.uuid4().hex}")
SANDBOX_ENVIRONMENT = {"PATH", "LANG", "HOME", "PYTHONUNBUFFERED", "PYTHONPATH", "TZ", "PWD", "LC_CTYPE"}
"""What a skill's environment may hold: the worker's needs, set by the sandbox, nothing inherited."""


@dataclass
class Bus:
    """A listening unix socket where a session bus would be, outside anything a skill is granted."""

    path: Path
    heard: list[bytes] = field(default_factory=list)


@dataclass
class Outside:
    """Host folders outside the test's temporary folder: a configured photos folder (and a link to
    it, the path the config names) that only the folders permission may show."""

    root: Path
    photos: Path
    link: Path


def _listen(server: socket.socket, bus: Bus) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            bus.heard.append(conn.recv(1024))


@pytest.fixture(scope="module")
def bus() -> Iterator[Bus]:
    parent = Path("/run") if os.access("/run", os.W_OK) else Path("/var/tmp")
    folder = parent / f"assistant-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    found = Bus(folder / "bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(found.path))
    server.listen()
    threading.Thread(target=_listen, args=(server, found), daemon=True).start()
    try:
        yield found
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    root = Path("/var/tmp") / f"assistant-test-{uuid.uuid4().hex[:8]}"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "beach.jpg").write_bytes(b"\xff\xd8 a private photo")
    (root / "photos-link").symlink_to(root / "photos")
    try:
        yield Outside(root, root / "photos", root / "photos-link")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _installed(data_dir: Path, source: Path = PROBER) -> Path:
    done = install(data_dir, source)
    assert done.returncode == 0, done.stderr
    Vault(data_dir).put("device.door", "hunter2")
    assert (data_dir / "vault.key").is_file()
    return data_dir


@contextmanager
def _core(data_dir: Path, outside: Outside, **env: str) -> Iterator[Core]:
    """A core whose skill process starts with a secret in the assistant's environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(*SECRET)
        core = core_of(data_dir, ASSISTANT__FOLDERS__PHOTOS=str(outside.link), **env)
    try:
        yield core
    finally:
        core.registry.skill("prober").process.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ungranted(outside: Outside) -> Iterator[tuple[Core, Path]]:
    """Its data folder outside /tmp, as on a real host (under /tmp the sandbox's own /tmp holds it)."""
    data_dir = _installed(outside.root / "data")
    with _core(data_dir, outside) as core:
        yield core, data_dir


def _escape(core: Core, data_dir: Path, bus: Bus, photos: Path) -> dict[str, Any]:
    result = core.registry.tool("prober.escape").func(
        unix_socket=str(bus.path), photos=str(photos), parent_pid=os.getpid(), vault_key=str(data_dir / "vault.key")
    )
    assert result.ok, result.data
    return dict(result.data)


def _through(outcome: dict[str, str]) -> set[str]:
    return {what for what, how in outcome.items() if how == "ok"}


def test_a_skill_with_no_grants_gets_through_nowhere(ungranted: tuple[Core, Path], bus: Bus, outside: Outside) -> None:
    core, data_dir = ungranted
    skill_data = (data_dir / "skills" / "prober").resolve()
    found = _escape(core, data_dir, bus, outside.photos)
    assert _through(found["outcome"]) == {f"write {skill_data}", "write /tmp"}, found["outcome"]
    assert found["folders"] == {}
    assert bus.heard == [], "nothing reached the socket"
    planted = "planted-by-prober"
    assert (skill_data / planted).read_text() == "was here"
    for host in (
        outside.photos,
        outside.root,
        Path("/var/tmp"),
        data_dir / "skills",
        data_dir / "skills-installed" / "prober",
        Path("/tmp"),
        Path(__file__).parents[2] / "assistant",
    ):
        assert not (host / planted).exists(), host


def test_it_sees_none_of_the_assistants_environment(ungranted: tuple[Core, Path]) -> None:
    core, data_dir = ungranted
    seen = core.registry.tool("prober.environment").func().data
    assert seen["own"]["HOME"] == str((data_dir / "skills" / "prober").resolve())
    assert set(seen["own"]) <= SANDBOX_ENVIRONMENT, set(seen["own"]) - SANDBOX_ENVIRONMENT
    name, value = SECRET
    for where in ("own", "self", "first"):
        assert name not in str(seen[where]) and value not in str(seen[where]), where


def test_what_a_grant_names_is_there_at_its_real_path_and_nothing_more(
    tmp_path: Path, bus: Bus, outside: Outside
) -> None:
    """With folders and network: the photos folder (configured through a link) is bound at its real
    path, name resolution is there; the socket, the vault and the rest stay out of reach, even with a
    granted folder that holds the assistant's data folder."""
    granted = tmp_path / "granted"
    shutil.copytree(PROBER, granted)
    source = (granted / "skill.py").read_text()
    (granted / "skill.py").write_text(
        source.replace(
            "frozenset({Permission.STORE})", "frozenset({Permission.STORE, Permission.FOLDERS, Permission.NETWORK})"
        )
    )
    data_dir = _installed(tmp_path / "data", granted)
    with _core(data_dir, outside, ASSISTANT__FOLDERS__BACKUP=str(tmp_path)) as core:
        found = _escape(core, data_dir, bus, outside.photos)
    real = outside.photos.resolve()
    assert found["folders"] == {"photos": str(real), "backup": str(tmp_path.resolve())}
    skill_data = (data_dir / "skills" / "prober").resolve()
    expected = {"ungranted photos", f"write {real}", f"write {skill_data}", "write /tmp"}
    if Path("/etc/resolv.conf").exists():
        expected.add("/etc/resolv.conf")
    assert _through(found["outcome"]) == expected, found["outcome"]
    assert (real / "planted-by-prober").read_text() == "was here"
    assert bus.heard == []


def test_a_skill_folder_linking_outside_itself_is_refused(tmp_path: Path) -> None:
    """A symlink to the vault key (or any file outside) would be copied in as the key's bytes."""
    linking = tmp_path / "linking"
    shutil.copytree(PROBER, linking)
    secret = tmp_path / "vault.key"
    secret.write_text("the key")
    (linking / "key").symlink_to(secret)
    done = install(tmp_path / "data", linking)
    assert done.returncode != 0 and "is a symlink to" in done.stderr and "outside the skill's folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert not [p for p in (tmp_path / "data" / "skills-installed").iterdir()], "nothing of it was kept"
