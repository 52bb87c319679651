"""The words a skill declares for its tools (`words:` in its sentence file): they make the planner's
tool index offer the right tool for requests the templates do not take, and nothing for requests no
skill serves. Measured on the real skills' index, as the assistant builds it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import SkillError
from assistant.plugins.api import SkillContext
from assistant.plugins.registry import LoadedSkill, Registry
from assistant.understanding.matcher import TemplateMatcher
from assistant.understanding.prompt import MAX_DECLARED, PlanContext, ToolIndex
from testbed.harness import TEMPLATES_ONLY

LLM_PATH_SET = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "scripts" / "bench" / "llm_path_set.yaml").read_text(encoding="utf-8")
)
LIVE: dict[str, list[str]] = LLM_PATH_SET["live"]
"""The held-out set's live names (a kitchen room, an eggs timer): more tools are relevant with them."""

REVIEWED = [
    # no tool was offered
    ("get me up at 6:30", "alarm.set"),
    ("rouse me at seven", "alarm.set"),
    ("make it darker", "device.set_brightness"),
    ("put on some jazz", "media.play"),
    ("i'd like to listen to queen", "media.play"),
    ("who sings this", "media.now_playing"),
    ("jot down buy eggs", "knowledge.remember"),
    ("write down buy eggs", "knowledge.remember"),
    ("jot down that the boiler was serviced", "knowledge.remember"),
    # the right tool was not among those offered
    ("ring at 7 am", "alarm.set"),
    ("don't let me forget the dentist tomorrow", "reminder.add"),
    ("brighten the kitchen", "device.set_brightness"),
    ("it's too bright in here", "device.set_brightness"),
    ("don't let me forget to buy milk", "reminder.add"),
]
"""Requests the skills serve that a review found offered no tool, or not the right one."""

STILL_OFFERED = {
    "what's the weather going to be like tomorrow": {"agenda.day", "alarm.set", "reminder.list"},
    "send a message to my sister": {"announce.announce"},
}
"""Out-of-domain requests that share a telling word with a tool's own templates ("tomorrow": the
agenda, alarms and reminders need it; "message": what an announcement says), so the LLM answers
them. What they are offered must not grow: no declared word may add to it."""


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("data"), Bus())


@pytest.fixture(scope="module")
def index(core: Core) -> ToolIndex:
    return ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=8)


@pytest.fixture(scope="module")
def undeclared(core: Core) -> ToolIndex:
    """The same index without the declared words."""
    phrases = dataclasses.replace(core.dialogue.router.matcher.phrases(), words={})
    return ToolIndex(core.registry.tools(), phrases, limit=8)


def _offered(index: ToolIndex, text: str, live: dict[str, list[str]] | None = None) -> set[str]:
    return {s.qualified for s in index.offer(text, PlanContext(live=live or {}))}


@pytest.mark.parametrize("text, tool", REVIEWED)
def test_the_tool_a_request_asks_for_in_its_own_words_is_offered(
    index: ToolIndex, undeclared: ToolIndex, text: str, tool: str
) -> None:
    assert tool not in _offered(undeclared, text), "the declared words are what makes it relevant"
    assert tool in _offered(index, text)
    assert tool in _offered(index, text, LIVE), "with live names, when more tools than the limit are relevant"


@pytest.mark.parametrize("text", LLM_PATH_SET["unknown"])
def test_a_request_no_skill_serves_is_offered_nothing_new(index: ToolIndex, undeclared: ToolIndex, text: str) -> None:
    offered = _offered(index, text, LIVE)
    assert offered == _offered(undeclared, text, LIVE)
    assert offered == STILL_OFFERED.get(text, set())


def test_a_phrase_counts_only_whole_and_in_order(index: ToolIndex) -> None:
    assert _offered(index, "write an email to bob") == set()  # "write down" is knowledge.remember's
    assert _offered(index, "down write the eggs") == set()
    assert _offered(index, "get me a drink") == set()  # "get me up" is alarm.set's
    assert "alarm.set" in _offered(index, "could you get me up early")


def test_at_the_cut_a_declared_phrase_outweighs_a_live_name(core: Core, index: ToolIndex) -> None:
    """The kitchen is a room: every device tool and the announcements take it, nine tools in all."""
    text = "jot down that the kitchen needs painting"
    every = ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=100)
    assert len(_offered(every, text, LIVE)) > index.limit
    assert "knowledge.remember" in _offered(index, text, LIVE)
    small = ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=2)
    assert "knowledge.remember" in _offered(small, "jot down buy eggs", LIVE)  # seven timer tools take "eggs"


def test_the_declared_words_are_the_tool_s_words_for_grounding(index: ToolIndex) -> None:
    assert {"rouse", "ring"} <= index.words("alarm.set")
    assert "jot" in index.words("knowledge.remember")  # of "jot down"
    assert "jazz" not in index.words("media.play"), "a genre is an argument: grounding would drop it"


def _clock(tmp_path: Path, words: object) -> LoadedSkill:
    """The clock skill with its sentence file and `words`."""
    from skills.clock.skill import ClockSkill

    registry = Registry()
    registry.register(ClockSkill, SkillContext("clock", tmp_path))
    (loaded,) = registry.skills
    doc = yaml.safe_load(loaded.sentences.read_text(encoding="utf-8"))
    path = tmp_path / "en.yaml"
    path.write_text(yaml.safe_dump({**doc, "words": words}), encoding="utf-8")
    return dataclasses.replace(loaded, sentences=path)


@pytest.mark.parametrize(
    "words, fault",
    [
        ({"get_weather": ["forecast"]}, "not one of its tools"),
        ({"get_time": "o'clock"}, "must be a list"),
        ({"get_time": [f"word{'a' * i}" for i in range(MAX_DECLARED + 1)]}, "more than"),
        ({"get_time": ["what's the hour, please"]}, "only lower-case letters"),
        ({"get_time": ["Clock"]}, "only lower-case letters"),
        ({"get_time": ["seven"]}, "generic or short word"),
        ({"get_time": ["get"]}, "generic or short word"),
        ({"get_time": ["how late would it be now then"]}, "at most"),
        (["o'clock"], "must map each tool"),
    ],
)
def test_a_skill_s_words_are_checked_when_it_loads(tmp_path: Path, words: object, fault: str) -> None:
    with pytest.raises(SkillError, match=fault):
        TemplateMatcher([_clock(tmp_path, words)], "en")


def test_the_words_are_kept_with_the_phrases_and_a_change_makes_them_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    first = TemplateMatcher([_clock(tmp_path, {"get_time": ["o'clock", "what hour"]})], "en", cache).phrases()
    assert first.words == {"clock.get_time": ["o'clock", "what hour"]}
    again = TemplateMatcher([_clock(tmp_path, {"get_time": ["o'clock", "what hour"]})], "en", cache).phrases()
    assert again == first
    changed = TemplateMatcher([_clock(tmp_path, {"get_time": ["o'clock"]})], "en", cache).phrases()
    assert changed.words == {"clock.get_time": ["o'clock"]}
    assert len(list(cache.glob("*.phrases.json"))) == 2
