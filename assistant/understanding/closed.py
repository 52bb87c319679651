"""Closed-vocabulary hearing, part two: the speech model decides which template sentence was said.

Speech-to-text's free reading of a request is often one word off ("Vim the bedroom light to 30%.",
"Play some jars."), and matching a wrong reading makes a wrong action. Here the shortlisted template
sentences (`candidates.py`) and the free readings are all scored by the speech model itself on the
audio it has already encoded: the mean log-probability per token of each, teacher-forced. The best
sentence wins if it is nearly as likely as the free reading (a sentence far less likely than what was
heard was not said: a reminder's own words, a question, another language), and its confidence says
how sure the audio is of it against the nearest sentence that means something else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from assistant.plugins.api import ToolCall
from assistant.understanding.candidates import Candidate, CandidateShortlist, spoken_form
from assistant.understanding.matcher import TemplateMatcher

log = logging.getLogger(__name__)

Scorer = Callable[[list[str], bool], list[list[float]]]
"""Sentences → the log-probability of each of their tokens on the request's audio; the flag: on the
whole 30 s window rather than the audio alone (slower, surer)."""

MAX_FINALISTS = 3
"""Sentences re-scored on the whole window: the best, and the next until one means something else."""


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
        # Cheap first: every written form on the encoder output of the audio alone; then the best
        # sentence and its nearest rival again, with the free readings, on the whole window.
        texts = [w for c in candidates for w in c.written] + readings
        first = {t: Scored(t, lp) for t, lp in zip(texts, score(texts, False))}
        ranked = sorted(((max((first[w] for w in c.written), key=lambda s: s.mean), c) for c in candidates),
                        key=lambda pair: pair[0].mean, reverse=True)
        spoken = {spoken_form(r) for r in readings}
        finalists: list[tuple[str, ToolCall]] = []
        for form, candidate in ranked:
            call = self._call(candidate, spoken, live)
            if call is None:
                continue
            finalists.append((form.text, call))
            if (call.tool, call.args) != (finalists[0][1].tool, finalists[0][1].args) or len(finalists) == MAX_FINALISTS:
                break
        if not finalists:
            return None
        again = [text for text, _ in finalists] + readings
        second = {t: Scored(t, lp) for t, lp in zip(again, score(again, True))}
        free = max(second[r].mean for r in readings)
        kept = sorted(((second[text], call) for text, call in finalists), key=lambda pair: pair[0].mean, reverse=True)
        best = kept[0]
        rival = next((form for form, call in kept[1:] if (call.tool, call.args) != (best[1].tool, best[1].args)), None)
        return self._decide(best, free, rival)

    def _call(self, candidate: Candidate, spoken: set[str], live: dict[str, list[str]]) -> ToolCall | None:
        # A generic sentence ("turn on the light", `fuzzy: false`) is taken only when it is what was
        # heard word for word: near it are requests naming something the home does not have.
        return self.matcher.match(candidate.plain, live, fuzzy=candidate.plain not in spoken)

    def _decide(self, best: tuple[Scored, ToolCall], free: float, rival: Scored | None) -> Recognised | None:
        form, call = best
        deficit = free - form.mean
        if deficit > self.reject_deficit:
            log.info("closed vocabulary: %r is %.2f below the free reading: not said", form.text, deficit)
            return None
        gap = None if rival is None else (form.mean - rival.mean) * len(form.logprobs)
        return Recognised(replace(call, text=form.text, score=confidence(deficit, gap, self.reject_deficit)),
                          round(deficit, 3), None if gap is None else round(gap, 3))


def confidence(deficit: float, rival_gap: float | None, reject_deficit: float) -> float:
    """0.5..1: how sure the audio is of a sentence. Half from how close it comes to the free reading
    (at the free reading or above: sure; at the rejection line: half sure), half from how much less
    likely the nearest sentence meaning something else is (a whole-sentence log-probability gap of
    2.5, that sentence 12 times less likely, or more: sure; a tie: half sure)."""
    near = 1.0 - max(deficit, 0.0) / (2 * reject_deficit)
    apart = 1.0 if rival_gap is None else 0.5 + min(max(rival_gap, 0.0), 2.5) / 5
    return round(max(0.5, min(near, apart)), 3)
