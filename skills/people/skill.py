"""The household's voices, by voice: "who am I?", "learn my voice" (three sentences read aloud, then
the voice is told apart), "forget my voice". The voice loop hands the readings to the enrolment
(plugins.api.hand_next_turns); a typed request cannot be learned from and is told so."""

from __future__ import annotations

from typing import Annotated

from assistant.core.errors import SkillError
from assistant.people.household import Household
from assistant.people.voiceprints import PeopleError
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, hand_next_turns, speaker, tool

LEARN_HOW = 'say "learn my voice" to me, or use `assistant people enroll`'


class PeopleSkill(Skill):
    name = "people"
    description = "Knows the household's voices: says whose voice is speaking, learns a voice read aloud, forgets one."
    permissions = frozenset({Permission.PEOPLE})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.household = context.needs(Permission.PEOPLE, Household)

    @tool(reads=True)
    def who_am_i(self) -> ToolResult:
        """Say whose voice is speaking."""
        who = speaker()
        if who is None:
            if self.household.knows_voices():
                return ToolResult("I can tell voices apart only when you speak to me.")
            return ToolResult(f"I don't know anyone's voice yet. To teach me yours, {LEARN_HOW}.")
        if who.name is None and who.unsure:
            return ToolResult("I'm not sure whose voice this is. Ask me again in a whole sentence.")
        if who.name is None:
            return ToolResult("I don't know your voice. Say \"learn my voice\" and I'll learn it.")
        return ToolResult(f"You sound like {who.name}.", data={"person": who.name, "role": who.role})

    @tool
    def learn_voice(self, name: Annotated[str, Ask("What's your name?"), "the speaker's name"]) -> ToolResult:
        """Learn the speaker's voice: they read three sentences aloud."""
        try:
            enrolment = self.household.enrolment(name, speaker())
        except PeopleError as e:
            raise SkillError(e.message, code="people") from None
        if not hand_next_turns(enrolment):
            raise SkillError(
                'I learn a voice only from speech: say "learn my voice" to me, or hold to talk on the phone '
                "page and say it, or use `assistant people enroll`",
                code="people",
            )
        return ToolResult(enrolment.opening(), data={"name": enrolment.name, "role": enrolment.role})

    @tool(risky=True, confirm="Forget your voice?")
    def forget_voice(self) -> ToolResult:
        """Forget the speaker's voice."""
        who = speaker()
        if who is None or who.name is None:
            raise SkillError("I don't know your voice, so there is nothing to forget.", code="people")
        if not self.household.forget(who.name, f"voice:{who.name}"):
            raise SkillError(f"I no longer have {who.name}'s voice.", code="people")
        return ToolResult(f"I've forgotten your voice, {who.name}.", data={"person": who.name})
