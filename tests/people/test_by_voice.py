"""Learning a voice by voice, through the real voice loop, models and speaker encoder: "learn my voice,
my name is Carol", three sentences read after the assistant, "who am I?", "forget my voice"; and what
must not work: a voice claiming an enrolled name, readings that are not the sentence, a typed request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.people.by_voice import SENTENCES
from assistant.people.voiceprints import Person, Voiceprints
from assistant.plugins.api import Speaker, spoken_by
from testbed import speech as sf
from testbed.voice import run_voice

pytestmark = pytest.mark.slow_model

CAROL = "en-us+f2"  # an espeak-ng voice: not the assistant's own
STRANGER = "en-gb-scotland+m3"


def after(reply: str) -> np.ndarray:
    """Silence while the assistant says `reply` (rendered by the same Piper voice), and a little more."""
    return sf.silence(len(sf.piper(reply)) / 16000 + 1.2)


def reading(opening: str) -> list[np.ndarray]:
    """The three sentences read by Carol, each after the assistant's prompt for it."""
    parts: list[np.ndarray] = []
    prompts = [opening, f"Thanks. Next: {SENTENCES[1]}", f"Thanks. Next: {SENTENCES[2]}"]
    for prompt, sentence in zip(prompts, SENTENCES, strict=True):
        parts += [after(prompt), sf.speak(sentence, CAROL)]
    return parts


def test_a_voice_is_learned_by_voice_then_told_apart_then_forgotten(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    opening = f"I'll learn your voice as Carol. Read each sentence after me, or say stop. The first one: {SENTENCES[0]}"
    learned = "Thank you, Carol. I know your voice now."
    pcm = np.concatenate(
        [
            sf.command("Learn my voice, my name is Carol.", CAROL, tail_s=0.0),
            *reading(opening),
            after(learned),
            sf.command("Can you tell who is speaking to you right now?", CAROL, tail_s=0.0),
            after("You sound like Carol."),
            sf.command("Please forget my voice.", CAROL, tail_s=0.0),
            after("Forget your voice?"),
            sf.speak("Yes.", CAROL),
            sf.silence(4.0),
        ]
    )
    run = run_voice(pcm, speech_models, config, tmp_path)
    replies = [e.text for e in run.events.of("reply")]  # type: ignore[attr-defined]
    assert replies == [
        opening,
        f"Thanks. Next: {SENTENCES[1]}",
        f"Thanks. Next: {SENTENCES[2]}",
        learned,
        "You sound like Carol.",
        "Forget your voice?",
        "I've forgotten your voice, Carol.",
    ], "\n".join(
        f"{e.type}: {getattr(e, 'text', '')} {getattr(e, 'person', '')} {getattr(e, 'audio_t', '')}"
        for e in run.events.events
        if e.type in ("transcript", "reply", "listen", "wake", "speaker")
    )
    speakers = [(e.person, e.role) for e in run.events.of("speaker")]  # type: ignore[attr-defined]
    assert speakers[0] == ("Carol", "adult"), "the first voice of the household is its adult"
    assert len(run.events.of("wake")) == 3, "the readings and the yes need no wake word"

    data = tmp_path / "data"
    core = build_core(config, data, Bus())
    assert core.household is not None and core.household.people() == []
    admin = [(e["action"], e["who"], e["person"]) for e in core.audit.entries() if "voice" in e.get("action", "")]
    assert admin == [("voice enrolled", "voice", "Carol"), ("voice forgotten", "voice:Carol", "Carol")]


def test_readings_that_are_not_the_sentence_are_asked_again_and_stop_keeps_nothing(  # type: ignore[no-untyped-def]
    speech_models, config, tmp_path: Path
) -> None:
    opening = f"I'll learn your voice as Carol. Read each sentence after me, or say stop. The first one: {SENTENCES[0]}"
    again = f"Sorry, that didn't sound like the sentence. Please read it again: {SENTENCES[0]}"
    pcm = np.concatenate(
        [
            sf.command("My name is Carol, learn my voice.", CAROL, tail_s=0.0),
            after(opening),
            sf.speak("What is the weather going to be like on Saturday?", CAROL),
            after(again),
            sf.speak("Stop.", CAROL),
            sf.silence(4.0),
        ]
    )
    run = run_voice(pcm, speech_models, config, tmp_path)
    replies = [e.text for e in run.events.of("reply")]  # type: ignore[attr-defined]
    assert replies == [opening, again, "Okay, I stopped learning your voice. Nothing was kept."], [
        e.to_dict()
        for e in run.events.events  # type: ignore[attr-defined]
    ]
    core = build_core(config, tmp_path / "data", Bus())
    assert core.household is not None and core.household.people() == []
    assert not (tmp_path / "data" / "people").exists() or not list((tmp_path / "data" / "people").iterdir())


def test_an_enrolled_name_is_relearned_only_from_its_own_voice_and_never_from_typing(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    core = build_core(config, data, Bus())
    assert core.household is not None
    vector = np.zeros(256, np.float32)
    vector[0] = 1.0
    Voiceprints(data, core.vault.derived_key("voiceprints")).save(Person("Anna", "adult", vector, 0.0, 3))
    core = build_core(config, data, Bus())
    reply = asyncio.run

    with spoken_by(Speaker(None, "guest")):
        said = reply(core.dialogue.handle("my name is Anna, learn my voice"))
    assert said.startswith("Sorry, I know Anna's voice already, and I can't tell that it is Anna speaking")
    with spoken_by(Speaker("Anna", "adult")):
        said = reply(core.dialogue.handle("learn my voice, I'm Anna"))
    assert "I learn a voice only from speech" in said, "a typed request has no voice to learn"
    said = reply(core.dialogue.handle("who am i"))
    assert said == "I can tell voices apart only when you speak to me."
    with spoken_by(Speaker(None, "guest", unsure=True)):  # "who am I?" is often too short to tell
        assert reply(core.dialogue.handle("who am i")) == (
            "I'm not sure whose voice this is. Ask me again in a whole sentence."
        )


def test_a_request_too_short_to_tell_is_asked_who_it_is_and_told_from_both(speech_models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Anna (Piper's voice) enrolled; "restart the music", said fast, is under a second of speech: an
    adult's tool asks "who is it?", and the answer's audio with the request's tells Anna."""
    import yaml

    from assistant.core.config import load_config
    from assistant.people.listening import Listener
    from assistant.people.voiceprints import new_person
    from testbed.harness import TEMPLATES_ONLY

    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {"system": {"commands": {"restart the music": {"run": ["touch", "restarted"], "changes": True}}}}
        )
    )
    config = load_config(config_file, environ=TEMPLATES_ONLY)
    data = tmp_path / "data"
    core = build_core(config, data, Bus())
    assert core.household is not None
    listener: Listener = core.household._heard()
    embeddings = [listener.enrolment(sf.speak(text, "piper"), text) for text in SENTENCES]
    Voiceprints(data, core.vault.derived_key("voiceprints")).save(new_person("Anna", "adult", embeddings))

    request = sf.speak("Restart the music.", "piper-fast")
    answer = sf.speak("It's Anna here.", "piper")
    for clip in (request, answer):  # each alone too short to tell a voice by; together enough
        assert len(listener.speech(clip)[0]) / 16000 < 1.0
    assert len(listener.speech(np.concatenate([request, answer]))[0]) / 16000 >= 1.0
    pcm = np.concatenate(
        [
            sf.silence(0.5),
            sf.speak("Hey Jarvis.", "piper"),
            sf.silence(0.5),
            request,
            sf.silence(0.3),
            after("I can't tell who is speaking. Who is it?"),
            answer,
            after("Should I restart the music?"),
            sf.speak("Yes.", "piper"),
            sf.silence(4.0),
        ]
    )
    run = run_voice(pcm, speech_models, config, tmp_path)
    replies = [e.text for e in run.events.of("reply")]  # type: ignore[attr-defined]
    assert replies == ["I can't tell who is speaking. Who is it?", "Should I restart the music?", "Done."], replies
    speakers = [(e.person, e.role) for e in run.events.of("speaker")]  # type: ignore[attr-defined]
    assert speakers[:2] == [(None, "guest"), ("Anna", "adult")], speakers
    assert (data / "skills" / "system" / "restarted").exists()


def test_relearning_takes_only_readings_in_the_voice_being_relearned(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Anna asks for her voice to be learned again; a reading by someone else is refused, or whoever
    read after her "learn my voice" would become Anna, with her role."""
    data = tmp_path / "data"
    core = build_core(config, data, Bus())
    assert core.household is not None
    heard = core.household._heard()
    annas = heard.enrolment(sf.speak("I would like a cup of tea before the news starts.", CAROL), "a clip")
    Voiceprints(data, core.vault.derived_key("voiceprints")).save(Person("Anna", "adult", annas, 0.0, 3))
    core = build_core(config, data, Bus())
    assert core.household is not None
    learning = core.household.enrolment("Anna", Speaker("Anna", "adult"))
    said, more = learning.take(sf.speak(SENTENCES[0], STRANGER), SENTENCES[0])
    assert more and said.startswith("Sorry, that reading didn't sound like Anna's voice."), said
    said, more = learning.take(sf.speak(SENTENCES[0], CAROL), SENTENCES[0])
    assert more and said == f"Thanks. Next: {SENTENCES[1]}", said


def test_of_two_voices_learned_at_once_in_an_empty_household_only_the_first_saved_is_its_adult(  # type: ignore[no-untyped-def]
    config, tmp_path: Path
) -> None:
    core = build_core(config, tmp_path / "data", Bus())
    assert core.household is not None
    carol, dan = core.household.enrolment("Carol", None), core.household.enrolment("Dan", None)
    for learning, voice in ((carol, CAROL), (dan, STRANGER)):
        for sentence in SENTENCES[:-1]:
            assert learning.take(sf.speak(sentence, voice), sentence)[1]
    for learning, voice in ((dan, STRANGER), (carol, CAROL)):
        said, more = learning.take(sf.speak(SENTENCES[-1], voice), SENTENCES[-1])
        assert not more and said.endswith("I know your voice now."), said
    assert {p.name: p.role for p in core.household.people()} == {"Dan": "adult", "Carol": "guest"}
