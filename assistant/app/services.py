"""`assistant run` as supervised services: audio capture, the voice pipeline, the scheduler,
routines, discovery, the web server and the media index, each restarted on its own when it crashes
(see supervisor.py), with their health in `status.json` and on `GET /health`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from assistant.app.control import ControlServer
from assistant.app.runtime import (
    Core,
    SpeechModels,
    configured_models,
    load_speech_models,
    needs_local_llm,
    ringer,
)
from assistant.app.shell_requests import ShellRequests
from assistant.app.supervisor import Service, Supervisor, forever
from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFeed, AudioSource, read_into
from assistant.core.addresses import is_loopback
from assistant.core.health import health_endpoint, heartbeat, status_path, write_status
from assistant.core.memory import give_back_freed_memory
from assistant.core.models import resolve_llm
from assistant.voice.dialogue import CANNOT
from assistant.voice.pipeline import DIDNT_CATCH

log = logging.getLogger(__name__)

PREPARED_REPLIES = (CANNOT, DIDNT_CATCH)
"""Said often and always the same: synthesized once after start, so that they play at once."""


def task_service(name: str, work: Callable[[], Coroutine[Any, Any, None]], ends_run: bool = False) -> Service:
    """A service that is one task: started by making it, crashed when it raises, stopped by cancelling."""
    running: list[asyncio.Task[None]] = []

    async def start() -> None:
        running.append(asyncio.create_task(work(), name=name))

    async def watch() -> None:
        await asyncio.shield(running[-1])

    async def stop() -> None:
        while running:
            task = running.pop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return Service(name, start, stop, watch, ends_run)


async def serve(core: Core, source: AudioSource, sink: AudioSink, serve_page: bool, say: Callable[[str], None]) -> None:
    """Load the models, start every service and run until the input ends (a file) or a stop signal."""
    from assistant.devices.network import HomeNetwork
    from assistant.voice.pipeline import VoiceLoop
    from assistant.voice.reply import ReplySpeaker

    config, bus = core.config, core.bus
    # Templates compile and the fuzzy index is sampled now. A missing model fails here, before any
    # loads in a worker thread: asyncio.run would otherwise wait for that thread before the one-line
    # error could be printed.
    await asyncio.to_thread(core.dialogue.router.warm_up)
    files = await asyncio.to_thread(configured_models, config)
    if core.planner is not None and needs_local_llm(config):
        await asyncio.to_thread(resolve_llm, config.planner.model)
    models = await load_speech_models(config, files)
    await asyncio.to_thread(give_back_freed_memory)  # before the LLM loads, which is the peak
    speaker = ReplySpeaker(bus, models.synthesizer)
    loop = VoiceLoop(
        bus,
        models.wake,
        models.vad,
        config.vad,
        models.transcriber,
        core.dialogue,
        speaker,
        core.speech_hints,
        core.next_turn,
        core.household,
    )
    if core.household is not None:
        await asyncio.to_thread(core.household.prepare)
    # A change is written at once (a small file, no fsync); the heartbeat refreshes it meanwhile.
    supervisor = Supervisor(bus, on_change=lambda _: write_status(core.data_dir, supervisor.report()))

    core.rooms.bind(loop.announce)
    # `assistant ask`, `knowledge ask`, `routines run` and `… cancel` from a shell come to this one.
    control = ControlServer(core.data_dir, ShellRequests(core, loop.announce).handlers())
    supervisor.add(Service("control", control.start, control.stop, control.wait))

    async def start_scheduler() -> None:
        core.scheduler.start(ringer(core, loop.announce))

    # The routines listen before the scheduler rings what came due while the assistant was off.
    supervisor.add(
        Service(
            "routines",
            lambda: core.routines.start(core.scheduler.zone, bus, loop.announce),
            core.routines.stop,
            core.routines.wait,
        )
    )
    supervisor.add(Service("scheduler", start_scheduler, core.scheduler.stop, core.scheduler.wait))
    # With the page served, the announcement points phones and satellites at its port; a page bound
    # to loopback alone is not announced: no phone could reach it.
    devices = dataclasses.replace(config.devices, announce_port=config.web.port) if serve_page else config.devices
    if serve_page and is_loopback(config.web.bind) and devices.announce:
        log.info(
            "the phone page listens on %s only: not announced on the network (set web.bind to reach it from a phone)",
            config.web.bind,
        )
        devices = dataclasses.replace(devices, announce=False)
    network = HomeNetwork(core.devices, devices, core.data_dir)
    supervisor.add(Service("discovery", network.start, network.stop))
    if config.devices.home_assistant_url:
        from assistant.devices.home_assistant import HomeAssistantSource

        source_of_devices = HomeAssistantSource(
            core.devices, config.devices.home_assistant_url, config.devices.home_assistant_poll_s
        )
        supervisor.add(task_service("home assistant", source_of_devices.run))
    supervisor.add(media_service(core))
    if core.knowledge is not None:
        supervisor.add(task_service("knowledge", lambda: keep_knowledge(core)))
    page = None
    if serve_page:
        from assistant.web.server import WebServer
        from assistant.web.talk import PhoneTalk

        talk = PhoneTalk(
            core, models.transcriber, speaker, config.web.reply_on, lambda text: loop.announce(text, ring=False)
        )
        page = WebServer(core, config.web, talk)
        page.report = supervisor.report

        async def start_page() -> None:
            assert page is not None
            served = await page.start()
            say(
                f"Phone page: {', '.join(served.https)} (on this machine: {served.loopback}); "
                "pair a phone with `assistant pair`."
            )

        supervisor.add(Service("web", start_page, page.stop))
    remotes = [m.remote for m in (models.transcriber, models.synthesizer) if hasattr(m, "remote")]
    if remotes:
        supervisor.add(task_service("remote models", lambda: watch_remotes(remotes)))
    for service in await wyoming_services(core, models, loop.announce):
        supervisor.add(service)
    feed = AudioFeed(source.realtime)
    supervisor.add(task_service("audio", lambda: read_into(source, feed)))

    async def listen() -> None:
        loop.reset()  # after a crash: wait for the wake word again
        await loop.run(feed, sink)

    supervisor.add(task_service("pipeline", listen, ends_run=True))
    if core.planner is not None:
        # Last, so the voice loop already listens and serves the templates while the LLM loads (its
        # state reads "starting" until then); a request that needs it meanwhile waits for it. A model
        # that does not load leaves `llm` failed, with the reason, and the templates serving: a
        # request that needs it is told at once that it cannot be thought through (LazyPlanner).
        planner = core.planner

        async def load_llm() -> None:
            await planner.load()
            await asyncio.to_thread(give_back_freed_memory)

        supervisor.add(Service("llm", load_llm, optional=True))

    async def prepare_replies() -> None:
        await asyncio.to_thread(models.synthesizer.prepare, PREPARED_REPLIES)

    # After the LLM (its load matters more), and as a task: making them never holds /health at 503.
    supervisor.add(task_service("replies", prepare_replies))

    async with contextlib.AsyncExitStack() as stack:
        if source.realtime and not serve_page:
            await stack.enter_async_context(health_endpoint(supervisor.report, config.web.loopback_port))
        beat = asyncio.create_task(heartbeat(core.data_dir, supervisor.report))
        stack.callback(lambda: status_path(core.data_dir).unlink(missing_ok=True))
        stack.push_async_callback(_cancel, beat)
        stack.callback(core.media.close)
        _stop_on_signals(supervisor)
        if source.realtime:
            say(f"Listening for the wake word '{config.wake.model}' (Ctrl+C to stop).")
        await supervisor.run()


async def wyoming_services(
    core: Core, models: SpeechModels, here: Callable[[str], Coroutine[Any, Any, None]] | None = None
) -> list[Service]:
    """The Wyoming services (wyoming.serve) and one service per satellite, each with a voice loop of
    its own: its own wake word and VAD state, the shared Whisper and Piper, its own conversation.
    Each satellite's speaker joins core.rooms; while it is not connected, what would be said there is
    said `here` (the assistant's own loop) instead, never nowhere."""
    from assistant.core.bus import Bus
    from assistant.speech.vad import SileroVad
    from assistant.speech.wake import WakeWordDetector
    from assistant.voice.pipeline import VoiceLoop
    from assistant.voice.reply import ReplySpeaker
    from assistant.wyoming.access import Access
    from assistant.wyoming.satellite import SatelliteLink, SatelliteSink
    from assistant.wyoming.server import Stages, WyomingServer

    config, files = core.config, models.files

    def wake() -> WakeWordDetector:
        return WakeWordDetector(files.wake, config.wake.model, config.wake.threshold, config.wake.flush_s)

    services = []
    if config.wyoming.serve:

        def conversation(
            peer: str,
        ) -> Callable[[str], Awaitable[str]]:  # one per satellite or client (Stages.conversation_for)
            return wyoming_conversation(core, peer)

        stages = Stages(
            config,
            models.transcriber,
            models.synthesizer,
            wake,
            lambda text: conversation("")(text),
            core.speech_hints,
            conversation,
        )
        server = WyomingServer(
            stages, config.wyoming.bind, config.wyoming.port, Access.of(config.wyoming.clients, config.wyoming.token)
        )
        services.append(Service("wyoming", server.start, server.stop))
    for address in config.wyoming.addresses():
        bus = Bus()
        bus.subscribe(core.bus.publish)
        loop = VoiceLoop(
            bus,
            await asyncio.to_thread(wake),
            await asyncio.to_thread(SileroVad, files.vad, config.vad.threshold),
            config.vad,
            models.transcriber,
            core.dialogue.another("voice", bus),
            ReplySpeaker(bus, models.synthesizer),
            core.speech_hints,
            core.next_turn,
            core.household,  # a satellite's room tells who is speaking as the assistant's own does
        )
        sink = SatelliteSink()

        async def run_loop(feed: AudioFeed, loop: VoiceLoop = loop, sink: SatelliteSink = sink) -> None:
            loop.reset()
            await loop.run(feed, sink)

        link = SatelliteLink(address, bus, sink, run_loop, loop.wake_now)

        async def announce(text: str, loop: VoiceLoop = loop, link: SatelliteLink = link) -> None:
            await (loop.announce if link.connected or here is None else here)(text)

        core.rooms.add(address.room, announce)
        services.append(task_service(f"satellite {address.room}", link.run))
    return services


def wyoming_conversation(core: Core, peer: str) -> Callable[[str], Awaitable[str]]:
    """A Wyoming client's conversation: its calls audited as "wyoming" with the client's address
    (`peer`), and a tool that needs a yes refused, never asked about: anyone who reaches the port
    could be saying it. For the same reason, once the household's voices are enrolled its words are
    a guest's (no voice comes with a transcript): no tool kept for some roles, nobody's own notes,
    reminders or alarms."""
    from assistant.people.household import without_a_voice
    from assistant.plugins.api import spoken_by

    dialogue = core.dialogue.another("wyoming", may_confirm=False, peer=peer)

    async def handle(text: str) -> str:
        with spoken_by(without_a_voice(core.household)):
            return await dialogue.handle(text, core.next_turn())

    return handle


async def keep_knowledge(core: Core) -> None:
    """Read what changed in the household's documents at start, then whenever a file in their folders
    changes (inotify, a moment after the last change of a burst) and every knowledge.scan_s besides.
    Only new and changed files are read, while nobody is being heard or answered; a file that fails
    is logged, the others indexed."""
    assert core.knowledge is not None
    index = core.knowledge
    settings = core.config.knowledge
    changed = asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    watched: list[Path] = []

    async def watch(folders: list[Path]) -> None:
        from watchfiles import awatch

        async for changes in awatch(*folders, debounce=1000, recursive=True):
            log.debug("knowledge: %d changes in the folders", len(changes))
            changed.set()

    try:
        while True:
            folders = [f for f in index.folders() if f.is_dir()]
            if settings.watch and folders != watched:
                if watcher is not None:
                    watcher.cancel()
                watcher = asyncio.create_task(watch(folders)) if folders else None
                watched = folders
            changed.clear()
            report = await asyncio.to_thread(index.scan, None, core.foreground.give_way)
            if report.added or report.changed or report.removed:
                log.info(
                    "knowledge: %d new, %d changed, %d removed documents (%d passages) in %.1f s",
                    report.added,
                    report.changed,
                    report.removed,
                    report.passages,
                    report.seconds,
                )
            for _path, why in report.failed:
                log.warning("knowledge: %s", why)
            try:
                await asyncio.wait_for(changed.wait(), settings.scan_s)
            except TimeoutError:
                pass
    finally:
        if watcher is not None:
            watcher.cancel()


async def watch_remotes(remotes: list[Any]) -> None:
    """Probe each remote speech server at start, then every few seconds while it is down: it is
    used again as soon as it answers (assistant/wyoming/remote.py)."""
    from assistant.wyoming.remote import PROBE_S

    for remote in remotes:
        await asyncio.to_thread(remote.probe)
    while True:
        await asyncio.sleep(PROBE_S)
        for remote in remotes:
            if not remote.up:
                await asyncio.to_thread(remote.probe)


def media_service(core: Core) -> Service:
    """The index catches up with the disk in the background, then follows changes; music ducks and
    indexing waits while a request is heard and answered."""
    from assistant.core.errors import AssistantError
    from assistant.core.events import Event

    media = core.media

    def duck(event: Event) -> None:
        if media.player is not None and event.type in ("wake", "ready"):
            media.player.duck(event.type == "wake")

    unsubscribe: list[Callable[[], None]] = []

    async def start() -> None:
        unsubscribe.append(core.bus.subscribe(duck))
        unsubscribe.append(core.foreground.follow_voice(core.bus))

    async def watch() -> None:
        if not media.library.roots():
            await forever()
        try:
            report = await media.scan_async()
            log.info(
                "media index: %d new, %d changed, %d moved, %d gone",
                report.added,
                report.changed,
                report.moved,
                report.removed,
            )
        except AssistantError as e:
            log.warning("media index: %s", e.message)
            await forever()
        if core.config.media.watch:
            await media.start_watching()
            await media.wait_watching()
        await forever()

    async def stop() -> None:
        while unsubscribe:
            unsubscribe.pop()()
        await media.stop_watching()

    return Service("media", start, stop, watch)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _stop_on_signals(supervisor: Supervisor) -> None:
    """SIGTERM (systemd stopping the service) stops every service cleanly, as Ctrl+C does."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, supervisor.stop)
