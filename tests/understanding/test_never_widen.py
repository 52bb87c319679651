"""Never widen an action: a timer or music that was named but is not known is refused in the words it
was asked for by, never taken for another timer or other music, whether the sentence templates or the
planner understood the request. The planner's calls are the ones it was seen to make, given by a
stand-in for the LLM (tests/understanding/test_planner.py runs the model itself)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.clock import ManualClock
from assistant.core.config import load_config
from assistant.plugins.api import ToolCall
from testbed.fakes.media_library import make_library
from testbed.harness import TEMPLATES_ONLY, Recorder


class Planned:
    """Stands in for the LLM planner: answers a request with the call the model made of it."""

    def __init__(self, *calls: tuple[str, str, dict[str, Any]]) -> None:
        self.calls = {text: ToolCall(tool, args, "llm", text, open_question=True) for text, tool, args in calls}

    async def plan(self, text: str, context: Any) -> ToolCall | None:
        return self.calls.get(text)


def with_planner(core: Core, *calls: tuple[str, str, dict[str, Any]]) -> None:
    core.dialogue.router.planner = Planned(*calls)  # type: ignore[assignment]


def say(core: Core, *texts: str) -> list[str]:
    async def talk() -> list[str]:
        return [await core.dialogue.handle(t) for t in texts]

    return asyncio.run(talk())


def test_a_timer_named_but_not_running_is_never_another_one(data_dir: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    with_planner(
        core,
        ("cancel the eggs timer", "timer.cancel", {}),
        ("change the eggs timer to 5 minutes", "timer.change", {"minutes": 5}),
        ("pause my eggs timer", "timer.pause", {}),
        ("how long is left on the eggs timer", "timer.status", {}),
    )
    assert say(core, "set a pasta timer for 10 minutes") == ["Pasta timer set for 10 minutes."]
    assert say(
        core,
        "cancel the eggs timer",
        "change the eggs timer to 5 minutes",
        "pause my eggs timer",
        "how long is left on the eggs timer",
        "cancel the 5 minute timer",
    ) == [
        "There's no eggs timer.",
        "There's no eggs timer.",
        "There's no eggs timer.",
        "There's no eggs timer.",
        "There's no 5 minute timer.",
    ]
    (timer,) = core.scheduler.timers()
    assert (timer.name, timer.duration_s, timer.paused) == ("pasta", 600, False), "the only timer, untouched"
    assert say(core, "set a timer for 3 minutes", "cancel the 5 minute timer") == [
        "Timer set for 3 minutes.",
        "There's no 5 minute timer.",
    ]
    assert len(core.scheduler.timers()) == 2
    assert say(core, "cancel the pasta timer") == ["Your pasta timer is cancelled."]


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media") / "Pictures"
    make_library(root, photos=4, seed=5)
    return root


def test_music_named_but_not_in_the_library_is_not_found_never_other_music(music: Path, tmp_path: Path) -> None:
    bus = Bus()
    rec = Recorder(bus)
    config = load_config(
        environ={
            **TEMPLATES_ONLY,
            "ASSISTANT__FOLDERS__PHOTOS": str(music),
            "ASSISTANT__MEDIA__MUSIC_OUTPUT": str(tmp_path / "music.wav"),
        }
    )
    core = build_core(config, tmp_path / "data", bus, ManualClock(time.mktime((2025, 11, 25, 12, 0, 0, 0, 0, -1))))
    core.media.scan()
    assert "jazz" in core.registry.slot_values()["genre_name"]
    # What the planner was seen to do with a genre it does not know: drop it (which plays everything),
    # or put a close one in its place; and what the fuzzy templates make of "jars music" (jazz, 0.9).
    with_planner(
        core,
        ("play some jars", "media.play", {}),
        ("play me some jars please", "media.play", {"genre": "jazz"}),
        ("could you play jars", "media.play", {"genre": "jars"}),
    )
    try:
        assert (
            say(core, "play some jars", "play me some jars please", "play some jars music", "could you play jars")
            == ["I don't have any music called jars."] * 4
        )
        assert core.media.player.now_playing().track is None  # type: ignore[union-attr]
        assert [r.ok for r in rec.of("tool_result")] == [False] * 4  # type: ignore[attr-defined]
        assert say(core, "play some jazz") == ["Playing some jazz."]
        assert say(core, "stop the music", "play some music")[1].startswith("Playing ")
    finally:
        core.media.close()


def test_more_time_planned_as_a_new_length_is_asked_not_done(data_dir: Path) -> None:
    """Seen in scripts/bench/llm_path.py: "add five more minutes to the pasta", heard "And 5 more
    minutes to the pasta.", was planned as timer.change: the pasta timer would have become 5 minutes."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    heard = "And 5 more minutes to the pasta."
    with_planner(core, (heard, "timer.change", {"minutes": 5, "name": "pasta"}))
    assert say(core, "set a pasta timer for 10 minutes") == ["Pasta timer set for 10 minutes."]
    assert say(core, heard) == [
        "Should I add 5 minutes to the pasta timer, or make it 5 minutes long? Say 'add 5 minutes' or 'make it 5 minutes'."
    ]
    (timer,) = core.scheduler.timers()
    assert timer.duration_s == 600
    assert say(core, "make it 20 minutes instead")[0].startswith("Pasta timer changed to 20 minutes")
    assert say(core, "add 5 minutes to the pasta timer")[0].startswith("Added 5 minutes")
