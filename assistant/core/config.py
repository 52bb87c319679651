"""Typed settings: config/default.yaml < the user's file < ASSISTANT__SECTION__KEY environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from assistant.core.errors import ConfigError, shown
from assistant.core.paths import DEFAULT_CONFIG

DEFAULT_FILE = DEFAULT_CONFIG
ENV_PREFIX = "ASSISTANT__"


@dataclass(frozen=True)
class ModelsConfig:
    allow_network: bool = False
    """Allow downloading a model from a hub when neither a configured path nor a packaged model exists."""


@dataclass(frozen=True)
class AudioConfig:
    input_device: str | int | None = None
    """Sounddevice name or index; null = the system default microphone."""
    output_device: str | int | None = None
    """Null = the system default speaker."""
    block_s: float = 0.08
    """Microphone block: 80 ms, one wake-word frame."""


@dataclass(frozen=True)
class WakeConfig:
    model: str = "hey_jarvis"
    """A packaged openWakeWord model name, or a path to your own .onnx model."""
    threshold: float = 0.5
    """Detector score (0..1) a frame must reach to count as the wake word."""
    flush_s: float = 2.0
    """After a detection the detector is flushed with this much silence (openWakeWord 0.5.1's reset keeps its
    feature buffer, which otherwise fires again about half a second later)."""


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    """Silero speech probability that counts as voiced."""
    min_speech_s: float = 0.1
    """Voiced audio needed before the utterance counts as started."""
    trailing_silence_s: float = 0.5
    """Silence that confirms the end of the utterance."""
    max_utterance_s: float = 12.0
    """An utterance is cut here however long the person talks."""
    no_speech_timeout_s: float = 5.0
    """After the wake word, give up if nobody speaks for this long."""
    preroll_s: float = 0.3
    """Audio kept before speech start, so no first syllable is lost."""
    early_endpoint_s: float | None = 0.25
    """When the transcript taken at the first silent frame is already a complete request the sentence templates
    understand, this much silence confirms the end instead of trailing_silence_s. null: always wait the full
    trailing_silence_s."""
    transcribe_after_s: float = 0.09
    """Silence after which transcription starts, in parallel with the rest of the silence timeout."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.transcribe_after_s <= self.trailing_silence_s:
            raise ConfigError(
                f"vad.transcribe_after_s must be between 0 and vad.trailing_silence_s "
                f"({self.trailing_silence_s:g}), not {self.transcribe_after_s:g}"
            )


@dataclass(frozen=True)
class SttConfig:
    model: str = "tiny.en"
    """Tiny.en (packaged), base (pip install -e ".[base]"), or a path to a CTranslate2 model."""
    path: str | None = None
    """Explicit model folder; wins over `model`."""
    device: str = "cpu"
    """Cpu or cuda."""
    compute_type: str = "int8"
    """CTranslate2 compute type: int8 (default, smallest and fastest on a CPU), int8_float16 or float16 on a GPU, float32."""
    beam_size: int = 2
    """2 hears ~2 points more than 1 for ~30 ms; 3 adds nothing."""
    temperature: float = 0.0
    """No fallback re-decoding: predictable time."""
    language: str = "en"
    """The language spoken (tiny.en knows only English; base knows others)."""
    cpu_threads: int = 2
    """CPU threads speech-to-text may use."""
    prompt: str = "auto"
    """"auto": sentences the skills declare as examples; "" for none; or a text of your own."""
    alternatives: int = 5
    """When the best reading matches no sentence template, the next likeliest readings (up to this
    many, from one more decode) are tried on the templates before the LLM is asked; 0: never."""
    server: str = ""
    """A Wyoming speech-to-text server on a bigger machine (tcp://HOST:10300); the local model answers
    while it is down."""
    closed_vocabulary: bool = True
    """Score the template sentences nearest to what was heard against the audio itself, and take the
    one the audio holds (closed-vocabulary hearing); false: match the free transcript only."""
    reject_deficit: float = 1.0
    """A template sentence whose mean log-probability per token is more than this below the free
    reading's was not said: the request goes on as transcribed."""

    def __post_init__(self) -> None:
        if not 0 <= self.alternatives <= 16:
            raise ConfigError("stt.alternatives must be between 0 and 16")
        if not 0.0 < self.reject_deficit <= 5.0:
            raise ConfigError(f"stt.reject_deficit must be between 0 and 5, not {self.reject_deficit:g}")
        _check_server("stt", self.server)


@dataclass(frozen=True)
class TtsConfig:
    voice: str = "en_US-joe-medium"
    """A packaged Piper voice name, or a path to a voice .onnx (with .onnx.json beside it)"""
    length_scale: float = 1.0
    """>1 speaks slower."""
    noise_scale: float | None = None
    """How much the voice varies from one saying to the next (None: the voice's own; 0: the same audio
    every time, as the tests render their speech)."""
    noise_w_scale: float | None = None
    """How much the rhythm varies (None: the voice's own)."""
    use_cuda: bool = False
    """Run Piper on a GPU (needs onnxruntime-gpu)."""
    server: str = ""
    """A Wyoming text-to-speech server on a bigger machine (tcp://HOST:10200); Piper here answers while
    it is down."""

    def __post_init__(self) -> None:
        _check_server("tts", self.server)


def _check_server(section: str, uri: str) -> None:
    if uri:
        from assistant.core.addresses import tcp_address

        tcp_address(uri, f"{section}.server", "a Wyoming server")


@dataclass(frozen=True)
class SkillsConfig:
    language: str = "en"
    """The language of the skills' sentence files (sentences/<language>.yaml)."""
    call_timeout_s: float = 10.0
    """How long a third-party skill's tool may take before its process is killed and restarted."""
    sandbox: str = "auto"
    """"auto": bubblewrap where it is installed, else a restricted subprocess; "bwrap" insists on it;
    "subprocess" never uses it."""


@dataclass(frozen=True)
class UnderstandingConfig:
    fuzzy_min_score: float = 0.9
    """A template match that is not exact (speech-to-text errors: "can't sail the pasta timer") is taken when
    its similarity to a template sentence is at least this (0..1); below it the LLM planner decides."""
    followup_s: float = 30.0
    """Within this many seconds a follow-up ("and the eggs too", "make it ten minutes instead") carries the
    previous request's context, and an answer to a question completes the asked-about call."""
    planner: bool = True
    """False: templates only, and "I can't help with that yet" for the rest."""
    phrase_replies: bool | str = "auto"
    """true, false, or "auto": on for a planner server or a GGUF of the user's, off for the packaged
    small models (the 1.5B model's wording passes its check too rarely to be worth the wait)."""
    phrase_timeout_s: float = 4.0
    """How long the LLM may take to word a reply before the skill's own words are said instead."""
    confirm_below: float = 0.75
    """A request understood with less confidence than this (0..1: a tool call's score) is put back to
    the person as a yes-or-no question before a tool that changes something runs; 0: never."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confirm_below <= 1.0:
            raise ConfigError(f"understanding.confirm_below must be between 0 and 1, not {self.confirm_below:g}")

    def phrasing(self, planner: PlannerConfig) -> bool:
        value = self.phrase_replies
        if value == "auto":
            from assistant.core.models import LLM_MODELS

            return bool(planner.server_url) or planner.model not in LLM_MODELS
        if isinstance(value, bool):
            return value
        raise ConfigError(f"understanding.phrase_replies must be true, false or auto, not {value!r}")


@dataclass(frozen=True)
class DevicesConfig:
    discovery: bool = True
    """Browse the network for devices (mDNS) while the assistant runs."""
    interfaces: str = ""
    """Comma-separated IPv4 addresses of the interfaces to use for mDNS; empty: all of them."""
    announce: bool = True
    """Announce the assistant itself by mDNS (_homevoice._tcp), so phones and satellites find it."""
    announce_name: str = "Home assistant"
    """The name it announces."""
    announce_port: int = 8765
    """Announced when the phone page is off; with it on, web.port is."""
    home_assistant_url: str = ""
    """Home Assistant's address (http://homeassistant.local:8123): its lights and switches become
    devices; the token is kept in the vault (`assistant devices home-assistant`)."""
    home_assistant_poll_s: float = 30.0
    """(the token: `assistant devices home-assistant`, kept in the vault)"""

    def __post_init__(self) -> None:
        url = self.home_assistant_url
        if url and not (url.startswith(("http://", "https://")) and len(url) > 8):
            raise ConfigError(f"devices.home_assistant_url must be http://HOST:PORT or https://…, not {url!r}")
        if not 5 <= self.home_assistant_poll_s <= 3600:
            raise ConfigError("devices.home_assistant_poll_s must be between 5 and 3600 seconds")

    def interface_list(self) -> list[str] | None:
        addresses = [a.strip() for a in self.interfaces.split(",") if a.strip()]
        return addresses or None


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = True
    """Serve the companion phone page while `assistant run` listens to a microphone (with
    `--audio-in FILE` only when `--web` is given)."""
    port: int = 8765
    """HTTPS on the LAN (self-signed certificate, made at first run); announced by mDNS."""
    bind: str = "127.0.0.1"
    """Address the HTTPS server listens on: 127.0.0.1 keeps the page on this machine; 0.0.0.0 (every
    interface) lets phones on the LAN reach it."""
    loopback_port: int = 8766
    """Plain HTTP, on 127.0.0.1 only (this machine's browser, and `assistant pair`)."""
    reply_on: str = "phone"
    """Where a push-to-talk reply is spoken: "phone" or "room" (the assistant's own speaker)."""
    max_talk_s: float = 30.0
    """Longest push-to-talk recording accepted."""

    def __post_init__(self) -> None:
        if self.reply_on not in ("phone", "room"):
            raise ConfigError(f"web.reply_on must be phone or room, not {self.reply_on!r}")
        for name in ("port", "loopback_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ConfigError(f"web.{name} must be a port number (0..65535; 0 picks a free one)")
        if not 1 <= self.max_talk_s <= 300:
            raise ConfigError("web.max_talk_s must be between 1 and 300 seconds")


@dataclass(frozen=True)
class MediaConfig:
    folders: tuple[str, ...] = ()
    """Library roots besides folders.photos and folders.music (`assistant media add-folder` adds more)."""
    watch: bool = True
    """Follow changes under the roots while the assistant runs."""
    music_output: str = "speaker"
    """Where music plays: "speaker" (the audio output device), or a WAV file path (for tests and demos)."""


@dataclass(frozen=True)
class PlannerConfig:
    model: str = "qwen2.5-coder-1.5b"
    """The local LLM: qwen2.5-coder-1.5b (packaged, requantized here once to Q4_K_S: 100 MB less memory,
    the same answers on the benchmarks), qwen2.5-coder-1.5b-q4_k_m (the file as packaged), smollm2-135m
    (tiny, for tests), or a path to any .gguf."""
    server_url: str | None = None
    """Or an OpenAI-compatible chat server on a bigger machine (llama.cpp's server, Ollama), e.g.
    http://192.168.1.20:8080; it wins over `model` when set."""
    server_model: str = "default"
    """The model name sent to planner.server_url."""
    response_format: str = "json_schema"
    """Json_object for llama-cpp-python's own server."""
    timeout_s: float = 10.0
    """How long a request to planner.server_url may take before the local model answers instead."""
    threads: int | None = None
    """CPU threads for the local model; null = all cores."""
    context: int | None = None
    """Tokens the local model's context holds; null = sized to the system prompt, which lists every tool
    (about 3,300 tokens with the built-in skills), and room for a request: 4,096 today. Each 1,024
    tokens of context is about 29 MB of memory with the default model."""
    max_tools: int = 8
    """With more tools than this, only the most relevant are offered per request."""
    gpu_layers: int = 0
    """Layers to offload to a GPU (needs a CUDA build of llama-cpp-python)"""
    repack: bool = True
    """Let llama.cpp repack most weights for its faster CPU kernels: planning takes about 30 % less time
    (median 1.19 s against 1.68 s here). It takes no more memory than without: the mapped file's pages
    the repacked copy stands for are let go of (docs/benchmarks/startup.md)."""
    fallback: bool = True
    """With server_url: the local model is loaded too and plans while the server does not answer."""


@dataclass(frozen=True)
class FoldersConfig:
    """The household's named folders that skills with the folders permission may use."""

    photos: str | None = None
    """Named folders the skills may use (paths; ~ is your home). The nightly photo backup copies `photos` into
    `backup`/photos; leave backup null to keep it off."""
    music: str | None = None
    """The household's music folder, for skills granted the folders permission."""
    documents: str | None = None
    """The household's documents folder: the knowledge index reads it too."""
    backup: str | None = None
    """Where `files.backup` copies the others (a second disk, a NAS mount)."""

    def named(self) -> dict[str, Path]:
        return {name: Path(value).expanduser() for name, value in dataclasses.asdict(self).items() if value}


@dataclass(frozen=True)
class KnowledgeConfig:
    folders: tuple[str, ...] = ()
    """Folders of household documents besides folders.documents (`assistant knowledge add-folder` adds more)."""
    semantic: bool = True
    """Search by meaning (all-MiniLM-L6-v2) as well as by words (BM25)."""
    watch: bool = True
    """Re-read a document soon after it changes (inotify) while the assistant runs."""
    scan_s: float = 300.0
    """Besides watching, look the folders over this often (a network share may not report changes)."""


@dataclass(frozen=True)
class SchedulerConfig:
    timezone: str | None = None
    """IANA name (Europe/Berlin); None: the machine's."""
    ring_repeat_s: float = 20.0
    """A ringing timer or alarm repeats this often …."""
    ring_limit_s: float = 600.0
    """… until someone says "stop", or for at most this long."""
    snooze_s: float = 540.0
    """"snooze" without a length: nine minutes."""
    grace_s: float = 3600.0
    """Alarms and reminders missed by less than this while the assistant was off are announced."""


@dataclass(frozen=True)
class SystemConfig:
    commands: dict[str, Any] = field(default_factory=dict)
    """The named commands the system skill may run (assistant/core/named_commands.py says how to write
    one); checked when the config loads."""

    def named(self) -> dict[str, Any]:
        from assistant.core.named_commands import parse_commands

        return parse_commands(self.commands)

    def __post_init__(self) -> None:
        self.named()


@dataclass(frozen=True)
class WyomingConfig:
    serve: bool = False
    """Serve speech-to-text, text-to-speech, the wake word and intent handling as Wyoming services
    (Home Assistant's Wyoming integration connects to them) while `assistant run` runs."""
    bind: str = "127.0.0.1"
    """Where the services listen: 127.0.0.1 keeps them on this machine; any other address (0.0.0.0:
    every interface) needs `clients` or `token`, or the config is refused."""
    port: int = 10300
    """The TCP port of the Wyoming services (0 picks a free one)."""
    clients: tuple[str, ...] = ()
    """Addresses or CIDR networks that may connect ([192.168.1.20] for Home Assistant); any other is
    refused at once. Empty: any host that reaches `bind`."""
    token: str = ""
    """A shared secret (16 characters or more) that intent handling needs: the `transcript` event's
    data carries it as "token" (assistant/wyoming/access.py). Empty: none needed."""
    max_clients: int = 32
    """Connections the services take at once (8 at most from one address); one more is told "too
    many connections" and closed."""
    satellites: dict[str, Any] = field(default_factory=dict)
    """Wyoming satellites to serve, by room: {bedroom: "tcp://192.168.1.30:10700"}."""

    def addresses(self) -> list[Any]:  # list[SatelliteAddress]
        from assistant.core.addresses import SatelliteAddress

        return [SatelliteAddress.parse(str(room).strip().lower(), str(uri)) for room, uri in self.satellites.items()]

    def __post_init__(self) -> None:
        from assistant.core.addresses import check_exposure

        if not 0 <= self.port <= 65535:
            raise ConfigError("wyoming.port must be a port number (0..65535; 0 picks a free one)")
        if not 1 <= self.max_clients <= 1024:
            raise ConfigError("wyoming.max_clients must be a whole number from 1 to 1024")
        self.addresses()
        check_exposure(self.bind, self.clients, self.token, serving=self.serve)


@dataclass(frozen=True)
class Config:
    models: ModelsConfig = field(default_factory=ModelsConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    stt: SttConfig = field(default_factory=SttConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    skills: SkillsConfig = field(default_factory=SkillsConfig)
    understanding: UnderstandingConfig = field(default_factory=UnderstandingConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    folders: FoldersConfig = field(default_factory=FoldersConfig)
    devices: DevicesConfig = field(default_factory=DevicesConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    web: WebConfig = field(default_factory=WebConfig)
    system: SystemConfig = field(default_factory=SystemConfig)
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config file {path} does not exist") from e
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}".splitlines()[0]) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections (wake:, vad:, stt: …)")
    return data


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"environment variable {key} must look like {ENV_PREFIX}SECTION__KEY")
        out.setdefault(parts[0], {})[parts[1]] = yaml.safe_load(raw)
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _coerce(where: str, value: Any, hint: Any) -> Any:
    if getattr(hint, "__origin__", None) is dict:  # checked by its section's own parser
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {value!r}")
        return value
    if getattr(hint, "__origin__", None) is tuple:  # a list of strings
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, not {value!r}")
        return tuple(value)
    allowed = getattr(hint, "__args__", (hint,))
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"{where} must be set")
    for typ in allowed:
        if typ is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if typ is bool and isinstance(value, bool):
            return value
        if typ in (int, str) and isinstance(value, typ) and not isinstance(value, bool):
            return value
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed if t is not type(None))
    raise ConfigError(f"{where} must be {names}, not {value!r}")


def _build(cls: type, section: str, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{section}' must be a mapping")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known, key=str)
    if unknown:
        raise ConfigError(f"unknown setting {section}.{shown(unknown[0])} (known: {', '.join(sorted(known))})")
    values = {name: _coerce(f"{section}.{name}", value, hints[name]) for name, value in data.items()}
    return cls(**values)


def load_config(user_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the settings; a bad file or value raises ConfigError naming the setting."""
    data = _read_yaml(DEFAULT_FILE) if DEFAULT_FILE.exists() else {}
    if user_file is not None:
        data = _merge(data, _read_yaml(user_file))
    data = _merge(data, _env_overrides(os.environ if environ is None else environ))
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    hints = get_type_hints(Config)
    unknown = sorted(set(data) - set(sections), key=str)
    if unknown:
        raise ConfigError(f"unknown config section '{shown(unknown[0])}' (known: {', '.join(sorted(sections))})")
    return Config(**{name: _build(hints[name], name, data.get(name, {})) for name in sections})
