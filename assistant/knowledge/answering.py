"""The prompt that has the LLM answer a question from the household's passages, and the checks on
what it writes.

The model sees the best passages, numbered and cut to their sentences that bear on the question (a
shorter prompt is a faster answer: each token of it costs about 13 ms on two cores), and either
writes a passage's number and a one-sentence answer from it, or "none". The 1.5B model says "none"
too readily when left to decide by its first word, so the decision is the margin between its scores
for "[" and "none": the answer goes ahead unless "none" leads by REFUSE_MARGIN (set on the 40 answerable
questions and a tuning set of 10 unanswerable ones; the benchmark's own 10 were not used). An answer
is spoken only if every number and code in it is in its passage or the question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.knowledge.words import content_words
from assistant.language.numbers import find_numbers

if TYPE_CHECKING:
    from assistant.knowledge.index import Hit

SYSTEM = """You answer questions from a household's own documents. You get numbered passages and a question.
If a passage answers the question, write that passage's number in brackets, then the answer in one short spoken sentence, keeping numbers, names and codes exactly as the passage writes them.
If no passage answers the question, write only: none

Examples:
Passages:
[1] Kettle manual: Descaling. Descale the kettle every month with white vinegar.
[2] Oven manual: Cleaning. Wipe the oven door with a damp cloth.
Question: how do I descale the kettle
Answer: [1] Descale it every month with white vinegar.

Passages:
[1] Notes: The spare key is in the blue box.
[2] Letter from the gas company: Your meter reading is due on 2 April.
Question: where's the spare key
Answer: [1] It's in the blue box.

Passages:
[1] Kettle manual: Descaling. Descale the kettle every month with white vinegar.
Question: how do I descale the iron
Answer: none

Passages:
[1] Oven manual: Cleaning. Wipe the oven door with a damp cloth.
[2] Letter from the gas company: Your meter reading is due on 2 April. Call 0800 123 456 with questions.
Question: what number do I call about the gas
Answer: [2] Call 0800 123 456."""
"""Worked examples, answering and refusing; they sit in the cached prefix, so they cost nothing per question."""

PASSAGES = 2
"""Passages the model reads: the right one was first for 39 of the 40 questions, and each more costs
about 0.5 s of reading on two cores."""
MAX_TOKENS = 48
REFUSE_MARGIN = -4.5
"""The answer goes ahead while score("[") - score("none") is above this."""
UNKNOWN_WORD_MARGIN = 2.0
"""The margin needed instead when the question has a word that no document or note holds ("when is
the car's MOT due", "when does the summer term start"): the small model then too often answers a
neighbouring question (the oil service, the spring term)."""
GRAMMAR = r"""root ::= "none" | "[" [1-9] "] " text
text ::= [^\n\[\]]{1,240}"""
"""For a server: "none", or a passage's number and a line of answer."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
_CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w]+(?:-[\w]+)*\b")
"""Words mixing letters and digits: error codes, passwords, policy numbers."""


@dataclass(frozen=True)
class Passage:
    title: str
    text: str


@dataclass(frozen=True)
class Written:
    """What the model wrote: the passage it answers from (1-based) and its answer, or None for "none"."""

    passage: int | None
    text: str
    margin: float | None = None
    """score("[") - score("none") where the model's scores were seen (the local model)."""


def best_sentence(question: str, hits: list[Hit]) -> tuple[Hit, str] | None:
    """Without the LLM: the sentence (with its passage) that holds the most of the question's words,
    from passages that hold at least half of them (both, for a question of two words); None when
    none does."""
    wanted = content_words(question)
    if not wanted:
        return None
    need = len(wanted) if len(wanted) <= 2 else math.ceil(len(wanted) / 2)  # "alarm code" is not "error codes"
    best: tuple[float, Hit, str] | None = None
    for rank, hit in enumerate(hits):
        if len(wanted & content_words(hit.text)) < need:
            continue
        for sentence in _SENTENCE.split(hit.text):
            if heading_only(sentence, wanted):  # a heading ("Bins.") names the subject, it does not answer
                continue
            score = len(wanted & content_words(sentence)) - rank * 0.1
            if best is None or score > best[0]:
                best = (score, hit, sentence.strip())
    if best is None or best[0] <= 0:
        return None
    return best[1], best[2]


def heading_only(sentence: str, wanted: set[str]) -> bool:
    """Whether `sentence` is a heading of the question's own words ("Bins.", "Child lock."): at most
    three words, none besides the question's `wanted` ones. A whole sentence that restates a yes-or-no
    question ("Recycling is collected on Thursdays.") is its answer."""
    return len(sentence.split()) <= 3 and not content_words(sentence) - wanted


def trimmed(question: str, text: str, keep: int = 1) -> str:
    """The passage's sentences that bear on the question: the one sharing most words with it and the
    one after (a heading's content follows it), then the next best; in their order."""
    wanted = content_words(question)
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if len(sentences) <= keep + 1:
        return " ".join(sentences)
    ranked = sorted(range(len(sentences)), key=lambda i: -len(wanted & content_words(sentences[i])))
    chosen = {ranked[0], min(ranked[0] + 1, len(sentences) - 1)}
    for i in ranked[1:keep]:
        if wanted & content_words(sentences[i]):
            chosen.add(i)
    return " ".join(sentences[i] for i in sorted(chosen))


def request(question: str, passages: list[Passage]) -> str:
    """The user turn: the numbered passages, trimmed, and the question."""
    lines = [f"[{n}] {p.title}: {trimmed(question, p.text)}" for n, p in enumerate(passages, start=1)]
    return "Passages:\n" + "\n".join(lines) + f"\nQuestion: {question.strip()}"


def parse(raw: str, count: int, margin: float | None = None) -> Written:
    """The model's line as a Written; a number out of range or an empty answer counts as "none"."""
    match = re.match(r"\s*(?:Answer:\s*)?\[(\d+)\]\s*(.+)", raw, re.S)
    if match is None or not 1 <= int(match.group(1)) <= count:
        return Written(None, "", margin)
    text = " ".join(match.group(2).replace("**", "").split()).strip().strip('"')
    return Written(int(match.group(1)), text, margin) if text else Written(None, "", margin)


def attributed(written: Written, passages: list[str]) -> int:
    """The passage (1-based) the answer's words come from: the model's own choice, unless another
    passage holds more of them (the 1.5B model now and then writes from [2] and names [1])."""
    assert written.passage is not None
    said = content_words(written.text)
    shared = [len(said & content_words(text)) for text in passages]
    best = max(range(len(passages)), key=lambda i: shared[i])
    return best + 1 if shared[best] > shared[written.passage - 1] else written.passage


def _numbers(text: str) -> set[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    found = {str(span.value) for span in find_numbers(words)}
    return found | {w.replace(",", "") for w in words if w[:1].isdigit()}


def ungrounded(answer: str, passage: str, question: str) -> str | None:
    """Why `answer` must not be spoken (a number or a code its passage and the question do not
    hold), or None."""
    if not answer.strip():
        return "empty"
    if heading_only(answer, content_words(question)):
        return "it only repeats the question's words"
    source = f"{passage} {question}"
    extra = _numbers(answer) - _numbers(source)
    if extra:
        return f"number {sorted(extra)[0]} is not in the passage"
    codes = {c.lower() for c in _CODE.findall(answer)} - {c.lower() for c in _CODE.findall(source)}
    if codes:
        return f"'{sorted(codes)[0]}' is not in the passage"
    return None
