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

from rapidfuzz import fuzz

from assistant.plugins.api import ToolCall, ToolSpec

INSTRUCTIONS = """You are the understanding step of an offline home voice assistant.
Turn the user's request into exactly one tool call, as JSON: {"<tool name>": {<arguments>}}.
Rules:
- Use only the tools listed below, and only arguments the user actually said: leave out every
  other argument. Never make up a name. Write numbers as digits.
- Speech recognition makes mistakes: read the request as the words that sound alike and make sense.
- If a previous exchange is shown, a short follow-up ("and ...", "... instead", "too") continues it.
- If no tool can do what the user asks, answer {"none": {}}, even when the request holds a name or
  a number. Never guess a tool for it."""


NONE_EXAMPLES = ("order me a pizza", "open the window blinds", "how far away is the moon", "send an email to anna",
                 "turn the fan to speed 2", "text sam that I'm running 10 minutes late")
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


def describe_call(call: ToolCall) -> str:
    return json.dumps({call.tool: call.args}, separators=(", ", ": "))


def system_prompt(specs: Sequence[ToolSpec], examples: Sequence[ToolCall]) -> str:
    lines = [INSTRUCTIONS, "", "Tools:"]
    for spec in specs:
        lines.append(f"- {spec.signature()}: {spec.description}")
    lines.append('- none: the request is something no tool above can do.')
    if examples:
        lines += ["", "Examples:"]
        for call in examples:
            lines.append(f'"{call.text}" -> {describe_call(call)}')
        for text in NONE_EXAMPLES:
            lines.append(f'"{text}" -> {{"none": {{}}}}')
    return "\n".join(lines)


def request_text(text: str, context: PlanContext) -> str:
    lines = []
    # Only names the request seems to mention: listing every live name makes a small model put one
    # into calls that named nothing ("set a timer" became the pasta timer).
    names = {k.replace("_", " "): mentioned for k, v in context.live.items() if (mentioned := _mentioned(v, text))}
    if names:
        lines.append("Names in use (give one only if the user says it): "
                     + "; ".join(f"{k}s: {', '.join(v)}" for k, v in sorted(names.items())))
    if context.previous:
        lines.append(f"Previous exchange: {context.previous}")
    if context.question:
        lines.append(f'The assistant asked: "{context.question}"')
    lines.append(f'Request: "{text.strip()}"')
    return "\n".join(lines)


def _mentioned(names: list[str], text: str) -> list[str]:
    lowered = text.lower()
    return [n for n in names if fuzz.partial_ratio(n.lower(), lowered) >= 80]


_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> set[str]:
    return {w.removesuffix("s") for w in _WORD.findall(text.lower()) if len(w) > 2}


class ToolIndex:
    """Picks the tools worth offering for a request when there are too many to offer all:
    word overlap with each tool's name, description, argument names and template sentences."""

    def __init__(self, specs: Sequence[ToolSpec], phrases: dict[str, list[str]], limit: int) -> None:
        self.specs = list(specs)
        self.limit = limit
        self._bags = {
            s.qualified: _words(" ".join([s.qualified.replace("_", " ").replace(".", " "), s.description,
                                          *(p.name for p in s.params), *phrases.get(s.qualified, [])]))
            for s in self.specs
        }

    def offer(self, text: str, only: tuple[str, ...] = ()) -> list[ToolSpec]:
        if only:
            return [s for s in self.specs if s.qualified in only]
        if len(self.specs) <= self.limit:
            return self.specs
        words = _words(text)
        ranked = sorted(self.specs, key=lambda s: -len(words & self._bags[s.qualified]))
        return sorted(ranked[: self.limit], key=lambda s: s.qualified)
