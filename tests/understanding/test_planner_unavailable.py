"""A local model that cannot be loaded (here a real GGUF file cut short): the request that needed it
is refused with LLMUnavailable saying what is wrong and what to do, and later ones are refused at
once with the same message, the model not loaded again for each; the templates serve as before."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import LLMUnavailable
from assistant.core.models import resolve_llm
from assistant.voice.dialogue import PLANNER_BROKEN
from testbed.harness import Recorder

NEEDS_THE_LLM = "could you possibly keep an eye on the pasta for me"
"""A request the templates do not take and some tool speaks of: the planner is asked."""


def cut_short(target: Path, keep: int = 8 << 20) -> Path:
    """The first `keep` bytes of a real GGUF file: its whole header, half of its weights missing."""
    with resolve_llm("smollm2-135m").path.open("rb") as whole, target.open("wb") as part:
        part.write(whole.read(keep))
    return target


def core_with(data: Path, model: Path) -> tuple[Core, Recorder]:
    bus = Bus()
    config = load_config(environ={"ASSISTANT__PLANNER__THREADS": "2", "ASSISTANT__PLANNER__MODEL": str(model)})
    return build_core(config, data, bus), Recorder(bus)


def test_a_model_that_does_not_load_is_said_once_and_not_loaded_again(tmp_path: Path) -> None:
    model = cut_short(tmp_path / "model.gguf")
    core, rec = core_with(tmp_path / "data", model)
    assert asyncio.run(core.dialogue.handle(NEEDS_THE_LLM)) == PLANNER_BROKEN
    (error,) = rec.of("error")
    assert error.code == LLMUnavailable.code == "planner_unavailable"  # type: ignore[attr-defined]
    message: str = error.message  # type: ignore[attr-defined]
    assert message.startswith(f"the language model could not be loaded (cannot load the LLM {model}: ")
    assert message.endswith("): check the file planner.model names in the config, then start the assistant again"), (
        message
    )

    # The file is whole now, but this process does not try again: the next request is refused at
    # once with the same message (a whole file would have loaded and planned).
    shutil.copyfile(resolve_llm("smollm2-135m").path, model)
    assert asyncio.run(core.dialogue.handle(NEEDS_THE_LLM)) == PLANNER_BROKEN
    assert [e.message for e in rec.of("error")] == [message, message]  # type: ignore[attr-defined]
    assert core.planner is not None and core.planner.unavailable == message

    # The templates serve as ever, and a request no tool fits is answered without the model.
    assert "timer" in asyncio.run(core.dialogue.handle("set a timer for 5 minutes")).lower()
    asyncio.run(core.dialogue.handle("order me a large pizza"))
    assert len(rec.of("error")) == 2


def test_a_start_that_loads_it_and_fails_refuses_the_requests_after(tmp_path: Path) -> None:
    """`assistant run`: the `llm` service's load fails, and the requests after it are refused without
    a second load."""
    core, rec = core_with(tmp_path / "data", cut_short(tmp_path / "model.gguf"))
    assert core.planner is not None
    try:
        asyncio.run(core.planner.load())
    except LLMUnavailable as e:
        failed = e.message
    else:
        raise AssertionError("a model cut short loaded")
    assert asyncio.run(core.dialogue.handle(NEEDS_THE_LLM)) == PLANNER_BROKEN
    assert [e.message for e in rec.of("error")] == [failed]  # type: ignore[attr-defined]
