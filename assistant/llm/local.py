"""llama-cpp-python on a GGUF file, warm, with the KV state of each prompt's fixed part kept.

A prompt is a chat template split into its fixed part (the system prompt) and the request. The fixed
part's state is evaluated once, written to the model cache on disk (so the next start reads it
instead of spending seconds on it), and put back whenever another prompt ran in between: a request
pays only for its own tokens. This is the one prompt cache every prompt shares.

The state goes between llama.cpp's KV cache and the file by llama.cpp's own session files, a layer
at a time: through Python (`save_state`/`load_state`) the planner's 90 MB state was held as an
array and then copied into a ctypes buffer, 220 MB above the steady memory at every start.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.errors import LLMError
from assistant.core.memory import drop_mapped_pages
from assistant.core.models import models_cache_dir
from assistant.core.store import atomic_write

if TYPE_CHECKING:
    from llama_cpp.llama_grammar import LlamaGrammar

log = logging.getLogger(__name__)


class ChatTemplate:
    """Splits a model's chat template into the fixed part (system prompt) and the request part, so
    the fixed part's tokens are always the same prefix and its KV state can be reused."""

    MARK = "\x00REQUEST\x00"

    def __init__(self, model: Any, system: str, lead: str = "") -> None:
        """model: llama-cpp-python's LlamaModel (a Llama's `_model`, or one read for its vocabulary only).
        lead: how every request part begins; it belongs to the fixed part, so it is cached with it."""
        self.lead = lead
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            template = model.metadata().get("tokenizer.chat_template")
        except Exception:  # noqa: BLE001  # metadata that is not text: as llama-cpp-python's Llama, none
            template = None
        if template:
            eos = model.token_get_text(model.token_eos()) if model.token_eos() >= 0 else ""
            bos = model.token_get_text(model.token_bos()) if model.token_bos() >= 0 else ""
            formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
            prompt = formatter(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": lead + self.MARK}]
            ).prompt
        else:  # ChatML, what Qwen and SmolLM2 use
            prompt = (
                f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{lead}{self.MARK}<|im_end|>\n"
                f"<|im_start|>assistant\n"
            )
        self.prefix, self.suffix = prompt.split(self.MARK)
        if not self.prefix.endswith(lead):
            raise ValueError(f"the model's chat template does not keep the request's lead {lead!r} as written")

    def render(self, request: str) -> str:
        """The whole prompt for `request`, which begins with the lead."""
        return self.prefix + self.after_prefix(request)

    def after_prefix(self, request: str) -> str:
        """What follows the fixed part in the prompt for `request` (which begins with the lead, part
        of the fixed part)."""
        if not request.startswith(self.lead):
            raise ValueError(f"a request part must begin with {self.lead!r}")
        return request[len(self.lead) :] + self.suffix


def physical_cores() -> int:
    """The cores this process may run on, counting a core's hyperthreads once.

    llama-cpp-python's own default is half the logical CPUs, which on a two-core machine without
    hyperthreads is one thread: each generated token then took 118 ms instead of 72 ms."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(
                ((topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip())
            )
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


_PARAMS_LOCK = threading.Lock()

BATCH_TOKENS = 128
"""Tokens evaluated in one pass. llama.cpp's compute buffer grows with it times the context (each
pass's attention scores against every cached token): at its default of 512 and a 4,096-token context
it is 306 MiB, resident once the first long prompt ran; at 128 it is 76 MiB. A request is 30-50 tokens,
so it is still one pass, and planning was no slower (median 1.10 s against 1.13 s over the LLM path
set); the system prompt, evaluated once and cached, took less time (26 passes instead of 7)."""

KEYS_Q8_0 = 8  # GGML_TYPE_Q8_0
"""The KV cache keeps its keys in 8 bits instead of 16: 84 MB instead of 112 MB for 4,096 tokens, and
cached prompt states a quarter smaller. The understanding bench was no worse (LLM path 54/61 against
53/61); planning alone took 1.14 s against 1.16 s (median), and the LLM path bench's
understanding 1.23 s against 1.19 s, within its noise on a busy machine. The values stay 16-bit: llama.cpp
quantizes them only with flash attention, which made planning a third slower on two cores."""


@contextlib.contextmanager
def _model_params(repack: bool, model_path: str) -> Iterator[None]:
    """Models loaded inside get these llama.cpp model parameters, which llama-cpp-python has no
    argument for. Its default model parameters are wrapped while a model loads (under a lock: loads
    are rare).

    - `use_extra_bufts` = `repack`. llama.cpp repacks most quantized weights into an interleaved copy
      for its CPU kernels (`CPU_REPACK model buffer size = 805.04 MiB` for the default model, 596.53 MiB
      for the packaged Q4_K_M). They plan about 30 % faster (understanding bench: LLM path median 1.19 s
      with it, 1.68 s without, measured with the Q4_K_M file).
    - A progress callback that lets go of the mapped file's pages as the load goes. llama.cpp maps
      the whole file with MAP_POPULATE and keeps it mapped, and the repacked weights are copied out
      of it: without this, the file's pages they were copied from stay resident for nothing next to
      their copy, and so do all 125 MB of the token embeddings, of which a request reads a few rows.
      The weights used as they are in the file (the Q5_K ones in the default model; the output
      matrix and the Q6_K layers in the Q4_K_M file) come back from the page cache at the first
      request. Measured with the Q4_K_M file, the LLM alone took 1,158 MB instead of 1,280 MB read
      into memory; the load takes as long (about 1.5 s with the file in the page cache, either way)."""
    import llama_cpp.llama_cpp as bindings

    last = [-1.0]
    stopped: list[BaseException] = []

    def let_go(progress: float, data: Any) -> bool:
        # Every 5 % of the load: it calls back for each of the model's ~340 tensors, and reading the
        # process's mappings each time took about 0.4 s of a start with the speech models loaded.
        if progress - last[0] < 0.05:
            return True
        last[0] = progress
        try:
            drop_mapped_pages(model_path)
        except Exception:  # noqa: BLE001  # an exception here would end the load: this is only memory
            log.debug("could not let go of the LLM file's pages", exc_info=True)
        except BaseException as e:  # Ctrl-C: ctypes would swallow it; the load stops, and it is raised after
            stopped.append(e)
            return False
        return True

    progress = bindings.llama_progress_callback(let_go)
    with _PARAMS_LOCK:
        default = bindings.llama_model_default_params

        def params() -> Any:
            chosen = default()
            chosen.use_extra_bufts = repack
            chosen.progress_callback = progress
            return chosen

        bindings.llama_model_default_params = params
        try:
            yield
            # After llama.cpp's last call (the pages it read at the end), still under the lock: no
            # other load maps or unmaps this file meanwhile.
            drop_mapped_pages(model_path)
        except Exception:
            if stopped:
                raise stopped[0] from None
            raise
        finally:
            bindings.llama_model_default_params = default


class LocalLLM:
    """The model, used by one thread at a time: hold `lock` around `prepare` and what follows it."""

    def __init__(
        self,
        model_path: str,
        *,
        threads: int | None = None,
        n_ctx: int = 6144,
        gpu_layers: int = 0,
        repack: bool = True,
    ) -> None:
        from llama_cpp import Llama

        self.lock = threading.Lock()
        threads = threads or physical_cores()
        try:
            with _model_params(repack, model_path):
                self.llm = Llama(
                    model_path=model_path,
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=gpu_layers,
                    n_batch=BATCH_TOKENS,
                    n_ubatch=BATCH_TOKENS,
                    type_k=KEYS_Q8_0,
                    use_mmap=True,  # its pages that are not used are let go of (_model_params)
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"cannot load the LLM {model_path}: {e}") from e
        # llama-cpp-python keeps a logits row per batch token (128 x the vocabulary, 74 MiB), written only
        # with logits_all, which nothing here uses (the decoder reads llama.cpp's own logits); but
        # `load_state` fills every row of it from the one row a state keeps. One row is all it needs.
        self.llm.scores = np.zeros((1, self.llm.n_vocab()), dtype=np.single)
        self.model_path = model_path
        self._states: dict[str, tuple[list[int], Any]] = {}
        """A prompt's fixed part → its tokens, and its state when it is not on disk."""

    def tokens(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=True, special=True))

    def fits(self, tokens: list[int], more: int) -> bool:
        """Whether a prompt of `tokens` and `more` tokens written after it fit in the context (llama.cpp
        fails a decode past its end)."""
        return len(tokens) + more <= self.llm.n_ctx()

    def template(self, system: str, lead: str = "") -> ChatTemplate:
        return ChatTemplate(self.llm._model, system, lead)

    def prepare(self, template: ChatTemplate) -> None:
        """Have the KV cache hold `template`'s fixed part: read from the disk cache, or evaluated once
        (a minute on two cores for the planner's) and cached. The caller holds `lock`.

        A state that is on disk is read again when another prompt ran in between (tens of ms, and rare:
        phrasing and answers), rather than held: the planner's is 90 MB. One that could not be written
        is held in memory."""
        kept = self._states.get(template.prefix)
        if kept is not None:
            tokens, held = kept
            # llama-cpp-python keeps the longest common prefix of the last prompt: the state is put
            # back only when another prompt ran in between.
            if list(self.llm._input_ids[: len(tokens)]) == tokens:
                return
            if held is not None:
                self.llm.load_state(held)
                return
        else:
            tokens = self.tokens(template.prefix)
        path = self.state_file(template.prefix)
        if self._read_state(path, tokens):
            self._states[template.prefix] = (tokens, None)
            return
        self.llm.reset()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves it unannotated
        self.llm.eval(tokens)
        self._states[template.prefix] = (tokens, None if self._write_state(path, tokens) else self._held_state())

    def complete(self, prompt: str, grammar: LlamaGrammar, max_tokens: int) -> str:
        out = self.llm.create_completion(
            self.tokens(prompt), max_tokens=max_tokens, temperature=0.0, top_k=1, grammar=grammar
        )
        return str(out["choices"][0]["text"])  # type: ignore[index]

    def _held_state(self) -> Any:
        """The state in the KV cache as a Python copy, for a cache that cannot be written."""
        state = self.llm.save_state()
        # The saved logits (n_batch x vocabulary floats, ~300 MB) are never needed: the next
        # request evaluates its own tokens before sampling.
        state.scores = np.zeros((1, self.llm.n_vocab()), dtype=np.single)
        return state

    def state_file(self, prefix: str) -> Path:
        """Where the state of a prompt's fixed part is cached: keyed by the model file, the context,
        llama-cpp-python's version and the text itself."""
        import llama_cpp

        stat = Path(self.model_path).stat()
        key = hashlib.sha256(
            "|".join(
                [
                    str(Path(self.model_path).resolve()),
                    str(stat.st_size),
                    str(stat.st_mtime_ns),
                    str(self.llm.n_ctx()),
                    str(self.llm.n_batch),
                    f"keys {KEYS_Q8_0}",
                    llama_cpp.__version__,
                    prefix,
                ]
            ).encode()
        )
        return models_cache_dir() / "planner-state" / f"{key.hexdigest()[:24]}{STATE_SUFFIX}"

    def _read_state(self, path: Path, tokens: list[int]) -> bool:
        """Put the state cached in `path` into the KV cache; False when there is none, or it is
        unreadable or not `tokens`' (then the cache is left to be evaluated again)."""
        import llama_cpp

        try:
            if not path.is_file():  # llama.cpp would log an error of its own for a missing one
                return False
        except OSError:  # a folder this user may not search
            return False
        with contextlib.suppress(OSError):  # a read-only cache is read all the same
            os.utime(path)  # used now: the pruning keeps what is used
        capacity = self.llm.n_ctx()
        read = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        if (
            not llama_cpp.llama_state_load_file(self.llm.ctx, os.fsencode(path), read, capacity, ctypes.byref(count))
            or list(read[: count.value]) != tokens
        ):
            log.warning("ignoring the unreadable LLM state cache %s", path)
            self.llm.reset()  # type: ignore[no-untyped-call]
            return False
        self.llm.input_ids[: len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)
        self.llm._requires_eval = True  # as load_state: these logits were not made by a decode here
        return True

    def _write_state(self, path: Path, tokens: list[int]) -> bool:
        """Cache the KV cache's state (`tokens` evaluated) in `path`; False when it cannot be written."""
        import llama_cpp

        tmp = _partial(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            written = llama_cpp.llama_state_save_file(
                self.llm.ctx, os.fsencode(tmp), (llama_cpp.llama_token * len(tokens))(*tokens), len(tokens)
            )
            if not written:
                raise OSError("llama.cpp could not write it")
            os.replace(tmp, path)
        except OSError as e:
            log.warning("cannot cache the LLM state in %s: %s", path, e)
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        prune_states(path.parent, keep=path)
        return True


def needed_context(model_path: str, system: str, room: int, counted: int | None = None, lead: str = "") -> int:
    """The context a prompt with `system` as its fixed part needs: its tokens and `room` for a request,
    rounded up to 256. Counting the tokens reads the model's vocabulary (0.3 s), so the count is kept
    beside the cached states, keyed like them: a start whose prompt is unchanged does not pay it.
    `counted`: the tokens, counted by the caller (a kept count was found wrong), kept instead.

    The KV cache is allocated and cleared for the whole context at load: each 1,024 tokens of it is
    29 MB with the default model, so a context sized to the prompt (4,096) rather than a fixed 6,144
    saves 57 MB."""
    kept = count_file(model_path, system, lead)
    try:
        if counted is not None or not kept.is_file():  # a pipe put there would block the read
            raise FileNotFoundError(kept)
        with kept.open("rb") as f:
            tokens = int(f.read(32))
        if not 0 < tokens <= MOST_PROMPT_TOKENS:
            raise ValueError(tokens)
        with contextlib.suppress(OSError):
            os.utime(kept)  # used now: the pruning keeps what is used
    except (OSError, ValueError):
        tokens = counted if counted is not None else _count_prefix_tokens(model_path, system, lead)
        with contextlib.suppress(OSError):  # counted again next time
            atomic_write(kept, str(tokens))
    return context_for(tokens, room)


def context_for(prefix_tokens: int, room: int) -> int:
    """A context for a prompt whose fixed part is `prefix_tokens` long, with `room` after it: rounded
    up to 256 tokens."""
    return -(-(prefix_tokens + room) // 256) * 256


def count_file(model_path: str, system: str, lead: str = "") -> Path:
    """Where the token count of a prompt with `system` (and `lead`) as its fixed part is kept for this model."""
    stat = Path(model_path).stat()
    key = hashlib.sha256(
        "|".join([str(Path(model_path).resolve()), str(stat.st_size), str(stat.st_mtime_ns), system, lead]).encode()
    )
    return models_cache_dir() / "planner-state" / f"{key.hexdigest()[:24]}{COUNT_SUFFIX}"


def _count_prefix_tokens(model_path: str, system: str, lead: str = "") -> int:
    """The tokens of the prompt's fixed part, from the model's vocabulary alone (no weights, no context)."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    try:
        vocabulary = LlamaModel(path_model=model_path, params=params, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise LLMError(f"cannot load the LLM {model_path}: {e}") from e
    try:
        prefix = ChatTemplate(vocabulary, system, lead).prefix
        return len(vocabulary.tokenize(prefix.encode(), True, True))
    finally:
        vocabulary.close()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves it unannotated


MOST_PROMPT_TOKENS = 1 << 18
"""More than any model's context: a kept count above it is not a count."""
STATE_SUFFIX = ".llama-state"
COUNT_SUFFIX = ".tokens"
PARTIAL = ".partial"


def _partial(path: Path) -> Path:
    """Where `path` is written before it is renamed into place: one per process and thread, so two
    starts at once (`assistant run` and an `ask`) never write into the same file."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{PARTIAL}")


STATES_BYTES = 512 << 20
"""The most the cached prompt states may take on disk: each prompt (a skill added, an example changed)
writes one of about 80 MB, and old ones were never read again."""
IN_USE_S = 24 * 3600
"""A state read or written this recently is in use (this model's prompts) and is kept whatever its size."""


def prune_states(folder: Path, keep: Path, limit: int = STATES_BYTES, now: float | None = None) -> None:
    """Remove the least recently used cached states beyond `limit` bytes; never `keep`, one in use,
    or another process's half-written one (one a killed process left is removed after a day)."""
    now = time.time() if now is None else now
    found = []
    try:
        paths = list(folder.iterdir())  # the .npz states of before too
    except OSError:  # removed meanwhile, or not ours to list: nothing to prune
        return
    for path in paths:
        with contextlib.suppress(OSError):  # removed meanwhile by another process
            stat = path.lstat()
            if not S_ISREG(stat.st_mode):
                continue
            if path.name.endswith((PARTIAL, ".partial.npz")):
                if now - stat.st_mtime > IN_USE_S:
                    path.unlink()
            elif path.name.endswith((STATE_SUFFIX, COUNT_SUFFIX, ".npz")):
                found.append((stat.st_mtime, stat.st_size, path))
    total = 0
    for used, size, path in sorted(found, reverse=True):
        total += size
        if total > limit and path != keep and now - used > IN_USE_S:
            with contextlib.suppress(OSError):  # removed meanwhile by another process
                path.unlink()
