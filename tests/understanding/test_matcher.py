"""Sentence templates: every sentence a skill ships maps to its own tool; real phrasings map right."""

from pathlib import Path

import pytest
import yaml
from hassil import Intents
from hassil.sample import sample_intents

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from testbed.harness import TEMPLATES_ONLY


@pytest.fixture
def core(tmp_path: Path) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())


def test_every_own_template_maps_to_its_tool(core: Core) -> None:
    matcher = core.dialogue.router.matcher
    checked = 0

    # The system skill's command names are said bare, as routine phrases are: its lists get a word of
    # their own, as a real home's command names and routine phrases differ.
    def word(name: str) -> str:
        return {"system_check": "check the internet", "system_change": "restart the music server"}.get(name, "pasta")

    live = {
        name: [word(name)]
        for loaded in core.registry.skills
        for name in yaml.safe_load(loaded.sentences.read_text()).get("live_lists") or []
    }
    for loaded in core.registry.skills:
        doc = yaml.safe_load(loaded.sentences.read_text())
        lists = dict(doc.get("lists") or {})
        for name in doc.get("live_lists") or []:
            lists[name] = {"values": [word(name)]}
        # Wildcards sample as their list name; give them a real word.
        for name, body in list(lists.items()):
            if body.get("wildcard"):
                lists[name] = {"values": ["pasta"]}
        own = Intents.from_dict(
            {
                "language": "en",
                "intents": doc["intents"],
                "lists": lists,
                "expansion_rules": doc.get("expansion_rules") or {},
            }
        )
        for intent, sentence in sample_intents(own, max_sentences_per_intent=400):
            call = matcher.match(sentence, live)
            assert call is not None, f"{sentence!r} matched nothing"
            assert call.tool == f"{loaded.skill.name}.{intent}", f"{sentence!r} → {call.tool}"
            checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    "text, tool, args",
    [
        ("What time is it?", "clock.get_time", {}),
        ("what's the time", "clock.get_time", {}),
        ("What's the date today?", "clock.get_date", {}),
        ("what day is it", "clock.get_date", {}),
        ("Set a timer for five minutes.", "timer.start", {"minutes": 5}),
        ("set a timer for 5 minutes", "timer.start", {"minutes": 5}),
        ("Set a 10 minute timer.", "timer.start", {"minutes": 10}),
        ("start a timer for 1 hour and 30 minutes", "timer.start", {"hours": 1, "minutes": 30}),
        ("Set a timer for two minutes and 30 seconds.", "timer.start", {"minutes": 2, "seconds": 30}),
        ("Can you set a timer for twenty seconds please?", "timer.start", {"seconds": 20}),
        ("set a pasta timer for ten minutes", "timer.start", {"minutes": 10, "name": "pasta"}),
        ("set a timer for 3 minutes called pasta", "timer.start", {"minutes": 3, "name": "pasta"}),
        ("How much time is left?", "timer.status", {}),
        ("how much time is left on my timer", "timer.status", {}),
        ("Cancel the timer.", "timer.cancel", {}),
        ("cancel the pasta timer", "timer.cancel", {"name": "pasta"}),
        ("cancel the 5 minute timer", "timer.cancel", {"minutes": 5}),
        ("cancel all timers", "timer.clear_all", {}),
    ],
)
def test_phrasings(core: Core, text: str, tool: str, args: dict) -> None:
    call = core.dialogue.router.matcher.match(text, {"timer_name": ["pasta"]})
    assert call is not None, text
    assert call.tool == tool
    assert core.registry.tool(tool).validate(call.args) == args


@pytest.mark.parametrize(
    "text", ["turn on the kitchen light", "play some jazz", "what's the weather", "hello there", ""]
)
def test_requests_nobody_serves_match_nothing(core: Core, text: str) -> None:
    assert core.dialogue.router.matcher.match(text, {}) is None
