"""A forgotten voice's reminders, alarms, timers, "only mine" notes and paired phones stay under the
name, and a new voice is not learned under it unless an adult hands them over on the command line
(`--take-over`): otherwise whoever enrolled as "Anna" next would be read Anna's notes, told her
reminders, and given her phone."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.app.kept import kept_in, kept_under, phone_people
from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import SchedulerConfig, load_config
from assistant.knowledge.index import KnowledgeIndex
from assistant.people.household import Household
from assistant.people.voiceprints import PURPOSE, PeopleError, Person, Voiceprints
from assistant.plugins.api import Speaker, spoken_by
from assistant.scheduling.scheduler import Scheduler
from assistant.trust.vault import Vault
from assistant.web.auth import Phones
from assistant.web.server import web_dir
from testbed.harness import TEMPLATES_ONLY
from tests.people.test_people import enrol, people


def annas_things(data: Path) -> None:
    """A reminder and an alarm of Anna's, a note told only to her, a phone paired as her; and the
    household's own and Ben's, which are not hers."""
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
    phones.close()


def test_what_is_kept_under_a_name_is_counted_in_any_case(tmp_path: Path) -> None:
    annas_things(tmp_path)
    kept = kept_in(tmp_path, Scheduler(tmp_path, SchedulerConfig()))
    assert kept("ANNA") == ["a reminder", "an alarm", "a note told only to them", "a paired phone"]
    assert kept("Ben") == ["a timer"]
    assert kept("Cara") == []
    assert phone_people(tmp_path / "nowhere") == []
    scheduler = Scheduler(tmp_path / "other", SchedulerConfig())
    assert kept_under("Anna", scheduler, ["Anna", "Anna", "Ben"], ["Anna", None]) == [
        "2 notes told only to them",
        "a paired phone",
    ]


def test_a_new_voice_is_not_learned_by_voice_under_a_name_that_still_holds_things(tmp_path: Path) -> None:
    annas_things(tmp_path)
    household = Household(tmp_path, Vault(tmp_path), kept_in(tmp_path, Scheduler(tmp_path, SchedulerConfig())))
    with pytest.raises(PeopleError) as refused:
        household.enrolment("anna", None)
    assert refused.value.message == (
        "I can't learn a new voice as Anna: the Anna whose voice was forgotten still has a reminder, an alarm, "
        "a note told only to them and a paired phone. Choose another name, or an adult can enrol you as Anna "
        "with `assistant people enroll Anna --take-over`"
    )
    assert household.enrolment("Cara", None).name == "Cara"  # a name that holds nothing is learned


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
    assert ask("yes", anna) == "I've forgotten your voice, Anna. These stay under your name: a reminder."
    with pytest.raises(PeopleError, match="the Anna whose voice was forgotten still has a reminder"):
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
        "Kept under the name Anna: a reminder, an alarm, a note told only to them and a paired phone. "
        "A new voice enrolled as Anna is given them only with --take-over.",
    ]
    refused = enrol(data, tmp_path, "anna", "en-us+f2")
    assert refused.returncode != 0
    assert "nobody called anna is enrolled, but the name still holds a reminder" in refused.stderr
    assert "add --take-over" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(people(data, "list", "--json").stdout)["people"] == []
    taken = enrol(data, tmp_path, "Anna", "en-us+f2", "--take-over")
    assert taken.returncode == 0, taken.stderr
    trail = subprocess.run(
        [sys.executable, "-m", "assistant", "audit", "--json", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    enrolled = [json.loads(line) for line in trail.stdout.splitlines() if '"voice enrolled"' in line]
    assert enrolled[-1]["took_over"] == ["a reminder", "an alarm", "a note told only to them", "a paired phone"]
