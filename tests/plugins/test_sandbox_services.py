"""A sandboxed skill uses the core's devices, media library, routines and named commands across its
RPC (plugins/remote.py, app/exposed.py): real devices on loopback, a generated library, the
shipped routines and commands from the config; and only what is open to skills crosses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from assistant.app.runtime import Core
from assistant.core.config import load_config
from testbed import SKILLS
from testbed.fakes.devices import FakeHome
from testbed.fakes.media_library import make_library
from testbed.harness import TEMPLATES_ONLY, Recorder
from tests.devices.test_devices import MDNS, online, until, with_assistant
from tests.plugins.test_sandbox import install

HOUSEHOLD = SKILLS / "household"


@pytest.mark.network
def test_a_sandboxed_skill_reaches_devices_media_routines_and_commands_as_granted(tmp_path: Path) -> None:
    made = make_library(tmp_path / "Pictures", photos=8, seed=3)
    artist = next(m.artist for m in made if m.kind == "music" and m.artist)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "system": {
                    "commands": {
                        "say hello": {"run": ["echo", "hello from the machine"], "changes": False},
                        "make a mark": {"run": ["touch", "marked"], "changes": True},
                    }
                }
            }
        )
    )
    config = load_config(
        config_file,
        environ={
            **TEMPLATES_ONLY,
            **MDNS,
            "ASSISTANT__FOLDERS__PHOTOS": str(tmp_path / "Pictures"),
            "ASSISTANT__MEDIA__MUSIC_OUTPUT": str(tmp_path / "music.wav"),
        },
    )
    done = install(tmp_path / "data", HOUSEHOLD)
    assert done.returncode == 0, done.stderr
    mark = tmp_path / "data" / "skills" / "household" / "marked"

    async def scenario(home: FakeHome, core: Core, rec: Recorder) -> None:
        call = core.registry.tool
        core.routines.bind()
        await asyncio.to_thread(core.media.scan)
        strip = await home.add("wled", "Kitchen light")
        kettle = await home.add("shelly_plug", "Kitchen kettle")
        lamp = await home.add("shelly_dimmer", "Bedroom lamp")
        await until(lambda: len(online(core)) == 3)

        lit = await asyncio.to_thread(call("household.lights").func, room="kitchen", on=True)
        assert lit.ok and lit.speech == "2 switched.", lit.data
        assert strip.state["on"] is True and kettle.state["output"] is True and lamp.state["output"] is False
        assert all(o["ok"] for o in lit.data["outcomes"])
        assert {d["name"] for d in lit.data["known"]} == {"Kitchen light", "Kitchen kettle", "Bedroom lamp"}
        assert all("address" not in d and "extra" not in d for d in lit.data["known"]), "no addresses, no credentials"

        played = await asyncio.to_thread(call("household.play_artist").func, artist=artist)
        assert played.ok and played.data["playing"]["artist"] == artist and played.data["tracks"]
        assert core.media.player is not None and core.media.player.now_playing().track is not None
        core.media.player.stop()

        morning = await asyncio.to_thread(call("household.routine").func, name="good morning")
        assert morning.speech.startswith("Good morning. It's "), morning.speech
        assert "good morning" in morning.data["routines"]

        looked = await asyncio.to_thread(call("household.look").func)
        assert looked.data["stdout"].strip() == "hello from the machine"

        sneaked = await asyncio.to_thread(call("household.sneak").func)
        outcome = sneaked.data
        assert "changes the system" in outcome["change"]
        assert "confirmed" in outcome["confirmed"] and "allowed" not in outcome.values()
        assert "colour takes" in outcome["colour"] and "no device has the id 'nope'" in outcome["unknown"]
        assert "devices.registry is not open to skills" in outcome["hub"]
        assert "media.organize is not open to skills" in outcome["move"]
        assert not mark.exists(), "nothing that changes the system ran without a yes"

        assert await core.dialogue.handle("make the mark") == "Should I make the mark?"
        assert not mark.exists()
        assert await core.dialogue.handle("yes") == "Marked."
        assert mark.exists(), "after the spoken yes, the risky tool's command ran"

    asyncio.run(with_assistant(tmp_path, scenario, config))


def test_the_core_fills_confirmed_never_the_skill() -> None:
    from assistant.core.errors import SkillError
    from assistant.plugins.api import Permission
    from assistant.plugins.remote import CoreServices

    class Commands:
        def run(self, name: str, *, confirmed: bool = False) -> dict[str, object]:
            return {"name": name, "confirmed": confirmed}

    core_side = CoreServices("household", {"commands": Commands()}, frozenset({Permission.COMMANDS}))
    core_side.risky = frozenset({"mark"})
    assert core_side.answer("commands", "run", {"name": "x"}, "look") == {"name": "x", "confirmed": False}
    assert core_side.answer("commands", "run", {"name": "x"}, "mark") == {"name": "x", "confirmed": True}
    assert core_side.answer("commands", "run", {"name": "x"}, None) == {"name": "x", "confirmed": False}
    with pytest.raises(SkillError, match="confirmed is for the assistant to say"):
        core_side.answer("commands", "run", {"name": "x", "confirmed": True}, "look")


LIBRARIAN = SKILLS / "librarian"


def test_a_sandboxed_skill_searches_only_the_folders_it_was_granted_and_never_the_notes(tmp_path: Path) -> None:
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus
    from testbed.fakes.household_docs import make_household_docs
    from tests.plugins.test_sandbox import cli

    docs = tmp_path / "Documents"
    make_household_docs(docs)
    private = tmp_path / "Private"
    private.mkdir()
    (private / "bank.txt").write_text("The bank PIN is kept in the locked drawer of the desk.")
    data = tmp_path / "data"
    refused = cli("skills", "install", str(LIBRARIAN), "--yes", "--data-dir", str(data))
    assert refused.returncode != 0 and "name the folders it may search with --knowledge-folder" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = cli("skills", "install", str(LIBRARIAN), "--yes", "--knowledge-folder", str(docs), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert f"only in: {docs.resolve()} (never the assistant's notes)" in done.stdout

    config = load_config(
        environ={
            **TEMPLATES_ONLY,
            "ASSISTANT__FOLDERS__DOCUMENTS": str(docs),
            "ASSISTANT__SKILLS__CALL_TIMEOUT_S": "30",
        }
    )
    core = build_core(config, data, Bus())
    try:
        assert core.knowledge is not None
        core.knowledge.add_folder(private)
        core.knowledge.scan()
        core.knowledge.remember("the spare key is in the blue box")
        assert any("bank.txt" in h.source for h in core.knowledge.search("bank PIN")), "the core sees it all"
        call = core.registry.tool
        answer = call("librarian.look_up").func(question="how do I descale the coffee machine")
        assert answer.ok and "citric acid" in answer.speech and answer.data["named"] == "Coffee machine manual, page 3"
        found = call("librarian.find").func(words="bank PIN spare key blue box").data
        assert found["folders"] == [str(docs.resolve())]
        assert found["hits"] and all(h["source"].startswith(str(docs.resolve()) + "/") for h in found["hits"])
        assert not call("librarian.look_up").func(question="where is the spare key").ok, "never the notes"
        tried = call("librarian.sneak").func().data
        assert "knowledge.remember is not open to skills" in tried["notes"]
        assert "knowledge.index is not open to skills" in tried["index"]
        assert "within" in tried["within"] and "allowed" not in tried.values()
        assert "top must be a whole number from 1 to 20" in tried["top"]
    finally:
        for loaded in core.registry.skills:
            process = getattr(type(loaded.skill), "process", None)
            if process is not None:
                process.stop()
