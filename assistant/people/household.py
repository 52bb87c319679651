"""The household's voices for the voice loop: who spoke each request, told from the voiceprints
enrolled when the assistant started (`assistant people` changes them while it is stopped)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.core.models import ResolvedModel, resolve_speaker_encoder
from assistant.people.listening import Identified, Listener, identify
from assistant.people.voiceprints import PURPOSE, Voiceprints
from assistant.speech.speaker_encoder import SpeakerEncoder
from assistant.speech.vad import SileroVad
from assistant.trust.vault import Vault

log = logging.getLogger(__name__)


def speaker_identifier(
    data_dir: Path, vault: Vault, vad_model: ResolvedModel
) -> Callable[[np.ndarray], Identified] | None:
    """Tells who spoke an utterance's audio; None while nobody is enrolled (nothing is loaded then).
    A voiceprint file left out is logged by name; the others are used."""
    if not vault.exists():
        return None
    people, problems = Voiceprints(data_dir, vault.derived_key(PURPOSE)).load()
    for problem in problems:
        log.warning("voices: %s", problem)
    if not people:
        return None
    listener = Listener(SpeakerEncoder(resolve_speaker_encoder().path), SileroVad(vad_model))
    lock = threading.Lock()  # the VAD keeps state: one utterance at a time

    def who(audio: np.ndarray) -> Identified:
        with lock:
            return identify(listener.voice(audio), people)

    log.info("voices: %d enrolled (%s)", len(people), ", ".join(p.name for p in people))
    return who
