"""The request part of the planner's prompt: which live names it lists, and how it begins."""

from __future__ import annotations

import pytest

from assistant.understanding.matcher import EXAMPLE_NAME, example_names, without_example_names
from assistant.understanding.prompt import REQUEST_LEAD, PlanContext, request_text, said_names

LIVE = {
    "device_name": ["kitchen light", "porch light", "bedroom lamp", "washing machine"],
    "room_name": ["kitchen", "bedroom", "living room"],
    "timer_name": ["pasta", "eggs"],
}


@pytest.mark.parametrize(
    "text, said",
    [
        # A room said only inside a device's name is the device's, not a second argument.
        ("could you switch the kitchen light off for me", {"device_name": ["kitchen light"]}),
        ("make the bedroom lamp red", {"device_name": ["bedroom lamp"]}),
        # Said again on its own, it is listed.
        ("turn on the kitchen light in the kitchen", {"device_name": ["kitchen light"], "room_name": ["kitchen"]}),
        ("dim the bedroom to thirty percent", {"room_name": ["bedroom"]}),
        # "the kitchen lights" is not the device's name word for word: it may mean the room's lights.
        ("kitchen lights off", {"device_name": ["kitchen light"], "room_name": ["kitchen"]}),
        ("how long is left on the pasta", {"timer_name": ["pasta"]}),
        # The words on either side of a device's name do not join into a room's.
        ("the kit kitchen light chen", {"device_name": ["kitchen light"]}),
        ("order me a pizza", {}),
    ],
)
def test_the_names_a_request_says(text: str, said: dict[str, list[str]]) -> None:
    assert said_names(LIVE, text) == said


def test_the_request_comes_first_after_the_lead_and_what_goes_with_it_after() -> None:
    context = PlanContext(live=LIVE, previous="set a timer for the eggs -> timer.start", question="How long?")
    part = request_text("  the pasta one  ", context)
    assert part.startswith(REQUEST_LEAD)
    assert part.splitlines() == [
        f'{REQUEST_LEAD}the pasta one"',
        "Names: timer names: pasta",
        "Previous exchange: set a timer for the eggs -> timer.start",
        'The assistant asked: "How long?"',
    ]
    assert request_text("order me a pizza", PlanContext()) == f'{REQUEST_LEAD}order me a pizza"'


def test_the_examples_stand_in_names() -> None:
    assert example_names(["device_name", "room_name", "timer_name"]) == {
        "device_name": ["hall lamp", EXAMPLE_NAME],
        "room_name": [EXAMPLE_NAME],
        "timer_name": [EXAMPLE_NAME],
    }
    # Whisper's prompt and the tools' own words leave them out.
    assert without_example_names("set the hall lamp to the rainbow effect") == "set the to the effect"
    assert without_example_names("stop the kitchen timer") == "stop the timer"
    assert without_example_names("what devices do i have") == "what devices do i have"
