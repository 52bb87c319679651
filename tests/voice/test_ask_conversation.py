"""One typed conversation across `assistant ask` invocations: a question one `ask` asked is answered
by the next ("cancel all timers", then "yes"; "set a timer", then "ten minutes"), within
understanding.followup_s, through conversation.json in the data folder, which is checked again on
every read."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.voice.conversation_file import FILE_NAME, ConversationFile
from assistant.voice.dialogue import CANNOT
from testbed.harness import TEMPLATES_ONLY, Recorder


def ask(data_dir: Path, text: str, **environ: str):  # type: ignore[no-untyped-def]
    """What one `assistant ask` does with the conversation: a fresh core, its memory read, the request,
    its memory written."""
    bus = Bus()
    core = build_core(load_config(environ={**TEMPLATES_ONLY, **environ}), data_dir, bus)
    memory = ConversationFile(data_dir)
    memory.restore(core.dialogue)
    reply = asyncio.run(core.dialogue.handle(text, turn=1))
    memory.keep(core.dialogue)
    return reply, core, Recorder(bus)


def test_a_question_asked_by_one_ask_is_answered_by_the_next(data_dir: Path) -> None:
    ask(data_dir, "set a timer for five minutes")
    ask(data_dir, "set a timer for ten minutes")
    assert ask(data_dir, "cancel all timers")[0] == "Cancel all your timers?"
    reply, core, _ = ask(data_dir, "yes")
    assert reply == "Cancelled 2 timers." and not core.scheduler.timers()
    assert ask(data_dir, "yes")[0] == CANNOT, "answered once, then forgotten"


def test_a_missing_argument_is_given_by_the_next_ask(data_dir: Path) -> None:
    assert ask(data_dir, "set a timer")[0] == "For how long?"
    reply, core, _ = ask(data_dir, "ten minutes")
    assert reply == "Timer set for 10 minutes." and len(core.scheduler.timers()) == 1
    saved = json.loads((data_dir / FILE_NAME).read_text())
    assert saved["pending"] is None and saved["last"]["call"] == {
        "tool": "timer.start",
        "args": {"minutes": 10},
        "source": "template",
        "text": "set a timer ten minutes",
        "score": 1.0,
        "open_question": False,
    }


def test_a_question_older_than_the_followup_window_is_not_answered(data_dir: Path) -> None:
    ask(data_dir, "set a timer for five minutes")
    assert ask(data_dir, "cancel all timers", ASSISTANT__UNDERSTANDING__FOLLOWUP_S="1")[0] == "Cancel all your timers?"
    saved = json.loads((data_dir / FILE_NAME).read_text())
    saved["pending"]["at"] -= 1.2  # asked 1.2 s earlier than it was: past the 1 s window, without waiting it out
    (data_dir / FILE_NAME).write_text(json.dumps(saved))
    reply, core, _ = ask(data_dir, "yes", ASSISTANT__UNDERSTANDING__FOLLOWUP_S="1")
    assert reply == CANNOT and len(core.scheduler.timers()) == 1


def test_a_remembered_call_is_validated_again_and_a_bad_file_is_only_forgotten(data_dir: Path) -> None:
    ask(data_dir, "set a timer for five minutes")
    assert ask(data_dir, "cancel all timers")[0] == "Cancel all your timers?"
    path = data_dir / FILE_NAME
    good = json.loads(path.read_text())
    for tool, args in (
        ("timer.no_such_tool", {}),
        ("timer.clear_all", {"everything": True}),
        ("timer.start", {"minutes": 100000}),
    ):
        now = time.time()  # fresh: only the call is wrong
        bad = {
            **good,
            "saved_at": now,
            "pending": {**good["pending"], "at": now, "call": {**good["pending"]["call"], "tool": tool, "args": args}},
        }
        path.write_text(json.dumps(bad))
        reply, core, _ = ask(data_dir, "yes")
        assert reply == CANNOT and len(core.scheduler.timers()) == 1, (tool, args)
    for damaged in ("{not json", "[]", json.dumps({**good, "version": 99}), json.dumps({**good, "saved_at": "soon"})):
        path.write_text(damaged)
        assert ask(data_dir, "yes")[0] == CANNOT
    now = time.time()
    path.write_text(json.dumps({**good, "saved_at": now, "pending": {**good["pending"], "at": now}}))
    assert ask(data_dir, "yes")[0] == "Cancelled 1 timer.", "the good file still works"


def test_the_ask_command_carries_the_conversation(tmp_path: Path) -> None:
    env = {**os.environ, **TEMPLATES_ONLY}

    def cli(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assistant", "ask", text, "--events", "-", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )

    assert cli("set a timer for 5 minutes").returncode == 0
    asked = cli("cancel all timers")
    assert asked.returncode == 0 and asked.stderr.strip() == "Cancel all your timers?"
    assert [json.loads(line)["type"] for line in asked.stdout.splitlines()] == [
        "transcript",
        "intent",
        "question",
        "reply",
    ]
    answered = cli("yes")
    assert answered.returncode == 0 and answered.stderr.strip() == "Cancelled 1 timer.", answered.stderr
    events = [json.loads(line) for line in answered.stdout.splitlines()]
    assert [e["type"] for e in events] == ["transcript", "tool_result", "reply"]
    assert events[1]["tool"] == "timer.clear_all" and events[1]["ok"] is True
