"""The end-of-speech state machine, driven by synthetic seconds: no audio at all."""

from assistant.speech.vad import EndOfSpeech, Signal

F = 0.032  # one Silero frame


def feed(eos: EndOfSpeech, pattern: list[tuple[float, bool]]) -> list[tuple[Signal, float]]:
    out = []
    for seconds, speech in pattern:
        for _ in range(round(seconds / F)):
            out.extend((e.signal, round(e.at, 3)) for e in eos.process(F, speech))
    return out


def test_speech_then_silence_ends_after_the_timeout() -> None:
    eos = EndOfSpeech(min_speech_s=0.1, trailing_silence_s=0.5)
    events = feed(eos, [(0.32, False), (0.96, True), (1.0, False)])
    signals = [s for s, _ in events]
    assert signals == [Signal.SPEECH_START, Signal.SPEECH_END, Signal.ENDPOINT]
    start, end, endpoint = (at for _, at in events)
    assert start == 0.32
    assert end == round(0.32 + 0.96, 3), "speech_end is the end of the last voiced audio"
    assert endpoint >= end + 0.5 - 1e-6 and endpoint < end + 0.5 + F


def test_a_pause_shorter_than_the_timeout_resumes() -> None:
    eos = EndOfSpeech(trailing_silence_s=0.5)
    events = feed(eos, [(0.5, True), (0.32, False), (0.5, True), (0.6, False)])
    assert [s for s, _ in events] == [
        Signal.SPEECH_START,
        Signal.SPEECH_END,
        Signal.RESUMED,
        Signal.SPEECH_END,
        Signal.ENDPOINT,
    ]


def test_a_click_shorter_than_min_speech_does_not_start() -> None:
    eos = EndOfSpeech(min_speech_s=0.1, no_speech_timeout_s=1.0)
    events = feed(eos, [(0.064, True), (0.5, False), (0.032, True), (0.6, False)])
    assert [s for s, _ in events] == [Signal.NO_SPEECH]


def test_no_speech_times_out() -> None:
    eos = EndOfSpeech(no_speech_timeout_s=2.0)
    events = feed(eos, [(3.0, False)])
    assert [s for s, _ in events] == [Signal.NO_SPEECH]
    assert 2.0 <= events[0][1] < 2.0 + F
    assert feed(eos, [(1.0, True)]) == [], "nothing after the end"


def test_endless_speech_is_cut_at_max_length() -> None:
    eos = EndOfSpeech(max_utterance_s=3.0)
    events = feed(eos, [(5.0, True)])
    assert [s for s, _ in events] == [Signal.SPEECH_START, Signal.SPEECH_END, Signal.MAX_LENGTH]
    assert 3.0 <= events[-1][1] < 3.0 + 0.15


def test_reset_starts_over() -> None:
    eos = EndOfSpeech()
    feed(eos, [(0.5, True), (0.6, False)])
    eos.reset()
    assert [s for s, _ in feed(eos, [(0.5, True)])] == [Signal.SPEECH_START]


def test_a_command_whisper_wrote_twice_is_heard_once() -> None:
    from assistant.speech.stt import without_echo

    assert without_echo("Turn off bench light 1. Turn off bench light 1.") == "Turn off bench light 1."
    assert without_echo("Stop. stop! Stop.") == "Stop."
    assert without_echo("Turn off the light. Turn on the fan.") == "Turn off the light. Turn on the fan."
    assert without_echo("What time is it?") == "What time is it?"
    assert without_echo("") == ""
