"""The check that keeps an LLM-worded reply honest: everything it states must be in the tool's result
(or the question), and every number the result states must be in it."""

from __future__ import annotations

import pytest

from assistant.understanding.phrasing import clean, request, unsupported

FACTS = "Tomorrow you have an alarm at 6:30 AM and a reminder at 9 AM to call mum."


@pytest.mark.parametrize(
    "reply, why",
    [
        ("Yes, your alarm is at 6:30 AM, and at 9 AM you should call mum.", None),
        ("You need to be up at 6:30 AM for your alarm; at nine AM, call mum.", None),
        ("Yes, you can sleep in tomorrow.", "the facts' 6 is left out"),
        ("Your alarm is at 6:30 AM and at 9 AM you call Anna.", "name 'anna' is not in the facts"),
        ("Your alarm is at 6:30 PM and a reminder at 9 AM.", "time of day 'pm' is not in the facts"),
        ("You have two timers, at 6:30 AM and 9 AM.", "number 2 is not in the facts"),
        ("Your alarm rings at 6:30 AM on Friday, then at 9 AM call mum.", "day 'friday' is not in the facts"),
        ("At 6:30 AM and 9 AM you have timers.", "thing 'timer' is not in the facts"),
        ("", "empty"),
        ("At 6:30 AM and 9 AM " + "really " * 50, "57 words"),
    ],
)
def test_a_reply_states_only_what_the_result_says(reply: str, why: str | None) -> None:
    assert unsupported(reply, FACTS, "do I have to get up early tomorrow") == why


def test_words_of_the_question_may_be_repeated() -> None:
    assert (
        unsupported(
            "No, nothing is planned for Saturday.", "Nothing is planned for tomorrow.", "is anything on for Saturday"
        )
        is None
    )
    assert unsupported("Yes, you are free tomorrow.", "Nothing is planned for tomorrow.", "am I free tomorrow") is None


def test_the_prompt_and_the_answer_are_plain_lines() -> None:
    assert request(" can I sleep in ", FACTS) == f"Question: can I sleep in\nFacts: {FACTS}\nAnswer:"
    assert clean('Answer: "**Yes**, your alarm\n is at 7 AM."') == "Yes, your alarm is at 7 AM."
