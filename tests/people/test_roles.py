"""Roles given by an adult's voice ("make Ben an adult") and by `assistant people role`; and a running
assistant seeing what `assistant people` changed in another process, from the next request on."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.people.household import LOOK_EVERY_S
from assistant.people.voiceprints import PURPOSE, Person, Voiceprints
from assistant.plugins.api import Speaker, spoken_by
from tests.people.test_people import people


def voiceprint(axis: int) -> np.ndarray:
    vector = np.zeros(256, np.float32)
    vector[axis] = 1.0
    return vector


def household(config, data: Path):  # type: ignore[no-untyped-def]
    """A core whose household is Anna (adult) and Ben (a guest: learned by voice after Anna)."""
    core = build_core(config, data, Bus())
    store = Voiceprints(data, core.vault.derived_key(PURPOSE))
    store.save(Person("Anna", "adult", voiceprint(0), 0.0, 3))
    store.save(Person("Ben", "guest", voiceprint(1), 0.0, 3))
    return build_core(config, data, Bus()), store


def roles(store: Voiceprints) -> dict[str, str]:
    return {p.name: p.role for p in store.load()[0]}


def test_an_adults_voice_gives_roles_after_a_yes_and_nobody_else_can(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    core, store = household(config, tmp_path / "data")
    ask = lambda text: asyncio.run(core.dialogue.handle(text))  # noqa: E731
    with spoken_by(Speaker("Ben", "guest")):
        assert ask("make me an adult") == "Sorry, only an adult can do that."
        assert ask("make Ben an adult") == "Sorry, only an adult can do that."
    with spoken_by(Speaker(None, "guest")):
        assert ask("Ben is an adult") == "Sorry, only an adult can do that, and I don't know your voice."
    assert roles(store) == {"Anna": "adult", "Ben": "guest"}

    with spoken_by(Speaker("Anna", "adult")):
        assert ask("make ben an adult") == "Give Ben the role adult?"
    with spoken_by(Speaker("Ben", "guest")):  # a yes from another voice does not do it
        assert ask("yes") == "Sorry, only an adult can do that."
    assert roles(store) == {"Anna": "adult", "Ben": "guest"}
    with spoken_by(Speaker("Anna", "adult")):
        assert ask("make ben an adult") == "Give Ben the role adult?"
        assert ask("yes") == "Ben is an adult now."
    assert roles(store) == {"Anna": "adult", "Ben": "adult"}
    assert core.household.find("Ben").role == "adult"

    with spoken_by(Speaker("Ben", "adult")):
        assert ask("Anna is a child") == "Give Anna the role child?"
        assert ask("yes") == "Anna is a child now."
        assert ask("change ben's role to guest") == "Give Ben the role guest?"
        assert ask("yes") == "Sorry, Ben is the only adult I know; make someone else an adult first."
        assert ask("make Zed an adult") == "Sorry, I don't know anyone called Zed: their voice has to be learned first."
        assert ask("make me an adult") == "Give Ben the role adult?"
        assert ask("yes") == "Ben is an adult already."
    assert roles(store) == {"Anna": "child", "Ben": "adult"}
    changed = [
        (e["who"], e["person"], e["was"], e["role"])
        for e in core.audit.entries()
        if e.get("action") == "voice role changed"
    ]
    assert changed == [("voice:Anna", "Ben", "guest", "adult"), ("voice:Ben", "Anna", "adult", "child")]


def test_what_the_command_line_changes_counts_in_a_running_assistant_from_the_next_request(
    config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    core, store = household(config, data)
    assert core.household is not None
    living = core.household

    def seen(check, within: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.1)
        return False

    done = people(data, "role", "ben", "--role", "child")
    assert done.returncode == 0 and done.stdout.strip() == "Ben is child now (was guest).", done.stderr
    started = time.monotonic()
    assert seen(lambda: living.find("Ben").role == "child")
    assert time.monotonic() - started <= LOOK_EVERY_S + 1.0

    store.save(Person("Carol", "guest", voiceprint(2), 0.0, 3))  # `people enroll`, as another process writes it
    assert seen(lambda: [p.name for p in living.people()] == ["Anna", "Ben", "Carol"])
    assert people(data, "forget", "Carol").returncode == 0
    assert seen(lambda: [p.name for p in living.people()] == ["Anna", "Ben"])

    again = people(data, "role", "Anna", "--role", "guest")
    assert again.returncode != 0 and "Anna is the only adult I know" in again.stderr
    nobody = people(data, "role", "Zed", "--role", "adult")
    assert nobody.returncode != 0 and "I don't know anyone called Zed" in nobody.stderr
    missing = people(data, "role", "Ben")
    assert missing.returncode != 0 and "say which role" in missing.stderr
    bad = people(data, "role", "Ben", "--role", "../../root")
    assert bad.returncode != 0 and "is not a role" in bad.stderr and "Traceback" not in bad.stderr
    assert roles(store) == {"Anna": "adult", "Ben": "child"}


@pytest.mark.parametrize("junk", ["a folder", "a pipe", "a link to a huge file"])
def test_something_else_in_the_voiceprints_folder_is_left_out_and_the_rest_still_count(
    config, tmp_path: Path, junk: str
) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    core, _ = household(config, data)
    odd = data / "people" / "odd.voiceprint"
    if junk == "a folder":
        odd.mkdir()
    elif junk == "a pipe":
        os.mkfifo(odd)
    else:
        huge = tmp_path / "huge"
        with huge.open("wb") as f:
            f.truncate(20 * 2**30)  # sparse: 20 GiB that would be read whole
        odd.symlink_to(huge)
    time.sleep(LOOK_EVERY_S + 0.1)
    started = time.monotonic()
    assert [p.name for p in core.household.people()] == ["Anna", "Ben"]
    assert time.monotonic() - started < 2.0


def test_a_wyoming_transcript_is_a_guests_once_voices_are_enrolled(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No voice comes with a transcript from Home Assistant: once voices are enrolled it is a guest's,
    so it hears nobody's own notes; before, it is answered as typed text is."""
    from assistant.app.services import wyoming_conversation

    data = tmp_path / "data"
    core = build_core(config, data, Bus())
    assert core.knowledge is not None
    core.knowledge.remember("my locker code is 4512", owner="Anna")

    def ask(text: str) -> str:
        return asyncio.run(wyoming_conversation(core, "192.168.1.9")(text))

    assert "4512" in ask("look up in my notes my locker code"), "nobody enrolled: as typed"
    core, _ = household(config, data)
    assert "4512" not in ask("look up in my notes my locker code")
    with spoken_by(Speaker("Anna", "adult")):  # the room's voice loop, told it was Anna
        assert "4512" in asyncio.run(core.dialogue.handle("look up in my notes my locker code"))
