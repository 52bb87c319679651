#!/usr/bin/env python
"""Who is speaking, on real voices: people recorded in several sessions, enrolled from one session
and identified in the others (issue 28).

    .venv/bin/python scripts/bench/people_real.py [--recordings DIR] [--enrolled 6] [--json FILE]

The recordings are a folder of SESSION/SPEAKER/*.wav (16 kHz mono). Without --recordings, the one
real set found in the package registries is used: speakerbox 1.2.0's test data (its sdist on PyPI,
MIT), 73 clips of nine Seattle City Council members speaking in five public meetings, fetched once
with `pip download` into ~/.cache/assistant/bench/. Real people, real rooms and microphones, and
other days: what scripts/bench/people.py's synthetic voices cannot say.

Each clip is cut into requests of REQUEST_S seconds (people's requests are 2-4 s). A person is
enrolled from three requests of the session where they speak most, as `assistant people enroll`
does (the same checks: a clip it refuses is replaced by the next); the requests of every other
session are identified as `assistant people identify` does. Every way of choosing which of them
are enrolled (--enrolled of them; the others are strangers, never enrolled) is measured.

  accuracy      the right person named, of the enrolled people's requests (nobody named is a miss);
  false accept  a stranger's request taken for an enrolled person (every one of them an adult);
  wrong         an enrolled person's request named as another enrolled person;
  EER           the equal error rate of the raw similarity, every request against every voiceprint.

Targets (set on synthetic voices): accuracy ≥ 95 % clean; false accepts ≤ 1 %.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import platformdirs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.core.models import resolve_speaker_encoder, resolve_vad_model  # noqa: E402
from assistant.people import listening  # noqa: E402
from assistant.people.listening import Listener, Voice, identify, read_clip  # noqa: E402
from assistant.people.voiceprints import PeopleError, Person, new_person  # noqa: E402
from assistant.speech.speaker_encoder import SpeakerEncoder  # noqa: E402
from assistant.speech.vad import SileroVad  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from people import eer  # noqa: E402  # scripts/bench/people.py: the synthetic voices' bench

PACKAGE = "speakerbox==1.2.0"
INSIDE = "speakerbox-1.2.0/speakerbox/tests/data/diarized.zip"
RATE = 16000
REQUEST_S = 4.0
"""A request's length: a long clip is cut into pieces this long (a last piece under 2 s is dropped)."""
ENROL_CLIPS = 3
SAME_PERSON_SET = listening.SAME_PERSON
SWEEP = (0.80, 0.75, 0.70)
"""Other thresholds measured beside the assistant's, to show where real voices would put it."""


def speakerbox_recordings() -> Path:
    """speakerbox's diarized meeting clips, fetched from PyPI once and unpacked in the cache."""
    home = Path(platformdirs.user_cache_dir("assistant")) / "bench" / "speakerbox-1.2.0"
    if (home / "done").exists():
        return home / "diarized"
    home.mkdir(parents=True, exist_ok=True)
    sdist = home / "speakerbox-1.2.0.tar.gz"
    if not sdist.exists():
        # pip reads the sdist's metadata, which needs setuptools and wheel: with build isolation pip
        # brings them itself (the project's venv has no `wheel`, and without isolation this failed).
        fetch = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*fetch, "--dest", str(home), PACKAGE], check=False, capture_output=True)
        if not sdist.exists():
            raise SystemExit(f"could not fetch {PACKAGE} from PyPI: `pip download` it into {home}")
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(INSIDE)
        if member is None:
            raise SystemExit(f"{sdist} holds no {INSIDE}")
        (home / "diarized.zip").write_bytes(member.read())
    with zipfile.ZipFile(home / "diarized.zip") as z:
        z.extractall(home / "diarized")
    (home / "done").touch()
    return home / "diarized"


def requests_of(path: Path) -> list[np.ndarray]:
    pcm = read_clip(path)
    size = int(REQUEST_S * RATE)
    pieces = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    return [p for p in pieces if len(p) >= 2 * RATE]


def households(
    people: list[str], voiceprints: dict[str, Person], requests: dict[str, list[np.ndarray | None]], k: int
) -> dict[str, float]:
    """Every household of `k` enrolled people (the others strangers): the means over households."""
    rows = []
    genuine: list[float] = []
    impostor: list[float] = []
    for household in itertools.combinations(people, k):
        members = [voiceprints[s] for s in household]
        right = wrong = total = taken = strangers = 0
        for speaker in people:
            for embedding in requests[speaker]:
                found = identify(Voice(embedding, REQUEST_S), members).person
                if speaker in household:
                    total += 1
                    right += found is not None and found.name == voiceprints[speaker].name
                    wrong += found is not None and found.name != voiceprints[speaker].name
                    if embedding is not None:
                        for member in members:
                            same = member.name == voiceprints[speaker].name
                            (genuine if same else impostor).append(float(member.voiceprint @ embedding))
                else:
                    strangers += 1
                    taken += found is not None
        rows.append((right / total, wrong / total, taken / max(strangers, 1)))
    return {
        "households": len(rows),
        "accuracy_mean": statistics.mean(r[0] for r in rows),
        "accuracy_min": min(r[0] for r in rows),
        "wrong_mean": statistics.mean(r[1] for r in rows),
        "false_accepts_mean": statistics.mean(r[2] for r in rows),
        "false_accepts_max": max(r[2] for r in rows),
        "eer": eer(genuine, impostor),
        "genuine_p5": float(np.percentile(genuine, 5)),
        "genuine_median": float(np.median(genuine)),
        "impostor_p95": float(np.percentile(impostor, 95)),
        "impostor_p99": float(np.percentile(impostor, 99)),
    }


def clips_of_one_voice(listener: Listener, clips: dict[str, dict[str, list[np.ndarray]]]) -> dict[str, object]:
    """How alike two enrolment clips sound when one person reads both (two requests of one meeting) and
    when two people do, as the enrolment's check of its clips against each other measures them."""
    said = {
        speaker: [
            v
            for r in sessions[max(sessions, key=lambda s: len(sessions[s]))]
            if (v := listener.voice(r).embedding) is not None
        ]
        for speaker, sessions in clips.items()
    }
    one = np.array([float(a @ b) for v in said.values() for a, b in itertools.combinations(v, 2)])
    two = np.array([float(a @ b) for x, y in itertools.combinations(sorted(said), 2) for a in said[x] for b in said[y]])
    print(
        f"one voice or two (two enrolment clips): one person's {len(one)} pairs, median {np.median(one):.2f}, p1 "
        f"{np.percentile(one, 1):.2f}; two people's {len(two)} pairs, median {np.median(two):.2f}, p99 "
        f"{np.percentile(two, 99):.2f}"
    )
    figures: dict[str, object] = {"one": len(one), "two": len(two)}
    for threshold in sorted({listening.ONE_VOICE, 0.6, 0.65, 0.75}):
        refused, passed = float(np.mean(one < threshold)), float(np.mean(two >= threshold))
        mark = " (the assistant's)" if threshold == listening.ONE_VOICE else ""
        print(
            f"  at {threshold:.2f}{mark}: one voice's pair refused {100 * refused:.1f}%, two voices' taken {100 * passed:.1f}%"
        )
        figures[f"at {threshold:.2f}"] = {"one_refused": refused, "two_taken": passed}
    return figures


def one_voice_or_two(listener: Listener, clips: dict[str, dict[str, list[np.ndarray]]]) -> dict[str, object]:
    """How alike the halves of an enrolment clip sound when one person speaks (each request) and when
    two do (the first half of one person's request, then the first half of another's), as the
    enrolment's two-voices check measures them."""
    rng = random.Random(7)
    one = [
        alike
        for sessions in clips.values()
        for requests in sessions.values()
        for request in requests
        if (alike := listener.halves_alike(request)) is not None
    ]
    flat = {speaker: [r for rs in sessions.values() for r in rs] for speaker, sessions in clips.items()}
    two = []
    for a, b in itertools.permutations(sorted(flat), 2):
        for _ in range(2):
            first, second = rng.choice(flat[a]), rng.choice(flat[b])
            joined = np.concatenate([first[: len(first) // 2], second[: len(second) // 2]])
            if (alike := listener.halves_alike(joined)) is not None:
                two.append(alike)
    figures: dict[str, object] = {"one": len(one), "two": len(two)}
    print(
        f"one voice or two (the halves of an enrolment clip): one person's {len(one)} requests, median "
        f"{np.median(one):.2f}, p1 {np.percentile(one, 1):.2f}; two people's {len(two)} joined, median "
        f"{np.median(two):.2f}, p99 {np.percentile(two, 99):.2f}"
    )
    for threshold in sorted({listening.ONE_VOICE, listening.HALVES_ONE_VOICE, 0.65, 0.75}):
        refused = float(np.mean(np.array(one) < threshold))
        passed = float(np.mean(np.array(two) >= threshold))
        mark = " (the assistant's)" if threshold == listening.HALVES_ONE_VOICE else ""
        print(
            f"  at {threshold:.2f}{mark}: one voice refused {100 * refused:.1f}%, two voices taken {100 * passed:.1f}%"
        )
        figures[f"at {threshold:.2f}"] = {"one_refused": refused, "two_taken": passed}
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recordings", type=Path, help="SESSION/SPEAKER/*.wav (default: speakerbox's, from PyPI)")
    p.add_argument("--enrolled", type=int, default=6, help="people enrolled in each household; the rest are strangers")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    folder = args.recordings or speakerbox_recordings()
    listener = Listener(SpeakerEncoder(resolve_speaker_encoder().path), SileroVad(resolve_vad_model()))

    # speaker → session → that session's requests' embeddings (None: too little speech)
    said: dict[str, dict[str, list[np.ndarray | None]]] = {}
    clips: dict[str, dict[str, list[np.ndarray]]] = {}
    for wav in sorted(folder.glob("*/*/*.wav")):
        session, speaker = wav.parent.parent.name, wav.parent.name
        clips.setdefault(speaker, {}).setdefault(session, []).extend(requests_of(wav))
    voiceprints = {}
    same: dict[str, list[np.ndarray | None]] = {}  # requests from the enrolment's session, not enrolled with
    for speaker, sessions in sorted(clips.items()):
        home = max(sessions, key=lambda s: len(sessions[s]))
        enrolled: list[np.ndarray] = []
        used = 0
        for n, request in enumerate(sessions[home]):
            if len(enrolled) == ENROL_CLIPS:
                break
            used = n + 1
            try:
                enrolled.append(listener.enrolment(request, f"{speaker} {home} #{n}"))
            except PeopleError as e:
                print(f"  enrolment refused: {e}")
        if len(enrolled) < ENROL_CLIPS:
            print(f"  {speaker}: fewer than {ENROL_CLIPS} usable requests in {home}; left out")
            continue
        voiceprints[speaker] = new_person(speaker.capitalize(), "adult", enrolled)
        same[speaker] = [listener.voice(r).embedding for r in sessions[home][used:]]
        said[speaker] = {}
        for session, requests in sessions.items():
            if session != home:
                said[speaker][session] = [listener.voice(r).embedding for r in requests]
    people = sorted(voiceprints)
    print(
        f"{len(people)} people from {folder}, requests of {REQUEST_S:.0f} s (same session as the enrolment / "
        "other sessions): " + ", ".join(f"{s} {len(same[s])}/{sum(len(v) for v in said[s].values())}" for s in people)
    )
    k = min(args.enrolled, len(people) - 1)
    figures: dict[str, object] = {"people": len(people), "enrolled": k}
    protocols = {
        "same session": {s: same[s] for s in people},
        "other sessions": {s: [e for v in said[s].values() for e in v] for s in people},
    }
    for protocol, requests in protocols.items():
        for threshold in sorted({listening.SAME_PERSON, *SWEEP}, reverse=True):
            listening.SAME_PERSON = threshold
            measured = households(people, voiceprints, requests, k)
            figures[f"{protocol} at {threshold:.2f}"] = measured
            mark = " (the assistant's)" if threshold == SAME_PERSON_SET else ""
            print(
                f"{protocol:15s} SAME_PERSON {threshold:.2f}{mark}: right person named {100 * measured['accuracy_mean']:.1f}% "
                f"mean (worst household {100 * measured['accuracy_min']:.1f}%), wrong person "
                f"{100 * measured['wrong_mean']:.1f}%, strangers taken {100 * measured['false_accepts_mean']:.1f}% "
                f"mean (worst {100 * measured['false_accepts_max']:.1f}%); EER {100 * measured['eer']:.1f}%, same "
                f"person p5/median {measured['genuine_p5']:.2f}/{measured['genuine_median']:.2f}, another p95/p99 "
                f"{measured['impostor_p95']:.2f}/{measured['impostor_p99']:.2f}"
            )
        listening.SAME_PERSON = SAME_PERSON_SET
    figures["one voice or two"] = one_voice_or_two(listener, clips)
    figures["clips of one voice"] = clips_of_one_voice(listener, clips)
    if args.json:
        args.json.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
