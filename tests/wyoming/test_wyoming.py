"""The Wyoming protocol for real: the `wyoming` client library against our services (speech-to-text,
text-to-speech, wake word, intent handling) on the real models; and satellites on hosts of their own
(network namespaces joined by veth pairs) speaking to the assistant, each answered in its room."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from assistant.app.runtime import Core, build_core
from assistant.app.services import wyoming_services
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.voice.dialogue import CANNOT_CONFIRM
from assistant.wyoming.server import Stages, WyomingServer
from testbed import speech as sf
from testbed.fakes.devices import FakeHome
from testbed.harness import TEMPLATES_ONLY, Recorder, network_isolated, wait_for
from testbed.netns import other_host
from tests.devices.test_devices import MDNS, online, until, with_assistant

REPO = Path(__file__).resolve().parents[2]


def audio_events(pcm: np.ndarray) -> list[Event]:
    events = [AudioStart(rate=16000, width=2, channels=1).event()]
    for start in range(0, len(pcm), 1024):
        events.append(
            AudioChunk(rate=16000, width=2, channels=1, audio=pcm[start : start + 1024].astype("<i2").tobytes()).event()
        )
    return [*events, AudioStop().event()]


async def next_of(client: AsyncTcpClient, *types: str) -> Event:
    while True:
        event = await asyncio.wait_for(client.read_event(), 60)
        assert event is not None, "the server hung up"
        if event.type in types:
            return event


@pytest.mark.slow_model
def test_our_stages_as_wyoming_services(tmp_path: Path, speech_models, config) -> None:  # type: ignore[no-untyped-def]
    core = build_core(config, tmp_path / "data", Bus())
    models = speech_models

    def wake():  # type: ignore[no-untyped-def]
        from assistant.speech.wake import WakeWordDetector

        return WakeWordDetector(models.files.wake, config.wake.model, config.wake.threshold, config.wake.flush_s)

    stages = Stages(
        config,
        models.transcriber,
        models.synthesizer,
        wake,
        lambda text: core.dialogue.another("voice").handle(text, core.next_turn()),
        core.speech_hints,
    )

    async def scenario() -> None:
        server = WyomingServer(stages, "127.0.0.1", 0)
        await server.start()
        try:
            async with AsyncTcpClient("127.0.0.1", server.port) as client:
                await client.write_event(Describe().event())
                info = Info.from_event(await next_of(client, "info"))
                assert info.asr[0].models[0].languages == ["en"] and info.tts[0].voices
                assert info.handle[0].supports_home_control and info.wake[0].models[0].name == config.wake.model

                await client.write_event(Transcribe(language="en").event())
                for event in audio_events(np.concatenate([sf.piper("What time is it?"), sf.silence(0.5)])):
                    await client.write_event(event)
                heard = Transcript.from_event(await next_of(client, "transcript")).text
                assert "time" in heard.lower(), heard

                await client.write_event(Synthesize(text="The tea is ready. Enjoy it.").event())
                start = AudioStart.from_event(await next_of(client, "audio-start"))
                samples = 0
                while (event := await next_of(client, "audio-chunk", "audio-stop")).type == "audio-chunk":
                    samples += AudioChunk.from_event(event).samples
                assert start.rate == models.synthesizer.rate and samples / start.rate > 1.0

                await client.write_event(Transcript(text="set a timer for 5 minutes").event())
                handled = Handled.from_event(await next_of(client, "handled")).text
                assert "5 minutes" in handled and len(core.scheduler.timers()) == 1, handled

                await client.write_event(Detect(names=[config.wake.model]).event())
                for event in audio_events(sf.command("What time is it?")):
                    await client.write_event(event)
                assert Detection.from_event(await next_of(client, "detection", "not-detected")).name
                await client.write_event(Detect().event())
                for event in audio_events(sf.silence(2.0)):
                    await client.write_event(event)
                assert NotDetected.is_type((await next_of(client, "detection", "not-detected")).type)

                # Bad input is an error event; the connection and everything stored stay.
                await client.write_event(Transcribe().event())
                await client.write_event(AudioChunk(rate=16000, width=3, channels=1, audio=b"\0" * 30).event())
                assert "cannot be used" in Error.from_event(await next_of(client, "error")).text
                await client.write_event(Ping(text="still there").event())
                assert Pong.from_event(await next_of(client, "pong")).text == "still there"
                assert len(core.scheduler.timers()) == 1
        finally:
            await server.stop()

    asyncio.run(scenario())


@pytest.mark.network
@pytest.mark.slow_model
@pytest.mark.skipif(not network_isolated(), reason="runs hosts in network namespaces: run through scripts/test")
def test_satellites_in_two_rooms_are_answered_in_their_rooms(tmp_path: Path, speech_models) -> None:  # type: ignore[no-untyped-def]
    """Two satellites on hosts of their own: the bedroom's hears the wake word at the assistant, the
    kitchen's hears it itself (run-pipeline from asr). "Turn on the light" acts in the room that
    spoke, and each reply is spoken by the satellite that asked."""
    config = load_config(
        environ={
            **TEMPLATES_ONLY,
            **MDNS,
            "ASSISTANT__WYOMING__SATELLITES": "{bedroom: 'tcp://10.77.1.2:10700', kitchen: 'tcp://10.77.2.2:10700'}",
        }
    )
    bedroom_wav = sf.save(tmp_path / "bedroom.wav", sf.command("Turn on the light."))
    kitchen_wav = sf.save(tmp_path / "kitchen.wav", sf.silence(0.5), sf.piper("Turn on the lights."), sf.silence(1.5))

    def satellite(name: str, wav: Path, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "testbed.fakes.satellite",
            "--port",
            "10700",
            "--wav",
            str(wav),
            "--out",
            str(tmp_path / f"{name}.json"),
            "--timeout",
            "90",
            *extra,
        ]

    async def scenario(home: FakeHome, core: Core, rec: Recorder) -> None:
        lamp = await home.add("shelly_dimmer", "Bedroom lamp")
        kitchen = await home.add("wled", "Kitchen light")
        hallway = await home.add("wled", "Hallway light")
        await until(lambda: len(online(core)) == 3)
        services = await wyoming_services(core, speech_models)
        assert [s.name for s in services] == ["satellite bedroom", "satellite kitchen"]
        with (
            other_host(satellite("bedroom", bedroom_wav, "--area", "upstairs"), 1) as bedroom_host,
            other_host(satellite("kitchen", kitchen_wav, "--local-wake"), 2) as kitchen_host,
        ):
            for service in services:
                await service.start()
            try:
                codes = await asyncio.gather(
                    asyncio.to_thread(bedroom_host.process.wait, 120), asyncio.to_thread(kitchen_host.process.wait, 120)
                )
            finally:
                for service in services:
                    await service.stop()
        results = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("bedroom", "kitchen")}
        assert codes == [0, 0], (bedroom_host.process.stdout.read(), results)  # type: ignore[union-attr]
        assert lamp.state["output"] is True, "the bedroom satellite's light is the bedroom's"
        assert kitchen.state["on"] is True and hallway.state["on"] is False
        for name, result in results.items():
            types = [e["type"] for e in result["events"]]
            assert types[:2] == ["run-satellite", "describe"], types
            for expected in ("voice-started", "voice-stopped", "transcript", "synthesize", "audio-start", "audio-stop"):
                assert expected in types, (name, expected, types)
            assert result["reply_s"] > 0.5 and result["first_reply_audio_s"], result
        assert "detection" in [e["type"] for e in results["bedroom"]["events"]]
        said = [e["data"]["text"] for e in results["bedroom"]["events"] if e["type"] == "synthesize"]
        assert said == ["Turned on the bedroom lamp."], said

    asyncio.run(with_assistant(tmp_path, scenario, config))


def test_a_timer_rings_in_the_room_that_set_it(tmp_path: Path) -> None:
    """A timer set through a satellite keeps its room (durably) and rings through that room's loop;
    one set at the assistant itself rings there."""
    from assistant.app.runtime import ringer
    from assistant.plugins.where import ROOM
    from assistant.scheduling.items import Due

    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path / "data", Bus())
    heard: dict[str, list[str]] = {"bedroom": [], "here": []}

    async def bedroom(text: str) -> None:
        heard["bedroom"].append(text)

    async def here(text: str) -> None:
        heard["here"].append(text)

    async def scenario() -> None:
        ROOM.set("bedroom")
        assert (
            await core.dialogue.another("voice").handle("set a pasta timer for 5 minutes")
            == "Pasta timer set for 5 minutes."
        )
        ROOM.set(None)
        await core.dialogue.another("voice").handle("set a tea timer for 3 minutes")
        core.rooms.add("bedroom", bedroom)
        ring = ringer(core, here)
        for timer in core.scheduler.timers():
            await ring(Due("timer", timer))

    asyncio.run(scenario())
    rooms = {
        t.name: t.room
        for t in build_core(load_config(environ=TEMPLATES_ONLY), tmp_path / "data", Bus()).scheduler.timers()
    }
    assert rooms == {"pasta": "bedroom", "tea": None}, "the room is kept with the timer"
    assert heard == {"bedroom": ["Your pasta timer is done."], "here": ["Your tea timer is done."]}


def test_announcements_go_to_one_room_or_every_room(tmp_path: Path) -> None:
    """ "Announce that dinner is ready" is said by every speaker, "… in the kitchen" by the kitchen's
    alone; a room without a speaker is a clear answer, and nothing is said with nowhere to say it."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), tmp_path / "data", Bus())
    heard: list[tuple[str, str]] = []

    def speaker(room: str):  # type: ignore[no-untyped-def]
        async def say(text: str) -> None:
            heard.append((room, text))

        return say

    async def scenario() -> list[str]:
        ask = core.dialogue.handle
        nowhere = await ask("announce that dinner is ready")
        core.rooms.bind(speaker("here"))
        core.rooms.add("kitchen", speaker("kitchen"))
        core.rooms.add("bedroom", speaker("bedroom"))
        garage = await asyncio.to_thread(
            core.registry.tool("announce.announce").func, message="we are leaving", room="garage"
        )
        return [
            nowhere,
            await ask("announce that dinner is ready"),
            await ask("announce that the taxi is here in the kitchen"),
            await ask("tell the bedroom to come down"),
            garage.speech,
        ]

    replies = asyncio.run(scenario())
    assert replies[0].startswith("There is no speaker to announce on"), replies
    assert replies[1:4] == ["Announced everywhere.", "Announced in the kitchen.", "Announced in the bedroom."], replies
    assert sorted(heard[:3]) == [
        ("bedroom", "Dinner is ready."),
        ("here", "Dinner is ready."),
        ("kitchen", "Dinner is ready."),
    ]
    assert heard[3][0] == "kitchen" and "is here" in heard[3][1] and heard[4][0] == "bedroom"
    assert replies[4] == "There is no speaker in the garage."
    assert len(heard) == 5, "the garage has no speaker: nothing was said anywhere for it"


@pytest.mark.network
@pytest.mark.slow_model
@pytest.mark.skipif(not network_isolated(), reason="runs hosts in network namespaces: run through scripts/test")
def test_remote_speech_models_with_the_local_ones_behind_them(speech_models) -> None:  # type: ignore[no-untyped-def]
    """stt.server and tts.server on a bigger machine (a host of its own, our own Wyoming server on the
    real models): used while it answers; when it goes away the local models answer the same request
    at once; probed, it is used again when it is back."""
    from assistant.wyoming.remote import Remote, RemoteSynthesizer, RemoteTranscriber

    argv = [sys.executable, "-m", "testbed.fakes.speech_server", "--port", "10300"]
    question = np.concatenate([sf.silence(0.3), sf.piper("What time is it?"), sf.silence(0.5)])
    stt_remote, tts_remote = Remote("stt", "tcp://10.77.4.2:10300"), Remote("tts", "tcp://10.77.4.2:10300")
    hear = RemoteTranscriber(stt_remote, speech_models.transcriber)
    say = RemoteSynthesizer(tts_remote, speech_models.synthesizer)

    def served(host) -> list[str]:  # type: ignore[no-untyped-def]
        lines = []
        while True:
            line = host.process.stdout.readline()
            if line.startswith("listening"):
                return lines
            lines.append(line)

    with other_host(argv, 4) as host:
        served(host)
        assert stt_remote.probe() and tts_remote.probe()
        assert "time" in hear.hear(question).text.lower()
        audio = np.concatenate(list(say.sentences("The remote voice speaks.")))
        assert len(audio) / say.rate > 0.8
        host.process.terminate()
        told = host.process.communicate(timeout=10)[0]
    assert "asr" in told and "tts The remote voice speaks." in told, told

    import time

    tried: list[float] = []
    remote_once = hear._remote

    def timed(pcm: np.ndarray, hints: object) -> str:  # the remote's attempt alone: the local model's own
        started = time.monotonic()  # time is the machine's load, not what a server that went away costs
        try:
            return remote_once(pcm, hints)  # type: ignore[arg-type]
        finally:
            tried.append(time.monotonic() - started)

    hear._remote = timed  # type: ignore[method-assign]
    assert "time" in hear.hear(question).text.lower(), "the local model answered the same request"
    assert not stt_remote.up and len(tried) == 1 and tried[0] < 3.0, tried
    hear._remote = remote_once  # type: ignore[method-assign]
    assert len(np.concatenate(list(say.sentences("The local voice speaks.")))) > 0 and not tts_remote.up
    assert not stt_remote.probe()

    with other_host(argv, 4) as host:
        served(host)
        assert stt_remote.probe() and stt_remote.up, "back, and found so by the probe"
        assert "time" in hear.hear(question).text.lower()
        host.process.terminate()
        assert "asr" in host.process.communicate(timeout=10)[0]


@pytest.mark.slow_model
def test_assistant_run_serves_wyoming_and_reports_it(tmp_path: Path) -> None:
    """The contract from a shell: `assistant run` with wyoming.serve answers a Wyoming client on its
    port while it listens, lists the service in status.json, and stops cleanly on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    silence = sf.save(tmp_path / "quiet.wav", sf.silence(60.0))
    data = tmp_path / "data"
    env = {
        **os.environ,
        **TEMPLATES_ONLY,
        "ASSISTANT__WYOMING__SERVE": "true",
        "ASSISTANT__WYOMING__BIND": "127.0.0.1",
        "ASSISTANT__WYOMING__PORT": str(port),
        "ASSISTANT__DEVICES__DISCOVERY": "false",
        "ASSISTANT__DEVICES__ANNOUNCE": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(silence),
            "--realtime",
            "--audio-out",
            str(tmp_path / "out.wav"),
            "--data-dir",
            str(data),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"`assistant run` ended ({proc.returncode}) before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    async def talk() -> str:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            await next_of(client, "info")
            await client.write_event(Transcript(text="set a timer for 2 minutes").event())
            return Handled.from_event(await next_of(client, "handled")).text or ""

    try:
        wait_for(listening, 90, "the Wyoming server listening")  # a wait for it to load, not a bound
        handled = asyncio.run(talk())
        status = json.loads((data / "status.json").read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert "2 minutes" in handled, (handled, err[-2000:])
    assert {"name": "wyoming", "state": "running"}.items() <= next(
        s for s in status["services"] if s["name"] == "wyoming"
    ).items()
    assert proc.returncode == 0 and "Traceback" not in err, err[-2000:]


def test_intent_handling_is_a_conversation_per_satellite_or_connection(tmp_path: Path) -> None:
    """A question asked over Wyoming can be answered over Wyoming: on the same connection, and, as Home
    Assistant connects anew for each request, by the same satellite (or conversation id) in its
    context; another satellite's answer answers nothing. A tool that needs a yes is refused, never
    asked about: a Wyoming client cannot confirm. Only intent handling is used: no models."""
    import socket
    from types import SimpleNamespace

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = load_config(
        environ={
            **TEMPLATES_ONLY,
            "ASSISTANT__WYOMING__SERVE": "true",
            "ASSISTANT__WYOMING__BIND": "127.0.0.1",
            "ASSISTANT__WYOMING__PORT": str(port),
        }
    )
    core = build_core(config, tmp_path / "data", Bus())
    no_models = SimpleNamespace(transcriber=None, synthesizer=None, files=None)

    async def handled(client: AsyncTcpClient, text: str, **context: str) -> str:
        await client.write_event(Transcript(text=text, context=context or None).event())
        return Handled.from_event(await next_of(client, "handled")).text or ""

    async def once(text: str, **context: str) -> str:  # Home Assistant's way: one connection per request
        async with AsyncTcpClient("127.0.0.1", port) as client:
            return await handled(client, text, **context)

    async def scenario() -> None:
        (service,) = await wyoming_services(core, no_models)  # type: ignore[arg-type]
        await service.start()
        try:
            async with AsyncTcpClient("127.0.0.1", port) as client, AsyncTcpClient("127.0.0.1", port) as other:
                assert await handled(client, "set a timer") == "For how long?"
                assert await handled(other, "five minutes") == "Sorry, I can't help with that yet.", "another client's"
                assert await handled(client, "five minutes") == "Timer set for 5 minutes."
                assert await handled(client, "cancel all timers") == CANNOT_CONFIRM
                assert await handled(client, "yes") == "Sorry, I can't help with that yet.", "nothing was asked"
            kitchen = {"satellite_id": "assist_satellite.kitchen", "conversation_id": "01KITCHEN"}
            assert await once("set a timer", **kitchen) == "For how long?"
            assert await once("ten minutes", **{**kitchen, "conversation_id": "01AGAIN"}) == "Timer set for 10 minutes."
            assert await once("set a timer", **kitchen) == "For how long?"
            assert (
                await once("three minutes", satellite_id="assist_satellite.bedroom")
                == "Sorry, I can't help with that yet."
            )
            assert await once("three minutes", **kitchen) == "Timer set for 3 minutes."
            assert await once("set a timer", conversation_id="01CHAT") == "For how long?"
            assert await once("two minutes", conversation_id="01CHAT") == "Timer set for 2 minutes."
            assert await once("cancel all timers", conversation_id="01CHAT") == CANNOT_CONFIRM
            assert len(core.scheduler.timers()) == 4, "nothing was cancelled over Wyoming"
        finally:
            await service.stop()

    asyncio.run(scenario())
