"""Closed-vocabulary hearing, part two: the speech model decides which template sentence was said.

Speech-to-text's free reading of a request is often one word off ("Vim the bedroom light to 30%.",
"Play some jars."), and matching a wrong reading makes a wrong action. Here the shortlisted template
sentences (`candidates.py`) and the free readings are all scored by the speech model itself on the
audio it has already encoded: the mean log-probability per token of each, teacher-forced. The best
sentence wins if it is nearly as likely as the free reading speech-to-text chose (a sentence far less
likely than what was heard was not said: a reminder's own words, a question, another language), and its confidence says
how sure the audio is of it against the nearest sentence that means something else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from assistant.language.numbers import numbers_said
from assistant.plugins.api import ToolCall
from assistant.understanding.candidates import SOUND_ALIKE_NUMBERS, Candidate, CandidateShortlist, spoken_form
from assistant.understanding.matcher import TemplateMatcher

log = logging.getLogger(__name__)

Scorer = Callable[[list[str], bool], list[list[float]]]
"""Sentences → the log-probability of each of their tokens on the request's audio; the flag: on the
whole 30 s window rather than the audio alone (slower, surer)."""

SURE_GAP = 2.5
"""A rival this much less likely (whole-sentence log-probability) leaves no doubt: no re-scoring."""

OTHER_NUMBERS = 0.6
"""The most confidence a sentence whose numbers the chosen reading did not hold can carry: "Check the
timer for 1 hour." (said: "set a timer for", over a fan) was taken as "Set the timer for 2 minutes."
at 0.87 and run."""

CUT_SHORT = -3.5
"""A sentence whose final punctuation the audio makes this unlikely (log-probability) stops before
the words do: "Set a timer for 8 minutes." for "…8 minutes for the pasta" scored -4.2 to -5.0 there,
against -2.6 at worst for the right sentences of 190 clips (a dropped "please"). It is asked about,
never acted on at once: a word said is never silently dropped."""


@dataclass(frozen=True)
class Scored:
    text: str
    logprobs: list[float]

    @property
    def mean(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else float("-inf")


@dataclass(frozen=True)
class Recognised:
    """The template sentence the audio holds, and how sure of it the audio is."""

    call: ToolCall
    """The call the sentence makes; its `score` is the confidence, its `text` the sentence as written."""
    deficit: float
    """How far the sentence's mean log-probability per token is below the free reading's (≤ 0: above it)."""
    rival_gap: float | None
    """How much less likely (log-probability, whole sentence) the best sentence meaning something else
    is; None when no other sentence was in the running."""
    ending: float = 0.0
    """The log-probability of the sentence's final punctuation: far below zero when the audio goes
    on after the sentence (words said that it leaves out)."""


class ClosedVocabulary:
    def __init__(self, matcher: TemplateMatcher, reject_deficit: float = 1.0, per_reading: int = 4) -> None:
        """reject_deficit: a sentence whose mean log-probability per token is more than this below the
        free reading's was not said (the probe: 1.0-1.25 rejected every out-of-grammar clip)."""
        self.matcher = matcher
        self.shortlist = CandidateShortlist(matcher, per_reading)
        self.reject_deficit = reject_deficit

    def recognise(self, readings: list[str], score: Scorer, live: dict[str, list[str]]) -> Recognised | None:
        """The template sentence among the nearest to `readings` (speech-to-text's, best first) that
        the audio holds, or None when none is nearly as likely as what was heard freely."""
        readings = [r.strip() for r in readings if r.strip()]
        if not readings:
            return None
        candidates = self.shortlist.shortlist(readings, live)
        if not candidates:
            return None
        # Cheap first: every candidate on the encoder output of the audio alone; then, only when the
        # best and the nearest sentence meaning something else are close, both again with the free
        # readings on the whole window (a few points surer, five times the cost).
        heard = readings[0]  # the reading speech-to-text chose; the others only bring candidates
        texts = [c.written for c in candidates] + [heard]
        first = {t: Scored(t, lp) for t, lp in zip(texts, score(texts, False), strict=False)}
        spoken = {spoken_form(r) for r in readings}
        finalists: list[tuple[Scored, ToolCall]] = []
        for candidate in sorted(candidates, key=lambda c: first[c.written].mean, reverse=True):
            call = self._call(candidate, spoken, live)
            if call is None:
                continue
            finalists.append((first[candidate.written], call))
            if (call.tool, call.args) != (finalists[0][1].tool, finalists[0][1].args):
                break
        if not finalists:
            return None
        free = first[heard].mean
        best, rival = finalists[0], finalists[-1] if len(finalists) > 1 else None  # the loop stops at a different call
        if rival is not None and _gap(best[0], rival[0]) < SURE_GAP:
            again = [best[0].text, rival[0].text, heard]
            second = {t: Scored(t, lp) for t, lp in zip(again, score(again, True), strict=False)}
            free = second[heard].mean
            best, rival = sorted(
                [(second[best[0].text], best[1]), (second[rival[0].text], rival[1])],
                key=lambda pair: pair[0].mean,
                reverse=True,
            )
        return self._decide(best, free, rival[0] if rival is not None else None, numbers_said(heard))

    def _call(self, candidate: Candidate, spoken: set[str], live: dict[str, list[str]]) -> ToolCall | None:
        # A generic sentence ("turn on the light", `fuzzy: false`) is taken only when it is what was
        # heard word for word: near it are requests naming something the home does not have.
        return self.matcher.match(candidate.plain, live, fuzzy=candidate.plain not in spoken)

    def _decide(
        self, best: tuple[Scored, ToolCall], free: float, rival: Scored | None, heard_numbers: list[int]
    ) -> Recognised | None:
        form, call = best
        deficit = free - form.mean
        if deficit > self.reject_deficit:
            log.info("closed vocabulary: %r is %.2f below the free reading: not said", form.text, deficit)
            return None
        gap = None if rival is None else _gap(form, rival)
        sure = confidence(deficit, gap, self.reject_deficit)
        ending = form.logprobs[-1] if form.logprobs else 0.0
        if ending < CUT_SHORT:
            log.info("closed vocabulary: the audio goes on after %r (%.2f): asking", form.text, ending)
            sure = 0.5
        if not _same_numbers(numbers_said(form.text), heard_numbers):
            log.info("closed vocabulary: %r has other numbers than %s: asking", form.text, heard_numbers)
            sure = min(sure, OTHER_NUMBERS)
        return Recognised(
            replace(call, text=form.text, score=sure),
            round(deficit, 3),
            None if gap is None else round(gap, 3),
            round(ending, 3),
        )


def _same_numbers(sentence: list[int], heard: list[int]) -> bool:
    """Whether a sentence's numbers are those of the reading speech-to-text chose, one for one, or
    their sound-alikes (30 for 13): a number the reading did not hold is the scorer's guess."""
    return len(sentence) == len(heard) and all(
        s == h or SOUND_ALIKE_NUMBERS.get(h) == s for s, h in zip(sentence, heard, strict=False)
    )


def _gap(best: Scored, rival: Scored) -> float:
    """How much less likely the rival is than the best, as a whole-sentence log-probability."""
    return (best.mean - rival.mean) * len(best.logprobs)


def confidence(deficit: float, rival_gap: float | None, reject_deficit: float) -> float:
    """0.5..1: how sure the audio is of a sentence. Half from how close it comes to the free reading
    (at the free reading or above: sure; at the rejection line: half sure), half from how much less
    likely the nearest sentence meaning something else is (a whole-sentence log-probability gap of
    2.5, that sentence 12 times less likely, or more: sure; a tie: half sure)."""
    near = 1.0 - max(deficit, 0.0) / (2 * reject_deficit)
    apart = 1.0 if rival_gap is None else 0.5 + min(max(rival_gap, 0.0), SURE_GAP) / (2 * SURE_GAP)
    return round(max(0.5, min(near, apart)), 3)
