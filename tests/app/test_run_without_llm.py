"""`assistant run` with an LLM that cannot be loaded (a real GGUF file cut short): the voice loop
serves the templates to the end of its input, the `llm` service reads failed with the reason, a
request that needed it is answered that it cannot be thought through, and the run ends well."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core.models import resolve_llm
from assistant.voice.dialogue import PLANNER_BROKEN
from testbed import speech as sf


@pytest.mark.slow_model
def test_the_voice_loop_serves_the_templates_when_the_llm_does_not_load(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    with resolve_llm("smollm2-135m").path.open("rb") as whole:
        model.write_bytes(whole.read(8 << 20))
    clip = sf.save(
        tmp_path / "in.wav", sf.command("What time is it?"), sf.command("Could you keep an eye on the pasta for me?")
    )
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(clip),
            "--audio-out",
            str(tmp_path / "out.wav"),
            "--events",
            str(events_file),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ASSISTANT__PLANNER__MODEL": str(model), "ASSISTANT__PLANNER__THREADS": "2"},
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    (failed,) = [e for e in events if e["type"] == "service" and e["service"] == "llm" and e["state"] == "failed"]
    assert failed["error"].startswith("the language model could not be loaded (cannot load the LLM ")
    assert [(e["tool"], e["source"]) for e in events if e["type"] == "intent"] == [("clock.get_time", "template")]
    replies = [e["text"] for e in events if e["type"] == "reply"]
    assert len(replies) == 2 and replies[1] == PLANNER_BROKEN, replies
    assert [e["code"] for e in events if e["type"] == "error"] == ["planner_unavailable"]
    llm = [e["state"] for e in events if e["type"] == "service" and e["service"] == "llm"]
    assert llm == ["failed"], "tried once, not again"
