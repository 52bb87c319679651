"""Household knowledge: real PDFs (reportlab), Markdown, HTML and letters, read and indexed with
their source and page, searched with BM25 and all-MiniLM-L6-v2; incremental rescans, removed and
unreadable files, the watcher, the assistant's notes, answers written by the real LLM with their
source or a refusal, and the CLI contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.core.errors import KnowledgeError
from assistant.knowledge.extract import read_document
from assistant.knowledge.index import KnowledgeIndex
from assistant.knowledge.passages import passages
from testbed.fakes.household_docs import FACTS, make_household_docs


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    make_household_docs(tmp_path / "Documents")
    return tmp_path / "Documents"


def test_pdf_pages_and_titles_are_read(docs: Path) -> None:
    manual = read_document(docs / "coffee_machine_manual.pdf")
    assert manual.title == "Coffee machine manual" and manual.kind == "pdf" and len(manual.pages) == 5
    assert "citric acid" in manual.pages[2].text and manual.pages[2].number == 3
    page = read_document(docs / "bin_collection.html")
    assert page.title == "Bin collection" and "Thursday" in page.pages[0].text
    assert "Friday" not in page.pages[0].text and "color" not in page.pages[0].text, "no script, no style"
    assert read_document(docs / "wifi.md").title == "Wifi"
    assert read_document(docs / "letter_from_heating_company.txt").title == "letter from heating company"


def test_every_fact_is_found_at_its_source_and_page(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "data")
    index.add_folder(docs)
    report = index.scan()
    assert (report.added, report.failed) == (13, []) and report.pages == 26
    first = 0
    for fact in FACTS:
        places = [(Path(h.source).name, h.page) for h in index.search(fact.question, 5)]
        assert (fact.file, fact.page) in places, (fact.question, places)
        first += places[0] == (fact.file, fact.page)
    assert first >= 38, f"right source first for {first} of 40"
    words_only = KnowledgeIndex(tmp_path / "words", [docs], semantic=False)
    words_only.scan()
    assert words_only.search("what is the capital of peru") == [], "no word in common: nothing"
    assert index.search("descale the coffee machine")[0].named() == "Coffee machine manual, page 3"


def test_rescans_read_only_what_changed_and_bad_files_are_reported(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "data", [docs])
    assert index.scan().added == 13
    again = index.scan()
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 13)
    (docs / "wifi.md").write_text("# Wifi\n\nThe guest wifi password is now tulip-7.\n")
    os.utime(docs / "wifi.md", ns=(1, 1))
    (docs / "dishwasher_manual.pdf").unlink()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    changed = index.scan()
    assert (changed.added, changed.changed, changed.removed) == (1, 1, 1)
    assert [Path(p).name for p, _ in changed.failed] == ["broken.pdf"] and "not a readable PDF" in changed.failed[0][1]
    assert "tulip-7" in index.search("guest wifi password")[0].text
    assert not any("dishwasher" in h.source for h in index.search("dishwasher filter"))
    assert index.search("citric acid descale")[0].page == 3, "the others are still there"


def test_a_link_out_of_the_folders_is_never_read(docs: Path, tmp_path: Path) -> None:
    """The review's escape: a sandboxed skill granted the documents folder left a link there to the
    vault key; the indexer followed it, and the key could be searched for. A link within the folders
    is still read."""
    data = tmp_path / "data"
    index = KnowledgeIndex(data, [docs], semantic=False)
    (data / "vault.key").write_text("spETd0M3qJYIdUbl5l1N_secret_key_text=\n")
    secret = tmp_path / "elsewhere" / "private.txt"
    secret.parent.mkdir()
    secret.write_text("The safe's combination is 31-07-44.\n")
    (docs / "household-notes.txt").symlink_to(data / "vault.key")
    (docs / "combination.txt").symlink_to(secret)
    (docs / "wifi-again.md").symlink_to(docs / "wifi.md")
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    report = index.scan()
    refused = sorted(Path(p).name for p, _ in report.failed)
    assert refused == ["combination.txt", "household-notes.txt", "loop.txt"], report.failed
    found = [*index.search("spETd0M3qJYIdUbl5l1N secret key"), *index.search("safe combination")]
    assert not any("spETd0M3qJYIdUbl5l1N" in h.text or "31-07-44" in h.text for h in found), found
    assert any(h.source.endswith("wifi-again.md") for h in index.search("guest wifi password"))


def test_notes_are_remembered_searched_and_forgotten(tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "data")
    note = index.remember("the spare key is in the blue box in the shed")
    index.remember("the plumber's number is on the fridge")
    best = index.search("where is the spare key")[0]
    assert best.named() == "your notes" and best.note_id == note and "blue box" in best.text
    assert index.forget(note) and not index.forget(note)
    assert all("blue box" not in h.text for h in index.search("where is the spare key"))
    with pytest.raises(KnowledgeError):
        index.remember("   ")
    reopened = KnowledgeIndex(tmp_path / "data")
    assert [n["text"] for n in reopened.notes()] == ["the plumber's number is on the fridge"], "notes are kept"


def test_results_stay_within_the_granted_folders(docs: Path, tmp_path: Path) -> None:
    private = tmp_path / "Private"
    private.mkdir()
    (private / "bank.txt").write_text("The bank PIN reminder: the boiler pressure code is not here.")
    index = KnowledgeIndex(tmp_path / "data", [docs, private])
    index.scan()
    assert any("bank.txt" in h.source for h in index.search("bank PIN"))
    assert not any("bank.txt" in h.source for h in index.search("bank PIN", within=[docs]))


def test_passages_keep_sentences_whole_and_overlap() -> None:
    text = " ".join(f"Sentence {i} says something about the boiler and the pressure gauge." for i in range(30))
    parts = list(passages(text))
    assert len(parts) > 2 and all(p.endswith(".") for p in parts)
    assert parts[1].split(". ")[0] + "." == parts[0].split(". ")[-1], "each starts with the last sentence before"


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "knowledge", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli(docs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = cli(data, "add-folder", str(docs), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["scan"]["added"] == 13
    found = json.loads(cli(data, "search", "how do I descale the coffee machine", "--json").stdout)
    assert found["hits"][0]["named"] == "Coffee machine manual, page 3"
    assert cli(data, "notes", "add", "the spare key is in the blue box").returncode == 0
    notes = json.loads(cli(data, "notes", "--json").stdout)["notes"]
    assert [n["text"] for n in notes] == ["the spare key is in the blue box"]
    assert "your notes" in cli(data, "search", "spare key").stdout
    assert json.loads(cli(data, "scan", "--json").stdout)["unchanged"] == 13
    missing = cli(data, "add-folder", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    gone = cli(data, "notes", "remove", "99")
    assert gone.returncode != 0 and "there is no note 99" in gone.stderr


def _templates_only_core(docs: Path, tmp_path: Path) -> tuple[Any, Any]:
    """The assistant with the templates and no LLM, the documents scanned, and a recorder of its events."""
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.config import load_config
    from testbed.harness import TEMPLATES_ONLY, Recorder

    bus = Bus()
    rec = Recorder(bus)
    core = build_core(
        load_config(environ={**TEMPLATES_ONLY, "ASSISTANT__FOLDERS__DOCUMENTS": str(docs)}), tmp_path / "data", bus
    )
    assert core.knowledge is not None and core.knowledge.scan().added == 13
    return core, rec


def test_by_voice_notes_and_answers_name_their_source_or_say_they_are_not_there(docs: Path, tmp_path: Path) -> None:
    import asyncio

    from assistant.knowledge.answerer import NOT_FOUND

    core, rec = _templates_only_core(docs, tmp_path)

    async def talk() -> list[str]:
        return [
            await core.dialogue.handle(text)
            for text in (
                "remember that the spare key is in the blue box",
                "where is the spare key",
                "how do I descale the coffee machine",
                "what's the guest wifi password",
                "when is the boiler service due",
                "where is my passport",
            )
        ]

    replies = asyncio.run(talk())
    assert replies[0] == "I'll remember that the spare key is in the blue box."
    assert replies[1] == "From your notes. The spare key is in the blue box."
    assert replies[2].startswith("From the coffee machine manual, page 3. ") and "citric acid" in replies[2]
    assert "sunflower-42" in replies[3] and "14 March" in replies[4]
    assert replies[5] == NOT_FOUND
    assert [i.tool for i in rec.of("intent")] == ["knowledge.remember", *["knowledge.ask"] * 5]  # type: ignore[attr-defined]
    ask = core.registry.tool("knowledge.ask").func
    extracted = 0
    for fact in FACTS:  # without an LLM, the passage's best sentence, as the LLM would pass the whole question
        answer = ask(question=fact.question)
        if answer.ok and all(w.lower() in answer.speech.lower() for w in fact.words):
            assert Path(answer.data["source"]).name == fact.file and answer.data["page"] == fact.page
            assert answer.data["how"] == "extracted"
            extracted += 1
    assert extracted >= 32, f"{extracted} of 40 answered from the passage's sentence"
    for question in ("what is the capital of peru", "how do I repair the car engine", "where is the cat flap key"):
        assert ask(question=question).speech == NOT_FOUND, question


def test_a_note_about_the_speaker_is_theirs_and_any_other_the_households(docs: Path, tmp_path: Path) -> None:
    """Issue 28: "remember that my locker code is 4512" said by Anna answers Anna, and nobody else."""
    import asyncio

    from assistant.knowledge.answerer import NOT_FOUND
    from assistant.plugins.api import Speaker, spoken_by

    core, _ = _templates_only_core(docs, tmp_path)

    def say(text: str, who: Speaker | None) -> str:
        with spoken_by(who):
            return asyncio.run(core.dialogue.handle(text))

    anna, ben, stranger = Speaker("Anna", "adult"), Speaker("Ben", "child"), Speaker(None, "guest")
    assert say("remember that my locker code is 4512", anna) == (
        "I'll remember that your locker code is 4512, Anna, and tell only you."
    )
    assert (
        say("remember that the ladder is behind the shed", anna) == "I'll remember that the ladder is behind the shed."
    )
    assert say("what is my locker code", anna) == "From your notes. My locker code is 4512."
    for other in (ben, stranger):
        # A question no template takes is answered only when the documents hold it: not here, for them.
        assert say("what is my locker code", other) == "Sorry, I can't help with that yet.", other
        assert say("look up in my notes my locker code", other) == NOT_FOUND, other
        assert say("where is the ladder", other) == "From your notes. The ladder is behind the shed.", other
    assert "4512" in say("what is my locker code", None), "typed on this machine: every note"
    # A voice not told apart (a guest, or Anna with a cold) is not given a note about "my" anything:
    # kept as the household's, any voice would be read it.
    for unknown in (stranger, Speaker(None, "guest", unsure=True)):
        said = say("remember that my bank pin is 1234", unknown)
        assert said.startswith("I can't tell who you are, so I won't keep a note about you"), said
    assert core.knowledge is not None
    assert [(n["text"], n["owner"]) for n in core.knowledge.notes()] == [
        ("my locker code is 4512", "Anna"),
        ("the ladder is behind the shed", None),
    ]


def test_an_index_from_before_notes_had_owners_opens_and_its_notes_are_the_households(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "data" / "knowledge" / "index.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL)")
        old.execute("INSERT INTO notes (text, created) VALUES ('the fuse box is in the cellar', 0)")
    old.close()
    index = KnowledgeIndex(tmp_path / "data", semantic=False)
    assert [(n["text"], n["owner"]) for n in index.notes()] == [("the fuse box is in the cellar", None)]
    index.remember("my bike lock is 0000", owner="Ben")
    assert [n["owner"] for n in index.notes()] == [None, "Ben"]


def test_notes_can_be_kept_from_a_skill_that_was_granted_only_folders(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "data", [docs])
    index.scan()
    index.remember("the bike lock code is under the saddle")
    assert any(h.source == "note" for h in index.search("bike lock code", within=[docs]))
    assert not any(h.source == "note" for h in index.search("bike lock code", within=[docs], notes=False))


def test_search_by_meaning_finds_what_words_miss(docs: Path, tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 run in numpy: unit vectors, alike meanings close, and paraphrases found that
    share no word with their document."""
    import numpy as np

    from assistant.knowledge.embedding import shared_embedder

    vectors = shared_embedder().embed(
        [
            "How do I descale the coffee machine?",
            "Descaling. Dissolve citric acid in water and run the rinse programme.",
            "The stock market fell sharply on Monday.",
            "",
        ]
    )
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # sentence-transformers 6.2 (torch 2.13, CPU) gives 0.504656 and 0.018250 for these two pairs,
    # and the first vector begins 0.01547949, 0.03698005, 0.0055525
    assert (
        abs(float(vectors[0] @ vectors[1]) - 0.504656) < 1e-4 and abs(float(vectors[0] @ vectors[2]) - 0.018250) < 1e-4
    )
    assert np.allclose(vectors[0][:3], [0.01547949, 0.03698005, 0.0055525], atol=1e-6)
    both = KnowledgeIndex(tmp_path / "both", [docs])
    both.scan()
    words = KnowledgeIndex(tmp_path / "words", [docs], semantic=False)
    words.scan()
    question = (
        "where do I shut off the mains water"  # the note says "The stopcock for the water is under the kitchen sink"
    )
    assert Path(both.search(question, 3)[0].source).name == "household_notes.md"
    assert both.search(question, 3)[0].similarity is not None
    reopened = KnowledgeIndex(tmp_path / "both", [docs])
    assert reopened.embed_missing() == 0, "the vectors are kept with the passages"
    words_later = KnowledgeIndex(tmp_path / "words", [docs], semantic=True)
    assert words_later.embed_missing() == 26, "an index made without vectors gets them"


def test_the_watcher_reads_a_new_document_within_seconds(docs: Path, tmp_path: Path) -> None:
    import asyncio

    from assistant.app.runtime import build_core
    from assistant.app.services import keep_knowledge
    from assistant.core.bus import Bus
    from assistant.core.config import load_config
    from testbed.harness import TEMPLATES_ONLY, wait_for_async

    config = load_config(
        environ={**TEMPLATES_ONLY, "ASSISTANT__FOLDERS__DOCUMENTS": str(docs), "ASSISTANT__KNOWLEDGE__SCAN_S": "600"}
    )
    core = build_core(config, tmp_path / "data", Bus())
    index = core.knowledge
    assert index is not None
    scans: list[object] = []
    scan = index.scan

    def counted_scan(*args: Any) -> Any:  # the real scan, counted
        report = scan(*args)
        scans.append(report)
        return report

    index.scan = counted_scan  # type: ignore[method-assign]

    def read() -> bool:  # looked for after each scan only: a search embeds the question
        return len(scans) > 1 and any("CR2032" in h.text for h in index.search("garage door opener battery"))

    async def scenario() -> None:
        service = asyncio.create_task(keep_knowledge(core))
        try:
            # Reading and embedding 13 documents: minutes on a busy machine. The watcher started before it.
            await wait_for_async(lambda: scans, timeout_s=240, what="the first scan")
            assert index.documents()
            (docs / "sub").mkdir()
            (docs / "sub" / "garage.md").write_text("# Garage\n\nThe garage door opener battery is a CR2032.\n")
            # Far sooner than the next scan, in 600 s, comes only on the watcher's word.
            await wait_for_async(read, timeout_s=120, what="the new document, on the watcher's word")
        finally:
            service.cancel()

    asyncio.run(scenario())


class _Writer:
    def __init__(self, written: object) -> None:
        self.written = written

    def answer_sync(self, question: str, passages: list[object]) -> object:
        return self.written


def test_an_answer_is_spoken_only_if_its_passage_holds_its_numbers_and_codes(docs: Path, tmp_path: Path) -> None:
    from assistant.knowledge.answerer import NOT_FOUND, Answerer
    from assistant.knowledge.answering import Written, parse, ungrounded

    index = KnowledgeIndex(tmp_path / "data", [docs])
    index.scan()
    question = "what is the guest wifi password"
    good = Answerer(index, _Writer(Written(1, "It's sunflower-42."))).ask(question)  # type: ignore[arg-type]
    assert good.how == "llm" and good.speech == "From your document Wifi. It's sunflower-42."
    invented = Answerer(index, _Writer(Written(1, "It's sunflower-43."))).ask(question)  # type: ignore[arg-type]
    assert invented.how == "extracted" and "sunflower-42" in invented.speech, "the passage's own sentence instead"
    refused = Answerer(index, _Writer(Written(None, ""))).ask(question)  # type: ignore[arg-type]
    assert refused.speech == NOT_FOUND and not refused.found
    assert (
        ungrounded("Use 40 grams", "Dissolve 30 grams of citric acid", "how do I descale")
        == "number 40 is not in the passage"
    )
    assert ungrounded("Error E119 means low pressure", "Error E119 means the water pressure is too low.", "q") is None
    assert parse("[7] out of range", 3) == Written(None, "") and parse("none", 3) == Written(None, "")
    assert parse("[2] It is in the drawer.", 3) == Written(2, "It is in the drawer.")
    from assistant.knowledge.answering import heading_only
    from assistant.knowledge.words import content_words

    assert heading_only("Bins.", content_words("when are the bins collected"))
    assert not heading_only(
        "Recycling is collected on Thursdays.", content_words("is the recycling collected on thursdays")
    ), "a whole sentence answers a yes-or-no question"


@pytest.mark.slow_model
def test_the_real_llm_answers_from_the_documents_names_them_and_refuses_the_rest(docs: Path, tmp_path: Path) -> None:
    """Qwen2.5-Coder-1.5B, as shipped: answers written from the passages, by voice and from the CLI."""
    import asyncio

    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from assistant.core.config import load_config
    from assistant.knowledge.answerer import NOT_FOUND

    core = build_core(load_config(environ={"ASSISTANT__FOLDERS__DOCUMENTS": str(docs)}), tmp_path / "data", Bus())
    assert core.knowledge is not None and core.answerer is not None and core.knowledge.scan().added == 13

    async def talk() -> list[str]:
        return [
            await core.dialogue.handle(text)
            for text in (
                "remember that the ladder is behind the shed",
                "where is the ladder",
                "how do I descale the coffee machine",
                "what's the guest wifi password",
            )
        ]

    replies = asyncio.run(talk())
    assert replies[1].startswith("From your notes. ") and "shed" in replies[1]
    assert replies[2].startswith("From the coffee machine manual, page 3. ") and "citric acid" in replies[2]
    assert replies[3].startswith("From your document Wifi. ") and "sunflower-42" in replies[3]
    for question in ("when does the home insurance renew", "what does boiler error E133 mean"):
        answer = core.answerer.ask(question)
        assert answer.how == "llm", (question, answer.speech)
    assert "1 June" in core.answerer.ask("when does the home insurance renew").speech
    for question in ("what is the dishwasher's warranty period", "when is the window cleaner coming"):
        assert core.answerer.ask(question).speech == NOT_FOUND, question
    data = tmp_path / "cli"
    assert cli(data, "add-folder", str(docs)).returncode == 0
    asked = cli(data, "ask", "when is the boiler service due", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["found"] and answer["how"] == "llm" and "14 March" in answer["answer"]
    assert answer["passage"].startswith("Dear customer") and answer["named"] == "letter from heating company"
    # Whisper writes "Wi-Fi" where the note says "wifi": the question is searched as the documents spell it.
    asked = json.loads(cli(data, "ask", "What is the guest Wi-Fi password?", "--json").stdout)
    assert asked["searched"] == "What is the guest wifi password?" and "sunflower-42" in asked["answer"]


@pytest.mark.slow_model
def test_spoken_questions_are_answered_from_the_documents_end_to_end(docs: Path, tmp_path: Path) -> None:
    """`assistant run` on a recording: "Hey Jarvis", a spoken question (Piper's voice and espeak-ng),
    wake word, end of speech, whisper, the real LLM writing from the passages, and the answer spoken
    into the output WAV with its source named; what no document holds is refused."""
    from testbed import speech as sf

    data = tmp_path / "data"
    assert cli(data, "add-folder", str(docs)).returncode == 0
    clip = sf.save(
        tmp_path / "questions.wav",
        sf.command("When does the home insurance renew?"),
        sf.command("Where is the fuse box?", voice="en-us"),
        sf.command("Which day is the recycling collected?"),
        sf.command("Where is my passport?"),
    )
    events_file, out = tmp_path / "events.jsonl", tmp_path / "replies.wav"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(clip),
            "--audio-out",
            str(out),
            "--events",
            str(events_file),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    heard = [e["text"] for e in events if e["type"] == "transcript"]
    assert [e["tool"] for e in events if e["type"] == "intent"] == ["knowledge.ask"] * 4, heard
    assert [e["source"] for e in events if e["type"] == "intent"][1:] == ["template"] * 3, "the templates take these"
    replies = [e["text"] for e in events if e["type"] == "reply"]
    assert replies[0].startswith("From the insurance letter. ") and "1 June" in replies[0], (heard, replies)
    assert replies[1].startswith("From the household notes. ") and "garage" in replies[1], (heard, replies)
    assert replies[2].startswith("From your document Bin collection. ") and "Thursday" in replies[2], (heard, replies)
    assert replies[3] == "I don't find that in your documents.", (heard, replies)
    results = [e for e in events if e["type"] == "tool_result"]
    assert "Harbour Mutual" in results[0]["data"]["passage"] and results[2]["data"]["title"] == "Bin collection"
    assert len([e for e in events if e["type"] == "tts_start"]) == 4
    assert out.stat().st_size > 4 * 22050, "four spoken answers in the output"


def test_misheard_words_are_spelled_as_the_documents_spell_them() -> None:
    from assistant.knowledge.mending import Spellings

    spellings = Spellings(
        [
            "The guest wifi password is sunflower-42.",
            "Descale the coffee machine. Read this manual.",
            "The passwords of the router. The maker of the kettle.",
        ]
    )
    assert spellings.mend("What is the guest Wi-Fi password?") == "What is the guest wifi password?"
    assert spellings.mend("What is the guess wifi password?") == "What is the guess wifi password?", "an English word"
    assert spellings.mend("How do I discale the coffee machine?") == "How do I descale the coffee machine?"
    hyphenated = Spellings(["Use a Wi-Fi plug."])
    assert hyphenated.mend("Is it a Wi-Fi plug?") == "Is it a Wi-Fi plug?", "the documents write it with a hyphen"
    for kept in (
        "where is my passport",
        "how long do I bake the bread",
        "who makes the kettle",
        "descaling it",
        "the router's passwords",
        "sunflower",
        "how do I discal it",
    ):
        assert spellings.mend(kept) == kept, kept
    assert Spellings(["Descale the coffee machine."], english=frozenset()).mend("discale") == "discale", (
        "without a word list nothing but hyphens is mended"
    )


def test_a_question_no_tool_takes_is_looked_up_in_the_documents(docs: Path, tmp_path: Path) -> None:
    """Neither the templates nor the planner give "when does the home insurance renew" to a tool:
    the knowledge skill's ask takes such questions whole (`tool(unanswered=...)`) and answers only
    when the documents hold the answer; otherwise the honest "can't help" stands."""
    import asyncio

    from assistant.voice.dialogue import CANNOT

    core, rec = _templates_only_core(docs, tmp_path)

    async def talk() -> list[str]:
        return [
            await core.dialogue.handle(text)
            for text in ("When does the home insurance renew?", "Who won the game last night?", "book a table for two")
        ]

    renews, game, table = asyncio.run(talk())
    assert renews.startswith("From the insurance letter. ") and "1 June" in renews
    assert game == CANNOT and table == CANNOT
    intents = rec.of("intent")
    assert [(i.tool, i.source, i.args) for i in intents] == [  # type: ignore[attr-defined]
        ("knowledge.ask", "unanswered", {"question": "When does the home insurance renew?"})
    ]
    assert [n.text for n in rec.of("no_intent")] == ["Who won the game last night?", "book a table for two"]  # type: ignore[attr-defined]
    assert rec.types()[:3] == ["intent", "tool_result", "reply"], "the answer's events in their usual order"
    assert [r.tool for r in rec.of("tool_result")] == ["knowledge.ask"], "a lookup that finds nothing leaves no events"  # type: ignore[attr-defined]
    from assistant.voice.dialogue import _QUESTION

    for question in (
        "When does the home insurance renew",
        "so where is the fuse box",
        "Do you know the wifi password",
        "why is the boiler beeping",
        "the router password?",
    ):
        assert _QUESTION.match(question), question
    for command in ("book a table for two", "do the dishes", "do not disturb", "turn on the light"):
        assert not _QUESTION.match(command), command
