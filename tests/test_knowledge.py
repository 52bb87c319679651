"""Household knowledge: real PDFs (reportlab), Markdown, HTML and a letter, read and indexed with
their source and page, searched with BM25; incremental rescans, removed and unreadable files, the
assistant's notes, and the CLI contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import KnowledgeError
from assistant.knowledge.extract import read_document
from assistant.knowledge.index import KnowledgeIndex, passages
from tests.fakes.household_docs import FACTS, make_household_docs


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    make_household_docs(tmp_path / "Documents")
    return tmp_path / "Documents"


def test_pdf_pages_and_titles_are_read(docs: Path) -> None:
    manual = read_document(docs / "coffee_machine_manual.pdf")
    assert manual.title == "Coffee machine manual" and manual.kind == "pdf" and len(manual.pages) == 4
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
    assert (report.added, report.failed) == (6, []) and report.pages == 12
    for fact in FACTS:
        hits = index.search(fact.question, 5)
        assert hits, fact.question
        best = hits[0]
        assert Path(best.source).name == fact.file and best.page == fact.page, (fact.question, best)
        assert all(w in best.text for w in fact.words), (fact.question, best.text)
    assert index.search("what is the capital of peru") == [], "no word in common: nothing"
    assert index.search("descale the coffee machine")[0].named() == "Coffee machine manual, page 3"


def test_rescans_read_only_what_changed_and_bad_files_are_reported(docs: Path, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "data", [docs])
    assert index.scan().added == 6
    again = index.scan()
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 6)
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
    return subprocess.run([sys.executable, "-m", "assistant", "knowledge", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120)


def test_the_cli(docs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = cli(data, "add-folder", str(docs), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["scan"]["added"] == 6
    found = json.loads(cli(data, "search", "how do I descale the coffee machine", "--json").stdout)
    assert found["hits"][0]["named"] == "Coffee machine manual, page 3"
    assert cli(data, "notes", "add", "the spare key is in the blue box").returncode == 0
    notes = json.loads(cli(data, "notes", "--json").stdout)["notes"]
    assert [n["text"] for n in notes] == ["the spare key is in the blue box"]
    assert "your notes" in cli(data, "search", "spare key").stdout
    assert json.loads(cli(data, "scan", "--json").stdout)["unchanged"] == 6
    missing = cli(data, "add-folder", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    gone = cli(data, "notes", "remove", "99")
    assert gone.returncode != 0 and "there is no note 99" in gone.stderr


def test_by_voice_notes_and_answers_name_their_source_or_say_they_are_not_there(docs: Path, tmp_path: Path) -> None:
    import asyncio

    from assistant.bus import Bus
    from assistant.config import load_config
    from assistant.runtime import build_core
    from skills.knowledge.skill import NOT_FOUND
    from tests.conftest import TEMPLATES_ONLY, Recorder

    bus = Bus()
    rec = Recorder(bus)
    core = build_core(load_config(environ={**TEMPLATES_ONLY, "ASSISTANT__FOLDERS__DOCUMENTS": str(docs)}), tmp_path / "data", bus)
    assert core.knowledge is not None and core.knowledge.scan().added == 6

    async def talk() -> list[str]:
        return [await core.dialogue.handle(text) for text in (
            "remember that the spare key is in the blue box", "where is the spare key",
            "how do I descale the coffee machine", "what's the guest wifi password", "when is the boiler service due",
            "where is my passport")]

    replies = asyncio.run(talk())
    assert replies[0] == "I'll remember that the spare key is in the blue box."
    assert replies[1] == "From your notes: The spare key is in the blue box."
    assert replies[2].startswith("From the coffee machine manual, page 3: ") and "citric acid" in replies[2]
    assert "sunflower-42" in replies[3] and "14 March" in replies[4]
    assert replies[5] == NOT_FOUND
    assert [i.tool for i in rec.of("intent")] == ["knowledge.remember", *["knowledge.ask"] * 5]  # type: ignore[attr-defined]
    ask = core.registry.tool("knowledge.ask").func
    for fact in FACTS:  # every fact, as the LLM would pass the whole question
        answer = ask(question=fact.question)
        assert answer.ok and all(w in answer.speech for w in fact.words), (fact.question, answer.speech)
        assert Path(answer.data["source"]).name == fact.file and answer.data["page"] == fact.page
    for question in ("what is the capital of peru", "how do I repair the car engine", "where is the cat flap key"):
        assert ask(question=question).speech == NOT_FOUND, question
