"""The whole voice path on speech rendered in this run (Piper and espeak-ng), with the real models."""

import re
from pathlib import Path

import numpy as np
import pytest

from testbed import speech as sf
from testbed.voice import run_voice

pytestmark = pytest.mark.slow_model


def test_set_a_timer_for_five_minutes(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = run_voice(sf.command("Set a timer for five minutes."), speech_models, config, tmp_path)
    ev = run.events
    order = [
        "ready",
        "wake",
        "speech_start",
        "speech_end",
        "stt_start",
        "endpoint",
        "transcript",
        "intent",
        "tool_result",
        "reply",
        "tts_start",
        "tts_end",
    ]
    positions = [ev.types().index(t) for t in order]
    assert positions == sorted(positions), ev.types()
    ends = ev.of("speech_end")
    assert ends[-1].audio_t < ev.of("endpoint")[0].audio_t, "speech_end is the last voiced audio, before the timeout"
    assert re.search(r"timer for (five|5) minutes", sf.words(ev.of("transcript")[0].text))
    intent = ev.of("intent")[0]
    assert (intent.tool, intent.args, intent.source) == ("timer.start", {"minutes": 5}, "template")
    assert ev.of("reply")[0].text == "Timer set for 5 minutes."
    assert ev.of("tool_result")[0].ok
    assert ev.of("tts_end")[0].audio_s > 1.0
    assert (tmp_path / "data" / "scheduler.json").exists()


@pytest.mark.parametrize("voice", ["piper", *sf.ESPEAK_VOICES])
def test_what_time_is_it_in_several_voices(speech_models, config, tmp_path: Path, voice: str) -> None:  # type: ignore[no-untyped-def]
    run = run_voice(sf.command("What time is it?", voice=voice), speech_models, config, tmp_path)
    assert "what time is it" in sf.words(run.events.of("transcript")[0].text)
    assert run.events.of("intent")[0].tool == "clock.get_time"
    assert run.events.of("reply")[0].text.startswith("It's ")


def test_two_commands_back_to_back(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pcm = np.concatenate([sf.command("What time is it?"), sf.command("Set a timer for two minutes.")])
    run = run_voice(pcm, speech_models, config, tmp_path)
    intents = run.events.of("intent")
    assert [i.tool for i in intents] == ["clock.get_time", "timer.start"]
    assert intents[1].args == {"minutes": 2}
    assert [e.turn for e in run.events.of("reply")] == [1, 2]
    assert len(run.events.of("wake")) == 2, "no false wake right after a detection"
    assert run.events.of("ready")[-1].audio_t >= run.events.of("tts_end")[0].audio_t


def test_reply_audio_sits_on_the_input_timeline(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = run_voice(sf.command("What time is it?"), speech_models, config, tmp_path)
    start = run.events.of("tts_start")[0].audio_t
    end = run.events.of("tts_end")[0].audio_t
    audio = run.reply_audio.astype(float)
    before = audio[: int(start * run.rate)]
    during = audio[int(start * run.rate) : int(end * run.rate)]
    assert np.abs(before).max(initial=0) == 0, "nothing plays before the reply starts"
    assert np.sqrt(np.mean(during**2)) > 500, "the reply is audible"


def test_wake_word_during_a_reply_stops_it(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = sf.command("What's the date today?", tail_s=0.0)
    pcm = np.concatenate([first, sf.silence(0.9), sf.command("What time is it?", lead_s=0.0)])
    run = run_voice(pcm, speech_models, config, tmp_path)
    ev = run.events
    assert len(ev.of("barge_in")) == 1
    cut = ev.of("tts_end")[0]
    assert cut.interrupted and cut.turn == 1
    assert [i.tool for i in ev.of("intent")] == ["clock.get_date", "clock.get_time"]
    full_s = len(sf.piper(ev.of("reply")[0].text)) / 16000  # how long the date reply would have been
    assert cut.audio_s < full_s - 0.5


def test_a_short_pause_does_not_end_the_request(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Shorter than both the early endpoint (0.25 s) and the silence timeout (0.5 s).
    said = np.concatenate([sf.piper("Set a timer"), sf.silence(0.2), sf.piper("for three minutes.")])
    pcm = np.concatenate([sf.silence(0.5), sf.piper("Hey Jarvis."), sf.silence(0.5), said, sf.silence(1.5)])
    run = run_voice(pcm, speech_models, config, tmp_path)
    ev = run.events
    heard = [(e.type, getattr(e, "text", getattr(e, "reason", ""))) for e in ev.events]
    assert len(ev.of("endpoint")) == 1, heard
    assert [i.args for i in ev.of("intent")] == [{"minutes": 3}], heard


def test_wake_word_then_nothing(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pcm = np.concatenate([sf.silence(0.5), sf.piper("Hey Jarvis."), sf.silence(6.0)])
    run = run_voice(pcm, speech_models, config, tmp_path)
    errors = run.events.of("error")
    assert [e.code for e in errors] == ["no_speech"]
    assert run.events.of("reply") == []


def test_noise_alone_wakes_nothing(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    noise = sf.with_noise(sf.silence(8.0) + 1, snr_db=0)
    run = run_voice(noise, speech_models, config, tmp_path)
    assert run.events.of("wake") == []


def test_an_understood_request_ends_sooner(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    pcm = sf.command("What time is it?")
    early = run_voice(pcm, speech_models, config, tmp_path / "early")
    patient_config = dataclasses.replace(config, vad=dataclasses.replace(config.vad, early_endpoint_s=None))
    patient = run_voice(pcm, speech_models, patient_config, tmp_path / "patient")
    for run, reason, wait in (
        (early, "understood", config.vad.early_endpoint_s),
        (patient, "silence", config.vad.trailing_silence_s),
    ):
        endpoint = run.events.of("endpoint")[0]
        speech_end = [e for e in run.events.of("speech_end") if e.audio_t <= endpoint.audio_t][-1]
        assert endpoint.reason == reason
        assert wait - 0.01 <= endpoint.audio_t - speech_end.audio_t <= wait + 0.1
        assert run.events.of("intent")[0].tool == "clock.get_time"


def test_a_timer_rings_and_speaks(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Realtime: a two-second timer started by voice rings during the same stream and is spoken."""
    # The stream goes on with silence until the ring has been spoken: a busy machine may take seconds
    # to hear and answer (a fixed 8 s of silence was outrun at a load of 5).
    pcm = np.concatenate([sf.command("Set a timer for two seconds."), sf.silence(1.0)])
    run = run_voice(
        pcm,
        speech_models,
        config,
        tmp_path,
        realtime=True,
        ring_timers=True,
        until=lambda ev: len(ev.of("tts_end")) >= 2,
    )
    ev = run.events
    assert ev.of("intent")[0].args == {"seconds": 2}
    done = ev.of("timer_done")
    assert len(done) == 1 and done[0].duration_s == 2.0
    assert [r.text for r in ev.of("reply")] == ["Timer set for 2 seconds."]
    assert len(ev.of("tts_start")) == 2, "the set reply, then the ring"
    set_at = ev.of("tool_result")[0].t
    assert 1.9 < done[0].t - set_at < 2.6


def test_spoken_scheduling_and_a_routine(speech_models, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    said = [
        "Set a pasta timer for ten minutes.",
        "Pause the pasta timer.",
        "Set an alarm for seven AM tomorrow.",
        "Remind me to water the plants at five PM.",
        "Good morning.",
    ]
    run = run_voice(np.concatenate([sf.command(s) for s in said]), speech_models, config, tmp_path)
    intents = [(i.tool, i.args) for i in run.events.of("intent")]
    assert [tool for tool, _ in intents] == [
        "timer.start",
        "timer.pause",
        "alarm.set",
        "reminder.add",
        "routine.run",
    ], [e.text for e in run.events.of("transcript")]
    assert intents[0][1] == {"minutes": 10, "name": "pasta"}
    replies = [r.text for r in run.events.of("reply")]
    assert replies[1].startswith("Paused your pasta timer")
    assert replies[2].startswith("Alarm set for 7 AM")
    assert replies[3].startswith("I'll remind you to water the plants at 5 PM")
    assert replies[4].startswith("Good morning. It's ")


def test_the_transcriber_reads_as_faster_whisper_does_and_offers_the_next_readings(speech_models) -> None:  # type: ignore[no-untyped-def]
    """One 30 s window decoded by our own call keeps the encoder's output for the n-best readings;
    its best reading must be what faster-whisper's own transcribe() gives for the same audio."""
    from assistant.speech.stt import SpeechHints

    transcriber = speech_models.transcriber
    hints = SpeechHints("What time is it? Set a timer for 5 minutes.", ["pasta"])
    for text, voice in [
        ("Set a pasta timer for ten minutes.", "piper"),
        ("What time is it?", "en-gb"),
        ("Turn on the kitchen light.", "en-us"),
    ]:
        pcm = np.concatenate(
            [sf.silence(0.3), sf.piper(text) if voice == "piper" else sf.espeak(text, voice=voice), sf.silence(0.5)]
        )
        heard = transcriber.hear(pcm, hints)
        assert heard.text == transcriber._long(pcm.astype(np.float32) / 32768.0, hints), voice
        assert heard.others is not None
        others = heard.others()
        assert heard.text not in others and len(others) == len(set(others)) <= transcriber.alternatives
    assert transcriber.hear(np.zeros(16000, np.int16), hints).text == ""  # a window without speech
