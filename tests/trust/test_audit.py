"""The audit trail and the vault: every tool call from every origin and every refused permission is
in a chain that finds a changed, removed or inserted line; secrets are encrypted at rest and never
written to the trail."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import SkillError
from assistant.plugins.api import Permission
from assistant.trust.audit import REDACTED, AuditLog
from assistant.trust.vault import Vault, VaultError
from assistant.web.server import admin_key, web_dir
from testbed.harness import TEMPLATES_ONLY

ASSISTANT = [sys.executable, "-m", "assistant"]


def audit_of(data_dir: Path) -> AuditLog:
    return AuditLog(data_dir, Vault(data_dir).derived_key("audit"))


def filled(data_dir: Path, n: int = 5) -> AuditLog:
    log = audit_of(data_dir)
    for i in range(n):
        log.append("tool_call", origin="voice", tool="timer.start", args={"minutes": i + 1}, ok=True)
    return log


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ASSISTANT, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **TEMPLATES_ONLY}
    )


def test_an_untouched_trail_verifies_from_the_command_line(tmp_path: Path) -> None:
    filled(tmp_path)
    done = cli("audit", "--verify", "--data-dir", str(tmp_path))
    assert done.returncode == 0 and "intact: 6 entries" in done.stdout, done.stdout
    shown = cli("audit", "--last", "2", "--data-dir", str(tmp_path))
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 2 and "timer.start(minutes=5)" in shown.stdout
    as_json = [json.loads(line) for line in cli("audit", "--json", "--data-dir", str(tmp_path)).stdout.splitlines()]
    assert [e["seq"] for e in as_json] == [1, 2, 3, 4, 5, 6] and as_json[0]["kind"] == "trail_started"


def test_a_changed_line_is_found(tmp_path: Path) -> None:
    log = filled(tmp_path)
    text = lines(log)
    text[3] = text[3].replace('"minutes": 3', '"minutes": 30')
    log.path.write_text("".join(text))
    verdict = audit_of(tmp_path).verify()
    assert not verdict.intact and any("line 4 (entry 4) was changed" in p for p in verdict.problems)
    done = cli("audit", "--verify", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "TAMPERED" in done.stdout and "NOT intact" in done.stdout


def test_a_line_rewritten_with_a_fresh_mac_still_breaks_without_the_key(tmp_path: Path) -> None:
    log = filled(tmp_path)
    forger = AuditLog(tmp_path, b"not the vault's key")
    text = lines(log)
    entry = json.loads(text[1])
    entry.pop("mac")
    entry["args"] = {"minutes": 99}
    entry["mac"] = forger._mac(json.loads(text[0])["mac"], entry)
    text[1] = json.dumps(entry) + "\n"
    log.path.write_text("".join(text))
    assert not audit_of(tmp_path).verify().intact


@pytest.mark.parametrize(
    "removed, problem", [(2, "entries 3-3 are missing"), (5, "entries 6-6 were removed from the end")]
)
def test_a_removed_line_is_found(tmp_path: Path, removed: int, problem: str) -> None:
    log = filled(tmp_path)
    text = lines(log)
    del text[removed]
    log.path.write_text("".join(text))
    verdict = audit_of(tmp_path).verify()
    assert any(problem in p for p in verdict.problems), verdict.problems


def test_a_deleted_trail_is_found(tmp_path: Path) -> None:
    filled(tmp_path).path.unlink()
    assert not audit_of(tmp_path).verify().intact


def test_a_line_cut_short_by_a_crash_is_a_note_and_the_chain_goes_on(tmp_path: Path) -> None:
    log = filled(tmp_path)
    with log.path.open("a") as f:
        f.write('{"seq": 7, "t": 1, "kind": "tool_ca')
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and "cut short" in verdict.notes[0]
    again = audit_of(tmp_path)
    again.append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and verdict.entries == 7 and not verdict.notes


def test_secrets_never_reach_the_trail(tmp_path: Path) -> None:
    log = audit_of(tmp_path)
    log.append(
        "tool_call",
        origin="phone",
        tool="device.pair",
        args={"device": "door", "password": "hunter2", "api_key": "k-123"},
        result={"auth": {"token": "t-456"}},
    )
    text = log.path.read_text()
    assert "hunter2" not in text and "k-123" not in text and "t-456" not in text
    entry = next(e for e in audit_of(tmp_path).entries() if e["kind"] == "tool_call")
    assert entry["args"] == {"device": "door", "password": REDACTED, "api_key": REDACTED} and log.verify().intact


def test_calls_from_voice_phone_text_and_routines_are_all_audited(tmp_path: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    asyncio.run(core.dialogue.handle("set a pasta timer for five minutes"))
    asyncio.run(core.dialogue.another().handle("what time is it"))
    folder = tmp_path / "routines"
    folder.mkdir(exist_ok=True)
    (folder / "check.yaml").write_text(
        textwrap.dedent("""\
        name: check
        steps:
          - id: time
            tool: clock.get_time
        """)
    )
    done = cli("routines", "run", "check", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    done = cli("ask", "how long is left on the pasta timer", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    calls = [(e["origin"], e["tool"]) for e in audit_of(tmp_path).entries() if e["kind"] == "tool_call"]
    assert calls == [
        ("voice", "timer.start"),
        ("phone", "clock.get_time"),
        ("routine", "clock.get_time"),
        ("text", "timer.status"),
    ]
    assert audit_of(tmp_path).verify().intact


def test_a_permission_a_skill_was_not_granted_is_refused_and_audited(tmp_path: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    clock = next(s for s in core.registry.skills if s.skill.name == "clock").skill
    assert Permission.DEVICES not in clock.permissions
    with pytest.raises(SkillError, match="skill 'clock' needs the devices permission"):
        clock.context.needs_devices()
    (entry,) = [e for e in core.audit.entries() if e["kind"] == "refused"]
    assert (entry["skill"], entry["permission"]) == ("clock", "devices")


def test_secrets_are_encrypted_under_a_key_only_its_owner_reads(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.put("device.door", "hunter2")
    assert stat.S_IMODE(vault.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o600
    assert "hunter2" not in vault.path.read_text()
    assert Vault(tmp_path).get("device.door") == "hunter2"
    vault.key_path.chmod(0o644)
    with pytest.raises(VaultError, match=r"can be read by others .*`chmod 600"):
        Vault(tmp_path).get("device.door")
    vault.key_path.chmod(0o600)
    vault.key_path.unlink()
    with pytest.raises(VaultError, match="the key file was replaced"):
        Vault(tmp_path).get("device.door")


def test_the_web_admin_key_lives_in_the_vault(tmp_path: Path) -> None:
    old = web_dir(tmp_path) / "admin.key"
    old.parent.mkdir(parents=True)
    old.write_text("an-older-key\n")
    assert admin_key(tmp_path) == "an-older-key" and not old.exists()
    assert "an-older-key" not in (tmp_path / "secrets.json").read_text()
    assert admin_key(tmp_path) == "an-older-key"


def test_a_file_name_that_is_not_utf8_is_recorded_and_verifies(tmp_path: Path) -> None:
    """A media folder named b'caf\\xe9' comes as a lone surrogate; writing it raised UnicodeEncodeError
    (issue 25). It is written as the JSON escape it reads back as, and the trail verifies."""
    log = AuditLog(tmp_path, Vault(tmp_path).derived_key("audit"))
    log.append("folder_added", who="cli", folder=os.fsdecode(b"/photos/caf\xe9"), named="café")
    entries = list(AuditLog(tmp_path, Vault(tmp_path).derived_key("audit")).entries())
    assert entries[-1]["folder"] == os.fsdecode(b"/photos/caf\xe9") and entries[-1]["named"] == "café"
    assert not AuditLog(tmp_path, Vault(tmp_path).derived_key("audit")).verify().problems


def test_an_entry_the_disk_refuses_is_taken_back_whole_and_the_trail_still_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk between the entry and its head: the entry is taken back and the caller told, so
    the trail never looks like an old head was put back (it used to fail --verify for good)."""
    import errno

    import assistant.trust.audit as audit_module

    log = filled(tmp_path)
    before = lines(log)

    def no_room(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit_module, "atomic_write", no_room)
    with pytest.raises(audit_module.AuditError, match="No space left on device; free some space") as refused:
        log.append("tool_call", origin="voice", tool="timer.start", args={"minutes": 9}, ok=True)
    assert refused.value.code == "disk_full"
    monkeypatch.undo()
    assert lines(log) == before
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and verdict.entries == 6, verdict.problems
    audit_of(tmp_path).append("tool_call", origin="voice", tool="timer.start", args={"minutes": 9}, ok=True)
    assert audit_of(tmp_path).verify().entries == 7


def test_a_full_disk_is_said_before_anything_is_done_and_an_unrecorded_action_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.trust.audit as audit_module
    import assistant.voice.dialogue as dialogue_module

    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    monkeypatch.setattr(
        dialogue_module, "room_problem", lambda folder: f"the disk holding {folder} is full (0 KiB free)"
    )
    assert asyncio.run(core.dialogue.handle("set a pasta timer for five minutes")) == dialogue_module.DISK_FULL
    assert core.scheduler.timers() == []
    monkeypatch.undo()

    # The disk fills between the action and its audit entry: the action stands, and the reply says
    # it was not recorded.
    def refused(*args: object, **kwargs: object) -> None:
        raise audit_module.AuditError("cannot write the audit trail: No space left on device", code="disk_full")

    monkeypatch.setattr(dialogue_module, "record_call", refused)
    reply = asyncio.run(core.dialogue.handle("set a pasta timer for five minutes"))
    assert reply.endswith("I couldn't write that in my record of what I do: the disk is full."), reply
    assert [t.name for t in core.scheduler.timers()] == ["pasta"]


def test_the_command_line_refuses_a_change_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import assistant.core.store as store_module
    from assistant.cli.main import main

    monkeypatch.setattr(store_module, "MIN_FREE_BYTES", 1 << 62)  # more than any disk has free
    assert main(["ask", "set a pasta timer for five minutes", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        "is full" in err and "so nothing was changed: free some space and try again" in err and "Traceback" not in err
    )
    assert not (tmp_path / "scheduler.json").exists() or "pasta" not in (tmp_path / "scheduler.json").read_text()
