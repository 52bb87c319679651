"""Fuzzy template matching for speech-to-text errors, number words, and the planner's schema and
grammar (built explicitly, never a silent fallback to free JSON)."""

import asyncio
import json

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import AssistantError
from assistant.language.numbers import find_numbers
from assistant.understanding.schema import args_gbnf, args_grammar, call_gbnf, gbnf_for, tool_call_schema
from testbed.harness import TEMPLATES_ONLY

LIVE = {"timer_name": ["pasta", "eggs"]}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("data"), Bus())


@pytest.mark.parametrize(
    "text, tool, args",
    [
        ("can't sail the pasta timer", "timer.cancel", {"name": "pasta"}),
        ("said a timer for ten minutes", "timer.start", {"minutes": 10}),
        ("set a time for twenty five minutes", "timer.start", {"minutes": 25}),
        ("how much time is left on the pasta time", "timer.status", {"name": "pasta"}),
        ("stop the egg timer", "timer.cancel", {"name": "eggs"}),
        ("what dates it today", "clock.get_date", {}),
    ],
)
def test_speech_errors_still_match(core: Core, text: str, tool: str, args: dict) -> None:
    call = core.dialogue.router.matcher.match_fuzzy(text, LIVE, min_score=0.8)
    assert call is not None and call.tool == tool
    assert core.registry.tool(tool).validate(call.args) == args
    assert 0.8 <= call.score < 1.0


def test_far_off_requests_do_not_match_fuzzily(core: Core) -> None:
    for text in ("turn on the kitchen light", "what's the weather like", "play some jazz"):
        assert core.dialogue.router.matcher.match_fuzzy(text, LIVE, min_score=0.8) is None


def test_the_router_takes_only_confident_fuzzy_matches(core: Core) -> None:
    router = core.dialogue.router
    assert router.match_templates("set a time for five minutes", LIVE) is not None
    assert router.match_templates("council the timer", LIVE) is None  # 0.85 < 0.9: the planner decides


def test_the_router_tries_the_next_readings_only_when_the_first_matches_nothing(core: Core) -> None:
    router = core.dialogue.router
    asked: list[str] = []

    def others() -> list[str]:
        asked.append("others")
        return ["Tell me my day.", "Tell me the date.", "What time is it?"]

    call = asyncio.run(router.route("Tell me my date.", LIVE, others=others))
    assert call is not None and call.tool == "clock.get_date" and call.text == "Tell me the date."
    assert asked == ["others"]
    asked.clear()
    call = asyncio.run(router.route("What time is it?", LIVE, others=others))  # the first reading matched
    assert call is not None and call.tool == "clock.get_time" and asked == []
    # No reading matches and there is no planner here: nothing is done.
    assert asyncio.run(router.route("Book a table for two.", LIVE, others=lambda: ["Book a cable for two."])) is None


def test_names_with_numbers_are_heard_as_words_or_digits(core: Core) -> None:
    """Speech-to-text writes "bench light one" for a device named "bench light 1"; among many numbered
    names the right one is chosen, whatever order the registry lists them in."""
    router = core.dialogue.router
    for names in ([f"bench light {i}" for i in range(1, 33)], [f"bench light {i}" for i in range(32, 0, -1)]):
        live = {"device_name": [*names, "office lamp 2"], "room_name": ["kitchen"]}
        for said, device in [
            ("turn on bench light one", "bench light 1"),
            ("Turn off bench light twelve.", "bench light 12"),
            ("turn on the office lamp two", "office lamp 2"),
            ("turn on bench light 7", "bench light 7"),
        ]:
            call = router.match_templates(said, live)
            assert call is not None and call.args == {"device": device}, said
        call = router.match_templates("dim bench light three to forty percent", live)
        assert call is not None and call.args == {"device": "bench light 3", "percent": 40}


def test_number_words() -> None:
    words = "set a timer for twenty five minutes and 30 seconds or a hundred and ten".split()
    assert [(n.start, n.end, n.value) for n in find_numbers(words)] == [(4, 6, 25), (8, 9, 30), (12, 15, 110)]


def test_planner_examples_come_from_the_templates(core: Core) -> None:
    examples = core.dialogue.router.matcher.examples()
    assert {e.tool for e in examples} == {s.qualified for s in core.registry.tools()}
    assert all(e.source == "template" for e in examples)


def test_the_schema_has_one_branch_per_tool_and_none(core: Core) -> None:
    specs = core.registry.tools()
    schema = tool_call_schema(specs)
    assert len(schema["oneOf"]) == len(specs) + 1
    keys = [b["required"][0] for b in schema["oneOf"]]
    assert keys[-1] == "none" and set(keys[:-1]) == {s.qualified for s in specs}
    gbnf = call_gbnf(specs)
    for spec in specs:
        assert json.dumps(json.dumps(spec.qualified))[1:-1] in gbnf
        if spec.params:
            args_grammar(spec)  # llama.cpp parses it


def test_a_schema_that_degrades_is_an_error_not_a_silent_fallback() -> None:
    # An empty schema converts to "any JSON value": a grammar that no longer names the tool.
    with pytest.raises(AssistantError, match="lost 'timer.start'"):
        gbnf_for({}, ["timer.start"])


def test_the_planner_may_write_only_the_numbers_the_request_says(core: Core) -> None:
    status = core.registry.tool("timer.status")
    assert "hours-kv" in args_gbnf(status) and "integral-part" in args_gbnf(status)
    nothing_said = args_gbnf(status, frozenset())
    assert "name-kv" in nothing_said and "hours-kv" not in nothing_said and "minutes-kv" not in nothing_said
    assert 'integer ::= ("0" | "7") space' in args_gbnf(status, frozenset({7}))
    args_grammar(status, frozenset({7}))  # compiles
    brightness = core.registry.tool("device.set_brightness")  # a required number: left alone
    assert args_gbnf(brightness, frozenset()) == args_gbnf(brightness)
