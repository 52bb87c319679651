"""`assistant run` listens before the LLM has loaded: the templates are served meanwhile, and a
request that needs the LLM waits for it instead of failing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import speech as sf

pytestmark = pytest.mark.slow_model


def test_templates_are_served_while_the_llm_loads(tmp_path: Path) -> None:
    clip = sf.save(
        tmp_path / "in.wav",
        sf.command("What time is it?"),
        sf.command("Please get rid of every single timer."),
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
        timeout=240,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    llm = [(e["state"], e["t"]) for e in events if e["type"] == "service" and e["service"] == "llm"]
    assert llm and llm[0][0] == "running", llm  # (a service is "starting" until then; no event says so)
    loaded_at = llm[0][1]
    ready_at = next(e["t"] for e in events if e["type"] == "ready")
    assert ready_at < loaded_at, "the voice loop listened only once the LLM had loaded"
    replies = [e for e in events if e["type"] == "reply"]
    intents = [(e["tool"], e["source"]) for e in events if e["type"] == "intent"]
    assert intents == [("clock.get_time", "template"), ("timer.clear_all", "llm")]
    assert replies[0]["t"] < loaded_at, "the template's reply waited for the LLM"
    assert replies[1]["t"] > loaded_at
