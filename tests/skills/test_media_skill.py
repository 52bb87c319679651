"""The media skill end to end: requests typed and spoken, on a generated library; music into a WAV."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.app.runtime import Core, build_core
from assistant.audio.wav import read_wav
from assistant.core.bus import Bus
from assistant.core.clock import ManualClock
from assistant.core.config import load_config
from assistant.media.albums import Selection
from testbed import speech as sf
from testbed.fakes.media_library import Made, make_library
from testbed.harness import TEMPLATES_ONLY, wait_for_async
from testbed.voice import run_voice

ASSISTANT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "assistant"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Made]]:
    root = tmp_path_factory.mktemp("media") / "Pictures"
    return root, make_library(root, photos=60, seed=5)


def _env(root: Path, tmp: Path) -> dict[str, str]:
    return {
        **TEMPLATES_ONLY,
        "ASSISTANT__FOLDERS__PHOTOS": str(root),
        "ASSISTANT__MEDIA__MUSIC_OUTPUT": str(tmp / "music.wav"),
    }


def _core(root: Path, tmp: Path, bus: Bus | None = None) -> Core:
    clock = ManualClock(time.mktime((2025, 11, 25, 12, 0, 0, 0, 0, -1)))  # the photos run to 2025
    core = build_core(load_config(environ=_env(root, tmp)), tmp / "data", bus or Bus(), clock)
    core.media.scan()
    return core


def test_photos_by_voice_commands_typed(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    core = _core(root, tmp_path)

    async def talk() -> list[str]:
        out = []
        for text in (
            "put my photos from last summer into an album called beach trip",
            "how many photos are in the beach trip album",
            "how many photos did I take in paris",
            "find duplicate photos",
            "organize my photos into folders by year and month",
            "yes",
            "undo that",
        ):
            out.append(await core.dialogue.handle(text))
        return out

    before = sorted(str(p) for p in root.rglob("*") if p.is_file())
    replies = asyncio.run(talk())
    summer = sum(
        1 for m in made if m.kind in ("photo", "video") and m.taken and m.taken[:7] in ("2025-06", "2025-07", "2025-08")
    )
    assert replies[0] == f"I made the album beach trip with {summer} photos from summer 2025."
    assert replies[1] == f"The album beach trip has {summer} photos."
    paris = core.media.albums.select(Selection(place="paris"))
    assert replies[2] == f"You have {len(paris)} photos in Paris." and paris
    assert replies[3].startswith("I found ") and "exact cop" in replies[3]
    assert replies[4] == "Move your photos into folders by year and month?"
    assert replies[5].startswith("I moved ") and "Say undo" in replies[5]
    assert replies[6].startswith("I put back ")
    assert sorted(str(p) for p in root.rglob("*") if p.is_file()) == before
    core.media.close()


def test_a_place_said_like_a_time_is_settled_as_a_place(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    """Templates and the LLM both fill "from paris" as a time; the skill's settle hook puts it in
    place, and "from last summer" said as a place in when, before the call is recorded."""
    root, _ = library
    core = _core(root, tmp_path)
    call = core.dialogue.router.match_templates("how many photos did i take in paris", core.registry.slot_values())
    assert call is not None and core.registry.tool(call.tool).validate(call.args) == {"place": "paris"}
    spec = core.registry.tool("media.make_album")
    assert spec.validate({"name": "trip", "place": "last summer"}) == {"name": "trip", "when": "last summer"}
    assert spec.validate({"name": "trip", "when": "march 2021", "place": "paris"}) == {
        "name": "trip",
        "when": "march 2021",
        "place": "paris",
    }
    core.media.close()


def test_music_plays_into_the_configured_output(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, made = library
    core = _core(root, tmp_path)
    player = core.media.player
    assert player is not None

    async def heard(seconds: float) -> None:
        """Until `seconds` of the current song have played (the output is paced like a speaker)."""
        await wait_for_async(lambda: player.now_playing().position_s >= seconds, what=f"{seconds} s of the song")

    async def talk() -> list[str]:
        out = [await core.dialogue.handle("play the album Kind of Blue")]
        await heard(0.5)
        out.append(await core.dialogue.handle("what's playing"))
        out.append(await core.dialogue.handle("next song"))
        await heard(0.6)
        out.append(await core.dialogue.handle("stop the music"))
        out.append(await core.dialogue.handle("what's playing"))
        return out

    replies = asyncio.run(talk())
    core.media.close()
    assert replies[0] == "Playing the album Kind of Blue."
    first = sorted((m for m in made if m.album == "Kind of Blue"), key=lambda m: m.track or 0)
    assert replies[1] == f"You're listening to {first[0].title} by Miles Davis."
    assert replies[2] == f"Next: {first[1].title} by Miles Davis."
    assert replies[3] == "Stopped." and replies[4] == "Nothing is playing."
    pcm = read_wav(tmp_path / "music.wav")  # 16 kHz mono
    assert len(pcm) / 16000 > 1.0 and float(np.abs(pcm.astype(np.float32)).mean()) > 100  # real sound was played


@pytest.mark.slow_model
def test_spoken_album_and_music(library: tuple[Path, list[Made]], tmp_path: Path, speech_models, config) -> None:  # type: ignore[no-untyped-def]
    root, _ = library
    env = _env(root, tmp_path)
    cfg = load_config(environ=env)
    # The index is built first, as a running assistant does on start.
    core = build_core(cfg, tmp_path / "data", Bus())
    core.media.scan()
    core.media.close()
    pcm = np.concatenate(
        [sf.command("Play some jazz."), sf.command("Make an album called city trip with photos from Paris.")]
    )
    run = run_voice(pcm, speech_models, cfg, tmp_path)
    intents = [(e.tool, dict(e.args)) for e in run.events.of("intent")]  # type: ignore[attr-defined]
    assert ("media.play", {"genre": "jazz"}) in intents
    album = [a for t, a in intents if t == "media.make_album"]
    assert album and album[0].get("name") == "city trip"
    replies = [e.text for e in run.events.of("reply")]  # type: ignore[attr-defined]
    assert "Playing some jazz." in replies
    assert any(r.startswith("I made the album city trip with") for r in replies), replies


def test_media_cli(library: tuple[Path, list[Made]], tmp_path: Path) -> None:
    root, _ = library
    data = ["--data-dir", str(tmp_path / "data")]

    def media(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ASSISTANT), "media", *args, *data], capture_output=True, text=True, timeout=120)

    added = media("add-folder", str(root), "--json")
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert report["added"] is True and report["scan"]["added"] > 60
    made = media("album", "twenty three", "--when", "2023", "--json")
    assert made.returncode == 0 and json.loads(made.stdout)["photos"] > 0
    albums = json.loads(media("albums", "--json").stdout)
    assert [a["name"] for a in albums] == ["twenty three"]
    preview = media("organize", "--dry-run", "--json")
    assert (
        preview.returncode == 0 and json.loads(preview.stdout)["planned"] and json.loads(preview.stdout)["moved"] == 0
    )
    moved = json.loads(media("organize", "--json").stdout)
    assert moved["moved"] == len(json.loads(preview.stdout)["planned"])
    assert json.loads(media("undo", "--json").stdout)["restored"] == moved["moved"]
    bad = media("add-folder", str(tmp_path / "missing"))
    assert bad.returncode != 0 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    unknown = media("album", "nope")
    assert unknown.returncode != 0 and "no album called nope" in unknown.stderr


def test_a_one_shot_command_says_music_needs_the_running_assistant(
    library: tuple[Path, list[Made]], tmp_path: Path
) -> None:
    """`ask "play kind of blue"` with no assistant running said "Playing…" and exited; nothing played
    (issue 25). A core with no player (plays=False, as `ask` alone builds it) says why instead."""
    root, _ = library
    core = build_core(load_config(environ=_env(root, tmp_path)), tmp_path / "data", Bus(), plays=False)
    core.media.scan()
    reply = asyncio.run(core.dialogue.handle("play the album Kind of Blue"))
    core.media.close()
    assert reply == (
        "Sorry, music plays only while the assistant is running: start it with assistant run, then ask again."
    )
