"""Edges of telling voices apart: a voice that could not be told, and what a name may be."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np

from assistant.core.bus import Bus
from assistant.core.errors import AssistantError
from assistant.plugins.api import Speaker
from assistant.voice.pipeline import VoiceLoop, _Heard


def test_a_voice_that_could_not_be_told_is_a_guests() -> None:
    """Never "nobody enrolled" (None), which would allow every role's tools and read out everyone's
    reminders."""

    async def scenario() -> Speaker | None:
        async def transcribed() -> None:
            return None

        async def failed() -> None:
            raise AssistantError("the speaker encoder failed")

        stt = asyncio.ensure_future(transcribed())
        heard = _Heard(stt, np.zeros(16000, np.int16), who=asyncio.ensure_future(failed()))  # type: ignore[arg-type]
        loop = SimpleNamespace(_heard=heard, bus=Bus(), audio_t=0.0)
        loop._heard_of = lambda task: VoiceLoop._heard_of(loop, task)  # type: ignore[arg-type]
        return await VoiceLoop._tell_who(loop, stt, 1)  # type: ignore[arg-type]

    assert asyncio.run(scenario()) == Speaker(None, "guest", unsure=True)


def test_a_name_is_one_spelling_with_a_letter_in_it() -> None:
    import pytest

    from assistant.people.voiceprints import PeopleError, checked_name

    assert checked_name("O\u2019Brien") == "O'Brien"  # a phone keyboard's apostrophe
    assert checked_name("Anna\u0308") == "Ann\u00e4"  # a combining mark: the same name as typed whole
    assert checked_name("  Mary-Jane  ") == "Mary-Jane"
    for bad in ("...", "-", "'", "", "Anna/..", "A" * 41):
        with pytest.raises(PeopleError):
            checked_name(bad)
