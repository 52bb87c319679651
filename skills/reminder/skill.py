"""Reminders: a text and a time ("remind me to call mum at five"); the day's list; delete."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from assistant.language.spoken_time import (
    MONTHS,
    WEEKDAYS,
    TimeNotUnderstood,
    names_only_a_day,
    parse_when,
    said_when,
    spoken_clock,
)
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, speaker, speaker_name, tool
from assistant.scheduling.items import Due, Reminder, theirs
from assistant.scheduling.scheduler import Scheduler


class ReminderSkill(Skill):
    name = "reminder"
    description = "Reminders with a text and a time."
    permissions = frozenset({Permission.SCHEDULER})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.scheduler: Scheduler = context.needs(Permission.SCHEDULER, Scheduler)

    def _settle_add(self, args: dict[str, Any]) -> dict[str, Any]:
        """A text that is only a time ("remind me at 5 pm", planned as text 'at 5 pm') is no text:
        it is left out, so the person is asked what to be reminded of (and it is the time, if
        none was given)."""
        text = args.get("text")
        if text is None or not _only_a_time(text, self.scheduler.local_now(), self.scheduler.zone):
            return args
        out = {k: v for k, v in args.items() if k != "text"}
        when = args.get("when")
        if _reminder_text(text) and not (when and _only_a_time(when, self.scheduler.local_now(), self.scheduler.zone)):
            out["when"] = text  # "set a reminder for 5 pm", planned as text '5 pm' and no time
        return out

    # `when` is asked for after the settling (require_any), not before it: a time planned as the
    # text ("set a reminder for 5 pm", text '5 pm' and no time) becomes the time, and the question
    # is what to be reminded of.
    @tool(settle="_settle_add", require_any=("when",), ask="When should I remind you?")
    def add(
        self,
        text: Annotated[str, Ask("What should I remind you of?"), "what to be reminded of, e.g. call mum"],
        when: Annotated[str | None, "when, as the person said it: 'at 5 pm', 'tomorrow at nine', 'in an hour'"] = None,
    ) -> ToolResult:
        """Remind the person of something at a time."""
        if not when:
            return ToolResult("When should I remind you?", {"error": "no_time"}, ok=False)
        now = self.scheduler.local_now()
        text, when = _split_day_words(_reminder_text(text), when)
        if _only_a_time(text, now, self.scheduler.zone):
            return ToolResult(
                "What should I remind you of? Say it like 'remind me at 5 pm to call mum'.",
                {"error": "no_text", "when": when},
                ok=False,
            )
        try:
            parsed = parse_when(when, now, self.scheduler.zone)
        except TimeNotUnderstood as e:
            return ToolResult(
                f"I didn't get when to remind you: {e}.",
                {"error": "bad_time", "when": when, "reason": str(e)},
                ok=False,
            )
        if parsed.recurrence is not None:
            return ToolResult(
                "I can only remind you once for now; a routine can repeat it.", {"error": "repeating"}, ok=False
            )
        at = parsed.first(now, self.scheduler.zone)
        reminder = self.scheduler.add_reminder(text, at.timestamp(), owner=speaker_name())
        return ToolResult(
            f"I'll remind you to {text} {said_when(at, now)}.",
            {"reminder_id": reminder.id, "at": at.isoformat(timespec="minutes"), "text": text},
        )

    @tool(reads=True)
    def list(self, day: Literal["today", "tomorrow"] | None = None) -> ToolResult:
        """Say the reminders, all that are coming or those of one day."""
        now = self.scheduler.local_now()
        wanted = None if day is None else now.date() + dt.timedelta(days=1 if day == "tomorrow" else 0)
        reminders = [
            r
            for r in theirs(self.scheduler.reminders(include_done=wanted is not None), speaker())
            if wanted is None or self.scheduler.local(r.at).date() == wanted
        ]
        when = f" for {day}" if day else ""
        if not reminders:
            return ToolResult(f"You have no reminders{when}.", {"reminders": []})
        parts = []
        for r in reminders:
            at = self.scheduler.local(r.at)
            moment = f"at {spoken_clock(at.hour, at.minute)}" if wanted else said_when(at, now)
            parts.append(f"{moment}, {r.text}{' (done)' if r.done_at else ''}")
        head = "one reminder" if len(parts) == 1 else f"{len(parts)} reminders"
        return ToolResult(
            f"You have {head}{when}: {'; '.join(parts)}.",
            {
                "reminders": [
                    {"reminder_id": r.id, "text": r.text, "at": r.at, "done": r.done_at is not None} for r in reminders
                ]
            },
        )

    @tool
    def delete(self, text: Annotated[str | None, "words of the reminder to delete"] = None) -> ToolResult:
        """Delete a coming reminder, chosen by its words when there are several."""
        reminders = theirs(self.scheduler.reminders(), speaker())
        if text:
            # By the words that say what it is about: "the" in "feed the cat" must not pick "take the bins out".
            words = _content_words(text)
            reminders = [r for r in reminders if words & _content_words(r.text)]
        if not reminders:
            return ToolResult("I can't find that reminder.", {"deleted": []}, ok=False)
        if len(reminders) > 1:
            listed = " and ".join(f"'{r.text}'" for r in reminders)
            return ToolResult(f"You have reminders {listed}. Which one should I delete?", {"deleted": []}, ok=False)
        self.scheduler.cancel(reminders[0].id)
        return ToolResult(f"Deleted the reminder to {reminders[0].text}.", {"deleted": [reminders[0].id]})

    def due_speech(self, due: Due) -> str | None:
        reminder = due.item
        if not isinstance(reminder, Reminder):
            return None
        if due.reason == "missed":
            at = self.scheduler.local(reminder.at)
            who = reminder.owner or "you"
            return f"While I was off, {who} had a reminder at {spoken_clock(at.hour, at.minute)}: {reminder.text}."
        return f"{reminder.owner}, reminder: {reminder.text}." if reminder.owner else f"Reminder: {reminder.text}."


FUNCTION_WORDS = frozenset(
    "a an the to my me i you your our of for and or in on at by with about from that this it is be".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in FUNCTION_WORDS}


def _only_a_time(text: str, now: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether a reminder's text says nothing but when ("at 5 pm", "tomorrow", "in 10 minutes") or
    nothing at all."""
    words = _reminder_text(text).lower().split()
    if not words or words in (["reminder"], ["a", "reminder"], ["me"], ["something"]):
        return True
    if names_only_a_day(" ".join(words)):
        return True
    try:
        parse_when(" ".join(words), now, zone)
    except TimeNotUnderstood:
        return False
    return True


def _reminder_text(text: str) -> str:
    """ "to call mum" → "call mum"; the person's own words otherwise."""
    text = text.strip().rstrip(".!?")
    for lead in ("to ", "that i need to ", "that i have to ", "me to "):
        if text.lower().startswith(lead):
            text = text[len(lead) :]
    return text


_DAY_LEADS = frozenset({"on", "next", "this", "today", "tonight", "tomorrow", "in", *WEEKDAYS, *MONTHS})
"""Words a day can start with at the end of a reminder's text ("pay rent on the first of January")."""


def _split_day_words(text: str, when: str) -> tuple[str, str]:
    """ "call mum tomorrow" + "9" → "call mum" + "tomorrow 9", "pay rent on the first of January" +
    "9 am" → "pay rent" + "on the first of January 9 am": a template's wildcard cannot tell the day
    from the reminder's words. The longest end of the text that names only a day is moved."""
    words = text.split()
    for start in range(1, len(words)):
        lead = words[start].lower().strip(".,")
        if (
            lead in _DAY_LEADS or lead == "the" and start + 1 < len(words) and words[start + 1].lower() == "day"
        ) and names_only_a_day(" ".join(words[start:])):
            return " ".join(words[:start]).rstrip(","), f"{' '.join(words[start:])} {when}"
    return text, when
