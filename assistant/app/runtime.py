"""Builds the assistant from its config: skills, understanding, and (for voice) the speech models,
loaded in parallel threads and warmed before the first request."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.app.exposed import SkillCommands, SkillDevices, SkillKnowledge, SkillMedia, SkillRoutines
from assistant.app.kept import KeptIn, scheduler_owners
from assistant.app.skill_scheduler import SkillScheduler
from assistant.audio.streams import MusicOutput, SpeakerOutput, WavOutput
from assistant.core.background import Foreground
from assistant.core.bus import Bus
from assistant.core.clock import Clock
from assistant.core.config import Config
from assistant.core.errors import LLMError, LLMUnavailable, ModelNotFoundError, SkillError
from assistant.core.events import Due as DueEvent
from assistant.core.events import TimerDone
from assistant.core.models import (
    ResolvedModel,
    SpeechModelFiles,
    drop_if_damaged,
    models_cache_dir,
    resolve_llm,
    resolve_models,
)
from assistant.devices.hub import DeviceHub
from assistant.devices.registry import DeviceRegistry
from assistant.knowledge.answerer import Answerer
from assistant.knowledge.index import KnowledgeIndex, configured_folders
from assistant.media.player import MusicPlayer
from assistant.media.service import MediaLibrary
from assistant.people.household import Household
from assistant.plugins.api import Permission, Skill, SkillContext, ToolSpec
from assistant.plugins.installed import InstalledSkills, enabled_skill_classes, not_loaded
from assistant.plugins.registry import Registry, builtin_skill_classes, entry_point_skill_classes
from assistant.plugins.sandbox import SkillProcess
from assistant.routines.host import RoutineHost, routine_folders
from assistant.routines.runner import RoutineRunner
from assistant.routines.workflows import Loaded, load_routines
from assistant.scheduling.items import Due, Timer
from assistant.scheduling.scheduler import Scheduler
from assistant.speech.stt import SpeechHints, Transcriber
from assistant.speech.tts import Synthesizer
from assistant.speech.vad import SileroVad
from assistant.speech.wake import WakeWordDetector
from assistant.trust.audit import AuditLog
from assistant.trust.system_commands import CommandRunner
from assistant.trust.vault import Vault
from assistant.understanding.closed import ClosedVocabulary
from assistant.understanding.matcher import TemplateMatcher, has_example_name
from assistant.understanding.planner import FallbackPlanner, LazyPlanner, LocalPlanner, ServerPlanner
from assistant.understanding.prompt import ToolIndex
from assistant.understanding.router import Router
from assistant.voice.dialogue import Dialogue
from assistant.voice.rooms import Rooms

log = logging.getLogger(__name__)


@dataclass
class Core:
    """Everything that turns text into action: no audio models, so `assistant ask` starts fast."""

    config: Config
    bus: Bus
    data_dir: Path
    scheduler: Scheduler
    registry: Registry
    dialogue: Dialogue
    planner: LazyPlanner | None
    """Loaded on first use (`ask`) or at start (`run`, so the first request is fast)."""
    routines: RoutineHost
    devices: DeviceHub
    media: MediaLibrary
    vault: Vault
    audit: AuditLog
    foreground: Foreground
    """Held while someone is heard or answered; background work (indexing) waits for it."""
    skill_problems: dict[str, str] = field(default_factory=dict)
    """Installed skills left out at start, and why (`assistant skills list` shows it)."""
    knowledge: KnowledgeIndex | None = None
    """The household's documents and notes."""
    answerer: Answerer | None = None
    """Answers from them, written by the planner's LLM."""
    rooms: Rooms = field(default_factory=Rooms)
    """Where the assistant can speak: its own loop and each satellite's (bound by `assistant run`)."""
    household: Household | None = None
    """The household's voices: who spoke, and voices learned and forgotten by voice."""
    _turns: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_turn(self) -> int:
        """The number of a new request, from the voice loop or the phone page alike."""
        return next(self._turns)

    @functools.cached_property
    def _speech_prompt(self) -> str:
        """Fixed for the process: the skills and their examples do not change while it runs."""
        if self.config.stt.prompt != "auto":
            return self.config.stt.prompt
        # An example's stand-in name ("the kitchen timer") would only teach Whisper a wrong name.
        return speech_prompt(
            [t for t in self.dialogue.router.matcher.declared_examples(free_text=False) if not has_example_name(t)]
        )

    def speech_hints(self) -> SpeechHints:
        """What speech-to-text should expect now: the configured prompt and the live names (asked
        for every transcription, so only the live names are looked up each time)."""
        return SpeechHints(self._speech_prompt, self.registry.vocabulary())


def speech_prompt(sentences: list[str], max_words: int = 150) -> str:
    """Example requests written as a transcript would be ("What time is it?"), one per tool first,
    within Whisper's prompt budget (223 tokens, about 150 words)."""

    def written(text: str) -> str:
        text = text.strip()
        ask = text.split()[0].lower() in {
            "what",
            "what's",
            "how",
            "when",
            "where",
            "which",
            "who",
            "is",
            "are",
            "could",
            "can",
            "do",
        }
        return text[:1].upper() + text[1:] + ("?" if ask else ".")

    chosen, words = [], 0
    for text in sentences:
        words += len(text.split())
        if words > max_words:
            break
        chosen.append(written(text))
    return " ".join(chosen)


def build_core(config: Config, data_dir: Path, bus: Bus, clock: Clock | None = None, plays: bool = True) -> Core:
    """`clock`: the wall clock the scheduler goes by (tests and benchmarks move a ManualClock).
    plays=False: no music player (a one-shot command, which would exit under the song)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    scheduler = Scheduler(data_dir, config.scheduler, clock)
    foreground = Foreground()
    rooms = Rooms()
    knowledge = KnowledgeIndex(data_dir, configured_folders(config), semantic=config.knowledge.semantic)
    answerer = Answerer(knowledge)
    media = MediaLibrary(
        data_dir,
        config.media,
        media_roots(config),
        player=make_player(config) if plays else None,
        today=lambda: scheduler.local_now().date(),
        foreground=foreground,
    )

    vault = Vault(data_dir)
    devices = DeviceHub(DeviceRegistry(data_dir), bus, vault.get)
    audit = AuditLog(data_dir, vault.derived_key("audit"))
    runner = RoutineRunner(data_dir, lambda name: registry.tool(name), clock, audit=audit)
    routines = RoutineHost(runner, Loaded({}, []))
    household = Household(
        data_dir,
        vault,
        KeptIn(data_dir, lambda: scheduler_owners(scheduler), knowledge.note_owners, runner.unfinished_by),
    )

    def refused(skill: str, permission: str) -> None:
        audit.append("refused", skill=skill, permission=permission)

    def commands_for(skill: str) -> CommandRunner:
        return CommandRunner(config.system.named(), data_dir / "skills" / skill)

    def context_for(cls: type[Skill]) -> SkillContext:
        granted = cls.permissions
        return SkillContext(
            skill=cls.name,
            data_dir=data_dir / "skills" / cls.name,
            scheduler=scheduler if Permission.SCHEDULER in granted else None,
            routines=routines if Permission.ROUTINES in granted else None,
            folders=config.folders.named() if Permission.FOLDERS in granted else {},
            devices=devices if Permission.DEVICES in granted else None,
            media=media if Permission.MEDIA in granted else None,
            commands=commands_for(cls.name) if Permission.COMMANDS in granted else None,
            rooms=rooms if Permission.SPEAKERS in granted else None,
            knowledge=answerer if Permission.KNOWLEDGE in granted else None,
            people=household if Permission.PEOPLE in granted else None,
            refused=refused,
        )

    registry = Registry(config.skills.language)
    registry.load([*builtin_skill_classes(), *entry_point_skill_classes()], context_for)
    problems: dict[str, str] = {}

    def services_for(skill: str) -> dict[str, object]:
        """What a sandboxed skill may call, before its grants are checked (plugins/remote.py)."""
        record = InstalledSkills(data_dir).get(skill) or {}
        return {
            "scheduler": SkillScheduler(scheduler, skill),
            "rooms": rooms,
            "devices": SkillDevices(devices),
            "media": SkillMedia(media),
            "routines": SkillRoutines(routines),
            "commands": SkillCommands(commands_for(skill)),
            "knowledge": SkillKnowledge(answerer, [Path(f) for f in record.get("knowledge_folders", [])]),
        }

    sandboxed = load_installed_skills(registry, data_dir, config, refused, problems, services_for)
    # Routines name tools, so they are checked once every skill is loaded.
    routines.reload(load_routines(routine_folders(data_dir), registry.tool))
    matcher = template_matcher(registry, config.skills.language, sandboxed, problems)
    planner = (
        LazyPlanner(
            lambda: make_planner(config, registry.tools(), matcher),
            lambda: ToolIndex(registry.tools(), matcher.phrases(), config.planner.max_tools),
        )
        if config.understanding.planner
        else None
    )
    closed = ClosedVocabulary(matcher, config.stt.reject_deficit) if config.stt.closed_vocabulary else None
    router = Router(matcher, planner, config.understanding.fuzzy_min_score, closed)
    answerer.writer = planner
    u = config.understanding
    dialogue = Dialogue(
        bus,
        registry,
        router,
        u.followup_s,
        audit,
        phrase_timeout_s=u.phrase_timeout_s if u.phrasing(config.planner) else None,
        confirm_below=u.confirm_below,
    )
    return Core(
        config,
        bus,
        data_dir,
        scheduler,
        registry,
        dialogue,
        planner,
        routines,
        devices,
        media,
        vault,
        audit,
        foreground,
        problems,
        knowledge,
        answerer,
        rooms,
        household,
    )


def media_roots(config: Config) -> list[Path]:
    """The photos and music folders count as library roots besides media.folders."""
    named = config.folders.named()
    return [named[k] for k in ("photos", "music") if k in named]


def make_player(config: Config) -> MusicPlayer:
    """Music goes to the speaker, or to a WAV file when media.music_output names one. The output
    opens on the first song, so a machine without a sound card only fails when music is asked for."""
    target = config.media.music_output

    def output() -> MusicOutput:
        if target == "speaker":
            return SpeakerOutput(config.audio.output_device)
        return WavOutput(Path(target).expanduser(), realtime=True)

    return MusicPlayer(output)


def load_installed_skills(
    registry: Registry,
    data_dir: Path,
    config: Config,
    refused: Callable[[str, str], None],
    problems: dict[str, str],
    services: Callable[[str], dict[str, object]],
) -> dict[str, Callable[[], None]]:
    """Register each enabled third-party skill (sandboxed); returns how to unregister each by name.
    One that cannot load is left out (in `problems`): the assistant still starts. `services`: by skill, the
    core objects it may call across the sandbox, as its grants allow (plugins/remote.py)."""
    loaded: dict[str, Callable[[], None]] = {}
    for cls in enabled_skill_classes(data_dir, config, refused, problems, services):
        try:
            unregister = registry.register(
                cls, SkillContext(skill=cls.name, data_dir=data_dir / "skills" / cls.name, refused=refused)
            )
        except SkillError as e:
            not_loaded(problems, cls.name, e.message)
            cls.process.stop()
            continue

        def unload(unregister: Callable[[], None] = unregister, process: SkillProcess = cls.process) -> None:
            unregister()
            process.stop()

        loaded[cls.name] = unload
    return loaded


def template_matcher(
    registry: Registry, language: str, sandboxed: dict[str, Callable[[], None]], problems: dict[str, str]
) -> TemplateMatcher:
    """The matcher over every loaded skill; an installed skill whose sentences are broken is
    unloaded (with a warning) rather than keeping the assistant from starting."""
    while True:
        try:
            return TemplateMatcher(registry.skills, language, models_cache_dir() / "templates")
        except SkillError as e:
            culprit = next((name for name in sandboxed if f"skill '{name}'" in e.message), None)
            if culprit is None:
                raise
            not_loaded(problems, culprit, e.message)
            sandboxed.pop(culprit)()


def make_planner(
    config: Config, specs: list[ToolSpec], matcher: TemplateMatcher
) -> LocalPlanner | ServerPlanner | FallbackPlanner:
    """The configured planner, loaded (not yet warmed): a server when a URL is set (with the local
    GGUF behind it unless planner.fallback is off), else the local GGUF."""
    c = config.planner
    examples = matcher.examples()
    phrases = matcher.phrases()

    def load(model: ResolvedModel) -> LocalPlanner:
        log.info("%s", model.describe("LLM planner"))
        return LocalPlanner(
            str(model.path),
            specs,
            examples,
            phrases,
            threads=c.threads,
            n_ctx=c.context,
            max_tools=c.max_tools,
            gpu_layers=c.gpu_layers,
            repack=c.repack,
            phrase_replies=config.understanding.phrasing(c),
        )

    def local() -> LocalPlanner:
        """The local GGUF, loaded. A file made here from the packages that does not load because it
        is damaged (cut short) is deleted, made again and loaded once more; any other failure (too
        little memory) deletes nothing. Raises LLMUnavailable, which LazyPlanner remembers."""
        model: ResolvedModel | None = None
        try:
            model = resolve_llm(c.model)
            try:
                return load(model)
            except LLMError:
                if not drop_if_damaged(model.path):
                    raise
            model = resolve_llm(c.model)  # made again from the packages (half a minute), or the original
            return load(model)
        except ModelNotFoundError as e:
            raise LLMUnavailable(f"the language model could not be loaded: {e.message}") from e
        except LLMError as e:
            remedy = (
                "check the file planner.model names in the config"
                if model is not None and model.source == "configured path"
                else "run `assistant models --check`"
            ) + ", then start the assistant again"
            raise LLMUnavailable(f"the language model could not be loaded ({e.message}): {remedy}") from e

    if c.server_url:
        server = ServerPlanner(
            c.server_url,
            c.server_model,
            specs,
            examples,
            phrases,
            max_tools=c.max_tools,
            timeout_s=c.timeout_s,
            response_format=c.response_format,
        )
        return FallbackPlanner(server, local) if c.fallback else server
    return local()


def needs_local_llm(config: Config) -> bool:
    """Whether the planner loads a GGUF here: with no server, or with the local model behind one."""
    return not config.planner.server_url or config.planner.fallback


@dataclass
class SpeechModels:
    wake: WakeWordDetector
    vad: SileroVad
    transcriber: Transcriber
    synthesizer: Synthesizer
    files: SpeechModelFiles
    """Where each came from: another wake word or VAD instance (a satellite's) is loaded from these."""


def configured_models(config: Config) -> SpeechModelFiles:
    return resolve_models(
        config.wake.model, config.stt.model, config.stt.path, config.models.allow_network, config.tts.voice
    )


def load_synthesizer(voice: ResolvedModel, config: Config) -> Synthesizer:
    synthesizer = Synthesizer(voice, config.tts)
    synthesizer.warm_up()
    return synthesizer


async def load_speech_models(config: Config, files: SpeechModelFiles | None = None) -> SpeechModels:
    """Resolve every model first (a missing one fails fast, naming its package), then load in parallel.
    files: already resolved (`configured_models`)."""
    files = files or configured_models(config)
    for line in files.describe():
        log.info("%s", line)

    def transcriber() -> Transcriber:
        t = Transcriber(files.stt, config.stt)
        t.warm_up()
        return t

    wake, vad, stt, tts = await asyncio.gather(
        asyncio.to_thread(WakeWordDetector, files.wake, config.wake.model, config.wake.threshold, config.wake.flush_s),
        asyncio.to_thread(SileroVad, files.vad, config.vad.threshold),
        asyncio.to_thread(transcriber),
        asyncio.to_thread(load_synthesizer, files.tts, config),
    )
    if config.stt.server or config.tts.server:  # the local models stay loaded: they answer while a remote is down
        from assistant.wyoming.remote import Remote, RemoteSynthesizer, RemoteTranscriber

        if config.stt.server:
            stt = RemoteTranscriber(Remote("stt", config.stt.server), stt)  # type: ignore[assignment]
        if config.tts.server:
            tts = RemoteSynthesizer(Remote("tts", config.tts.server), tts)  # type: ignore[assignment]
    return SpeechModels(wake, vad, stt, tts, files)


def ringer(core: Core, announce: Callable[[str], Awaitable[None]]) -> Callable[[Due], Awaitable[None]]:
    """The scheduler's callback: publish what came due and have the voice loop say it, with the
    ring sound first. The skill that owns the kind of item words it. A timer set in a satellite's
    room rings there (core.rooms)."""

    async def ring(due: Due) -> None:
        text = due_speech(core, due)
        item = due.item
        if isinstance(item, Timer) and due.repeat == 0:
            core.bus.publish(TimerDone(timer_id=item.id, name=item.name, duration_s=item.duration_s))
        core.bus.publish(DueEvent(kind=due.kind, item_id=item.id, reason=due.reason, repeat=due.repeat, text=text))
        await (core.rooms.speaker(getattr(item, "room", None)) or announce)(text)

    return ring


def due_speech(core: Core, due: Due) -> str:
    try:
        text = core.registry.skill(due.kind).due_speech(due)
    except SkillError:
        text = None
    return text or f"Your {due.kind} is due."
