"""The household's voices, by voice: "who am I?", "learn my voice" (three sentences read aloud, then
the voice is told apart), "forget my voice", and an adult's "make Ben an adult". The voice loop hands the readings to the enrolment
(plugins.api.hand_next_turns); a typed request cannot be learned from and is told so."""

from __future__ import annotations

from typing import Annotated, Any

from assistant.core.errors import SkillError
from assistant.language.lists import and_list
from assistant.people.enrolment import NobodyCalled
from assistant.people.household import Household
from assistant.people.voiceprints import PeopleError, a_role
from assistant.plugins.api import (
    Ask,
    Permission,
    Skill,
    SkillContext,
    Speaker,
    ToolResult,
    asked_from,
    hand_next_turns,
    said,
    speaker,
    tool,
)

_ME = {"me", "myself", "i"}
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

    @tool(confirm="Should I learn your voice as {name}?", settle="_settle_new_name")
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

    @tool(risky=True, confirm="Give {name} the role {role}?", roles=("adult",), settle="_settle_name")
    def set_role(
        self,
        name: Annotated[str, Ask("Whose role?"), "an enrolled person's name"],
        role: Annotated[str, Ask("Which role: adult, child or guest?"), "adult, child or guest"],
    ) -> ToolResult:
        """Give an enrolled person another role (adult, child or guest): what they may ask for."""
        who = speaker()
        by = _by(who)
        try:
            person, was = self.household.set_role(name, role, by)
        except PeopleError as e:
            raise SkillError(e.message, code="people") from None
        if person.role == was:
            return ToolResult(
                f"{person.name} is {a_role(person.role)} already.", data={"person": person.name, "role": was}
            )
        return ToolResult(
            f"{person.name} is {a_role(person.role)} now.",
            data={"person": person.name, "role": person.role, "was": was},
        )

    def _settle_forget(self, args: dict[str, Any]) -> dict[str, Any]:
        """Before "Forget your voice?" is asked: a voice too briefly heard to tell ("forget my voice" is
        about a second) is asked for a whole sentence, and one nobody enrolled is told so."""
        who = speaker()
        if who is not None and who.name is None and who.unsure:
            raise PeopleError(
                "I'm not sure whose voice this is. Say it again in a whole sentence, such as "
                '"please forget my voice now".'
            )
        if who is not None and who.name is None and said():
            raise PeopleError("I don't know your voice, so there is nothing to forget.")
        return args

    def _settle_new_name(self, args: dict[str, Any]) -> dict[str, Any]:
        """A name heard in lower case is written with capitals, as it will be learned ("anna": Anna)."""
        name = args.get("name")
        return {**args, "name": name.strip().title()} if isinstance(name, str) and name.islower() else args

    def _settle_name(self, args: dict[str, Any]) -> dict[str, Any]:
        """The name as enrolled ("ben" heard is Ben; "me" is the speaker), so the question asks about
        the person by name. While a request is served, a name nobody enrolled is answered before any
        question (a PeopleError is the skill's own reason, said as it is); the understanding's own
        checks of the examples ("make Ben an adult") serve none, and the tool refuses the name itself."""
        name = args.get("name")
        if not isinstance(name, str):
            return args
        serving = bool(said())
        who = speaker()
        if name.strip().casefold() in _ME and who is not None and who.name is not None:
            name = who.name
        elif name.strip().casefold() in _ME and serving:
            raise PeopleError("I can't tell whose role that is: say the person's name")
        known = self.household.find(name)
        if known is None and serving:
            raise NobodyCalled(name.strip().title())
        return {**args, "name": known.name if known is not None else name.strip().title()}

    @tool(risky=True, confirm="Forget your voice?", settle="_settle_forget")
    def forget_voice(self) -> ToolResult:
        """Forget the speaker's voice."""
        who = speaker()
        if who is None or who.name is None:
            self._settle_forget({})
            raise SkillError("I don't know your voice, so there is nothing to forget.", code="people")
        kept = self.household.forget(who.name, _by(who), by_adult=who.role == "adult")
        if kept is None:
            raise SkillError(f"I no longer have {who.name}'s voice.", code="people")
        # They stay theirs: a new voice is not learned under the name while they do (people/household.py).
        stays = f" Kept under your name: {and_list(kept)}." if kept else ""
        return ToolResult(f"I've forgotten your voice, {who.name}.{stays}", data={"person": who.name, "kept": kept})


def _by(who: Speaker | None) -> str:
    """Who asked, for the audit trail: where from ("voice", "phone", "text", "routine") and, when told,
    the name ("voice:Anna"; "phone paired as Anna"; "phone" for an admin phone)."""
    origin = asked_from() or "text"
    if who is None or not who.name:
        return origin
    # "phone:NAME" is a phone's own name in the pairing records (web/pairing.py)
    return f"phone paired as {who.name}" if origin == "phone" else f"{origin}:{who.name}"
