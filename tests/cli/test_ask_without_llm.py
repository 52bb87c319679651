"""`assistant ask` when the LLM cannot be loaded (a real GGUF file cut short): the reply is printed
as ever, and a request that needed the model also says why on stderr and exits 1; one the templates
take exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.core.models import resolve_llm
from assistant.voice.dialogue import PLANNER_BROKEN


def ask(text: str, data: Path, model: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "ask", text, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "ASSISTANT__PLANNER__MODEL": str(model), "ASSISTANT__PLANNER__THREADS": "2"},
    )


def test_ask_says_the_model_could_not_be_loaded_and_exits_1(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    with resolve_llm("smollm2-135m").path.open("rb") as whole:
        model.write_bytes(whole.read(8 << 20))  # the header and a little: the weights cut short
    needs = ask("could you possibly keep an eye on the pasta for me", tmp_path / "data", model)
    assert needs.returncode == 1
    assert needs.stdout.strip() == PLANNER_BROKEN
    (said,) = needs.stderr.splitlines()
    assert said.startswith(f"assistant: the language model could not be loaded (cannot load the LLM {model}: ")
    assert said.endswith("): check the file planner.model names in the config, then start the assistant again")

    templates = ask("set a timer for 5 minutes", tmp_path / "data", model)
    assert templates.returncode == 0 and templates.stderr == ""
    assert "5 minute" in templates.stdout
