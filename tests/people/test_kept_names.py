"""A forgotten voice's reminders, alarms, timers, private notes, paired phones (and pairing codes) and
unfinished routine runs stay under the name, and a new voice is not learned under it unless an adult
hands them over on the command line (`--take-over`): otherwise whoever enrolled as "Anna" next would
be read Anna's notes, told her reminders, and given her phone."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.app.kept import KeptIn, kept_under, note_owners, phone_owners, scheduler_owners
from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import SchedulerConfig, load_config
from assistant.knowledge.index import KnowledgeIndex
from assistant.people.household import Household, without_a_voice
from assistant.people.voiceprints import PURPOSE, PeopleError, Person, Voiceprints
from assistant.plugins.api import Speaker, spoken_by
from assistant.routines.runner import RoutineRunner
from assistant.scheduling.scheduler import Scheduler
from assistant.trust.vault import Vault
from assistant.web.auth import Phones
from assistant.web.server import web_dir
from testbed.harness import TEMPLATES_ONLY
from tests.people.test_people import enrol, people

ANNAS = ["a reminder", "an alarm", "a private note", "a paired phone", "a pairing code"]


def annas_things(data: Path) -> None:
    """A reminder and an alarm of Anna's, a note told only to her, a phone paired as her and a code
    that would pair another; and the household's own and Ben's, which are not hers."""
    scheduler = Scheduler(data, SchedulerConfig())
    soon = time.time() + 3600
    scheduler.add_reminder("take the pills", soon, owner="Anna")
    scheduler.add_alarm(soon, owner="anna")
    scheduler.add_reminder("water the plants", soon)
    scheduler.add_timer(600, "pasta", owner="Ben")
    index = KnowledgeIndex(data, [], semantic=False)
    index.remember("the safe's code is 4711", owner="Anna")
    index.remember("the bins go out on Tuesday")
    index.close()
    phones = Phones(web_dir(data))
    code, _ = phones.new_code(person="Anna")
    phones.pair(code, "Anna's phone")
    phones.new_code(person="Anna")
    phones.close()


def read_from_files(data: Path) -> Household:
    def runs() -> list[str | None]:
        return RoutineRunner(data, lambda name: None).unfinished_by()  # type: ignore[arg-type, return-value]

    kept = KeptIn(data, lambda: scheduler_owners(Scheduler(data, SchedulerConfig())), lambda: note_owners(data), runs)
    return Household(data, Vault(data), kept)


def test_what_is_kept_under_a_name_is_counted_in_any_case(tmp_path: Path) -> None:
    annas_things(tmp_path)
    household = read_from_files(tmp_path)
    assert household.kept("ANNA") == ANNAS
    assert household.kept("Ben") == ["a timer"]
    assert household.kept("Cara") == []
    assert phone_owners(tmp_path / "nowhere") == {} and note_owners(tmp_path / "nowhere") == []
    assert kept_under("Anna", {"notes": ["Anna", "anna", "Ben", None], "runs": ["Anna"]}) == [
        "2 private notes",
        "an unfinished routine run",
    ]


def test_a_new_voice_is_not_learned_by_voice_under_a_name_that_still_holds_things(tmp_path: Path) -> None:
    annas_things(tmp_path)
    household = read_from_files(tmp_path)
    with pytest.raises(PeopleError) as refused:
        household.enrolment("anna", None)
    # Said to any voice that asks: what the name holds is not told.
    assert refused.value.message == (
        "I can't learn a new voice as Anna: things are still kept for an earlier Anna. Choose another name, "
        "or ask an adult to enrol you as Anna on the assistant's computer (`assistant people enroll Anna "
        "--take-over`, while the assistant is stopped)"
    )
    assert household.enrolment("Cara", None).name == "Cara"  # a name that holds nothing is learned


def test_what_cannot_be_read_is_said_and_nothing_is_assumed(tmp_path: Path) -> None:
    annas_things(tmp_path)
    (tmp_path / "knowledge" / "index.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(PeopleError, match="I can't tell what is kept under the name Cara: .*not a database"):
        read_from_files(tmp_path).enrolment("Cara", None)
    web = web_dir(tmp_path) / "web.json"
    web.unlink()
    os.mkfifo(web)  # read, it would wait for a writer for ever
    (tmp_path / "knowledge" / "index.db").unlink()
    with pytest.raises(PeopleError, match="web.json is not a file"):
        read_from_files(tmp_path).enrolment("Cara", None)


def test_forgetting_by_voice_says_what_stays_and_the_name_is_not_learned_anew(tmp_path: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    assert core.household is not None
    voiceprint = np.ones(256, np.float32) / 16.0
    Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE)).save(
        Person("Anna", "adult", voiceprint, time.time(), 3)
    )

    def ask(text: str, who: Speaker) -> str:
        with spoken_by(who):
            return asyncio.run(core.dialogue.handle(text, turn=1))

    anna = Speaker("Anna", "adult")
    assert ask("remind me to call mum at 5 pm", anna).startswith("I'll remind you to call mum")
    assert ask("forget my voice", anna) == "Forget your voice?"
    assert ask("yes", anna) == "I've forgotten your voice, Anna. Kept under your name: a reminder."
    with pytest.raises(PeopleError, match="things are still kept for an earlier Anna"):
        core.household.enrolment("Anna", Speaker(None, "guest"))


@pytest.mark.slow_model
def test_a_forgotten_name_is_handed_to_a_new_voice_only_with_take_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert enrol(data, tmp_path, "Anna", "piper").returncode == 0
    annas_things(data)
    forgot = people(data, "forget", "Anna")
    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.splitlines() == [
        "Forgot Anna's voice.",
        "Kept under the name Anna: a reminder, an alarm, a private note, a paired phone and a pairing code. "
        "A new voice enrolled as Anna is given them only with --take-over.",
    ]
    refused = enrol(data, tmp_path, "anna", "en-us+f2")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "nobody called anna is enrolled, but the name still holds a reminder" in refused.stderr
    assert "add --take-over" in refused.stderr
    assert json.loads(people(data, "list", "--json").stdout)["people"] == []
    taken = enrol(data, tmp_path, "anna", "en-us+f2", "--take-over")
    assert taken.returncode == 0, taken.stderr
    trail = subprocess.run(
        [sys.executable, "-m", "assistant", "audit", "--json", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    enrolled = [json.loads(line) for line in trail.stdout.splitlines() if '"voice enrolled"' in line]
    assert enrolled[-1]["took_over"] == ANNAS
    # Handed over whatever the case it was kept under: her reminders and alarms are the new anna's.
    core = build_core(load_config(environ=TEMPLATES_ONLY), data, Bus())
    with spoken_by(Speaker("anna", "adult")):
        mine = asyncio.run(core.dialogue.handle("what are my reminders", turn=1))
    assert "take the pills" in mine and "water the plants" in mine


@pytest.mark.slow_model
def test_forgetting_on_the_command_line_works_when_what_stays_cannot_be_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert enrol(data, tmp_path, "Anna", "piper").returncode == 0
    (data / "knowledge").mkdir()
    (data / "knowledge" / "index.db").write_bytes(b"garbage" * 500)
    os.mkfifo(data / "scheduler.json")
    forgot = people(data, "forget", "Anna")
    assert forgot.returncode == 0 and forgot.stdout.strip() == "Forgot Anna's voice."
    assert "scheduler.json is not a file" in forgot.stderr and "Traceback" not in forgot.stderr
    assert json.loads(people(data, "list", "--json").stdout)["people"] == []


def test_an_unfinished_run_started_by_a_voice_is_kept_under_its_name(tmp_path: Path) -> None:
    runner = RoutineRunner(tmp_path, lambda name: None)  # type: ignore[arg-type, return-value]
    runner._runs.insert({"run_id": "r1", "routine": "good morning", "state": "running", "started_at": 1.0,
                         "started_by": {"name": "Anna", "role": "adult", "unsure": False}})  # fmt: skip
    runner._runs.insert({"run_id": "r2", "routine": "good night", "state": "done", "started_at": 2.0,
                         "started_by": {"name": "Anna", "role": "adult", "unsure": False}})  # fmt: skip
    assert read_from_files(tmp_path).kept("Anna") == ["an unfinished routine run"]


def test_with_the_last_voice_forgotten_and_its_private_note_kept_a_voice_is_still_a_guest(tmp_path: Path) -> None:
    """Nobody enrolled used to mean nobody told apart: any voice was read everyone's notes, the
    forgotten person's private ones too. Now that holds only while nothing is kept under a name,
    whatever became of the people folder."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    household = core.household
    assert household is not None and core.knowledge is not None
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    store.save(Person("Anna", "adult", np.ones(256, np.float32) / 16.0, time.time(), 3))
    store.save(Person("Ben", "adult", -np.ones(256, np.float32) / 16.0, time.time(), 3))
    note = core.knowledge.remember("the safe's code is 4711", owner="Anna")
    assert household.forget("Ben", "cli", by_adult=True) == []
    assert household.forget("Anna", "cli", by_adult=True) == ["a private note"]
    assert household.forget("Anna", "cli", by_adult=True) is None
    assert household.people() == [] and household.knows_voices()
    assert without_a_voice(household) == Speaker(None, "guest")
    with spoken_by(Speaker(None, "guest")):
        heard = asyncio.run(core.dialogue.handle("what is the safe's code", turn=1))
    assert "4711" not in heard
    (tmp_path / "people").rename(tmp_path / "people-aside")  # as the vault messages say to, say
    time.sleep(1.1)  # the folder is looked at once a second
    assert household.knows_voices(), "the folder moved aside made every voice nobody in particular again"
    listed = people(tmp_path, "list", "--json")
    assert json.loads(listed.stdout)["left_things"] is True
    # The note cancelled, the next start finds nothing kept: nobody enrolled is nobody told apart again.
    assert core.knowledge.forget(note)
    again = Household(tmp_path, Vault(tmp_path), read_from_files(tmp_path)._kept)
    assert not again.knows_voices()
    assert json.loads(people(tmp_path, "list", "--json").stdout)["left_things"] is False


def test_people_list_says_when_it_cannot_tell_whether_things_are_kept(tmp_path: Path) -> None:
    (tmp_path / "scheduler.json").write_text("{ not json")
    listed = people(tmp_path, "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["left_things"] is None
    assert "scheduler.json" in listed.stderr and "Traceback" not in listed.stderr
    said = people(tmp_path, "list")
    assert "I can't tell whether things are kept under forgotten names" in said.stdout


def test_a_new_name_enrolled_by_another_voice_while_this_one_read_is_not_replaced(tmp_path: Path) -> None:
    household = read_from_files(tmp_path)
    reading = household.enrolment("Anna", None)  # a guest on the phone page, say
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    annas = Person("Anna", "adult", np.ones(256, np.float32) / 16.0, time.time(), 3)
    store.save(annas)  # meanwhile the real Anna, at the microphone
    other = np.zeros(256, np.float32)
    other[0] = 1.0
    with pytest.raises(PeopleError, match="the name was taken while you read"):
        reading._finish([other, other, other])
    assert np.allclose(store.find("Anna").voiceprint, annas.voiceprint)  # type: ignore[union-attr]


def test_after_the_last_voice_is_forgotten_with_things_kept_a_new_voice_is_a_guest_not_the_adult(
    tmp_path: Path,
) -> None:
    """The household is not new while a forgotten voice's things stay: a voice learned then is its
    guest (an adult is made on the command line), else any stranger would say "learn my voice" and
    be the adult of a house where every voice is a guest."""
    annas_things(tmp_path)
    household = read_from_files(tmp_path)
    assert household.people() == [] and household.knows_voices()
    reading = household.enrolment("Zed", Speaker(None, "guest"))
    assert reading.role == "guest"
    other = np.zeros(256, np.float32)
    other[0] = 1.0
    reading._finish([other, other, other])
    assert [(p.name, p.role) for p in household.people()] == [("Zed", "guest")]

    empty = tmp_path / "new"
    first = read_from_files(empty).enrolment("Cara", None)
    assert first.role == "adult", "the first voice of a new household is still its adult"
    first._finish([other, other, other])
    assert [(p.name, p.role) for p in read_from_files(empty).people()] == [("Cara", "adult")]


def test_a_child_cannot_forget_the_last_voice_and_leave_every_voice_an_adults(tmp_path: Path) -> None:
    """With nobody enrolled every voice may do what an adult may: the last voice, a child's, is
    forgotten by an adult (an admin phone, the command line), not by the child."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    assert core.household is not None
    Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE)).save(
        Person("Ben", "child", np.ones(256, np.float32) / 16.0, time.time(), 3)
    )
    ben = Speaker("Ben", "child")

    def ask(text: str) -> str:
        with spoken_by(ben):
            return asyncio.run(core.dialogue.handle(text, turn=1))

    assert ask("forget my voice") == "Forget your voice?"
    said = ask("yes")
    assert "Ben's is the only voice I know" in said and "admin phone" in said, said
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    assert [p.name for p in store.load()[0]] == ["Ben"]
    assert core.household.forget("Ben", "phone:admin", by_adult=True) == []
    assert store.load()[0] == []


def test_relearning_keeps_the_role_as_it_is_now_and_a_voice_forgotten_meanwhile_stays_forgotten(
    tmp_path: Path,
) -> None:
    """Ben says "learn my voice" as an adult; while he reads, Anna makes him a child, or an admin
    phone forgets him: the readings neither bring back the adult nor enrol him again."""
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    voice = np.zeros(256, np.float32)
    voice[0] = 1.0
    store.save(Person("Anna", "adult", np.roll(voice, 7), time.time(), 3))
    store.save(Person("Ben", "adult", voice, time.time(), 3))
    household = read_from_files(tmp_path)
    reading = household.enrolment("Ben", Speaker("Ben", "adult"))
    household.set_role("Ben", "child", "voice:Anna")
    reading._finish([voice, voice, voice])
    assert store.find("Ben").role == "child"  # type: ignore[union-attr]
    assert [(p.name, p.role) for p in household.people()] == [("Anna", "adult"), ("Ben", "child")]

    reading = household.enrolment("Ben", Speaker("Ben", "child"))
    assert household.forget("Ben", "phone:Admin phone", by_adult=True) == []
    with pytest.raises(PeopleError, match="forgotten while you read"):
        reading._finish([voice, voice, voice])
    assert store.find("Ben") is None and [p.name for p in read_from_files(tmp_path).people()] == ["Anna"]


def test_a_folder_where_a_voiceprint_belongs_is_a_clear_error(tmp_path: Path) -> None:
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    store.save(Person("Anna", "adult", np.ones(256, np.float32) / 16.0, time.time(), 3))
    path = next(p for p in store.folder.iterdir() if p.is_file())
    path.unlink()
    path.mkdir()  # Anna's file is a folder now
    with pytest.raises(PeopleError, match="is a folder"):
        store.save(Person("Anna", "adult", np.ones(256, np.float32) / 16.0, time.time(), 3))
    with pytest.raises(PeopleError, match="is a folder, not a voiceprint"):
        store.forget("Anna")


def test_a_yes_in_another_enrolled_voice_confirms_nothing(tmp_path: Path) -> None:
    """Anna's "forget my voice" answered by Ben's "yes, go ahead" forgot Ben's voice (the call ran as
    whoever said yes): now nothing is done, and a short yes, too short to tell, is still Anna's."""
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    voice = np.zeros(256, np.float32)
    voice[0] = 1.0
    store.save(Person("Anna", "adult", voice, time.time(), 3))
    store.save(Person("Ben", "adult", np.roll(voice, 3), time.time(), 3))
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())
    assert core.household is not None

    def ask(text: str, who: Speaker) -> str:
        with spoken_by(who):
            return asyncio.run(core.dialogue.handle(text, turn=1))

    anna, ben = Speaker("Anna", "adult"), Speaker("Ben", "adult")
    assert ask("forget my voice", anna) == "Forget your voice?"
    assert ask("yes go ahead", ben) == "I didn't: that yes wasn't Anna's voice. Anna can ask again."
    assert sorted(p.name for p in core.household.people()) == ["Anna", "Ben"]
    assert ask("forget my voice", anna) == "Forget your voice?"
    assert ask("yes", Speaker(None, "guest", unsure=True)).startswith("I've forgotten your voice, Anna.")
    assert [p.name for p in core.household.people()] == ["Ben"]


def test_this_is_or_my_name_is_alone_asks_before_learning_a_voice(tmp_path: Path) -> None:
    """ "this is {name}" said alone also catches "this is so annoying": a yes comes first; "learn my
    voice, I'm Anna" says what it wants and is not asked again."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())

    def ask(text: str) -> str:
        with spoken_by(Speaker(None, "guest")):
            return asyncio.run(core.dialogue.handle(text, turn=1))

    assert ask("this is so annoying") == "Should I learn your voice as So Annoying?"
    assert ask("no") == "Okay, I won't."
    assert ask("my name is not important") == "Should I learn your voice as Not Important?"
    assert ask("no") == "Okay, I won't."
    assert ask("this is Anna") == "Should I learn your voice as Anna?"
    assert "I learn a voice only from speech" in ask("yes")  # a typed yes: nothing to learn from
    assert "I learn a voice only from speech" in ask("learn my voice, I'm Anna")


def test_forget_my_voice_too_short_to_tell_asks_for_a_whole_sentence_before_any_yes(tmp_path: Path) -> None:
    store = Voiceprints(tmp_path, Vault(tmp_path).derived_key(PURPOSE))
    store.save(Person("Anna", "adult", np.ones(256, np.float32) / 16.0, time.time(), 3))
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path, Bus())

    def ask(text: str, who: Speaker) -> str:
        with spoken_by(who):
            return asyncio.run(core.dialogue.handle(text, turn=1))

    assert ask("forget my voice", Speaker(None, "guest", unsure=True)) == (
        "Sorry, I'm not sure whose voice this is. Say it again in a whole sentence, such as "
        '"please forget my voice now".'
    )
    assert ask("forget my voice", Speaker(None, "guest")) == (
        "Sorry, I don't know your voice, so there is nothing to forget."
    )
    assert ask("please forget my voice now", Speaker("Anna", "adult")) == "Forget your voice?"
