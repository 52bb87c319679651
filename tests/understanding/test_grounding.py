"""What keeps a small LLM honest without asking it: which tools a request may mean at all, number
words speech-to-text spelled as sound-alikes, and arguments the request never gave."""

import json
from pathlib import Path

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.language.numbers import respell_numbers
from assistant.understanding.grounding import grounded
from assistant.understanding.prompt import PlanContext, ToolIndex
from testbed.harness import TEMPLATES_ONLY

LIVE = {"timer_name": ["pasta", "eggs"]}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("data"), Bus())


@pytest.fixture(scope="module")
def index(core: Core) -> ToolIndex:
    return ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=8)


def _offered(index: ToolIndex, text: str, **context: object) -> set[str]:
    return {s.qualified for s in index.offer(text, PlanContext(live=LIVE, **context))}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "book a table for two at seven",
        "vacuum the stairs carpet",
        "set the thermostat to 21 degrees",
        "please order me a pizza",
    ],
)
def test_a_request_no_tool_speaks_of_is_offered_no_tool(index: ToolIndex, text: str) -> None:
    assert _offered(index, text) == set()


def test_relevant_tools_are_offered_by_their_words_live_names_and_the_previous_tool(index: ToolIndex) -> None:
    assert "timer.start" in _offered(index, "alert me in ninety seconds")
    assert "clock.get_time" in _offered(index, "how late is it")
    assert "timer.status" not in _offered(index, "how late is it")
    assert "timer.status" in _offered(index, "is the pasta done yet")  # a live name, no timer word
    assert "timer.status" in _offered(index, "how much tyme is left on the timmer")  # misspelt by speech-to-text
    assert _offered(index, "and the other one", previous_tool="timer.cancel") == {"timer.cancel"}
    assert _offered(index, "anything", only=("timer.start",)) == {"timer.start"}


def test_many_relevant_tools_are_cut_to_the_limit_by_shared_words(core: Core) -> None:
    small = ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=2)
    offered = {s.qualified for s in small.offer("how much time is left on the timer", PlanContext())}
    assert len(offered) == 2 and "timer.status" in offered


def test_at_the_cut_a_word_said_as_it_is_and_the_request_s_verb_go_first(core: Core) -> None:
    """ "timer" is near "time", so thirteen tools tie on it; the timer's own verb picks among them."""
    index = ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=8)
    assert "timer.start" in {s.qualified for s in index.offer("please could you start the kettle timer", PlanContext())}
    assert "timer.pause" in {s.qualified for s in index.offer("could you pause the kettle timer", PlanContext())}


@pytest.mark.parametrize(
    "text, respelled",
    [
        ("set a timer for too minutes", "set a timer for two minutes"),
        ("set the timer for fife minutes", "set the timer for five minutes"),
        ("set a timer four seven minutes", "set a timer for seven minutes"),
        ("wake me at four twenty", "wake me at four twenty"),  # a clock time, no unit after it
        ("set a timer for four minutes", "set a timer for four minutes"),
        ("I'm going to the shop", "I'm going to the shop"),
    ],
)
def test_number_sound_alikes_are_respelled_only_before_a_unit(text: str, respelled: str) -> None:
    assert respell_numbers(text) == respelled


def test_respelled_requests_reach_the_templates(core: Core) -> None:
    call = core.dialogue.router.match_templates("set a timer for too minutes", LIVE)
    assert call is not None and (call.tool, call.args) == ("timer.start", {"minutes": 2})


@pytest.mark.parametrize(
    "text, args, kept",
    [
        ("set a timer for an hour", {"hours": 1, "name": "timer1"}, {"hours": 1}),
        ("alert me in ninety seconds", {"seconds": 90, "name": "alert me in ninety seconds"}, {"seconds": 90}),
        ("start a countdown of 40 seconds", {"seconds": 40, "name": "countdown"}, {"seconds": 40}),
        ("set a timer for five minutes", {"minutes": 5, "name": "fife minutes"}, {"minutes": 5}),
        ("set a timer for a quarter of an hour", {"minutes": 15, "name": "quarter_hour_timer"}, {"minutes": 15}),
        ("vacuum the living room", {"hours": 1, "minutes": 30}, {}),
        (
            "an hour and a half for the roast",
            {"hours": 1, "minutes": 30, "name": "roast"},
            {"hours": 1, "minutes": 30, "name": "roast"},
        ),
        (
            "give me a timer for the lasagne, twelve minutes",
            {"minutes": 12, "name": "lasagna"},
            {"minutes": 12, "name": "lasagna"},
        ),  # spelt its own way
        ("set a timer for 5 minutes", {"minutes": 5, "name": "", "hours": 0}, {"minutes": 5}),
        (
            "could you start a timer for the eggs, seven minutes",
            {"minutes": 7, "name": "eggs timer"},
            {"minutes": 7, "name": "eggs"},
        ),  # the skill's own noun is how people say it, not the name
    ],
)
def test_only_arguments_the_request_grounds_are_kept(
    core: Core, index: ToolIndex, text: str, args: dict, kept: dict
) -> None:
    spec = core.registry.tool("timer.start")
    assert grounded(spec, args, text, index.words("timer.start")) == kept


@pytest.mark.parametrize(
    "text, args, kept",
    [
        ("put on a bit of classical", {"genre": "classical", "shuffle": True}, {"genre": "classical"}),
        ("shuffle my jazz", {"genre": "jazz", "shuffle": True}, {"genre": "jazz", "shuffle": True}),
        ("play some jazz", {"genre": "jazz", "shuffle": False}, {"genre": "jazz", "shuffle": False}),
    ],
)
def test_a_switch_nobody_asked_for_is_dropped(core: Core, text: str, args: dict, kept: dict) -> None:
    assert grounded(core.registry.tool("media.play"), args, text) == kept


def test_unknown_and_required_arguments_are_left_to_validation(core: Core) -> None:
    spec = core.registry.tool("timer.start")
    assert grounded(spec, {"colour": "red"}, "a red timer") == {"colour": "red"}


def test_free_text_arguments_are_bounded_in_the_grammar(core: Core) -> None:
    schema = core.registry.tool("timer.start").args_schema()
    assert schema["properties"]["name"]["maxLength"] > 0
    assert "maxLength" not in schema["properties"]["minutes"]


def test_planner_path_is_not_asked_for_what_no_tool_serves(tmp_path: Path) -> None:
    """With the planner on, a request relevant to no tool is answered "none" without the model:
    the index is consulted before anything is loaded or decoded."""
    core = build_core(load_config(), tmp_path, Bus())
    index = ToolIndex(core.registry.tools(), core.dialogue.router.matcher.phrases(), limit=8)
    assert index.offer("book a table for two at seven", PlanContext()) == []


def test_a_number_under_the_wrong_unit_moves_to_the_one_said(core: Core) -> None:
    spec = core.registry.tool("timer.start")
    assert grounded(spec, {"minutes": 90}, "alert me in ninety seconds") == {"seconds": 90}
    assert grounded(spec, {"minutes": 5, "seconds": 30}, "five minutes and thirty seconds") == {
        "minutes": 5,
        "seconds": 30,
    }


def test_a_required_text_nobody_said_is_asked_for_instead(core: Core) -> None:
    spec = core.registry.tool("routine.run")
    assert grounded(spec, {"name": "good morning"}, "i need to get up at 6 tomorrow morning") == {}
    assert grounded(spec, {"name": "bedtime"}, "run the bedtime routine") == {"name": "bedtime"}
    assert spec.missing({}) == (("name",), "Which routine?")


def test_one_is_grounded_by_a_unit_not_by_any_article(core: Core) -> None:
    spec = core.registry.tool("timer.change")
    assert grounded(spec, {"hours": 1}, "run a man timer") == {}
    assert grounded(spec, {"hours": 1}, "make it an hour instead") == {"hours": 1}


def test_the_previous_tool_is_not_offered_for_words_no_tool_knows(index: ToolIndex) -> None:
    assert _offered(index, "turn on the toaster", previous_tool="device.turn_on") == set()
    assert _offered(index, "and the other one", previous_tool="timer.cancel") == {"timer.cancel"}


@pytest.mark.parametrize(
    "tool, args, text, echoed",
    [
        ("announce.announce", {"message": "send a message to john"}, "send a message to john", True),
        ("reminder.add", {"text": "call mom"}, "call mom", True),
        ("announce.announce", {"message": "dinner is ready"}, "let everyone know dinner is ready", False),
        ("reminder.add", {"text": "call mom"}, "remind me to call mom", False),
        ("people.learn_voice", {"name": "anna"}, "anna", False),  # one word: an answer, not a copied request
    ],
)
def test_a_request_copied_whole_into_a_tool_that_takes_text_is_not_a_call(
    core: Core,
    tool: str,
    args: dict,
    text: str,
    echoed: bool,  # type: ignore[type-arg]
) -> None:
    """The planner put "send a message to john" whole into an announcement, and "call mom" into a
    reminder: nothing in either request asks for the tool. parse_call takes such a call for none."""
    from assistant.understanding.grounding import echoes_the_request
    from assistant.understanding.planner import parse_call

    spec = core.registry.tool(tool)
    assert echoes_the_request(spec, args, text) is echoed
    call = parse_call(json.dumps({tool: args}), [spec], text)
    assert (call is None) is echoed


@pytest.mark.parametrize(
    ("tool", "args", "text", "taken"),
    [
        ("alarm.set", {"when": "7 am tomorrow"}, "do i need to be up before seven tomorrow", False),
        ("alarm.set", {"when": "7 am"}, "when do i have to get up tomorrow", False),
        ("device.turn_off", {"device": "lights"}, "should i turn off the lights", False),
        ("alarm.set", {"when": "7 am"}, "can you set an alarm for seven", True),
        ("device.turn_off", {"device": "lights"}, "will you turn off the lights", True),
        ("alarm.set", {"when": "7 am"}, "wake me at seven", True),
        ("alarm.list", {}, "do i have any alarms set", True),  # it only looks: a question may
    ],
)
def test_a_question_about_our_own_day_is_never_planned_as_a_change(
    core: Core,
    tool: str,
    args: dict,
    text: str,
    taken: bool,  # type: ignore[type-arg]
) -> None:
    """ "do I need to be up before seven tomorrow?" was planned as alarm.set(7 AM) and set the alarm
    (the understanding bench's open questions): a question about the speaker's day is answered by a
    tool that looks, or not at all."""
    from assistant.understanding.planner import parse_call

    spec = core.registry.tool(tool)
    call = parse_call(json.dumps({tool: args}), [spec], text)
    assert (call is not None) is taken
