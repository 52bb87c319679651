"""The system skill: disk, load, the busiest programs, finding files in the household's folders, and
named commands from the config: checked arguments, never a shell, a spoken yes for changes, audited."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import psutil
import pytest
import yaml

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import ConfigError
from assistant.plugins.api import Speaker, spoken_by
from assistant.trust.audit import LOG_FILE, read_entries
from assistant.voice.dialogue import NOT_TOLD
from testbed.harness import TEMPLATES_ONLY, Recorder

COMMANDS = {
    "say hello": {"run": ["echo", "hello from the machine"], "changes": False},
    "make a note": {"run": ["touch", "{name}"], "changes": True, "arg": {"name": "name", "pattern": ".+"}},
    "greet the room": {
        "run": ["echo", "hi", "{room}"],
        "changes": False,
        "arg": {"name": "room", "choices": ["kitchen", "office"]},
    },
    "take a nap": {"run": ["sleep", "5"], "changes": False, "timeout_s": 0.5},
    "fail on purpose": {"run": ["false"], "changes": False},
}


def make(tmp_path: Path, commands: dict | None = None, folders: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump({"system": {"commands": COMMANDS if commands is None else commands}, "folders": folders or {}})
    )
    bus = Bus()
    core = build_core(load_config(config_file, environ=TEMPLATES_ONLY), tmp_path / "data", bus)
    return core, Recorder(bus)


def ask(core, text: str) -> str:  # type: ignore[no-untyped-def]
    return asyncio.run(core.dialogue.handle(text, turn=1))


def test_disk_load_and_busiest_tell_the_truth(tmp_path: Path) -> None:
    core, rec = make(tmp_path)
    said = ask(core, "how much disk space is left")
    disk = rec.of("tool_result")[-1].data["disks"][0]
    usage = shutil.disk_usage(tmp_path)
    assert abs(disk["free"] - usage.free) < 1e9 and disk["total"] == usage.total
    assert said.startswith("There are ") and " GB free of " in said

    said = ask(core, "how busy is the computer")
    data = rec.of("tool_result")[-1].data
    assert data["cores"] == psutil.cpu_count() and data["memory_total"] == psutil.virtual_memory().total
    assert f"on {data['cores']} cores" in said

    said = ask(core, "what is using the most memory")
    top = rec.of("tool_result")[-1].data["top"]
    assert len(top) == 3 and top[0]["memory"] >= top[1]["memory"] >= top[2]["memory"]
    assert top[0]["name"] in said


def test_find_files_only_in_the_permitted_folders(tmp_path: Path) -> None:
    docs, photos, elsewhere = tmp_path / "docs", tmp_path / "photos", tmp_path / "private"
    for path in (
        docs / "taxes" / "tax-return-2024.pdf",
        docs / "Tax_Notes.txt",
        docs / ".tax-secret",
        photos / "tax-receipt.jpg",
        elsewhere / "tax-elsewhere.pdf",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    core, rec = make(tmp_path, folders={"documents": str(docs), "photos": str(photos)})
    spec = core.registry.tool("system.find_files")
    found = spec.func(name="tax")
    names = sorted(Path(f["path"]).name for f in found.data["files"])
    assert names == ["Tax_Notes.txt", "tax-receipt.jpg", "tax-return-2024.pdf"], (
        "hidden files and other folders stay out"
    )
    assert found.speech.startswith("I found 3 files: ")
    only_docs = spec.func(name="tax return", folder="documents")
    assert [Path(f["path"]).name for f in only_docs.data["files"]] == ["tax-return-2024.pdf"]
    assert "no file" in spec.func(name="holiday").speech
    missing = spec.func(name="tax", folder="music")
    assert not missing.ok and "folders.music" in missing.speech


def test_a_command_that_only_looks_runs_and_says_what_it_printed(tmp_path: Path) -> None:
    core, rec = make(tmp_path)
    assert ask(core, "say hello") == "hello from the machine"
    assert rec.of("intent")[-1].tool == "system.check"
    assert ask(core, "greet the room kitchen") == "hi kitchen"
    assert ask(core, "fail on purpose") == "'fail on purpose' failed (exit code 1)."
    said = ask(core, "take a nap")
    assert "took longer than 0.5 s" in said


def test_a_command_that_changes_the_system_needs_a_spoken_yes(tmp_path: Path) -> None:
    commands = {**COMMANDS, "restart the music": {"run": ["touch", "restarted"], "changes": True}}
    core, rec = make(tmp_path, commands)
    done = tmp_path / "data" / "skills" / "system" / "restarted"
    assert ask(core, "restart the music") == "Should I restart the music?"
    assert not done.exists(), "nothing runs before the yes"
    assert ask(core, "no") != "Done." and not done.exists()
    assert ask(core, "restart the music") == "Should I restart the music?"
    assert ask(core, "yes") == "Done."
    assert done.exists()
    assert rec.of("intent")[-1].tool == "system.run"


def test_arguments_are_checked_and_never_reach_a_shell(tmp_path: Path) -> None:
    core, rec = make(tmp_path)
    run = core.registry.tool("system.run").func
    check = core.registry.tool("system.check").func
    workdir = tmp_path / "data" / "skills" / "system"
    result = run(command="make a note", value="x; touch pwned")
    assert result.ok and (workdir / "x; touch pwned").exists(), "the value is one argument, as it was said"
    assert not (workdir / "pwned").exists(), "no shell ever read it"
    assert "not one of kitchen, office" in check(command="greet the room", value="garage").speech
    assert "not an allowed name" in run(command="make a note", value="--help").speech
    assert "no command called" in check(command="rm -rf /").speech
    refused = check(command="make a note", value="x")
    assert not refused.ok and "changes the system" in refused.speech
    assert not (workdir / "x").exists()


def test_commands_are_audited(tmp_path: Path) -> None:
    core, _ = make(tmp_path)
    ask(core, "say hello")
    entry = list(core.audit.entries())[-1]
    assert entry["tool"] == "system.check" and entry["args"]["command"] == "say hello"
    assert core.audit.verify().problems == []


ANY_CMD = {"name": "cmd", "pattern": ".+"}


# Bypasses an outside review found of the first version of that check (issue 24, hole 5): wrappers it did
# not know, tools with command hooks, find -fprint0, and a shell under another name (TMP/ is tmp_path).
BYPASSES = [
    (["taskset", "1", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["flock", "/tmp/l", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["flock", "/tmp/l", "-c", "{cmd}"], "'flock' with -c runs a shell"),
    (["chroot", "/", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["unshare", "-r", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["tar", "-xf", "/srv/a.tar", "--to-command", "{cmd}"], "'tar' runs code"),
    (["git", "-c", "{cmd}", "log"], "'git' runs code"),
    (["gdb", "-ex", "{cmd}"], "'gdb' runs code"),
    (["vim", "-c", "{cmd}"], "'vim' runs code"),
    (["ed", "{cmd}"], "'ed' runs code"),
    (["m4", "{cmd}"], "'m4' runs code"),
    (["make", "--eval", "{cmd}"], "'make' runs code"),
    (["strace", "-f", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["strace", "-o", "|sh", "cat", "{cmd}"], "'strace' pipes its trace"),
    (["time", "-p", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["doas", "-u", "root", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["doas", "-s", "{cmd}"], "'doas' with -s runs a shell"),
    (["pkexec", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["systemd-run", "--user", "--wait", "sh", "-c", "{cmd}"], "'sh' runs code"),
    (["systemd-run", "-p", "{cmd}", "ls"], "the argument slot is given to 'systemd-run' itself"),
    (["rsync", "-e", "{cmd}", "nas:/a", "/b"], "'rsync' runs code"),
    (["scp", "-o", "{cmd}", "nas:a", "b"], "'scp' runs code"),
    (["find", "/srv", "-name", "{cmd}", "-fprint0", "/etc/cron.d/x"], "'find' with -fprint0"),
    (["TMP/mysh", "-c", "{cmd}"], "'TMP/mysh' is '[a-z0-9]+' under another name, and it runs code"),
    (["TMP/mycopy", "-c", "{cmd}"], "'TMP/mycopy' is '[a-z0-9]+' under another name, and it runs code"),
    (["ltrace", "-f", "perl", "-e", "{cmd}"], "'perl' runs code"),
    (["nsenter", "-t", "1", "-m", "bwrap", "--ro-bind", "/", "/", "bash", "-c", "{cmd}"], "'bash' runs code"),
    (["setpriv", "--reuid", "0", "numactl", "-l", "cgexec", "-g", "cpu:x", "dash", "-c", "{cmd}"], "'dash' runs code"),
    (["watch", "{cmd}"], "'watch' runs code"),
    (["script", "-c", "{cmd}"], "'script' runs code"),
    (["firejail", "--quiet", "{cmd}"], "'firejail' runs code"),
    (["su", "-c", "{cmd}"], "'su' runs code"),
    (["runuser", "-u", "root", "--", "{cmd}"], "'runuser' runs code"),
    (["sudo", "-Es", "{cmd}"], "'sudo' with -s runs a shell"),
    (["taskset", "-p", "1", "ls", "{cmd}"], "'taskset' with the option '-p' cannot be told apart"),
    (["some-wrapper", "sh", "-c", "{cmd}"], "'some-wrapper' is given the program 'sh' with options"),
    (["sed", "{cmd}", "/etc/hosts"], "the argument slot is sed's script"),
    (["sed", "-n", "-e", "{cmd}", "/etc/hosts"], "the argument slot is sed's script"),
]


@pytest.mark.parametrize("run, message", BYPASSES, ids=[" ".join(run) for run, _ in BYPASSES])
def test_no_wrapper_hook_or_other_name_lets_a_slot_reach_code(tmp_path: Path, run: list[str], message: str) -> None:
    sh = os.path.realpath(shutil.which("sh") or "/bin/sh")
    (tmp_path / "mysh").symlink_to(sh)
    shutil.copy(sh, tmp_path / "mycopy")
    run = [part.replace("TMP/", f"{tmp_path}/") for part in run]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"system": {"commands": {"run it": {"run": run, "arg": ANY_CMD}}}}))
    with pytest.raises(
        ConfigError,
        match=re.escape("run it.run: ")
        + ".*"
        + re.escape(message.replace("TMP/", f"{tmp_path}/")).replace(re.escape("[a-z0-9]+"), "[a-z0-9]+"),
    ):
        load_config(config_file)


@pytest.mark.parametrize(
    "run, arg",
    [
        (["systemctl", "restart", "{service}"], {"name": "service", "choices": ["mpd"]}),
        (["wakeonlan", "{mac}"], {"name": "mac", "pattern": "[0-9a-f:]{17}"}),
        (["ping", "-c", "1", "{host}"], {"name": "host", "choices": ["router"]}),
        (["nice", "-n", "10", "rsync", "-a", "/src", "/dst"], None),
        (["/usr/bin/df", "-h", "{path}"], {"name": "path", "choices": ["/srv"]}),
        (["sed", "-n", "-e", "s/a/b/p", "{path}"], {"name": "path", "choices": ["/srv/notes"]}),
        (
            ["sudo", "-n", "-u", "root", "timeout", "-s", "KILL", "10", "systemctl", "restart", "{service}"],
            {"name": "service", "choices": ["mpd"]},
        ),
    ],
)
def test_programs_that_do_one_thing_still_load(tmp_path: Path, run: list[str], arg: dict | None) -> None:  # type: ignore[type-arg]
    config_file = tmp_path / "config.yaml"
    command = {"run": run, **({"arg": arg} if arg else {})}
    config_file.write_text(yaml.safe_dump({"system": {"commands": {"do the thing": command}}}))
    assert list(load_config(config_file).system.named()) == ["do the thing"]


@pytest.mark.parametrize(
    "commands, message",
    [
        ({"restart": {"run": "systemctl restart mpd"}}, "must be a list"),
        ({"ping it": {"run": ["ping", "--host={host}"], "arg": {"name": "host", "choices": ["a"]}}}, "whole element"),
        ({"ping it": {"run": ["ping", "{host}"]}}, "declare it under arg"),
        ({"ping it": {"run": ["{host}"], "arg": {"name": "host", "choices": ["a"]}}}, "program itself"),
        ({"ping it": {"run": ["ping"], "shell": True}}, "unknown setting system.commands.ping it.shell"),
        ({"ping it": {"run": ["ping", "{host}"], "arg": {"name": "host", "pattern": "("}}}, "not a regular expression"),
        ({"Ping It!": {"run": ["ping"]}}, "lower-case words"),
        ({"ping it": {"run": ["ping"], "timeout_s": 9999}}, "at most 600"),
        # A program that runs code given to it, with a slot: a spoken value would be a command (issue 24).
        ({"run it": {"run": ["sh", "-c", "{cmd}"], "changes": False, "arg": ANY_CMD}}, "run it.run: 'sh' runs code"),
        ({"run it": {"run": ["/bin/bash", "-c", "{cmd}"], "arg": ANY_CMD}}, "'bash' runs code"),
        ({"run it": {"run": ["python3.11", "-c", "{cmd}"], "arg": ANY_CMD}}, "'python3.11' runs code"),
        ({"run it": {"run": ["perl", "-e", "{cmd}"], "arg": ANY_CMD}}, "'perl' runs code"),
        ({"run it": {"run": ["awk", "{cmd}"], "arg": ANY_CMD}}, "'awk' runs code"),
        ({"run it": {"run": ["xargs", "{cmd}"], "arg": ANY_CMD}}, "'xargs' runs code"),
        ({"run it": {"run": ["ssh", "nas", "{cmd}"], "arg": ANY_CMD}}, "'ssh' runs code"),
        ({"run it": {"run": ["busybox", "sh", "-c", "{cmd}"], "arg": ANY_CMD}}, "'busybox' runs code"),
        ({"run it": {"run": ["env", "LANG=C", "dash", "-c", "{cmd}"], "arg": ANY_CMD}}, "'dash' runs code"),
        ({"run it": {"run": ["env", "-S", "{cmd}"], "arg": ANY_CMD}}, "'env' with -S runs a shell"),
        ({"run it": {"run": ["env", "{cmd}"], "arg": ANY_CMD}}, "the program it runs is the argument slot"),
        ({"run it": {"run": ["nice", "-n", "10", "zsh", "-c", "{cmd}"], "arg": ANY_CMD}}, "'zsh' runs code"),
        (
            {"run it": {"run": ["timeout", "-s", "KILL", "5", "node", "-e", "{cmd}"], "arg": ANY_CMD}},
            "'node' runs code",
        ),
        ({"run it": {"run": ["sudo", "-u", "root", "--", "ruby", "-e", "{cmd}"], "arg": ANY_CMD}}, "'ruby' runs code"),
        ({"run it": {"run": ["sudo", "-s", "{cmd}"], "arg": ANY_CMD}}, "'sudo' with -s runs a shell"),
        (
            {"run it": {"run": ["stdbuf", "-oL", "setsid", "-f", "nohup", "php", "-r", "{cmd}"], "arg": ANY_CMD}},
            "'php' runs code",
        ),
        (
            {"run it": {"run": ["ionice", "-c", "3", "chrt", "-i", "0", "lua", "-e", "{cmd}"], "arg": ANY_CMD}},
            "'lua' runs code",
        ),
        ({"run it": {"run": ["nice", "--weird", "ls", "{cmd}"], "arg": ANY_CMD}}, "'nice' with the option '--weird'"),
        ({"tidy up": {"run": ["find", "/srv", "-name", "{cmd}", "-delete"], "arg": ANY_CMD}}, "'find' with -delete"),
        (
            {"tidy up": {"run": ["find", "/srv", "-name", "{cmd}", "-execdir", "rm", ";"], "arg": ANY_CMD}},
            "'find' with -execdir",
        ),
    ],
)
def test_bad_commands_in_the_config_are_refused_clearly(tmp_path: Path, commands: dict, message: str) -> None:  # type: ignore[type-arg]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"system": {"commands": commands}}))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        load_config(config_file)
    assert os.path.exists(config_file)


def test_the_program_behind_the_wrappers_is_what_is_judged(tmp_path: Path) -> None:
    """The check looks through the wrappers at the program they run, and only where there is a slot:
    programs that do one thing load, and the same commands running a shell instead are refused; a
    fixed script in a shell is the owner's own, and find without -exec only finds."""
    commands = {
        "restart a service": {
            "run": ["sudo", "-u", "root", "systemctl", "restart", "{svc}"],
            "arg": {"name": "svc", "choices": ["mpd", "snapserver"]},
        },
        "ping a host": {
            "run": ["nice", "-n", "5", "timeout", "10", "ping", "-c", "1", "{host}"],
            "changes": False,
            "arg": {"name": "host", "choices": ["router"]},
        },
        "find a song": {
            "run": ["find", "/srv/music", "-name", "{song}"],
            "changes": False,
            "arg": {"name": "song", "pattern": "[a-z ]+"},
        },
        "clean the cache": {"run": ["sh", "-c", "rm -rf ~/.cache/thumbnails/*"]},
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"system": {"commands": commands}}))
    assert sorted(load_config(config_file).system.named()) == sorted(commands)
    for name, command in commands.items():
        if "arg" not in command:
            continue
        program = next(i for i, part in enumerate(command["run"]) if part in ("systemctl", "ping", "find"))
        shell = {**command, "run": [*command["run"][:program], "bash", "-c", command["run"][-1]]}
        config_file.write_text(yaml.safe_dump({"system": {"commands": {name: shell}}}))
        with pytest.raises(ConfigError, match=f"{name}.run: 'bash' runs code"):
            load_config(config_file)


def test_the_answer_to_who_is_it_must_say_the_name_its_voice_is_told_as(tmp_path: Path) -> None:
    """The answer's voice is told from the request's audio and the answer's together: an adult who
    says anything else next (a request of her own) must not lend her voice to a child's request."""
    commands = {**COMMANDS, "restart the music": {"run": ["touch", "restarted"], "changes": True}}
    core, rec = make(tmp_path, commands)
    done = tmp_path / "data" / "skills" / "system" / "restarted"
    for answer in ("turn on the kitchen light please", "it's me", "it's Annabel"):
        with spoken_by(Speaker(None, "guest", unsure=True)):
            assert ask(core, "restart the music") == "I can't tell who is speaking. Who is it?"
        with spoken_by(Speaker("Anna", "adult")):
            assert ask(core, answer) == NOT_TOLD, answer
        with spoken_by(Speaker("Anna", "adult")):  # the question is gone: a yes now confirms nothing
            assert ask(core, "yes") != "Done."
    assert not done.exists()
    with spoken_by(Speaker(None, "guest", unsure=True)):
        assert ask(core, "restart the music") == "I can't tell who is speaking. Who is it?"
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "anna here") == "Should I restart the music?"
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "yes") == "Done."
    assert done.exists()
    assert [e.code for e in rec.of("error")].count("role") == 3  # type: ignore[attr-defined]


def test_a_voice_that_may_be_an_adults_is_asked_who_it_is_never_guessed(tmp_path: Path) -> None:
    """Too little speech, or a voice near Anna's but not sure enough: "who is it?"; the answer's voice,
    told from the request and the answer together (the voice loop), decides."""
    commands = {**COMMANDS, "restart the music": {"run": ["touch", "restarted"], "changes": True}}
    core, rec = make(tmp_path, commands)
    done = tmp_path / "data" / "skills" / "system" / "restarted"
    with spoken_by(Speaker(None, "guest", unsure=True)):
        assert ask(core, "restart the music") == "I can't tell who is speaking. Who is it?"
    with spoken_by(Speaker(None, "guest", unsure=True)):  # still not sure: refused, not guessed
        assert ask(core, "it's Anna") == "Sorry, only an adult can do that, and I don't know your voice."
    with spoken_by(Speaker(None, "guest", unsure=True)):
        assert ask(core, "restart the music") == "I can't tell who is speaking. Who is it?"
    with spoken_by(Speaker("Ben", "child")):
        assert ask(core, "it's Anna") == "Sorry, only an adult can do that."
    assert not done.exists()
    with spoken_by(Speaker(None, "guest", unsure=True)):
        assert ask(core, "restart the music") == "I can't tell who is speaking. Who is it?"
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "it's me, Anna") == "Should I restart the music?"
    with spoken_by(Speaker(None, "guest")):  # a voice told as nobody enrolled does not answer for her
        assert ask(core, "yes") == "Sorry, only an adult can do that, and I don't know your voice."
    assert not done.exists()
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "restart the music") == "Should I restart the music?"
    with spoken_by(Speaker(None, "guest", unsure=True)):  # "yes" is too short to tell: the asker's
        assert ask(core, "yes") == "Done."
    assert done.exists()
    assert [q.kind for q in rec.of("question")] == ["who", "who", "who", "confirm", "confirm"]  # type: ignore[attr-defined]


def test_a_command_that_changes_the_system_is_for_an_adults_voice_once_voices_are_enrolled(tmp_path: Path) -> None:
    commands = {**COMMANDS, "restart the music": {"run": ["touch", "restarted"], "changes": True}}
    core, rec = make(tmp_path, commands)
    done = tmp_path / "data" / "skills" / "system" / "restarted"
    with spoken_by(Speaker("Ben", "child")):
        assert ask(core, "restart the music") == "Sorry, only an adult can do that."
    with spoken_by(Speaker(None, "guest")):
        assert ask(core, "restart the music") == "Sorry, only an adult can do that, and I don't know your voice."
    assert not done.exists() and not rec.of("question"), "never asked, never run"
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "restart the music") == "Should I restart the music?"
    with spoken_by(Speaker("Ben", "child")):  # a yes from another voice does not do it either
        assert ask(core, "yes") == "Sorry, only an adult can do that."
    assert not done.exists()
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "restart the music") == "Should I restart the music?"
        assert ask(core, "yes") == "Done."
    assert done.exists()
    refused = [e for e in read_entries(tmp_path / "data" / LOG_FILE) if e.get("kind") == "refused"]
    assert [(e["tool"], e["role"], e.get("speaker")) for e in refused] == [
        ("system.run", "child", "Ben"),
        ("system.run", "guest", None),
        ("system.run", "child", "Ben"),
    ]
    ran = [e for e in read_entries(tmp_path / "data" / LOG_FILE) if e.get("kind") == "tool_call"]
    assert (ran[-1]["tool"], ran[-1]["speaker"], ran[-1]["role"]) == ("system.run", "Anna", "adult")
    # Typed, or with nobody enrolled, the voice is not told and the yes alone decides, as before.
    assert ask(core, "restart the music") == "Should I restart the music?"
