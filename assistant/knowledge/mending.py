"""A spoken question, its words put back as the household's documents spell them.

Speech-to-text writes "Wi-Fi" where the note says "wifi" and "discale" for "descale". A word that is
neither in the documents nor an English word, one edit away from exactly one word the documents use,
is taken for that word; a hyphenated word whose parts the documents write together is joined. English
words are left alone ("makes" is not "maker", "guess" stays "guess" even beside a guest wifi): the
word list is the whole words of the MiniLM tokenizer's vocabulary, which ships with the embedding
model. One edit only, and only between words of five letters or more ("bread" is not "read").
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from assistant.knowledge.words import stemmer

log = logging.getLogger(__name__)

MIN_LETTERS = 5
"""For the word heard and the word it becomes: shorter words have too many neighbours one edit away."""

_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


class Spellings:
    """The words of the documents (lower case, letters only), and the questions mended against them."""

    def __init__(self, texts: Iterable[str], english: frozenset[str] | None = None) -> None:
        """english: words that are never taken for misheard (default: `english_words()`); with none
        at all, only hyphenated words are mended."""
        self.english = english_words() if english is None else english
        self.words: frozenset[str] = frozenset(w.lower() for text in texts for w in re.findall(r"[A-Za-z]+", text))
        self._stems = frozenset(stemmer().stemWords(list(self.words)))
        self._long = [w for w in self.words if len(w) >= MIN_LETTERS]

    def mend(self, question: str) -> str:
        """`question` with misheard words replaced (see the module's docstring); unchanged when
        nothing is misheard or the documents offer no single closer spelling."""
        return _WORD.sub(lambda m: self._word(m.group(0)), question)

    def _word(self, word: str) -> str:
        low = word.lower()
        if "-" in low:
            joined = low.replace("-", "")
            parts_known = all(part in self.words for part in low.split("-"))
            return joined if joined in self.words and not parts_known else word
        if (
            len(low) < MIN_LETTERS
            or low in self.words
            or low in self.english
            or not self.english
            or self._inflected(low)
        ):
            return word
        near = extract(low, self._long, scorer=Levenshtein.distance, score_cutoff=1, limit=3)
        if len(near) != 1:  # nothing close, or two spellings equally close: leave it as heard
            return word
        return near[0][0]

    def _inflected(self, word: str) -> bool:
        """ "radiators", "descaled": another form of a word the documents use is not misheard."""
        return stemmer().stemWord(word) in self._stems


@functools.cache
def english_words() -> frozenset[str]:
    """The whole English words of the MiniLM tokenizer's vocabulary (about 20,000); empty when the
    model's package is missing."""
    from assistant.core.errors import AssistantError
    from assistant.core.models import resolve_embedder

    try:
        vocab = resolve_embedder().path / "vocab.txt"
        return frozenset(w for w in vocab.read_text().split() if w.isalpha() and w.islower())
    except (AssistantError, OSError) as e:
        log.warning("no English word list for mending misheard questions (%s)", e)
        return frozenset()
