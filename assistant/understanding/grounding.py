"""Keeps only the arguments a request actually gave.

A small model fills optional arguments it was not given: 0 or "", a made-up name ("timer1"), the
request itself as a name ("alert me in ninety seconds"), or a number nobody said ("vacuum the living
room" became a 90 minute timer). An optional argument (default None, "not given") survives only when
the request grounds it; required ones are left to validation, which names what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Any

from rapidfuzz import fuzz, process

from assistant.language.numbers import UNIT_SECONDS, find_numbers
from assistant.plugins.api import Param, ToolSpec

_WORD = re.compile(r"[a-z]+|\d+")
_HEARD_WORD = 80
"""rapidfuzz ratio at which a word of a name counts as said (speech-to-text spells names its own way)."""
_FILLER = frozenset("a an the my our your of for to on in at is it and called named".split())
_CLOCK = frozenset("am pm".split())
"""How the model writes a time ("7 am tomorrow" for "seven tomorrow"), not words it must have heard."""
_MAX_NAME_WORDS = 4


def grounded(
    spec: ToolSpec, args: dict[str, Any], text: str, tool_words: AbstractSet[str] = frozenset()
) -> dict[str, Any]:
    """`args` without the optional ones the request (`text`) does not ground. `tool_words` are the
    words people use to ask for the tool ("timer", "countdown"): a name made of them is no name."""
    words = _WORD.findall(text.lower())
    said = _said_numbers(words)
    out: dict[str, Any] = {}
    for name, value in _units_as_said(spec, args, words).items():
        if name == "name" and isinstance(value, str):
            value = _without_own_noun(value, spec.qualified.split(".")[0])
        try:
            param = spec.param(name)
        except KeyError:
            out[name] = value  # validation names the bad argument
            continue
        free_text = isinstance(value, str) and param.choices is None
        if param.required and free_text and not _all_heard(value, words, tool_words):
            continue  # "good morning" for "I need to get up at 6 tomorrow morning": ask which instead
        if isinstance(value, bool):
            if value == param.default or _switch_said(param, words):
                out[name] = value
            continue  # "shuffle" nobody asked for ("put on a bit of classical")
        optional = not param.required and param.default is None
        if not optional:
            out[name] = value
            continue
        if value in (0, ""):
            continue
        if isinstance(value, (int, float)) and value not in said:
            continue
        if free_text and not _names_something_said(value, words, tool_words, {p.name for p in spec.params}):
            continue
        out[name] = value
    return out


_ASKS_ABOUT_US = re.compile(
    r"^(?:(?:do|does|did|am|is|are|was|were|will|should|shall|have|has)\s+(?:i|we|there|my|our)\b"
    r"|(?:when|what time|how long|how early)\s+(?:do|does|did|will|should|shall|am|is|are)\s+(?:i|we)\b)"
)


def asks_rather_than_tells(spec: ToolSpec, text: str) -> bool:
    """Whether a question about the speaker's own day or home ("do I need to be up before seven
    tomorrow?", "is there anything on tonight?", "when do I have to leave?") was planned as a tool that
    changes something: the model set an alarm for seven. A question asked of the assistant ("can you
    set an alarm", "will you turn it off") is a request, and does not match."""
    return not spec.reads and _ASKS_ABOUT_US.match(text.strip().lower()) is not None


def echoes_the_request(spec: ToolSpec, args: dict[str, Any], text: str) -> bool:
    """Whether a required free-text argument is the whole request (of two words or more): the model had
    nothing to go on and copied the request into a tool that takes text ("send a message to john"
    announced, "call mom" made a reminder). A tool asked for is said with words of its own ("remind me
    to …", "announce that …"), which its argument leaves out."""
    heard = _WORD.findall(text.lower())
    return len(heard) >= 2 and any(
        p.required
        and p.choices is None
        and isinstance(args.get(p.name), str)
        and _WORD.findall(str(args[p.name]).lower()) == heard
        for p in spec.params
    )


def _without_own_noun(value: str, noun: str) -> str:
    """ "eggs timer" names the timer "eggs": the skill's own noun at the end of a name is how people
    say it, not part of the name (the skills look names up the same way)."""
    words = value.split()
    if len(words) > 1 and words[-1].lower().rstrip(".,") in (noun, noun + "s"):
        return " ".join(words[:-1])
    return value


def _switch_said(param: Param, heard: list[str]) -> bool:
    """A yes/no option away from its default was asked for: its name or a telling word of its
    description was said ("shuffle", "a smart album")."""
    telling = [w for w in _value_words(f"{param.name} {param.description}") if w not in _FILLER and len(w) > 2]
    return any(_heard(w, heard) for w in telling)


def _units_as_said(spec: ToolSpec, args: dict[str, Any], heard: list[str]) -> dict[str, Any]:
    """A number the model put under the wrong unit goes where the request said it: "in ninety
    seconds" given as minutes=90 becomes seconds=90 (when the tool has both)."""
    units = {p.name.removesuffix("s"): p.name for p in spec.params if p.kind in (int, float)}
    out = dict(args)
    for span in find_numbers(heard):
        after = heard[span.end].removesuffix("s") if span.end < len(heard) else ""
        target = units.get(after)
        if target is None or out.get(target) is not None:
            continue
        wrong = [n for n in units.values() if n != target and out.get(n) == span.value]
        if len(wrong) == 1:
            out[target] = out.pop(wrong[0])
    return out


def _all_heard(value: str, heard: list[str], tool_words: AbstractSet[str]) -> bool:
    """Every telling word of a required text was said (numbers and filler aside)."""
    telling = [w for w in _value_words(value) if w not in _FILLER and w not in _CLOCK and not find_numbers([w])]
    return all(w.removesuffix("s") in tool_words or _heard(w, heard) for w in telling)


def _value_words(value: str) -> list[str]:
    return _WORD.findall(value.lower().replace("_", " "))


def _heard(word: str, heard: list[str]) -> bool:
    """Said, as speech-to-text may have spelled it."""
    return word in heard or process.extractOne(word, heard, scorer=fuzz.ratio, score_cutoff=_HEARD_WORD) is not None


def said_integers(text: str) -> frozenset[int]:
    """The whole numbers `text` says, as grounding counts them ("an hour" says 1, "half" 30)."""
    return frozenset(int(n) for n in _said_numbers(_WORD.findall(text.lower())) if n >= 0 and float(n).is_integer())


def _said_numbers(words: list[str]) -> set[float]:
    """Every number the words say, with what "an hour and a half" or "a couple of minutes" means."""
    said: set[float] = {span.value for span in find_numbers(words)}
    present = set(words)
    if any(
        w in ("a", "an", "one") and nxt.removesuffix("s") in UNIT_SECONDS
        for w, nxt in zip(words, words[1:], strict=False)
    ):
        said.add(1)  # "an hour", "a minute"; not any "a" ("run a man timer")
    if "half" in present:
        said.add(30)
    if "quarter" in present:
        said.update((15, 45))
    if "couple" in present:
        said.add(2)
    if "few" in present:
        said.add(3)
    return said


def _names_something_said(value: str, heard: list[str], tool_words: AbstractSet[str], arg_names: set[str]) -> bool:
    """True when `value` is a name the request said: every word heard (fuzzily), no number or word of
    another argument in it ("too minutes" is a duration, not a name), and something left once the
    words that ask for the tool itself are taken away ("countdown", "timer 1")."""
    words = _value_words(value)
    if not words or len(words) > _MAX_NAME_WORDS:
        return False
    singular = {n.removesuffix("s") for n in arg_names}
    if find_numbers(words) or any(w.removesuffix("s") in singular for w in words):
        return False
    telling = [w for w in words if w not in _FILLER and w.removesuffix("s") not in tool_words]
    if not telling:
        return False
    return all(_heard(w, heard) for w in telling)
