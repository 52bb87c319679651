"""`assistant people enroll|list|identify|forget`: the household's voices.

    assistant people enroll NAME --audio A.wav [--audio B.wav …] [--role ROLE] [--take-over]
    assistant people list [--json]
    assistant people identify CLIP.wav [--json]     → {"person": NAME or null, "score": …}
    assistant people forget NAME
    assistant people role NAME --role ROLE

Voiceprints stay on this machine, encrypted under the vault's key (people/voiceprints.py); enrolling
and forgetting are written to the audit trail.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.app.kept import KeptIn, Owners, note_owners, scheduler_owners, there
from assistant.core.config import Config
from assistant.core.errors import ConfigError
from assistant.core.models import resolve_speaker_encoder, resolve_vad_model
from assistant.language.lists import and_list, counted
from assistant.people.enrolment import SoundsLikeSomeoneElse, change_role, learn
from assistant.people.listening import Listener, identify, read_clip
from assistant.people.voiceprints import (
    PURPOSE,
    PeopleError,
    Person,
    Voiceprints,
    checked_name,
    checked_role,
    key_missing,
    named,
)
from assistant.plugins.api import ToolSpec
from assistant.routines.runner import RoutineRunner
from assistant.scheduling.scheduler import Scheduler
from assistant.speech.speaker_encoder import SpeakerEncoder
from assistant.speech.vad import SileroVad
from assistant.trust.admin import record_admin
from assistant.trust.vault import Vault

MAX_CLIPS = 10


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], data_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("people", help="enrol the household's voices, list them, tell who speaks in a clip, forget one")
    p.add_argument("action", choices=["enroll", "list", "identify", "forget", "role"])
    p.add_argument(
        "target", nargs="?", metavar="NAME|CLIP", help="enroll, forget, role: the person's name; identify: a WAV file"
    )
    p.add_argument(
        "--audio",
        action="append",
        default=[],
        type=Path,
        metavar="WAV",
        help="enroll: a clip of the person reading a sentence aloud (repeat: three is best)",
    )
    p.add_argument(
        "--role",
        help="enroll: adult (the default), child, guest, or a role of your own; role: the person's new role",
    )
    p.add_argument(
        "--take-over",
        action="store_true",
        help="enroll: give this new voice the reminders, notes and phones still kept under the name from a voice forgotten earlier",
    )
    p.add_argument("--json", action="store_true", help="list, identify: JSON")
    data_options(p)


def writes(args: argparse.Namespace) -> str:
    return "changing the household's voices" if args.action in ("enroll", "forget", "role") else ""


def _kept(config: Callable[[], Config], data_dir: Path) -> KeptIn:
    """What is kept under a name in the data folder, read from its files (the assistant is not
    running: the command holds the folder). A file not there holds nothing, and is not made."""

    def scheduler() -> Owners:
        if not there(data_dir / "scheduler.json"):
            return {}
        return scheduler_owners(Scheduler(data_dir, config().scheduler))

    def runs() -> list[str | None]:
        if not there(data_dir / "workflows.json"):
            return []
        return RoutineRunner(data_dir, _no_tool).unfinished_by()

    return KeptIn(data_dir, scheduler, lambda: note_owners(data_dir), runs)


def _anyone_kept(config: Callable[[], Config], data_dir: Path) -> bool | None:
    """Whether things are kept under names, as the running assistant decides it; None (and why, on
    standard error) when that cannot be told, which the assistant takes as kept."""
    try:
        return _kept(config, data_dir).anyone()
    except (PeopleError, ConfigError) as e:
        print(f"assistant: {e.message}", file=sys.stderr)
        return None


def _no_tool(name: str) -> ToolSpec:
    raise PeopleError(f"no tool runs here ({name})")


def _listener() -> Listener:
    return Listener(SpeakerEncoder(resolve_speaker_encoder().path), SileroVad(resolve_vad_model()))


def _enrolled(data_dir: Path, vault: Vault) -> tuple[list[Person], list[str]]:
    """Everyone enrolled; reading never makes a vault key (a folder without one has nobody)."""
    return Voiceprints(data_dir, vault.derived_key(PURPOSE)).load() if vault.exists() else ([], [])


def _needs_target(args: argparse.Namespace, what: str) -> str:
    if not args.target:
        raise PeopleError(f"`assistant people {args.action}` needs {what}")
    return str(args.target)


def run(args: argparse.Namespace, config: Callable[[], Config], data_dir: Path) -> int:
    """config: read only where it is needed (what is kept under a name), so a bad config file does
    not stop `people list`."""
    vault = Vault(data_dir)
    missing = key_missing(data_dir, vault.key_path)
    if missing is not None:  # enrolling now would make a new key, and the voices there would stay unreadable
        raise PeopleError(missing)
    if args.action == "list":
        people, problems = _enrolled(data_dir, vault)
        left = not people and _anyone_kept(config, data_dir)
        if args.json:
            print(json.dumps({"people": [p.describe() for p in people], "problems": problems, "left_things": left}))
        else:
            for person in people:
                print(f"{person.name} ({person.role}), from {counted(person.clips, 'clip')}")
            for problem in problems:
                print(f"left out: {problem}")
            if left is None:
                print("I can't tell whether things are kept under forgotten names: a voice nobody enrolled is a guest.")
            elif left:
                print(
                    "Things are kept under the names of voices forgotten: a voice nobody enrolled is a guest "
                    "until they are cancelled (a running assistant notices at its next start)."
                )
            if not people and not problems:
                print(
                    "No voices enrolled yet: `assistant people enroll NAME --audio A.wav --audio B.wav --audio C.wav`"
                )
        return 0
    if args.action == "identify":
        clip = Path(_needs_target(args, "a WAV file"))
        pcm = read_clip(clip)
        people, problems = _enrolled(data_dir, vault)
        for problem in problems:  # a voiceprint left out is a voice this answer cannot name
            print(f"left out: {problem}", file=sys.stderr)
        voice = _listener().voice(pcm)
        found = identify(voice, people)
        if args.json:
            print(
                json.dumps(
                    {
                        "person": found.person.name if found.person else None,
                        "score": found.score,
                        "role": found.person.role if found.person else "guest",
                        "nearest": found.nearest,
                        "speech_s": round(voice.speech_s, 2),
                    }
                )
            )
        elif voice.embedding is None:
            print(f"Too little speech to tell who it is ({voice.speech_s:.1f} s).")
        elif found.person is None:
            print(f"An unknown voice (nearest: {found.nearest or 'nobody'}, {found.score:.2f}).")
        else:
            print(f"{found.person.name} ({found.score:.2f}).")
        return 0
    name = checked_name(_needs_target(args, "the person's name"))
    store = Voiceprints(data_dir, vault.derived_key(PURPOSE))
    if args.action == "forget":
        enrolled = named(store.load()[0], name)
        name = enrolled.name if enrolled is not None else name  # "forget ANNA" forgets and says Anna
        try:
            kept = _kept(config, data_dir).under(name)
        except (PeopleError, ConfigError) as e:  # only what would be said of them is lost
            print(f"assistant: {e.message}", file=sys.stderr)
            kept = []
        if not store.forget(name):
            raise PeopleError(f"nobody called {name} is enrolled (see `assistant people list`)")
        record_admin(data_dir, "voice forgotten", "cli", person=name)
        print(f"Forgot {name}'s voice.")
        if kept:
            print(
                f"Kept under the name {name}: {and_list(kept)}. A new voice enrolled as {name} is given them "
                f"only with --take-over."
            )
        return 0
    if args.action == "role":
        if not args.role:
            raise PeopleError(f"say which role: `assistant people role {name} --role adult|child|guest|…`")
        person, was = change_role(store, name, args.role)
        if person.role == was:
            print(f"{person.name} is {person.role} already.")
            return 0
        record_admin(data_dir, "voice role changed", "cli", person=person.name, role=person.role, was=was)
        print(f"{person.name} is {person.role} now (was {was}).")
        return 0
    earlier = named(store.load()[0], name)
    kept = _kept(config, data_dir).under(name) if earlier is None else []
    if kept and not args.take_over:  # a voice forgotten left them: a new voice would be given them
        raise PeopleError(
            f"nobody called {name} is enrolled, but the name still holds {and_list(kept)} from an earlier voice "
            f"(forgotten, or its voiceprint unreadable): add --take-over to give them to this voice, or enrol "
            f"under another name"
        )
    # Enrolled again without --role, a person keeps theirs: a child relearned is not made an adult.
    role = checked_role(args.role or (earlier.role if earlier is not None else "adult"))
    if not args.audio:
        raise PeopleError(
            "enrolling needs clips of the person reading aloud: --audio A.wav --audio B.wav --audio C.wav"
        )
    if len(args.audio) > MAX_CLIPS:
        raise PeopleError(f"at most {MAX_CLIPS} clips; three sentences are enough")
    listener = _listener()
    embeddings = [listener.enrolment(read_clip(path), str(path)) for path in args.audio]
    try:
        person, replaced = learn(store, name, role, embeddings, [str(p) for p in args.audio])
    except SoundsLikeSomeoneElse as e:
        raise PeopleError(
            f"{e.message}; if it is {e.twin}, enrol as {e.twin} to learn the voice again, "
            f"or `assistant people forget {e.twin}` first"
        ) from None
    record_admin(
        data_dir,
        "voice enrolled",
        "cli",
        person=person.name,
        role=role,
        clips=len(embeddings),
        replaced=replaced,
        **({"took_over": kept} if kept else {}),
    )
    print(
        f"{'Relearned' if replaced else 'Learned'} {person.name}'s voice ({role}, from {counted(len(embeddings), 'clip')})."
    )
    return 0
