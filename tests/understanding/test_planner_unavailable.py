"""A local model that cannot be loaded (here a real GGUF file cut short): the request that needed it
is refused with LLMUnavailable saying what is wrong and what to do, and later ones are refused at
once with the same message, the model not loaded again for each; the templates serve as before."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import LLMUnavailable, LLMUnreachable, ModelNotFoundError
from assistant.core.models import resolve_llm
from assistant.llm.local import LocalLLM
from assistant.understanding import planner as planner_module
from assistant.understanding.planner import LazyPlanner, ServerPlanner
from assistant.voice.dialogue import PLANNER_BROKEN
from testbed.harness import Recorder

NEEDS_THE_LLM = "could you possibly keep an eye on the pasta for me"
"""A request the templates do not take and some tool speaks of: the planner is asked."""


def cut_short(target: Path, keep: int = 8 << 20) -> Path:
    """The first `keep` bytes of a real GGUF file: its whole header, half of its weights missing."""
    with resolve_llm("smollm2-135m").path.open("rb") as whole, target.open("wb") as part:
        part.write(whole.read(keep))
    return target


def core_with(data: Path, model: Path, **planner: str) -> tuple[Core, Recorder]:
    bus = Bus()
    environ = {"ASSISTANT__PLANNER__THREADS": "2", "ASSISTANT__PLANNER__MODEL": str(model)}
    config = load_config(environ=environ | {f"ASSISTANT__PLANNER__{k}": v for k, v in planner.items()})
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


def test_a_context_too_small_for_the_prompt_is_said_once_and_not_loaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model loads, then LocalPlanner finds its system prompt longer than planner.context (a
    ConfigError): the request is refused as one that needs the LLM, saying to fix the config, and
    the next one at once, the model not loaded again."""
    loads: list[str] = []

    class Counted(LocalLLM):
        def __init__(self, model_path: str, **kwargs: Any) -> None:
            loads.append(model_path)
            super().__init__(model_path, **kwargs)

    monkeypatch.setattr(planner_module, "LocalLLM", Counted)
    core, rec = core_with(tmp_path / "data", resolve_llm("smollm2-135m").path, CONTEXT="512")
    assert core.planner is not None
    with pytest.raises(LLMUnavailable) as refused:
        core.planner.load_sync()
    message = refused.value.message
    assert re.fullmatch(
        r"the language model could not be loaded \(the planner's system prompt \(\d+ tokens\) is too long for a "
        r"context of 512: raise planner.context\): fix the config, then start the assistant again",
        message,
    ), message
    assert len(loads) == 1
    with pytest.raises(LLMUnavailable, match=re.escape(message)):
        core.planner.load_sync()
    assert asyncio.run(core.dialogue.handle(NEEDS_THE_LLM)) == PLANNER_BROKEN
    assert [e.message for e in rec.of("error")] == [message]  # type: ignore[attr-defined]
    assert len(loads) == 1, "the model was loaded again"


class Broken:
    """A backend whose warm-up fails as a bug would."""

    def warm_up(self, request: bool = True) -> float:
        raise RuntimeError("the KV state is garbage")


def test_any_other_failure_to_load_is_kept_with_its_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    made: list[object] = []

    def factory() -> Any:
        made.append(Broken())
        return made[-1]

    lazy = LazyPlanner(factory)
    with pytest.raises(LLMUnavailable) as refused:
        lazy.load_sync()
    assert refused.value.message == (
        "the language model could not be loaded (RuntimeError: the KV state is garbage): "
        "run `assistant models --check`, then start the assistant again"
    )
    assert "Traceback" in caplog.text and "the KV state is garbage" in caplog.text
    with pytest.raises(LLMUnavailable, match="KV state"):
        asyncio.run(lazy.load())
    assert len(made) == 1 and lazy.unavailable == refused.value.message

    def no_package() -> Any:
        raise ModelNotFoundError("no such package")

    lazy = LazyPlanner(no_package)
    with pytest.raises(LLMUnavailable, match=r"\(no such package\): run `assistant models --check`"):
        lazy.load_sync()
    assert lazy.unavailable is not None


class Unanswering(ServerPlanner):
    """A server that does not answer the warm-up request the first time, then does."""

    def __init__(self) -> None:
        self.tries = 0

    def warm_up(self, request: bool = True) -> float:
        self.tries += 1
        if self.tries == 1:
            raise LLMUnreachable("the LLM server did not answer")
        return 0.0


def test_a_server_that_did_not_answer_the_warm_up_is_asked_again() -> None:
    """Only a failed load is kept: a server's failed request is tried again with the next one."""
    server = Unanswering()
    lazy = LazyPlanner(lambda: server)
    with pytest.raises(LLMUnreachable):
        lazy.load_sync()
    assert lazy.unavailable is None
    assert lazy.load_sync() is server and server.tries == 2
