"""A correction of a request the assistant put back as a question: "Dim the bedroom light to thirty
percent?" — "no, the kitchen light" (or "no, forty percent") is the same request with one thing said
differently. The misheard part is swapped in the request's own words and the result matched by the
sentence templates again, so a correction is understood exactly as the whole sentence would be, and
only the same tool is ever taken from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Protocol

from assistant.language.numbers import find_numbers
from assistant.plugins.api import ToolCall

_WORD = re.compile(r"[\w'%-]+")
_ARTICLES = ("the ", "my ", "a ", "an ")


class Templates(Protocol):
    def match_templates(self, text: str, live: dict[str, list[str]]) -> ToolCall | None: ...


def corrected(call: ToolCall, correction: str, templates: Templates, live: dict[str, list[str]]) -> ToolCall | None:
    """`call` with what `correction` puts right, understood by the templates as a whole sentence; None
    when the correction fits no argument of it (then it is a request of its own)."""
    for text in _rewordings(call, correction):
        fixed = templates.match_templates(text, live)
        if fixed is not None and fixed.tool == call.tool and fixed.args != call.args:
            return replace(fixed, text=text)
    return None


def _rewordings(call: ToolCall, correction: str) -> Iterator[str]:
    """The request's words with one argument's words replaced by the correction's."""
    said = " ".join(_WORD.findall(correction.lower()))
    named = said
    for article in _ARTICLES:
        named = named.removeprefix(article)
    numbers = find_numbers(said.split())
    for value in call.args.values():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            if len(numbers) == 1:
                words = said.split()
                yield from _swap_number(call.text, value, " ".join(words[numbers[0].start : numbers[0].end]))
        elif isinstance(value, str) and named:
            yield from _swap_words(call.text, value, named)


def _swap_words(text: str, old: str, new: str) -> Iterator[str]:
    found = re.search(rf"(?i)\b{re.escape(old)}\b", text)
    if found is not None and old.lower() != new:
        yield f"{text[: found.start()]}{new}{text[found.end() :]}"


def _swap_number(text: str, old: Any, new: str) -> Iterator[str]:
    words = text.split()
    bare = [w.lower().strip(".,!?;:") for w in words]
    for span in find_numbers(bare):
        if span.value == old:
            yield " ".join([*words[: span.start], new, *words[span.end :]])
            return
