#!/usr/bin/env python
"""Could pitch tell a near twin from the enrolled voice? How much a real person's pitch moves (issue 28).

    .venv/bin/python scripts/bench/people_pitch.py

The synthetic household's one stranger taken for an enrolled voice is espeak-ng's `+f5`, which has
`+f2`'s formants at a higher pitch: the speaker encoder hears one vocal tract. A check on pitch would
refuse it only if a real person's own pitch stays nearer to their enrolment than a twin's does. This
measures both the same way (Praat's autocorrelation pitch, through praat-parselmouth; the median F0 of
each request, in semitones):

  real     speakerbox's nine council members (scripts/bench/people_real.py's set and protocol: enrolled
           from three 4 s requests of the meeting where they speak most), each later request's median
           against the enrolment's, in the same meeting and in other meetings;
  twins    the synthetic bench's pairs that the encoder takes for one voice (`+f2`/`+f5`, `+m1`/`+m3`),
           each test sentence of one against the other's enrolment.

A pitch check would have to refuse a request whose pitch is further from the enrolment than the twin's
(median) difference; the figures are the shares of real people's own requests it would then refuse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

import people_real  # noqa: E402  # the real voices and their protocol
from people import ENROL, TEST  # noqa: E402  # the synthetic voices' sentences

from testbed import speech as sf  # noqa: E402

RATE = 16000
MIN_VOICED_FRAMES = 50
"""A request with less voiced audio than this (0.5 s at 10 ms frames) has no pitch to speak of."""
TWINS = (("en-us+f2", "en-us+f5"), ("en-us+m1", "en-us+m3"))


def median_pitch(pcm: np.ndarray) -> float | None:
    """The median F0 of the voiced frames, in semitones above 100 Hz (None: too little voiced audio)."""
    import parselmouth

    sound = parselmouth.Sound(pcm.astype(np.float64) / 32768.0, sampling_frequency=RATE)
    f0 = sound.to_pitch_ac(time_step=0.01, pitch_floor=60.0, pitch_ceiling=500.0).selected_array["frequency"]
    voiced = f0[f0 > 0]
    return float(12 * np.log2(np.median(voiced) / 100.0)) if len(voiced) >= MIN_VOICED_FRAMES else None


def pitches(clips: list[np.ndarray]) -> list[float]:
    return [p for p in map(median_pitch, clips) if p is not None]


def describe(name: str, moves: list[float], gaps: dict[str, float]) -> None:
    a = np.abs(np.array(moves))
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    refused = ", ".join(f"{twin}'s {gap:.2f}: {100 * np.mean(a > gap):.1f} %" for twin, gap in gaps.items())
    print(
        f"  {name:15s} {len(a):3d} requests: |moved| median {p50:.2f}, p90 {p90:.2f}, p99 {p99:.2f}, "
        f"max {a.max():.2f} semitones; moved further than {refused}"
    )


def main() -> int:
    try:
        import parselmouth  # noqa: F401
    except ImportError:
        raise SystemExit("this bench needs praat-parselmouth: .venv/bin/pip install -e '.[test]'") from None

    print("Synthetic twins, each test sentence against the other voice's enrolment (semitones):")
    gaps: dict[str, float] = {}
    for enrolled, twin in TWINS:
        home = float(np.median(pitches([sf.speak(s, enrolled) for s in ENROL])))
        own = [p - home for p in pitches([sf.speak(s, enrolled) for s in TEST])]
        other = [p - home for p in pitches([sf.speak(s, twin) for s in TEST])]
        gap = float(np.median(np.abs(other)))
        gaps[twin.removeprefix("en-us")] = gap
        print(
            f"  {twin} against {enrolled}: median {gap:.2f} (its own sentences: median "
            f"{float(np.median(np.abs(own))):.2f}, max {float(np.max(np.abs(own))):.2f})"
        )

    folder = people_real.speakerbox_recordings()
    clips: dict[str, dict[str, list[np.ndarray]]] = {}
    for wav in sorted(folder.glob("*/*/*.wav")):
        clips.setdefault(wav.parent.name, {}).setdefault(wav.parent.parent.name, []).extend(
            people_real.requests_of(wav)
        )
    same: list[float] = []
    other: list[float] = []
    for sessions in clips.values():
        home_session = max(sessions, key=lambda s: len(sessions[s]))
        at_home = pitches(sessions[home_session])
        if len(at_home) <= people_real.ENROL_CLIPS:
            continue
        enrolment = float(np.median(at_home[: people_real.ENROL_CLIPS]))
        same += [p - enrolment for p in at_home[people_real.ENROL_CLIPS :]]
        other += [p - enrolment for s, rs in sessions.items() if s != home_session for p in pitches(rs)]
    print(f"Real people ({len(clips)}), each request's median pitch against their enrolment's:")
    describe("same meeting", same, gaps)
    describe("other meetings", other, gaps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
