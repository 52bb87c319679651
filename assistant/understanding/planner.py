"""The LLM planner: a request the templates did not match becomes one typed tool call, or "none".

Two backends share the prompt and the schema:
- `LocalPlanner`: llama-cpp-python on a GGUF file (Qwen2.5-Coder-1.5B by default), output constrained
  by a grammar built from the offered tools' JSON schema. The model is loaded and warmed at start and
  the KV state of the fixed system prompt is kept, so a request pays only for its own few tokens.
- `ServerPlanner`: an OpenAI-compatible chat endpoint (llama.cpp's server, Ollama) for a bigger
  machine, with the same schema as `response_format`.

Both return a `ToolCall` with source "llm"; the dialogue validates its arguments like any other.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.core.errors import AssistantError
from assistant.core.models import models_cache_dir
from assistant.knowledge import answering
from assistant.plugins.api import ToolCall, ToolSpec
from assistant.understanding import phrasing
from assistant.understanding.decoder import Decoding, Vocabulary, decode_arguments, supports
from assistant.understanding.grounding import grounded, said_integers
from assistant.understanding.prompt import PlanContext, ToolIndex, ToolPhrases, request_text, system_prompt
from assistant.understanding.schema import NONE_TOOL, args_gbnf, args_grammar, tool_call_schema

if TYPE_CHECKING:
    from llama_cpp.llama_grammar import LlamaGrammar

log = logging.getLogger(__name__)


class Planner(Protocol):
    async def plan(self, text: str, context: PlanContext) -> ToolCall | None: ...
    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None: ...


class _Backend(Protocol):
    def warm_up(self) -> float: ...
    async def plan(self, text: str, context: PlanContext) -> ToolCall | None: ...
    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None: ...
    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written: ...


class LazyPlanner:
    """Loads and warms the real planner once, on first use or when `load()` is awaited at start,
    in a worker thread so the event loop keeps running."""

    def __init__(self, factory: Callable[[], _Backend], index: Callable[[], ToolIndex] | None = None) -> None:
        """index: the tools worth offering, made without the model, so a request no tool fits is
        answered "none" before the model is loaded for it (a one-shot `assistant ask`)."""
        self._factory = factory
        self._index = functools.cache(index) if index is not None else None
        self._backend: _Backend | None = None
        self._lock = threading.Lock()
        self.warm_s: float | None = None

    def load_sync(self) -> _Backend:
        """The warm backend, loading it in this thread if nobody has yet (a tool's worker thread)."""
        with self._lock:
            if self._backend is None:
                backend = self._factory()
                self.warm_s = backend.warm_up()
                self._backend = backend
            return self._backend

    async def load(self) -> _Backend:
        backend = self._backend
        return backend if backend is not None else await asyncio.to_thread(self.load_sync)

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        if self._backend is None and self._index is not None:
            index = await asyncio.to_thread(self._index)  # made once, from every template: over a second
            if not index.offer(text, context):
                return None
        return await (await self.load()).plan(text, context)

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        """The LLM's answer to an open question from the facts, unchecked (see phrasing.py); None
        when it did not finish within `timeout_s`."""
        return await (await self.load()).phrase(question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        """The LLM's answer to a question from the household's passages (knowledge/answering.py),
        unchecked; called from a worker thread."""
        return self.load_sync().answer_sync(question, passages)


def parse_call(raw: str, offered: Sequence[ToolSpec], text: str, index: ToolIndex | None = None) -> ToolCall | None:
    """The model's JSON (`{"skill.tool": {args}}`) as a ToolCall; None for "none". Raises on
    anything outside the schema. Optional arguments the request does not ground are dropped."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise AssistantError(f"the planner answered something that is not JSON: {raw[:80]!r}", code="planner") from e
    if not isinstance(data, dict) or len(data) != 1:
        raise AssistantError(f"the planner answered without exactly one tool: {raw[:80]!r}", code="planner")
    ((tool, args),) = data.items()
    if tool == NONE_TOOL:
        return None
    if tool not in {s.qualified for s in offered}:
        raise AssistantError(f"the planner chose '{tool}', which was not offered", code="planner")
    if not isinstance(args, dict):
        raise AssistantError("the planner's arguments are not an object", code="planner")
    spec = next(s for s in offered if s.qualified == tool)
    words = index.words(tool) if index is not None else set()
    return ToolCall(tool=tool, args=grounded(spec, args, text, words), source="llm", text=text, open_question=True)


class _ChatTemplate:
    """Splits a model's chat template into the fixed part (system prompt) and the request part, so
    the fixed part's tokens are always the same prefix and its KV state can be reused."""

    MARK = "\x00REQUEST\x00"

    def __init__(self, llm: Any, system: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llm.metadata.get("tokenizer.chat_template")
        if template:
            eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
            bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
            formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
            prompt = formatter(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": self.MARK}]
            ).prompt
        else:  # ChatML, what Qwen and SmolLM2 use
            prompt = (
                f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{self.MARK}<|im_end|>\n"
                f"<|im_start|>assistant\n"
            )
        self.prefix, self.suffix = prompt.split(self.MARK)

    def render(self, request: str) -> str:
        return self.prefix + request + self.suffix


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


ROOM_FOR_REQUEST = 768
"""Tokens a request needs after the system prompt: live names, the previous exchange, the words, the call."""


class LocalPlanner:
    """llama-cpp-python, warm, with the system prompt's KV state kept."""

    def __init__(
        self,
        model_path: str,
        specs: Sequence[ToolSpec],
        examples: Sequence[ToolCall],
        phrases: ToolPhrases,
        *,
        threads: int | None = None,
        n_ctx: int = 6144,
        max_tools: int = 8,
        gpu_layers: int = 0,
        phrase_replies: bool = False,
    ) -> None:
        """phrase_replies: replies to open questions will be worded, so warm that prompt too at start."""
        from llama_cpp import Llama

        self._lock = threading.Lock()
        threads = threads or physical_cores()
        try:
            self.llm = Llama(
                model_path=model_path,
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=gpu_layers,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise AssistantError(f"cannot load the LLM {model_path}: {e}", code="planner") from e
        self.model_path = model_path
        self.specs = list(specs)
        self.index = ToolIndex(self.specs, phrases, max_tools)
        self.system = system_prompt(self.specs, examples)
        self.template = _ChatTemplate(self.llm, self.system)
        self._prefix_tokens = self.llm.tokenize(self.template.prefix.encode(), add_bos=True, special=True)
        if len(self._prefix_tokens) > n_ctx - ROOM_FOR_REQUEST:
            raise AssistantError(
                f"the planner's system prompt ({len(self._prefix_tokens)} tokens) is too long for "
                f"a context of {n_ctx}: raise planner.context",
                code="planner",
            )
        self._vocabulary = Vocabulary(self.llm)
        self._with_args = {s.qualified: s for s in self.specs if s.params}
        # Arguments the decoder cannot write go through llama.cpp's grammar, made per request (its
        # numbers limited to those said); a schema the converter would lose is found now, at load.
        self._by_grammar = {name for name, spec in self._with_args.items() if not supports(spec.args_schema())}
        for name in self._by_grammar:
            args_gbnf(self._with_args[name])
        self._limited: dict[tuple[str, frozenset[int]], LlamaGrammar] = {}
        self._state: Any = None
        self._phrase_template = _ChatTemplate(self.llm, phrasing.SYSTEM)
        self._phrase_state: Any = None
        self._warm_phrasing = phrase_replies
        self._answer_template = _ChatTemplate(self.llm, answering.SYSTEM)
        self._answer_state: Any = None

    def _args_grammar(self, tool: str, text: str) -> LlamaGrammar:
        """The tool's arguments grammar with its whole numbers limited to those `text` says (compiled
        once per tool and set of numbers: a few milliseconds)."""
        said = said_integers(text)
        key = (tool, said)
        if key not in self._limited:
            if len(self._limited) > 256:
                self._limited.clear()
            self._limited[key] = args_grammar(self._with_args[tool], said)
        return self._limited[key]

    def warm_up(self) -> float:
        """Get the system prompt's KV state (from the disk cache, else by evaluating it, several
        seconds on two cores) and run one request; returns the seconds it took."""
        start = time.perf_counter()
        with self._lock:
            self._state = self._cached_state()
            if self._state is None:
                self._state = self._evaluated(self._prefix_tokens)
                self._store_state(self._state)
            self.llm.load_state(self._state)
        self.plan_sync("what time is it", PlanContext())
        if self._warm_phrasing:
            self.phrase_sync("is it late", "It is 9 PM.", timeout_s=30)
        return time.perf_counter() - start

    def _evaluated(self, prefix: list[int]) -> Any:
        """The model's state after evaluating `prefix` from scratch (the caller holds the lock)."""
        self.llm.reset()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves it unannotated
        self.llm.eval(prefix)
        state = self.llm.save_state()
        # The saved logits (n_batch x vocabulary floats, ~300 MB) are never needed: the next
        # request evaluates its own tokens before sampling.
        state.scores = np.zeros((1, self.llm.n_vocab()), dtype=np.single)
        return state

    def _state_file(self) -> Path:
        import llama_cpp

        stat = Path(self.model_path).stat()
        key = hashlib.sha256(
            "|".join(
                [
                    str(Path(self.model_path).resolve()),
                    str(stat.st_size),
                    str(stat.st_mtime_ns),
                    str(self.llm.n_ctx()),
                    llama_cpp.__version__,
                    self.template.prefix,
                ]
            ).encode()
        )
        return models_cache_dir() / "planner-state" / f"{key.hexdigest()[:24]}.npz"

    def _cached_state(self) -> Any:
        from llama_cpp.llama import LlamaState

        path = self._state_file()
        try:
            with np.load(path, allow_pickle=False) as data:
                blob = data["llama_state"].tobytes()
                return LlamaState(
                    data["input_ids"],
                    np.zeros((1, self.llm.n_vocab()), dtype=np.single),
                    int(data["n_tokens"]),
                    blob,
                    len(blob),
                    int(data["seed"]),
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as e:
            log.warning("ignoring the unreadable planner state cache %s: %s", path, e)
            return None

    def _store_state(self, state: Any) -> None:
        path = self._state_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".partial.npz")
            np.savez(
                tmp,
                input_ids=state.input_ids,
                n_tokens=state.n_tokens,
                seed=state.seed,
                llama_state=np.frombuffer(state.llama_state, dtype=np.uint8),
            )
            os.replace(tmp, path)
        except OSError as e:
            log.warning("cannot cache the planner state in %s: %s", path, e)

    def _restore_prefix(self) -> None:
        """Reuse the system prompt's KV state: llama-cpp-python keeps the longest common prefix of
        the last prompt, so this is needed only when something else ran in between."""
        n = len(self._prefix_tokens)
        if self._state is not None and list(self.llm._input_ids[:n]) != self._prefix_tokens:
            self.llm.load_state(self._state)

    def _complete(self, prompt: str, grammar: LlamaGrammar, max_tokens: int) -> str:
        tokens = self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
        out = self.llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, top_k=1, grammar=grammar)
        return str(out["choices"][0]["text"])  # type: ignore[index]

    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None:
        """Decode `{"<tool>": {<args>}}` greedily under the offered tools' schema (decoder.py): the
        model is asked only where the schema leaves a choice, and forced text is evaluated in batches."""
        offered = self.index.offer(text, context)
        if not offered:
            log.info("planner: %r -> none (no tool shares a word with it)", text)
            return None
        prompt = self.template.render(request_text(text, context)) + '{"'
        names = [*(s.qualified for s in offered), NONE_TOOL]
        with self._lock:
            self._restore_prefix()
            decoding = Decoding(
                self.llm, self._vocabulary, self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
            )
            name = names[decoding.choose([f'{n}"' for n in names])]
            raw_args = "{}"
            if name in self._by_grammar:
                raw_args = self._complete(f'{prompt}{name}": ', self._args_grammar(name, text), 120)
            elif name in self._with_args:
                decoding.write(": ")
                start = len(decoding.out)
                decode_arguments(decoding, self._with_args[name].args_schema(), said_integers(text))
                raw_args = decoding.out[start:].decode(errors="replace")
        raw = f'{{"{name}": {raw_args}}}'
        log.info("planner: %r -> %s (%d model calls)", text, raw, decoding.evaluations)
        return parse_call(raw, offered, text, self.index)

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        return await asyncio.to_thread(self.plan_sync, text, context)

    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None:
        """Stream the answer token by token and give up at the deadline. The phrasing prompt's own
        KV state is kept like the planner's, so only the question and facts are evaluated."""
        deadline = time.monotonic() + timeout_s
        prompt = self._phrase_template.render(phrasing.request(question, facts))
        tokens = self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
        with self._lock:
            if self._phrase_state is None:
                prefix = self.llm.tokenize(self._phrase_template.prefix.encode(), add_bos=True, special=True)
                self._phrase_state = self._evaluated(prefix)
            else:
                self.llm.load_state(self._phrase_state)
            parts: list[str] = []
            for chunk in self.llm.create_completion(
                tokens, max_tokens=phrasing.MAX_TOKENS, temperature=0.0, top_k=1, stop=["\n\n"], stream=True
            ):
                parts.append(str(chunk["choices"][0]["text"]))  # type: ignore[index]
                if time.monotonic() > deadline:
                    log.info("phrasing: gave up after %.1f s", timeout_s)
                    return None
        return phrasing.clean("".join(parts))

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        return await asyncio.to_thread(self.phrase_sync, question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        """Which passage answers (the margin between the model's scores for "[" and "none" decides
        whether one does, see answering.py), then the answer from it, greedily, to the end of the line.
        The answering prompt's KV state is kept like the planner's."""
        if not passages:
            return answering.Written(None, "")
        prompt = self._answer_template.render(answering.request(question, passages)) + "Answer: "
        tokens = self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
        with self._lock:
            if self._answer_state is None:
                prefix = self.llm.tokenize(self._answer_template.prefix.encode(), add_bos=True, special=True)
                self._answer_state = self._evaluated(prefix)
            self.llm.load_state(self._answer_state)
            decoding = Decoding(self.llm, self._vocabulary, tokens)
            logits = decoding.logits()
            bracket = self.llm.tokenize(b"[", add_bos=False, special=False)[0]
            none = self.llm.tokenize(b"none", add_bos=False, special=False)[0]
            margin = float(logits[bracket] - logits[none])
            if margin <= answering.REFUSE_MARGIN:
                log.info("knowledge: %r -> none (margin %.2f)", question, margin)
                return answering.Written(None, "", margin)
            decoding.write("[")
            number = decoding.choose([str(n) for n in range(1, len(passages) + 1)])
            decoding.write("]")  # the model's own next token carries the space: " Dissolve", not "Dissolve"
            text = decoding.line(answering.MAX_TOKENS, sentence=True).strip()
        log.info("knowledge: %r -> [%d] %r (margin %.2f)", question, number + 1, text, margin)
        return answering.parse(f"[{number + 1}] {text}", len(passages), margin)


class ServerPlanner:
    """An OpenAI-compatible /v1/chat/completions endpoint with a JSON-schema response format."""

    def __init__(
        self,
        url: str,
        model: str,
        specs: Sequence[ToolSpec],
        examples: Sequence[ToolCall],
        phrases: ToolPhrases,
        *,
        max_tools: int = 8,
        timeout_s: float = 10.0,
        response_format: str = "json_schema",
    ) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/chat/completions") else "/v1/chat/completions")
        self.model = model
        self.specs = list(specs)
        self.index = ToolIndex(self.specs, phrases, max_tools)
        self.system = system_prompt(self.specs, examples)
        self.timeout_s = timeout_s
        if response_format not in ("json_schema", "json_object"):
            raise AssistantError(
                f"planner.response_format must be json_schema or json_object, not {response_format!r}", code="config"
            )
        self.response_format = response_format

    def _format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.response_format == "json_object":  # llama-cpp-python's own server
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "tool_call", "strict": True, "schema": schema}}

    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None:
        offered = self.index.offer(text, context)
        if not offered:
            return None
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 160,
            "messages": [
                {"role": "system", "content": self.system},
                {"role": "user", "content": request_text(text, context)},
            ],
            "response_format": self._format(tool_call_schema(offered)),
        }
        return parse_call(self._post(body, self.timeout_s), offered, text, self.index)

    def _post(self, body: dict[str, Any], timeout_s: float) -> str:
        """The first choice's message text; raises AssistantError when the server fails."""
        request = urllib.request.Request(self.url, json.dumps(body).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                data = json.load(response)
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise AssistantError(f"the LLM server at {self.url} did not answer: {e}", code="planner_unreachable") from e
        except json.JSONDecodeError as e:
            raise AssistantError(
                f"the LLM server at {self.url} answered something that is not JSON", code="planner"
            ) from e
        try:
            return str(data["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as e:
            raise AssistantError(f"the LLM server at {self.url} answered without a message", code="planner") from e

    def warm_up(self) -> float:
        start = time.perf_counter()
        self.plan_sync("what time is it", PlanContext())
        return time.perf_counter() - start

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        return await asyncio.to_thread(self.plan_sync, text, context)

    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None:
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": phrasing.MAX_TOKENS,
            "messages": [
                {"role": "system", "content": phrasing.SYSTEM},
                {"role": "user", "content": phrasing.request(question, facts)},
            ],
        }
        return phrasing.clean(self._post(body, timeout_s))

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        return await asyncio.to_thread(self.phrase_sync, question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        if not passages:
            return answering.Written(None, "")
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": answering.MAX_TOKENS + 4,
            "stop": ["\n"],
            "messages": [
                {"role": "system", "content": answering.SYSTEM},
                {"role": "user", "content": answering.request(question, passages)},
            ],
        }
        return answering.parse(self._post(body, self.timeout_s), len(passages))


class FallbackPlanner:
    """An LLM server on a bigger machine with the local model behind it (planner.fallback). A server
    that does not answer is marked down and the local model plans that request at once; the server
    is tried again `retry_s` after it failed, and kept while it answers."""

    def __init__(self, remote: ServerPlanner, local: Callable[[], _Backend], retry_s: float = 15.0) -> None:
        self.remote = remote
        self._local_factory = local
        self.local: _Backend | None = None
        self.retry_s = retry_s
        self._down_since: float | None = None

    @property
    def up(self) -> bool:
        return self._down_since is None or time.monotonic() - self._down_since >= self.retry_s

    def warm_up(self) -> float:
        """Load and warm the local model (it must answer at once when the server fails), then the server."""
        start = time.perf_counter()
        self.local = self._local_factory()
        self.local.warm_up()
        try:
            self.remote.warm_up()
            self._answered()
        except AssistantError as e:
            self._failed(e)
        return time.perf_counter() - start

    def _failed(self, e: AssistantError) -> None:
        if self._down_since is None:
            log.warning("%s: the local model plans until it answers again", e.message)
        self._down_since = time.monotonic()

    def _answered(self) -> None:
        if self._down_since is not None:
            log.info("the LLM server at %s answers again", self.remote.url)
        self._down_since = None

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        assert self.local is not None, "warm_up() loads the local model first"
        if self.up:
            try:
                call = await self.remote.plan(text, context)
            except AssistantError as e:
                if e.code != "planner_unreachable":
                    self._answered()  # it answered, badly: that is the answer
                    raise
                self._failed(e)
            else:
                self._answered()
                return call
        return await self.local.plan(text, context)

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        assert self.local is not None, "warm_up() loads the local model first"
        if self.up:
            try:
                phrased = await self.remote.phrase(question, facts, timeout_s)
            except AssistantError as e:
                if e.code != "planner_unreachable":
                    self._answered()
                    raise
                self._failed(e)
            else:
                self._answered()
                return phrased
        return await self.local.phrase(question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        assert self.local is not None, "warm_up() loads the local model first"
        if self.up:
            try:
                written = self.remote.answer_sync(question, passages)
            except AssistantError as e:
                if e.code != "planner_unreachable":
                    self._answered()
                    raise
                self._failed(e)
            else:
                self._answered()
                return written
        return self.local.answer_sync(question, passages)
