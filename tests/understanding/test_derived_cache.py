"""The planner's examples and phrases, and the fuzzy index's shapes, are made once and read back from disk, exactly as made, until
a template, a tool or the code changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.understanding.derived import DerivedCache
from assistant.understanding.matcher import TemplateMatcher
from assistant.understanding.prompt import system_prompt


@pytest.fixture(scope="module")
def skills(tmp_path_factory: pytest.TempPathFactory) -> Any:
    core = build_core(load_config(), tmp_path_factory.mktemp("data"), Bus(), plays=False)
    return core.registry


def test_read_back_exactly_as_made_without_sampling_again(skills: Any, tmp_path: Path, monkeypatch: Any) -> None:
    made = TemplateMatcher(skills.skills, "en", tmp_path)
    examples, phrases, shapes = made.examples(), made.phrases(), made.template_shapes()
    kept = sorted(p.name.split(".", 1)[1] for p in tmp_path.iterdir())
    assert kept == ["examples.json", "phrases.json", "shapes.json"]

    def no_sampling(*_: Any) -> Any:
        raise AssertionError("sampled again instead of reading the cache")

    monkeypatch.setattr(TemplateMatcher, "_made_examples", no_sampling)
    monkeypatch.setattr(TemplateMatcher, "_sampled_phrases", no_sampling)
    monkeypatch.setattr(TemplateMatcher, "_sampled_shapes", no_sampling)
    again = TemplateMatcher(skills.skills, "en", tmp_path)
    assert again.examples() == examples
    assert again.phrases() == phrases
    assert again.template_shapes() == shapes
    assert again.match_fuzzy("set a timer for ten minuets", {}) is not None
    tools = skills.tools()
    assert system_prompt(tools, again.examples()) == system_prompt(tools, examples), "the prompt's state cache key"


def test_another_template_is_another_key(tmp_path: Path) -> None:
    one = DerivedCache({"intents": {"timer.start": ["set a timer"]}}, tmp_path)
    other = DerivedCache({"intents": {"timer.start": ["set a timer", "start a timer"]}}, tmp_path)
    assert one.key != other.key
    assert one.key == DerivedCache({"intents": {"timer.start": ["set a timer"]}}, tmp_path).key


def test_a_damaged_file_is_made_again(skills: Any, tmp_path: Path) -> None:
    made = TemplateMatcher(skills.skills, "en", tmp_path)
    examples = made.examples()
    for path in tmp_path.glob("*.examples.json"):
        path.write_text('[["timer.start", {"minutes"')
    assert TemplateMatcher(skills.skills, "en", tmp_path).examples() == examples
    for path in tmp_path.glob("*.examples.json"):
        path.write_text('[["timer.start"]]')
    assert TemplateMatcher(skills.skills, "en", tmp_path).examples() == examples
