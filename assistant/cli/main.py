"""`assistant run`, `assistant ask`, `assistant models`, `assistant skills`: the command-line contract.

Every failure a person can cause or fix is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import platformdirs

from assistant.cli import audit as audit_cli
from assistant.cli import devices as devices_cli
from assistant.cli import knowledge as knowledge_cli
from assistant.cli import media as media_cli
from assistant.cli import people as people_cli
from assistant.cli import routines as routines_cli
from assistant.cli import schedule as schedule_cli
from assistant.cli import service as service_cli
from assistant.cli import skills as skills_cli
from assistant.cli import status as status_cli
from assistant.cli import web as web_cli
from assistant.core.bus import Bus, JsonlWriter
from assistant.core.config import Config, load_config
from assistant.core.errors import AssistantError, CommandLineError, LLMUnavailable
from assistant.core.events import Error, Event, Transcript, TtsEnd
from assistant.core.memory import limit_malloc_arenas
from assistant.core.store import RUNS, DataDirLock, require_room
from assistant.scheduling.records import KINDS

log = logging.getLogger("assistant")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--events", metavar="FILE.jsonl|-", help="write every pipeline event as one JSON line ('-' = stdout)"
    )
    p.add_argument(
        "--data-dir", metavar="DIR", type=Path, help="where timers and settings live (default: the user data folder)"
    )
    p.add_argument("--config", metavar="FILE", type=Path, help="a YAML file overriding config/default.yaml")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens on stderr")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", metavar="DIR", type=Path, help="where timers and settings live (default: the user data folder)"
    )
    p.add_argument("--config", metavar="FILE", type=Path, help="a YAML file overriding config/default.yaml")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant", description="An offline, voice-first home assistant.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="listen for the wake word and answer, on a microphone or a WAV file")
    run.add_argument("--audio-in", metavar="FILE.wav", type=Path, help="read this WAV as the microphone stream")
    run.add_argument(
        "--audio-out", metavar="FILE.wav", type=Path, help="write replies to this WAV instead of the speaker"
    )
    run.add_argument("--realtime", action="store_true", help="pace --audio-in at real time, as a microphone would")
    run.add_argument(
        "--web",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the companion phone page (default: web.enabled, and only on a microphone)",
    )
    _common(run)
    ask = sub.add_parser("ask", help="answer one typed request and print the reply")
    ask.add_argument("text", help='what you would say, e.g. "what time is it"')
    ask.add_argument("--audio-out", metavar="FILE.wav", type=Path, help="also speak the reply into this WAV")
    _common(ask)
    models = sub.add_parser("models", help="show which model files are used, and where they come from")
    models.add_argument("--check", action="store_true", help="also verify every default model's sha256")
    schedule_cli.add_parsers(sub, _data_options)
    routines_cli.add_parser(sub, _data_options)
    devices_cli.add_parser(sub, _data_options)
    media_cli.add_parser(sub, _data_options)
    knowledge_cli.add_parser(sub, _data_options)
    people_cli.add_parser(sub, _data_options)
    web_cli.add_parser(sub, _data_options)
    audit_cli.add_parser(sub, _data_options)
    skills_cli.add_parser(sub, _data_options)
    status_cli.add_parser(sub, _data_options)
    service_cli.add_parser(sub, _data_options)
    return p


def _data_dir(args: argparse.Namespace) -> Path:
    return args.data_dir if args.data_dir else Path(platformdirs.user_data_dir("assistant"))


def _config(args: argparse.Namespace) -> Config:
    user_file = args.config
    if user_file is None and args.data_dir and (args.data_dir / "config.yaml").exists():
        user_file = args.data_dir / "config.yaml"
    return load_config(user_file)


@contextlib.contextmanager
def _event_log(target: str | None, bus: Bus) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Every event on `bus` as a JSON line in `target`; yields a writer for events that come as
    dicts (from the running assistant, for a forwarded request)."""
    if target is None:
        yield lambda event: None
        return
    stream: IO[str]
    if target == "-":
        stream = sys.stdout
    else:
        try:
            stream = open(target, "w", encoding="utf-8")
        except OSError as e:
            raise CommandLineError(f"cannot write events to {target}: {e.strerror}") from e
    unsubscribe = bus.subscribe(JsonlWriter(stream))

    def write(event: dict[str, Any]) -> None:
        stream.write(json.dumps(event, default=str) + "\n")
        stream.flush()

    try:
        yield write
    finally:
        unsubscribe()
        if stream is not sys.stdout:
            stream.close()


def _say(args: argparse.Namespace, line: str) -> None:
    """Human-readable output goes to stdout, unless stdout carries the event stream."""
    print(line, file=sys.stderr if args.events == "-" else sys.stdout, flush=True)


async def _ask(args: argparse.Namespace) -> int:
    """A typed request with no assistant running: this process is the assistant for one turn. Exit 1,
    with the reason on stderr besides the reply, when the request needed the LLM and it could not be
    loaded: a setup for the person to fix, not an answer."""
    from assistant.app.runtime import build_core
    from assistant.voice.conversation_file import ConversationFile

    bus = Bus()
    unavailable: list[str] = []

    def heard(event: Event) -> None:
        if isinstance(event, Error) and event.code == LLMUnavailable.code:
            unavailable.append(event.message)

    bus.subscribe(heard)
    with _event_log(args.events, bus):
        # No music player: this process exits when it has answered, and the song would end with it.
        core = build_core(_config(args), _data_dir(args), bus, plays=False)
        core.dialogue.origin = "text"
        await core.registry.start_all()
        core.routines.bind()
        # One typed conversation across invocations: `ask "yes"` answers what the last `ask` asked.
        memory = ConversationFile(core.data_dir)
        memory.restore(core.dialogue)
        bus.publish(Transcript(text=args.text, turn=1))
        try:
            reply = await core.dialogue.handle(args.text, turn=1)
            memory.keep(core.dialogue)
            await core.routines.runner.finish()  # a routine it started ends before this process does
        finally:
            await core.registry.stop_all()
        _say(args, reply)
        if args.audio_out:
            await _speak_reply(args, core.config, bus, reply, turn=1)
    for message in unavailable[:1]:
        print(f"assistant: {message}", file=sys.stderr, flush=True)
    return 1 if unavailable else 0


async def _speak_reply(args: argparse.Namespace, config: Config, bus: Bus, reply: str, turn: int) -> None:
    """`ask --audio-out`: the reply in Piper's voice, in a WAV file."""
    from assistant.app.runtime import load_synthesizer
    from assistant.audio.sinks import WavSink
    from assistant.core.models import resolve_piper_voice
    from assistant.voice.reply import ReplySpeaker

    voice = resolve_piper_voice(config.tts.voice)
    synthesizer = await asyncio.to_thread(load_synthesizer, voice, config)
    sink = WavSink(args.audio_out, synthesizer.rate)
    await ReplySpeaker(bus, synthesizer).speak(reply, sink, lambda: 0.0, turn=turn)
    sink.close()
    bus.publish(TtsEnd(audio_s=round(len(sink.render()) / sink.rate, 3), turn=turn))


def _forwarded(args: argparse.Namespace) -> str | None:
    """The control op a running assistant does for this command, if it takes it (shell_requests.py)."""
    if args.command == "ask":
        return "ask"
    if args.command == "knowledge" and args.action == "ask":
        return "knowledge_ask"
    if args.command == "routines" and args.action == "run":
        return "routine_run"
    if args.command in KINDS and args.action == "cancel":
        return "cancel"
    return None


def _forward(args: argparse.Namespace, op: str, connection: socket.socket) -> int:
    """Have the assistant running on the data folder do the command, and print what it answers."""
    from assistant.app.control import ask_running

    if op == "ask":
        bus = Bus()
        with _event_log(args.events, bus) as write:
            done = ask_running(
                connection,
                {"op": "ask", "text": args.text, "events": args.events is not None},
                lambda line: write(line["event"]) if isinstance(line.get("event"), dict) else None,
            )
            reply, turn = str(done.get("reply", "")), int(done.get("turn", 1))
            _say(args, reply)
            if args.audio_out:
                asyncio.run(_speak_reply(args, _config(args), bus, reply, turn))
        return 0
    if op == "knowledge_ask":
        done = ask_running(connection, {"op": op, "question": args.question})
        return knowledge_cli.print_answer(args, done["record"], done["speech"], done.get("source"), done.get("passage"))
    if op == "routine_run":

        def said(line: dict[str, Any]) -> None:
            if "say" in line and not args.json:
                print(line["say"], flush=True)

        done = ask_running(connection, {"op": op, "name": args.name}, said)
        return routines_cli.print_result(args, done)
    done = ask_running(connection, {"op": "cancel", "kind": args.command, "id": args.id})
    return schedule_cli.print_cancelled(args, done)


async def _run(args: argparse.Namespace) -> int:
    from assistant.app.runtime import build_core
    from assistant.app.services import serve
    from assistant.audio.sinks import SpeakerSink, WavSink
    from assistant.audio.sources import AudioSource, MicrophoneSource, WavFileSource

    config = _config(args)
    # Open the audio first: a bad file or a missing sound card fails before minutes of model loading.
    source: AudioSource
    if args.audio_in:
        source = WavFileSource(args.audio_in, config.audio.block_s, realtime=args.realtime)
    else:
        source = MicrophoneSource(config.audio.input_device, config.audio.block_s)
    # The sink resamples whatever the voice gives it, so it can open before the voice is loaded.
    sink = WavSink(args.audio_out) if args.audio_out else SpeakerSink(config.audio.output_device)
    bus = Bus()
    with _event_log(args.events, bus):
        core = build_core(config, _data_dir(args), bus)
        await core.registry.start_all()
        try:
            serve_page = args.web if args.web is not None else (config.web.enabled and not args.audio_in)
            await serve(core, source, sink, serve_page, lambda line: _say(args, line))
            return 0
        finally:
            await core.registry.stop_all()
            sink.close()


def _stacks_on_request() -> None:
    """`kill -USR1 <pid>` writes every thread's stack to stderr: where a process that seems stuck is
    (it works while the event loop is blocked, and the process goes on)."""
    if hasattr(signal, "SIGUSR1"):
        with contextlib.suppress(ValueError, OSError, AttributeError):  # a stderr without a file (tests)
            faulthandler.register(signal.SIGUSR1, all_threads=True)


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()
    args = parser().parse_args(argv)
    _stacks_on_request()
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    op = _forwarded(args)
    lock = DataDirLock(_data_dir(args)) if hasattr(args, "data_dir") and (_writes(args) or op) else None
    try:
        if op is not None and lock is not None:
            from assistant.app.control import running_or_alone

            connection = running_or_alone(
                _data_dir(args), lambda: lock.try_acquire(_writes(args) or "a question"), lambda: lock.holder() == RUNS
            )
            if connection is not None:
                return _forward(args, op, connection)
            if not _writes(args):
                lock.release()  # it only reads: no need to keep a second command out meanwhile
        elif lock is not None:
            lock.acquire(_writes(args))
        if lock is not None and _writes(args) not in ("", RUNS):  # a running assistant checks before each action
            require_room(_data_dir(args))
        if args.command == "ask":
            return asyncio.run(_ask(args))
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "models":
            from assistant.app.runtime import configured_models
            from assistant.core.models import check_defaults

            for line in check_defaults() if args.check else configured_models(load_config()).describe():
                print(line)
            return 0
        if args.command == "skills":
            return skills_cli.run(args, _config(args), _data_dir(args))
        if args.command == "routines":
            return routines_cli.run(args, _config(args), _data_dir(args))
        if args.command == "devices":
            return devices_cli.run(args, _config(args), _data_dir(args))
        if args.command == "media":
            from assistant.app.runtime import media_roots

            config = _config(args)
            return media_cli.run(args, config, _data_dir(args), media_roots(config))
        if args.command == "knowledge":
            return knowledge_cli.run(args, _config(args), _data_dir(args))
        if args.command == "people":
            return people_cli.run(args, lambda: _config(args), _data_dir(args))
        if args.command == "status":
            return status_cli.run(args, _data_dir(args))
        if args.command == "service":
            return service_cli.run(args, _data_dir(args))
        if args.command == "audit":
            return audit_cli.run(args, _data_dir(args))
        if args.command in ("pair", "phones"):
            return web_cli.run(args, _data_dir(args))
        if args.command in KINDS:
            return schedule_cli.run(args, _config(args), _data_dir(args))
    except AssistantError as e:
        print(f"assistant: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if lock is not None:
            lock.release()
    return 2


def _writes(args: argparse.Namespace) -> str:
    """What the command would change in the data folder ("" for a command that only reads)."""
    if args.command == "run":
        return RUNS
    if args.command == "ask":
        return "a typed request"
    if args.command in KINDS and args.action == "cancel":
        return "cancelling from the shell"
    if args.command == "routines" and args.action == "run":
        return "running a routine from the shell"
    if args.command == "devices" and args.action != "list":
        return "changing devices from the shell (say it to the assistant, or stop it first)"
    if args.command == "media":
        return media_cli.writes(args)
    if args.command == "people":
        return people_cli.writes(args)
    if args.command == "skills":
        return skills_cli.writes(args)
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
