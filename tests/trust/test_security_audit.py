"""The audit trail against someone without the vault key (issue 24, hole 2): cutting the tail and
rewriting the head, deleting the trail, truncating it and deleting the head, damaging the head,
forging one under another key, beginning the trail again. Each makes `assistant audit --verify`
exit 1 and say what is missing; what a crash leaves (a head exactly one entry behind) still
verifies. Checking makes no vault key; making the key starts the trail; administrative changes are
audited with who made them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.trust import admin, audit
from assistant.trust.vault import Vault
from testbed.harness import TEMPLATES_ONLY
from tests.trust.test_audit import ASSISTANT, audit_of, cli, filled, lines


def verify_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    done = cli("audit", "--verify", "--data-dir", str(data_dir))
    assert "Traceback" not in done.stdout + done.stderr
    return done


def assert_tampered(done: subprocess.CompletedProcess[str], saying: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NOT intact" in done.stdout and saying in done.stdout, done.stdout


@pytest.mark.parametrize("keep_signature", [False, True], ids=["plain head", "old signature kept"])
def test_cutting_the_tail_and_rewriting_the_head_is_found(tmp_path: Path, keep_signature: bool) -> None:
    log = filled(tmp_path)
    kept = lines(log)[:-2]
    log.path.write_text("".join(kept))
    newest = json.loads(kept[-1])
    head = json.loads(log.head_path.read_text())
    head.update(seq=newest["seq"], mac=newest["mac"])
    if not keep_signature:
        head.pop("tag", None)
    log.head_path.write_text(json.dumps(head))
    assert_tampered(verify_cli(tmp_path), "audit.head")


def test_deleting_the_trail_and_its_head_is_found(tmp_path: Path) -> None:
    log = filled(tmp_path)
    log.path.unlink()
    log.head_path.unlink()
    assert_tampered(verify_cli(tmp_path), "audit.jsonl is missing beside vault.key")


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_truncating_the_trail_and_deleting_the_head_is_found(tmp_path: Path, keep: int) -> None:
    log = filled(tmp_path)
    log.path.write_text("".join(lines(log)[:keep]))
    log.head_path.unlink()
    assert_tampered(verify_cli(tmp_path), "audit.head is missing")


@pytest.mark.parametrize("damage", ["", "not json", "[]", '{"seq": 6}', '{"seq": "six", "mac": "", "tag": ""}'])
def test_a_damaged_head_is_found(tmp_path: Path, damage: str) -> None:
    log = filled(tmp_path)
    log.head_path.write_text(damage)
    verdict = audit_of(tmp_path).verify()
    assert not verdict.intact and any("audit.head is damaged" in p for p in verdict.problems), verdict.problems


def test_a_head_forged_without_the_key_is_found(tmp_path: Path) -> None:
    log = filled(tmp_path)
    kept = lines(log)[:-2]
    log.path.write_text("".join(kept))
    newest = json.loads(kept[-1])
    wrong = hmac.new(
        hmac.new(b"a guessed key", b"audit", hashlib.sha256).digest(), b"audit-head", hashlib.sha256
    ).digest()
    tag = hmac.new(wrong, f"{newest['seq']}\n{newest['mac']}".encode(), hashlib.sha256).hexdigest()
    log.head_path.write_text(json.dumps({"seq": newest["seq"], "mac": newest["mac"], "tag": tag}))
    assert_tampered(verify_cli(tmp_path), "not written with this vault key")


def test_a_trail_begun_again_after_it_was_deleted_is_found(tmp_path: Path) -> None:
    log = filled(tmp_path)
    log.path.unlink()
    log.head_path.unlink()
    audit_of(tmp_path).append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)
    verdict = audit_of(tmp_path).verify()
    assert not verdict.intact and any("does not begin with its start" in p for p in verdict.problems), verdict.problems


def test_a_head_one_entry_behind_is_a_crash_and_verifies(tmp_path: Path) -> None:
    log = filled(tmp_path, 4)
    before = log.head_path.read_bytes()
    log.append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)
    log.head_path.write_bytes(before)  # killed between writing the line and its head
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and any("not yet updated" in n for n in verdict.notes), verdict
    assert verify_cli(tmp_path).returncode == 0
    log.append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and not verdict.notes and verdict.entries == 7


def test_a_head_two_entries_behind_is_an_old_copy_put_back(tmp_path: Path) -> None:
    log = filled(tmp_path, 4)
    before = log.head_path.read_bytes()
    for _ in range(2):
        log.append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)
    log.head_path.write_bytes(before)
    assert_tampered(verify_cli(tmp_path), "an old copy was put back")


def test_a_crash_before_the_first_head_leaves_it_one_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []

    def killed_at_the_second_head(path: Path, text: str) -> None:
        if written:
            raise KeyboardInterrupt("killed")
        written.append(path)
        path.write_text(text)

    monkeypatch.setattr(audit, "atomic_write", killed_at_the_second_head)
    with pytest.raises(KeyboardInterrupt):
        Vault(tmp_path).derived_key("audit")  # makes the key, which starts the trail
    monkeypatch.undo()
    assert written == [tmp_path / "audit.head"] and len(lines(audit_of(tmp_path))) == 1
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and verdict.notes, verdict


def test_checking_makes_no_vault_key_and_a_lost_key_is_a_problem(tmp_path: Path) -> None:
    done = verify_cli(tmp_path)
    assert done.returncode == 0 and "nothing recorded yet" in done.stdout, done.stdout
    assert not (tmp_path / "vault.key").exists()
    filled(tmp_path)
    (tmp_path / "vault.key").unlink()
    assert_tampered(verify_cli(tmp_path), "vault.key is missing beside audit.jsonl and audit.head")
    assert not (tmp_path / "vault.key").exists()


def test_making_the_vault_key_starts_the_trail(tmp_path: Path) -> None:
    Vault(tmp_path).put("device.door", "hunter2")
    (first,) = audit_of(tmp_path).entries()
    assert first["seq"] == 1 and first["kind"] == "trail_started"
    assert audit_of(tmp_path).verify().intact


def test_start_new_sets_the_old_trail_aside_and_begins_one_that_verifies(tmp_path: Path) -> None:
    log = filled(tmp_path)
    log.head_path.unlink()
    done = cli("audit", "--start-new", "--data-dir", str(tmp_path))
    assert done.returncode == 0 and "the old one is kept as" in done.stdout, done.stdout + done.stderr
    (kept,) = tmp_path.glob("audit.jsonl.*.old")
    assert len(kept.read_text().splitlines()) == 6
    (first,) = audit_of(tmp_path).entries()
    assert (first["kind"], first["who"], first["previous"]) == ("trail_started", "cli", kept.name)
    assert verify_cli(tmp_path).returncode == 0


def test_writers_in_several_processes_never_share_a_number(tmp_path: Path) -> None:
    filled(tmp_path, 1)
    code = (
        "import sys; from pathlib import Path; from assistant.trust.audit import AuditLog; from assistant.trust.vault import Vault\n"
        "d = Path(sys.argv[1]); log = AuditLog(d, Vault(d).derived_key('audit'))\n"
        "for i in range(40): log.append('tool_call', origin='routine', tool='clock.get_time', args={}, ok=True)"
    )
    writers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    verdict = audit_of(tmp_path).verify()
    assert verdict.intact and verdict.entries == 2 + 160 and not verdict.notes, verdict


def test_folders_added_from_the_command_line_are_audited_with_who(tmp_path: Path) -> None:
    data, docs, photos = tmp_path / "data", tmp_path / "docs", tmp_path / "photos"
    docs.mkdir()
    photos.mkdir()
    for args in (
        ["knowledge", "add-folder", str(docs)],
        ["media", "add-folder", str(photos)],
        ["knowledge", "add-folder", str(docs)],
    ):
        done = cli(*args, "--no-scan", "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
    added = [(e["action"], e["who"], e["path"], e["to"]) for e in audit_of(data).entries() if e["kind"] == "admin"]
    assert added == [("folder added", "cli", str(docs), "knowledge"), ("folder added", "cli", str(photos), "media")]
    assert audit_of(data).verify().intact


def test_an_administrative_change_names_who_made_it(tmp_path: Path) -> None:
    entry = admin.record_admin(tmp_path, "phone paired", "admin", phone="kitchen tablet", token="s3cret")
    (stored,) = [e for e in audit_of(tmp_path).entries() if e["kind"] == "admin"]
    assert stored == entry and (entry["action"], entry["who"], entry["phone"]) == (
        "phone paired",
        "admin",
        "kitchen tablet",
    )
    assert entry["token"] == audit.REDACTED
    with pytest.raises(audit.AuditError, match="who did it"):
        admin.record_admin(tmp_path, "phone revoked", " ")
    shown = cli("audit", "--data-dir", str(tmp_path)).stdout
    assert "admin    phone paired: phone=kitchen tablet" in shown, shown


def bounded_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line with 60 seconds and 2 GiB of data at most, so a reader that hangs on a FIFO or
    reads /dev/zero to its end fails the test instead of the machine."""

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))

    done = subprocess.run(
        [*ASSISTANT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limited,
        env={**os.environ, **TEMPLATES_ONLY},
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def append_to(data_dir: Path) -> None:
    audit_of(data_dir).append("tool_call", origin="voice", tool="clock.get_time", args={}, ok=True)


def replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def replace_with_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def replace_with_link_to_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("replace", "what"),
    [
        (replace_with_fifo, "a FIFO"),
        (replace_with_directory, "a directory"),
        (replace_with_link_to_zero, "a link to a device"),
    ],
    ids=["fifo", "directory", "link to /dev/zero"],
)
def test_a_trail_that_is_not_a_regular_file_is_refused_without_hanging(tmp_path: Path, replace, what: str) -> None:  # type: ignore[no-untyped-def]
    log = filled(tmp_path)
    replace(log.path)
    saying = f"audit.jsonl is not a regular file ({what}): the trail cannot be trusted"
    assert_tampered(bounded_cli("audit", "--verify", "--data-dir", str(tmp_path)), saying)
    shown = bounded_cli("audit", "--data-dir", str(tmp_path))
    assert shown.returncode == 1 and saying in shown.stderr, shown.stdout + shown.stderr
    with pytest.raises(audit.AuditError, match=r"not a regular file"):
        append_to(tmp_path)


@pytest.mark.timeout(90)
def test_a_head_that_is_a_fifo_is_a_problem_without_hanging(tmp_path: Path) -> None:
    log = filled(tmp_path)
    replace_with_fifo(log.head_path)
    assert_tampered(
        bounded_cli("audit", "--verify", "--data-dir", str(tmp_path)), "audit.head is not a regular file (a FIFO)"
    )


def test_a_head_whose_number_overflows_or_is_a_string_is_damaged(tmp_path: Path) -> None:
    log = filled(tmp_path)
    head = json.loads(log.head_path.read_text())
    log.head_path.write_text(json.dumps({**head, "seq": str(head["seq"])}))  # the signature still matches
    verdict = audit_of(tmp_path).verify()
    assert any("audit.head is damaged" in p and "not a whole number" in p for p in verdict.problems), verdict.problems
    log.head_path.write_text(json.dumps(head).replace(f'"seq": {head["seq"]}', '"seq": 1e999'))
    assert_tampered(verify_cli(tmp_path), "audit.head is damaged")


@pytest.mark.parametrize("seq", ["1e999", '"6"', "true"])
def test_a_line_whose_number_overflows_or_is_not_a_whole_number_is_damaged_and_blocks_appends(
    tmp_path: Path, seq: str
) -> None:
    log = filled(tmp_path)
    *kept, newest = lines(log)
    log.path.write_text("".join(kept) + newest.replace('"seq": 6', f'"seq": {seq}'))
    assert_tampered(verify_cli(tmp_path), "line 6 is not an audit entry")
    with pytest.raises(audit.AuditError, match="damaged at its end"):
        append_to(tmp_path)
