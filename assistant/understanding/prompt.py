"""What the LLM planner is told: a fixed system prompt (cached as KV state) and a short request part.

The system prompt lists every tool's signature and one worked example per tool taken from its own
sentence templates, so the examples can never disagree with what the templates do. Everything that
changes between requests (live names, the previous exchange, the request) goes after it, so the
model's state for the system prompt is computed once, at start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from assistant.language.numbers import find_numbers
from assistant.plugins.api import ToolCall, ToolSpec

INSTRUCTIONS = """You are the understanding step of an offline home voice assistant.
Turn the user's request into exactly one tool call, as JSON: {"<tool name>": {<arguments>}}.
Rules:
- Use only the tools listed below, and only arguments the user actually said: leave out every
  other argument. Never make up a name. Write numbers as digits.
- Speech recognition makes mistakes: read the request as the words that sound alike and make sense.
- If a previous exchange is shown, a short follow-up ("and ...", "... instead", "too") continues it.
- "Names:" lists names in use that the request may mean: give one only if the user says it.
- If no tool can do what the user asks, answer {"none": {}}, even when the request holds a name or
  a number. Never guess a tool for it."""


NONE_EXAMPLES = (
    "order me a pizza",
    "open the window blinds",
    "how far away is the moon",
    "send an email to anna",
    "turn the fan to speed 2",
    "text sam that I'm running 10 minutes late",
)
"""Requests no skill serves, shown as examples of the "none" answer."""


@dataclass(frozen=True)
class PlanContext:
    """What the planner knows besides the words of the request."""

    live: dict[str, list[str]] = field(default_factory=dict)
    """Live names the arguments can take, by slot list (timer_name: pasta, eggs)."""
    previous: str = ""
    """The previous exchange within the follow-up window, one line."""
    question: str = ""
    """A question the assistant just asked, which this request answers."""
    only: tuple[str, ...] = ()
    """Offer only these tools (the answer to a question is for the asked-about tool)."""
    previous_tool: str = ""
    """The tool of the previous exchange: a follow-up may mean it again."""


def describe_call(call: ToolCall) -> str:
    return json.dumps({call.tool: call.args}, separators=(", ", ": "))


def system_prompt(specs: Sequence[ToolSpec], examples: Sequence[ToolCall]) -> str:
    lines = [INSTRUCTIONS, "", "Tools:"]
    for spec in specs:
        lines.append(f"- {spec.signature()}: {spec.description}")
    lines.append("- none: the request is something no tool above can do.")
    if examples:
        lines += ["", "Examples:"]
        for call in examples:
            lines.append(f'"{call.text}" -> {describe_call(call)}')
        for text in NONE_EXAMPLES:
            lines.append(f'"{text}" -> {{"none": {{}}}}')
    return "\n".join(lines)


REQUEST_LEAD = 'Request: "'
"""How the request part begins, whatever follows: the local planner keeps it in the cached system
prompt, so a request evaluates three tokens fewer (~60 ms on two cores)."""


def request_text(text: str, context: PlanContext) -> str:
    """The request part: the request first (after REQUEST_LEAD), then what goes with it."""
    lines = [f'{REQUEST_LEAD}{text.strip()}"']
    # Only names the request seems to mention: listing every live name makes a small model put one
    # into calls that named nothing ("set a timer" became the pasta timer).
    names = {k.replace("_", " "): said for k, said in said_names(context.live, text).items()}
    if names:
        # The instruction that goes with it is in the system prompt: here each token costs ~20 ms.
        lines.append("Names: " + "; ".join(f"{k}s: {', '.join(v)}" for k, v in sorted(names.items())))
    if context.previous:
        lines.append(f"Previous exchange: {context.previous}")
    if context.question:
        lines.append(f'The assistant asked: "{context.question}"')
    return "\n".join(lines)


_NAME_WORD = re.compile(r"[a-z0-9']+")
_SAID_NAME = 85
"""rapidfuzz ratio at which a name counts as said: against runs of the request's words of about its
length, so "stereo" is not said in "turn on the toaster" (a partial match of any 6 letters was)."""


def said_names(live: dict[str, list[str]], text: str) -> dict[str, list[str]]:
    """The live names `text` seems to say, by list, less those said only inside a longer one.

    "the kitchen light" says the device, not the room "kitchen" too: listed, the room made the model
    write `"room": "kitchen"` after the device (three model calls, ~0.15 s, for an argument the device
    already settles), and the request part was four tokens longer."""
    found = {key: said for key, names in live.items() if (said := _mentioned(names, text))}
    every = [name for said in found.values() for name in said]
    kept: dict[str, list[str]] = {}
    for key, said in found.items():
        alone = [name for name in said if _said_alone(name, [n for n in every if n != name], text)]
        if alone:
            kept[key] = alone
    return kept


def _said_alone(name: str, others: list[str], text: str) -> bool:
    """Whether `name` is said in `text` outside every longer name that holds its words and is said
    word for word: the words between those names are looked at piece by piece."""
    words = _NAME_WORD.findall(name.lower())
    pieces = [_NAME_WORD.findall(text.lower())]
    for other in others:
        holder = _NAME_WORD.findall(other.lower())
        n = len(holder)
        if n <= len(words) or not any(holder[i : i + len(words)] == words for i in range(n - len(words) + 1)):
            continue
        split = []
        for piece in pieces:
            start = 0
            for i in range(len(piece) - n + 1):
                if i >= start and piece[i : i + n] == holder:
                    split.append(piece[start:i])
                    start = i + n
            split.append(piece[start:])
        pieces = split
    return any(_mentioned([name], " ".join(piece)) for piece in pieces if piece)


def _mentioned(names: list[str], text: str) -> list[str]:
    words = _NAME_WORD.findall(text.lower())
    said = []
    for name in names:
        wanted = " ".join(_NAME_WORD.findall(name.lower()))
        size = len(wanted.split())
        if not size:
            continue
        runs = {
            " ".join(words[i : i + k]) for k in range(max(1, size - 1), size + 2) for i in range(len(words) - k + 1)
        }
        if any(fuzz.ratio(wanted, run) >= _SAID_NAME for run in runs):
            said.append(name)
    return said


_WORD = re.compile(r"[a-z]+")

_GENERIC = frozenset(
    """
a an the and or but of to in on at for from by with about into as is are was were be been being am do does did done
can could would will shall should may might must please hey jarvis you your me my i we our us it its this that these
those what whats which who how when where why there here now just so then than too also very really ok okay
set make give get put let tell show say start stop check change turn go know want need like have has had
up down out off over some any one other each not no yes
many last new read whether
""".split()
)
"""Words that say nothing about which tool is meant ("set", "what", "please"). The last line's were
telling words of no tool that out-of-domain requests shared with one: "how many calories are in an
apple" (how many photos), "who won the game last night" (undo the last move), "read me the news"
(new files; learning a voice reads sentences), "what's the weather like" (whether a light is on)."""
_VERBS = frozenset("set make give get put tell show start stop check change turn".split())
"""Generic verbs: never enough to make a tool relevant, but among tools that are, the one whose
sentences use the request's verb goes first ("start the kettle timer": timer.start, not timer.pause)."""


def _content_words(text: str) -> set[str]:
    """The words of `text` that can tell tools apart: not generic, not a number."""
    words = _WORD.findall(text.lower())
    numbers = {w for span in find_numbers(words) for w in words[span.start : span.end]}
    return {w.removesuffix("s") for w in words if len(w) > 2 and w not in _GENERIC and w not in numbers}


def _said_words(text: str) -> tuple[str, ...]:
    """Every word of `text` in order, singular as `_content_words` has them: what a declared phrase is
    looked for in ("don't" is "don", "t" in both)."""
    return tuple(w.removesuffix("s") for w in _WORD.findall(text.lower()))


MAX_DECLARED = 24
"""Words and phrases a skill may declare for one tool: enough for the ways a household asks for it,
too few for a skill to make itself relevant to every request."""
MAX_PHRASE_WORDS = 5
MAX_PHRASE_CHARS = 40
_DECLARED = re.compile(r"[a-z]+(?:(?:'|-| )[a-z]+)*")


def declared_fault(entry: object) -> str | None:
    """Why `entry` cannot be one of the words a skill declares for a tool (its sentence file's
    `words:`), or None: lower-case letters, a space, an apostrophe or a hyphen between words, at most
    MAX_PHRASE_WORDS words, and a word alone must tell tools apart ("get" or "seven" never could)."""
    if not isinstance(entry, str) or not _DECLARED.fullmatch(entry):
        return "only lower-case letters, with a space, an apostrophe or a hyphen between words"
    if len(entry) > MAX_PHRASE_CHARS or len(re.split("[ -]", entry)) > MAX_PHRASE_WORDS:
        return f"at most {MAX_PHRASE_WORDS} words and {MAX_PHRASE_CHARS} characters"
    if len(_said_words(entry)) == 1 and not _content_words(entry):
        return "a generic or short word alone says nothing of a tool (use it in a phrase)"
    return None


@dataclass
class ToolPhrases:
    """What the templates say about each tool, for picking the tools a request may mean."""

    sentences: dict[str, list[str]] = field(default_factory=dict)
    """Sampled template sentences by tool, live names left out."""
    live_lists: dict[str, set[str]] = field(default_factory=dict)
    """The live lists (timer_name) each tool's sentences use."""
    words: dict[str, list[str]] = field(default_factory=dict)
    """The words and short phrases people use for each tool that its templates do not say, as its
    skill declares them (`words:` in the sentence file): "rouse", "get me up" for alarm.set."""


class ToolIndex:
    """The tools worth offering for a request.

    A tool is relevant when the request shares a telling word (fuzzily, for speech-to-text's
    spelling) with the tool's name, description, argument names, template sentences or the words its
    skill declares for it, says one of the phrases its skill declares ("get me up"), or names a live
    item (a timer called pasta) its sentences take. A request relevant to no tool gets an honest
    "none" without asking the LLM: a small model otherwise guesses a tool for it ("book a table for
    two" became a timer). When more tools are relevant than `limit`, those sharing the most words
    are offered."""

    def __init__(self, specs: Sequence[ToolSpec], phrases: ToolPhrases, limit: int) -> None:
        self.specs = list(specs)
        self.limit = limit
        self._lists = phrases.live_lists
        # A declared word goes into the bag like a template's; a phrase counts only whole and in
        # order: "write down" makes no tool relevant to "write an email", nor "get me up" to "get me a drink".
        declared = {s.qualified: phrases.words.get(s.qualified, []) for s in self.specs}
        alone = {tool: [w for w in said if len(_said_words(w)) == 1] for tool, said in declared.items()}
        self._phrases = {
            tool: [_said_words(w) for w in said if len(_said_words(w)) > 1] for tool, said in declared.items()
        }
        self._bags = {
            s.qualified: _content_words(
                " ".join(
                    [
                        s.qualified.replace("_", " ").replace(".", " "),
                        s.description,
                        *(p.name.replace("_", " ") for p in s.params),
                        *phrases.sentences.get(s.qualified, []),
                        *alone[s.qualified],
                    ]
                )
            )
            for s in self.specs
        }
        self._own = {tool: bag | _content_words(" ".join(declared[tool])) for tool, bag in self._bags.items()}
        self._verbs = {
            s.qualified: self._verbs_of(
                " ".join(
                    [
                        s.qualified.replace("_", " ").replace(".", " "),
                        *phrases.sentences.get(s.qualified, []),
                        *declared[s.qualified],
                    ]
                )
            )
            for s in self.specs
        }

    def _verbs_of(self, text: str) -> set[str]:
        return set(_WORD.findall(text.lower())) & _VERBS

    def words(self, tool: str) -> set[str]:
        """The telling words people use for `tool` (singular: "timer", "minute"), those of its
        declared phrases included ("jot" of "jot down")."""
        return self._own.get(tool, set())

    def _phrase_said(self, said: tuple[str, ...], tool: str) -> bool:
        """Whether the request's words (`said`) hold one of the tool's declared phrases, in order."""
        return any(
            said[i : i + len(phrase)] == phrase
            for phrase in self._phrases[tool]
            for i in range(len(said) - len(phrase) + 1)
        )

    def _overlap(self, words: set[str], tool: str) -> int:
        """Two points for each word the tool's bag holds as it is, one for a near spelling: "timer"
        is near "time", so without the difference the clock's tools crowd out the timer's."""
        bag = self._bags[tool]
        return sum(
            2 if w in bag else 1
            for w in words
            if w in bag
            or (
                len(w) >= _FUZZY_MIN_LEN
                and process.extractOne(w, bag, scorer=fuzz.ratio, score_cutoff=_NEAR_WORD) is not None
            )
        )

    def offer(self, text: str, context: PlanContext | None = None) -> list[ToolSpec]:
        context = context or PlanContext()
        if context.only:
            return [s for s in self.specs if s.qualified in context.only]
        words = _content_words(text)
        said = _said_words(text)
        named = {name for name, values in context.live.items() if _mentioned(values, text)}
        scores = {
            s.qualified: self._overlap(words, s.qualified)
            + (_LIVE_POINTS if self._lists.get(s.qualified, set()) & named else 0)
            + (_PHRASE_POINTS if self._phrase_said(said, s.qualified) else 0)
            for s in self.specs
        }
        # The tool just used is offered again for a follow-up that names nothing ("and the other
        # one"), never for a request whose own words no tool knows ("turn on the toaster").
        if context.previous_tool in scores and (not words or any(scores.values())):
            scores[context.previous_tool] += 2
        relevant = [s for s in self.specs if scores[s.qualified] > 0]
        if len(relevant) > self.limit:
            verbs = self._verbs_of(text)
            relevant = sorted(relevant, key=lambda s: (-scores[s.qualified], -len(verbs & self._verbs[s.qualified])))
            relevant = relevant[: self.limit]
        return sorted(relevant, key=lambda s: s.qualified)


_LIVE_POINTS = 4
"""For a live name the tool's sentences take (a timer called pasta): two telling words' worth."""
_PHRASE_POINTS = 6
"""For a phrase the tool's skill declares ("jot down"): three telling words' worth, more than a live
name, so that among more relevant tools than the limit, the one the request asked for in so many
words is offered ("jot down buy eggs" names the eggs timer too)."""
_FUZZY_MIN_LEN = 5
"""Shorter words must match exactly: "call" is not "all"."""
_NEAR_WORD = 85
"""rapidfuzz ratio at which two words count as the same word misspelled ("timmer", "timers")."""
