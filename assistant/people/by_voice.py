"""Learning a voice by voice: "learn my voice" (or "my name is Anna"), then three sentences read after
the assistant, each checked as it comes (read right, long and clear enough, one voice) and asked again
when it will not do; nothing is kept until all three are in. "Stop" ends it, as does walking away (the
voice loop stops listening for an answer)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from assistant.people.voiceprints import PeopleError

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please remember to water the plants on the balcony.",
    "My favourite season is autumn, when the leaves turn gold.",
)
READ_RIGHT = 0.5
"""The share of a sentence's words that must be heard in the reading, so talk in the room is not learned."""
MISSES = 3
"""Readings that will not do, in all, before learning stops."""
STOP = re.compile(r"^\s*(stop|cancel|never ?mind|forget it|quit|no)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z']+")


def read_right(heard: str, sentence: str) -> bool:
    wanted = set(_WORD.findall(sentence.lower()))
    return len(wanted & set(_WORD.findall(heard.lower()))) >= READ_RIGHT * len(wanted)


class VoiceEnrolment:
    """One person's voice being learned from the microphone (a plugins.api.TurnTaker)."""

    def __init__(
        self,
        name: str,
        role: str,
        embed: Callable[[np.ndarray, str], np.ndarray],
        finish: Callable[[list[np.ndarray]], str],
    ) -> None:
        """embed: a reading's embedding, or a PeopleError saying why it will not do (Listener.enrolment).
        finish: learns the voice from the embeddings and says so (or raises a PeopleError)."""
        self.name = name
        self.role = role
        self._embed = embed
        self._finish = finish
        self._embeddings: list[np.ndarray] = []
        self._misses = 0

    def opening(self) -> str:
        return (
            f"I'll learn your voice as {self.name}. Read each sentence after me, or say stop. "
            f"The first one: {SENTENCES[0]}"
        )

    def take(self, audio: np.ndarray, text: str) -> tuple[str, bool]:
        if STOP.match(text):
            return "Okay, I stopped learning your voice. Nothing was kept.", False
        sentence = SENTENCES[len(self._embeddings)]
        try:
            if not read_right(text, sentence):
                raise PeopleError("that didn't sound like the sentence")
            embedding = self._embed(audio, "that reading")
        except PeopleError as e:
            self._misses += 1
            if self._misses >= MISSES:
                return f"Sorry, {_sentence(e.message)} I stopped learning your voice; nothing was kept.", False
            return f"Sorry, {_sentence(e.message)} Please read it again: {sentence}", True
        self._embeddings.append(embedding)
        if len(self._embeddings) < len(SENTENCES):
            return f"Thanks. Next: {SENTENCES[len(self._embeddings)]}", True
        try:
            return self._finish(self._embeddings), False
        except PeopleError as e:
            return f"Sorry, I could not learn your voice: {_sentence(e.message)}", False


def _sentence(message: str) -> str:
    return message if message.endswith(".") else message + "."
