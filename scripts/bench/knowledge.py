#!/usr/bin/env python
"""Household knowledge: retrieval hit rate at 1 and 5 (BM25 alone against BM25 with semantic search,
on the 40 questions and on 10 paraphrases that share few words with their documents), answers by
the LLM on the 40 (right source, the fact's words), refusals on the 10 unanswerable questions (and on
a tuning set of 10 more), latency from the question to the first reply audio (as text, and spoken:
Piper's voice, whisper, the answer, Piper's first audio), and the time to index 1,000 pages of PDF.

    .venv/bin/python scripts/bench/knowledge.py [--pages 1000] [--no-speech]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import build_core  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.knowledge.answerer import Answerer  # noqa: E402
from assistant.knowledge.index import KnowledgeIndex  # noqa: E402
from testbed.fakes.household_docs import (  # noqa: E402
    FACTS,
    FILLER,
    NOT_THERE,
    SEALED_NOT_THERE,
    Fact,
    make_household_docs,
    write_pdf,
)

TUNING_NOT_THERE = [
    "what is the capital of peru",
    "where is my passport",
    "how do I change the car's oil",
    "when is the dentist appointment",
    "what is the garage door code",
    "how do I reset the router",
    "which day is the piano lesson",
    "where are the spare batteries",
    "what is the alarm code",
    "how do I descale the kettle",
]
"""Unanswerable questions the refusal margins were set on. NOT_THERE's results were seen too while
the answering was tuned; SEALED_NOT_THERE's were not."""

PARAPHRASES = [
    Fact("how do I get the limescale out of the espresso maker", "coffee_machine_manual.pdf", 3, ()),
    Fact("what's the code for visitors to get on the internet", "wifi.md", None, ()),
    Fact("when do they pick up the recyclables", "bin_collection.html", None, ()),
    Fact("where do I shut off the mains water", "household_notes.md", None, ()),
    Fact("how do I let the air out of a heater", "boiler_guide.pdf", 4, ()),
    Fact("what opens my bicycle padlock", "household_notes.md", None, ()),
    Fact("when do the kids break up for christmas", "school_terms.html", None, ()),
    Fact("how much does the puppy eat", "household_notes.md", None, ()),
    Fact("which setting for woollen jumpers", "washing_machine_manual.pdf", 1, ()),
    Fact("how much air goes in the car's wheels", "car_handbook.pdf", 2, ()),
]
"""Questions in other words than their documents use: what search by meaning is for."""


def hit_rates(index: KnowledgeIndex, facts: list[Fact]) -> tuple[int, int]:
    at1 = at5 = 0
    for fact in facts:
        places = [(Path(h.source).name, h.page) for h in index.search(fact.question, 5)]
        at1 += places[:1] == [(fact.file, fact.page)]
        at5 += (fact.file, fact.page) in places
    return at1, at5


def right(answer: object, fact: Fact) -> bool:
    hit = answer.hit
    text = answer.text.lower()
    return (
        hit is not None
        and (Path(hit.source).name, hit.page) == (fact.file, fact.page)
        and all(w.lower() in text for w in fact.words)
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=1000)
    p.add_argument("--no-speech", action="store_true", help="leave out the spoken questions")
    args = p.parse_args()
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        make_household_docs(tmp / "docs")
        (tmp / "config.yaml").write_text(f"knowledge:\n  folders: [{tmp / 'docs'}]\n")
        config = load_config(tmp / "config.yaml")
        words_only = KnowledgeIndex(tmp / "data-words", [tmp / "docs"], semantic=False)
        words_only.scan()
        core = build_core(config, tmp / "data", Bus())
        assert core.knowledge is not None and core.answerer is not None and core.planner is not None
        started = time.perf_counter()
        report = core.knowledge.scan()
        core.knowledge.search("warm up", 1)
        print(
            f"corpus: {report.pages} pages, {report.passages} passages, indexed with embeddings in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

        out.append(f"\n== retrieval: {len(FACTS)} questions, {len(PARAPHRASES)} paraphrases ==")
        for name, index in (("BM25 alone", words_only), ("BM25 + semantic", core.knowledge)):
            a1, a5 = hit_rates(index, FACTS)
            p1, p5 = hit_rates(index, PARAPHRASES)
            times = []
            for fact in FACTS:
                t = time.perf_counter()
                index.search(fact.question, 5)
                times.append(time.perf_counter() - t)
            out.append(
                f"{name:16s} top1 {a1}/{len(FACTS)}  top5 {a5}/{len(FACTS)} ({a5 / len(FACTS):.0%}, target ≥ 95 %)  "
                f"paraphrases top1 {p1}/{len(PARAPHRASES)} top5 {p5}/{len(PARAPHRASES)}  "
                f"search median {statistics.median(times) * 1000:.1f} ms"
            )

        core.planner.load_sync()
        answerer: Answerer = core.answerer
        answerer.ask("warm up the answering prompt")
        correct, seconds, first_audio, how = 0, [], [], {"llm": 0, "extracted": 0, "not_found": 0}
        synthesizer = _synthesizer(config)
        misses = []
        for fact in FACTS:
            started = time.perf_counter()
            answer = answerer.ask(fact.question)
            seconds.append(time.perf_counter() - started)
            next(iter(synthesizer.sentences(answer.speech)))
            first_audio.append(time.perf_counter() - started)
            how[answer.how] += 1
            if right(answer, fact):
                correct += 1
            else:
                misses.append(f"  wrong: {fact.question!r} -> {answer.speech!r}")
        refusals = {}
        answered_wrongly = []
        for name, questions in (("held out", NOT_THERE), ("sealed", SEALED_NOT_THERE), ("tuning", TUNING_NOT_THERE)):
            refusals[name] = 0
            for q in questions:
                answer = answerer.ask(q)
                refusals[name] += not answer.found
                if answer.found:
                    answered_wrongly.append(f"  answered ({name}): {q!r} -> {answer.speech!r}")
        paraphrased = sum(right(answerer.ask(f.question), f) for f in PARAPHRASES)
        n = len(FACTS)
        out.append(f"\n== answers (the LLM, {core.config.planner.model}) ==")
        out.append(
            f"correct (source and the fact's words) {correct}/{n} ({correct / n:.0%}, target ≥ 85 %); "
            f"written by the LLM {how['llm']}, extracted {how['extracted']}, refused {how['not_found']}"
        )
        out.append(
            f"refused the unanswerable           sealed {refusals['sealed']}/{len(SEALED_NOT_THERE)}, "
            f"held out (seen while tuning) {refusals['held out']}/{len(NOT_THERE)} (target 10/10); "
            f"tuning set {refusals['tuning']}/{len(TUNING_NOT_THERE)}"
        )
        out.append(f"paraphrases answered from the right source {paraphrased}/{len(PARAPHRASES)}")
        out += misses + answered_wrongly
        out.append(
            f"question (text) -> answer          median {statistics.median(seconds):.2f} s  "
            f"p90 {sorted(seconds)[int(0.9 * n)]:.2f} s"
        )
        out.append(
            f"question (text) -> first audio     median {statistics.median(first_audio):.2f} s  "
            f"p90 {sorted(first_audio)[int(0.9 * n)]:.2f} s  (target ≤ 2.5 s)"
        )

        if not args.no_speech:
            out += _spoken(config, answerer, synthesizer)

        big = tmp / "big"
        big.mkdir()
        per_file = 20
        for i in range(args.pages // per_file):
            write_pdf(
                big / f"manual_{i}.pdf",
                f"Appliance {i} manual",
                [f"Section {i}.{page}. " + FILLER * 4 for page in range(per_file)],
            )
        for semantic in (False, True):
            large = KnowledgeIndex(tmp / f"data-big-{semantic}", [big], semantic=semantic)
            report = large.scan()
            started = time.perf_counter()
            large.search("how do I clean appliance 7", 5)
            first_search = time.perf_counter() - started
            out.append(
                f"\nindex {report.pages} PDF pages ({report.passages} passages) "
                f"{'with' if semantic else 'without'} embeddings: {report.seconds:.1f} s; first search "
                f"(builds BM25{' and loads the vectors' if semantic else ''}) {first_search:.2f} s"
            )
    print("\n".join(out))
    return 0


def _synthesizer(config: object):  # type: ignore[no-untyped-def]
    from assistant.core.models import resolve_piper_voice
    from assistant.speech.tts import Synthesizer

    synthesizer = Synthesizer(resolve_piper_voice(config.tts.voice), config.tts)  # type: ignore[attr-defined]
    synthesizer.warm_up()
    return synthesizer


def _spoken(config: object, answerer: Answerer, synthesizer: object) -> list[str]:
    """Each question in Piper's voice, heard by whisper, answered and spoken: the time from the end of
    the question's audio to the first reply audio, without the VAD's wait for the end of speech."""
    from assistant.core.models import resolve_whisper
    from assistant.speech.stt import Transcriber
    from testbed.speech import piper, words

    stt = config.stt  # type: ignore[attr-defined]
    transcriber = Transcriber(resolve_whisper(stt.model, stt.path, False), stt)
    transcriber.warm_up()
    correct, total, mended, unmended_right, heard_right = 0, [], [], 0, 0
    for fact in FACTS:
        pcm = piper(fact.question)
        started = time.perf_counter()
        heard = transcriber.transcribe(pcm)
        answer = answerer.ask(heard)
        next(iter(synthesizer.sentences(answer.speech)))  # type: ignore[attr-defined]
        total.append(time.perf_counter() - started)
        correct += right(answer, fact)
        heard_right += words(heard).split() == words(fact.question).split()
        if answer.searched != heard:  # the baseline: the same transcript searched as heard
            mended.append(f"  mended: {heard!r} -> {answer.searched!r}")
            unmended_right += right(answerer.ask(heard, mend=False), fact)
        else:
            unmended_right += right(answer, fact)
    n = len(FACTS)
    return [
        f"\n== spoken (Piper's voice -> whisper {stt.model} -> answer -> Piper) ==",
        f"heard word for word {heard_right}/{n}",
        f"correct {correct}/{n} ({correct / n:.0%}); baseline, the transcripts searched as heard: "
        f"{unmended_right}/{n} ({unmended_right / n:.0%})",
        *mended,
        f"end of question -> first audio    median {statistics.median(total):.2f} s  "
        f"p90 {sorted(total)[int(0.9 * n)]:.2f} s  (target ≤ 2.5 s)",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
