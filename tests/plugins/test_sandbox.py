"""Third-party skills for real: installed from a folder through the CLI, run in bubblewrap over the
RPC, and kept to what they were granted; a crash or a hang costs only their own answers."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.plugins.sandbox import SandboxedSkill, SkillBusy, sandbox_kind
from assistant.trust.audit import AuditLog
from assistant.trust.vault import Vault
from testbed import SKILLS
from testbed.harness import TEMPLATES_ONLY, WAIT_S, wait_for

GREETER = SKILLS / "greeter"
ENV = {**TEMPLATES_ONLY, "ASSISTANT__SKILLS__CALL_TIMEOUT_S": "2"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **ENV},
        stdin=subprocess.DEVNULL,
    )


def install(data_dir: Path, source: Path = GREETER) -> subprocess.CompletedProcess[str]:
    return cli("skills", "install", str(source), "--yes", "--data-dir", str(data_dir))


def core_of(data_dir: Path, **env: str) -> Core:
    return build_core(load_config(environ={**ENV, **env}), data_dir, Bus())


def call(core: Core, tool: str, **args: object) -> tuple[bool, dict]:  # type: ignore[type-arg]
    result = core.registry.tool(f"greeter.{tool}").func(**args)
    return result.ok, result.data


def back(core: Core, name: str) -> bool:
    """Greets `name` once the skill has been started again: until its restart pause is over, every
    call is refused at once."""
    return wait_for(lambda: call(core, "hello", name=name)[0], what="the skill's restart")


def audited(data_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    return list(AuditLog(data_dir, Vault(data_dir).derived_key("audit")).entries())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    done = install(data_dir)
    assert done.returncode == 0, done.stderr
    assert "store: keep its own data" in done.stdout and "installed and enabled" in done.stdout
    return data_dir


@pytest.fixture(scope="module")
def core(installed: Path) -> Core:
    return core_of(installed)


def test_installing_needs_a_yes(tmp_path: Path) -> None:
    done = cli("skills", "install", str(GREETER), "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "run again with --yes" in done.stderr and "store: keep its own data" in done.stdout
    assert "greeter" not in cli("skills", "list", "--data-dir", str(tmp_path)).stdout


def test_an_installed_skill_is_listed_with_its_permissions_and_sandbox(installed: Path) -> None:
    listed = cli("skills", "list", "--data-dir", str(installed))
    assert (
        "greeter: Greets people, and pokes at its sandbox. (permissions: store) [third-party, sandbox: bwrap, from "
        in listed.stdout
    )
    assert "greeter.hello(name: str)" in listed.stdout and "timer: " in listed.stdout
    rows = [
        json.loads(line) for line in cli("skills", "list", "--json", "--data-dir", str(installed)).stdout.splitlines()
    ]
    greeter = next(r for r in rows if r["name"] == "greeter")
    assert greeter["third_party"] and greeter["sandbox"] == "bwrap" and greeter["permissions"] == ["store"]
    (entry,) = [e for e in audited(installed) if e["kind"] == "skill_installed"]
    assert entry["skill"] == "greeter" and entry["permissions"] == ["store"] and entry["who"] == "cli"


def test_it_answers_by_voice_from_its_own_process(core: Core) -> None:
    reply = asyncio.run(core.dialogue.handle("say hello to Ada"))
    assert reply.startswith("Hello, ada!") and "(pid 2)" in reply, "the skill runs in a PID namespace of its own"
    assert isinstance(core.registry.skill("greeter"), SandboxedSkill)
    calls = [e for e in core.audit.entries() if e["kind"] == "tool_call" and e["tool"] == "greeter.hello"]
    assert calls and calls[-1]["ok"]


def test_the_sandbox_hides_the_assistants_data_and_keeps_it_to_its_own_folder(core: Core, installed: Path) -> None:
    assert sandbox_kind("auto") == "bwrap"
    Vault(installed).put("device.door", "hunter2")
    for secret in ("vault.key", "secrets.json", "audit.jsonl", "skills.json"):
        assert (installed / secret).exists()
        assert call(core, "peek", path=str(installed / secret)) == (False, {"error": "FileNotFoundError"}), secret
    assert call(core, "scribble", path=str(installed / "skills" / "greeter" / "note.txt")) == (True, {"wrote": True})
    assert (installed / "skills" / "greeter" / "note.txt").read_text() == "was here"
    ok, data = call(core, "scribble", path=str(Path(__file__).parent / "planted.py"))
    assert not ok and not (Path(__file__).parent / "planted.py").exists()
    home_file = Path.home() / ".assistant-sandbox-probe"
    home_file.write_text("private")
    try:
        assert call(core, "peek", path=str(home_file)) == (False, {"error": "FileNotFoundError"})
    finally:
        home_file.unlink()


def test_without_the_network_permission_it_has_no_network(core: Core) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        ok, data = call(core, "dial", port=port)
    assert not ok and data["error"] in ("ConnectionRefusedError", "OSError", "TimeoutError")


def test_an_ungranted_permission_is_refused_and_audited(core: Core) -> None:
    ok, data = call(core, "schedule_something")
    assert not ok and "needs the scheduler permission" in data["error"]
    refused = [e for e in core.audit.entries() if e["kind"] == "refused"]
    assert refused and (refused[-1]["skill"], refused[-1]["permission"]) == ("greeter", "scheduler")


def test_a_crash_costs_one_answer_and_the_skill_comes_back(core: Core) -> None:
    skill = core.registry.skill("greeter")
    assert isinstance(skill, SandboxedSkill)
    before = skill.process.restarts
    ok, data = call(core, "crash")
    assert not ok and "stopped working" in data["error"]
    assert back(core, "Bob") and skill.process.restarts == before + 1


def test_a_hang_is_killed_while_the_assistant_keeps_answering(core: Core) -> None:
    skill = core.registry.skill("greeter")
    assert isinstance(skill, SandboxedSkill)

    def busy() -> bool:
        try:
            skill.process.request("slots", wait=False)
        except SkillBusy:
            return True
        return False

    outcome: list[tuple[bool, dict]] = []  # type: ignore[type-arg]
    hanging = threading.Thread(target=lambda: outcome.append(call(core, "hang")))
    start = time.monotonic()
    hanging.start()
    wait_for(busy, what="the hanging call")
    assert "It's" in asyncio.run(core.dialogue.handle("what time is it")) and hanging.is_alive()
    hanging.join(WAIT_S)
    assert outcome and not outcome[0][0] and "did not answer within 2 s" in outcome[0][1]["error"]
    assert time.monotonic() - start < WAIT_S, "cut off at its 2 s timeout, not left to hang (it sleeps an hour)"
    assert back(core, "Cy")


def test_a_hang_is_said_in_plain_words_and_stopping_after_it_prints_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`ask` with a skill that hangs printed a 20-line traceback (issue 25): stopping the skill
    started it again only to tell it to stop, and the refusal went to the log with its stack."""
    assert install(tmp_path).returncode == 0
    core = core_of(tmp_path)
    asyncio.run(core.registry.start_all())
    result = core.registry.tool("greeter.hang").func()
    assert not result.ok and result.speech == "Sorry, the greeter skill did not answer within 2 s, so it was stopped."
    asyncio.run(core.registry.stop_all())
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert "greeter" not in {r.name for r in caplog.records if r.levelname == "ERROR"}


def test_disable_enable_and_remove(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    assert cli("skills", "disable", "greeter", "--data-dir", str(tmp_path)).returncode == 0
    assert "greeter" not in {s.skill.name for s in core_of(tmp_path).registry.skills}
    assert "[third-party, disabled, from " in cli("skills", "list", "--data-dir", str(tmp_path)).stdout
    assert cli("skills", "enable", "greeter", "--data-dir", str(tmp_path)).returncode == 0
    assert "greeter" in {s.skill.name for s in core_of(tmp_path).registry.skills}
    done = cli("skills", "remove", "greeter", "--data-dir", str(tmp_path))
    assert done.returncode == 0 and "removed" in done.stdout
    assert not (tmp_path / "skills" / "greeter").exists() and not (tmp_path / "skills-installed" / "greeter").exists()
    assert "greeter" not in cli("skills", "list", "--data-dir", str(tmp_path)).stdout
    kinds = [e["kind"] for e in audited(tmp_path) if e.get("skill") == "greeter"]
    assert kinds == ["skill_installed", "skill_disabled", "skill_enabled", "skill_removed"]
    done = cli("skills", "remove", "timer", "--data-dir", str(tmp_path))
    assert done.returncode != 0 and "built-in skill" in done.stderr


def test_changed_code_is_not_run_under_the_old_approval(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    code = tmp_path / "skills-installed" / "greeter" / "skill.py"
    code.write_text(code.read_text() + "\n# changed\n")
    assert "greeter" not in {s.skill.name for s in core_of(tmp_path).registry.skills}
    assert "not loaded" in cli("skills", "list", "--data-dir", str(tmp_path)).stdout


def test_a_skill_asking_for_what_cannot_cross_the_sandbox_is_refused(tmp_path: Path) -> None:
    greedy = tmp_path / "greedy"
    shutil.copytree(GREETER, greedy)
    source = (greedy / "skill.py").read_text().replace("frozenset({Permission.STORE})", "frozenset({Permission.AUDIO})")
    (greedy / "skill.py").write_text(source)
    done = install(tmp_path / "data", greedy)
    assert done.returncode != 0 and "cannot be granted: raw microphone audio" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_folder_that_is_not_a_skill_is_a_clear_error(tmp_path: Path) -> None:
    done = install(tmp_path / "data", tmp_path)
    assert done.returncode != 0 and "is not a skill folder" in done.stderr and "Traceback" not in done.stderr


def test_without_bubblewrap_it_runs_as_a_restricted_subprocess(installed: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(installed, data_dir)
    plain = core_of(data_dir, ASSISTANT__SKILLS__SANDBOX="subprocess")
    ok, data = call(plain, "hello", name="Di")
    assert ok and data["pid"] != 2
    plain.registry.skill("greeter").process.stop()  # type: ignore[attr-defined]


def test_a_skill_package_is_installed_with_its_dependencies_into_its_own_folder(tmp_path: Path) -> None:
    """From pip's index (a local one here): the wheel and a dependency the assistant lacks are
    unpacked into the skill's folder, nothing into the assistant's environment, and it runs sandboxed."""
    from testbed.fakes.wheels import forecast_wheels

    index = tmp_path / "index"
    forecast_wheels(index)
    pip_env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}
    data_dir = tmp_path / "data"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "skills",
            "install",
            "forecast-skill==1.0",
            "--yes",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **ENV, **pip_env},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "forecast-skill 1.0, with tiny-sky 0.3" in done.stdout and "installed and enabled" in done.stdout
    code = data_dir / "skills-installed" / "forecast"
    assert (code / "skill.py").is_file() and (code / "site" / "tiny_sky" / "__init__.py").is_file()
    with pytest.raises(ModuleNotFoundError):
        __import__("tiny_sky")
    listed = cli("skills", "list", "--data-dir", str(data_dir)).stdout
    assert "forecast" in listed and "package forecast-skill 1.0" in listed
    core = core_of(data_dir)
    try:
        result = core.registry.tool("forecast.sky").func()
        assert result.ok and result.speech == "Mostly sunny." and result.data == {"cover": 0.25}
        assert asyncio.run(core.dialogue.handle("what will the sky do")) == "Mostly sunny."
    finally:
        core.registry.skill("forecast").process.stop()  # type: ignore[attr-defined]


def test_a_wheel_file_installs_and_a_missing_package_is_a_clear_error(tmp_path: Path) -> None:
    from testbed.fakes.wheels import forecast_wheels, make_wheel

    index = tmp_path / "index"
    wheel = forecast_wheels(index)
    pip_env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}

    def install_package(target: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assistant", "skills", "install", target, "--yes", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **ENV, **pip_env},
            stdin=subprocess.DEVNULL,
        )

    done = install_package(str(wheel), tmp_path / "a")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "a" / "skills.json").read_text())["installed"]
    done = install_package("no-such-skill", tmp_path / "b")
    assert done.returncode != 0 and "could not fetch no-such-skill" in done.stderr and "Traceback" not in done.stderr
    empty = make_wheel(tmp_path / "other", "not-a-skill", "2.0", {"not_a_skill/__init__.py": ""})
    done = install_package(str(empty), tmp_path / "c")
    assert done.returncode != 0 and "holds no skill" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c" / "skills-installed" / "not-a-skill").exists()


KITCHEN = SKILLS / "kitchen"


def test_a_sandboxed_skill_uses_the_cores_scheduler_across_the_rpc(tmp_path: Path) -> None:
    """Granted `scheduler`, the skill's context holds a stand-in whose calls run on the core's own
    scheduler mid-request: the timer it starts is the assistant's, durable and listed."""
    done = install(tmp_path, KITCHEN)
    assert done.returncode == 0, done.stderr
    assert "scheduler:" in done.stdout
    core = core_of(tmp_path)
    try:
        result = core.registry.tool("kitchen.tea").func(minutes=4)
        assert result.ok, result.data
        timers = core.scheduler.timers()
        assert [(t.id, t.name, t.duration_s) for t in timers] == [(result.data["id"], "tea", 240.0)]
        assert result.data["names"] == ["tea"]
        assert asyncio.run(core.dialogue.handle("tea for 3 minutes")) == "Tea in 3 minutes."
        assert len(core.scheduler.timers()) == 2
        sneaked = core.registry.tool("kitchen.sneak").func()
        assert "scheduler.start is not open to skills" in sneaked.data["start"]
        assert "duration_s must be a number of seconds" in sneaked.data["bad"]
        assert len(core.scheduler.timers()) == 2, "a refused call changed nothing"
    finally:
        core.registry.skill("kitchen").process.stop()  # type: ignore[attr-defined]


def test_what_a_sandboxed_skill_sets_is_whoever_asked_and_it_touches_only_theirs(tmp_path: Path) -> None:
    """The skill cannot name an owner: a reminder it sets is the asker's (a skill that could name one
    could say a reminder to Anna as hers, and keep her name from being learned by a new voice). It
    sees and cancels the asker's and the household's alarms and reminders, never another person's (as
    if they were not there), is never told whose anything is, and NaN, or a time past, does not reach
    the scheduler."""
    from assistant.plugins.api import Speaker, spoken_by

    done = install(tmp_path, KITCHEN)
    assert done.returncode == 0, done.stderr
    core = core_of(tmp_path)
    tool = core.registry.tool
    try:
        later = core.scheduler.now() + 7200
        bens = core.scheduler.add_reminder("Ben's surprise", later, owner="Ben")
        core.scheduler.add_reminder("bins out", later)
        with spoken_by(Speaker("Anna", "adult")):
            set_by_anna = tool("kitchen.remind").func(words="call the vet")
            refused = tool("kitchen.drop").func(item_id=bens.id)
            missing = tool("kitchen.drop").func(item_id="0badc0de")
        assert set_by_anna.data["mine"] is True
        assert [r.owner for r in core.scheduler.reminders() if r.text == "call the vet"] == ["Anna"]
        assert sorted(set_by_anna.data["seen"]) == ["bins out", "call the vet"], "never Ben's"
        assert refused.data == missing.data == {"gone": False}, "another's answered as a missing one"
        assert bens.id in {r.id for r in core.scheduler.reminders()}
        typed = tool("kitchen.remind").func(words="water the plants")
        assert typed.data["mine"] is False, "a typed request's reminder is the household's"
        assert sorted(typed.data["seen"]) == ["bins out", "water the plants"], "nobody's own when nobody was told"
        with spoken_by(Speaker(None, "guest")):
            guest = tool("kitchen.remind").func(words="leave the key")
        assert guest.data["mine"] is False and "call the vet" not in guest.data["seen"]
        with spoken_by(Speaker("Ben", "adult")):
            assert tool("kitchen.drop").func(item_id=bens.id).data == {"gone": True}

        sneaked = tool("kitchen.sneak").func().data
        assert "unexpected keyword argument 'owner'" in sneaked["owner"]
        assert "duration_s must be a number of seconds" in sneaked["nan"]
        assert "at must be between now and five years from now" in sneaked["past"]
        assert not any(r.text in ("pay Mallory", "then") for r in core.scheduler.reminders())
        assert [t.name for t in core.scheduler.timers()] == [], "no timer at NaN"
    finally:
        core.registry.skill("kitchen").process.stop()  # type: ignore[attr-defined]


def test_a_skill_bypassing_its_stand_in_still_cannot_name_an_owner(tmp_path: Path) -> None:
    """The stand-in refuses `owner` in the skill's own process; the core refuses it again, for a skill
    that writes its asks by hand. Outside a tool call (starting, listing its names while Anna speaks)
    the skill sees the household's items only; no timer runs past five years in all; no text holds a
    NUL or a lone surrogate; nothing names its owner or the machine's boot."""
    from assistant.app.skill_scheduler import SkillScheduler
    from assistant.core.errors import SkillError
    from assistant.plugins.api import Permission, Speaker, spoken_by
    from assistant.plugins.remote import CoreServices
    from assistant.scheduling.scheduler import Scheduler

    scheduler = Scheduler(tmp_path)
    core_side = CoreServices("kitchen", {"scheduler": SkillScheduler(scheduler)}, frozenset({Permission.SCHEDULER}))
    at = scheduler.now() + 60
    for method, args in (
        ("add_reminder", {"text": "pay Mallory", "at": at, "owner": "Anna"}),
        ("add_alarm", {"at": at, "owner": "Anna"}),
        ("add_timer", {"duration_s": 60, "owner": "Anna"}),
    ):
        with pytest.raises(SkillError, match=f"scheduler.{method}: owner is for the assistant to say"):
            core_side.answer("scheduler", method, args, "remind")
    for args, message in (
        ({"at": at, "recurrence": {"hour": 25, "minute": 0}}, "hour 0-23"),
        ({"at": at, "recurrence": {"hour": 7, "weekdays": "mon"}}, "weekdays is a list"),
        ({"at": at, "label": "x" * 501}, "at most 500 characters"),
        ({"at": at, "label": "wake\x00up"}, "words on one line"),
        ({"at": at, "label": "x\ud800"}, "words on one line"),
        ({"at": float("inf")}, "at must be a time"),
        ({"at": at - 120}, "between now and five years"),
    ):
        with pytest.raises(SkillError, match=message):
            core_side.answer("scheduler", "add_alarm", args, "remind")
    weekly = core_side.answer("scheduler", "add_alarm", {"at": at, "recurrence": {"hour": 7, "weekdays": [0, 4]}})
    assert (weekly["hour"], weekly["minute"], weekly["weekdays"], weekly["mine"]) == (7, 0, [0, 4], False)
    assert [a.id for a in scheduler.alarms()] == [weekly["id"]] and scheduler.reminders() == []

    annas = scheduler.add_reminder("Anna's", at, owner="Anna")
    with spoken_by(Speaker("Anna", "adult")):
        assert [r["text"] for r in core_side.answer("scheduler", "reminders", {}, "remind")] == ["Anna's"]
        assert core_side.answer("scheduler", "reminders", {}, None) == [], "not asked for anything: not hers"
        assert core_side.answer("scheduler", "cancel", {"item_id": annas.id}, None) is None
        timer = core_side.answer("scheduler", "add_timer", {"duration_s": 60}, "remind")
    assert timer["mine"] is True and not {"owner", "boot", "frame"} & set(timer)
    assert [t.owner for t in scheduler.timers()] == ["Anna"]
    year = 366 * 86400
    core_side.answer("scheduler", "set_duration", {"timer_id": timer["id"], "duration_s": 4 * year}, "remind")
    with pytest.raises(SkillError, match="five years in all"):
        core_side.answer("scheduler", "extend", {"timer_id": timer["id"], "seconds": 2 * year}, "remind")
    assert scheduler.timers()[0].duration_s == 4 * year
    with pytest.raises(SkillError, match="duration_s must be a number of seconds"):
        core_side.answer("scheduler", "add_timer", {"duration_s": 10**400}, "remind")  # JSON's ints have no end
    for n in range(48):  # with the weekly alarm and the timer above: 50
        core_side.answer("scheduler", "add_timer", {"duration_s": 600, "name": f"tea {n}"}, "remind")
    with pytest.raises(SkillError, match="has 50 timers, alarms and reminders set already"):
        core_side.answer("scheduler", "add_reminder", {"text": "one more", "at": at}, "remind")
    core_side.answer("scheduler", "cancel", {"item_id": timer["id"]}, "remind")
    assert core_side.answer("scheduler", "add_reminder", {"text": "one more", "at": at}, "remind")["text"] == "one more"


def test_the_core_checks_every_ask_against_the_grant() -> None:
    """The process is not trusted: an ask for a service it was not granted, a method that is not open
    or unnamed arguments are refused, and the refusal of a permission is reported for the audit."""
    from assistant.core.errors import SkillError
    from assistant.plugins.api import Permission
    from assistant.plugins.remote import CoreServices

    class Clock:
        def now(self) -> float:
            return 12.5

        def start(self) -> None:
            raise AssertionError("never called")

    refusals: list[tuple[str, str]] = []
    granted = CoreServices(
        "kitchen", {"scheduler": Clock()}, frozenset({Permission.SCHEDULER}), lambda *r: refusals.append(r)
    )
    assert granted.answer("scheduler", "now", {}) == 12.5
    for service, method, args, message in (
        ("scheduler", "start", {}, "scheduler.start is not open to skills"),
        ("scheduler", "now", ["x"], "arguments must be named"),
        ("lights", "all", {}, "no core service"),
    ):
        with pytest.raises(SkillError, match=message):
            granted.answer(service, method, args)
    ungranted = CoreServices(
        "greeter", {"scheduler": Clock()}, frozenset({Permission.STORE}), lambda *r: refusals.append(r)
    )
    with pytest.raises(SkillError, match="not granted scheduler"):
        ungranted.answer("scheduler", "now", {})
    assert refusals == [("greeter", "scheduler")]
