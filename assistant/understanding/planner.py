"""The LLM planner: a request the templates did not match becomes one typed tool call, or "none".

Two backends share the prompt and the schema, each serving the three prompts (the plan, a reply
worded from a tool's result, an answer from the household's passages):
- `LocalPlanner`: the local model (`llm/local.py`: Qwen2.5-Coder-1.5B by default), its output
  constrained by the offered tools' JSON schema. It is loaded and warmed at start and each prompt's
  fixed part is kept as KV state, so a request pays only for its own few tokens.
- `ServerPlanner`: an OpenAI-compatible chat endpoint (`llm/server.py`) for a bigger machine, with the
  same schema as `response_format`; `FallbackPlanner` puts the local model behind it (`core/failover.py`).

Both return a `ToolCall` with source "llm"; the dialogue validates its arguments like any other.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from assistant.core.errors import (
    AssistantError,
    ConfigError,
    LLMError,
    LLMUnavailable,
    LLMUnreachable,
    RequestTooLong,
)
from assistant.core.failover import Failover
from assistant.knowledge import answering
from assistant.llm.local import LocalLLM, context_for, needed_context
from assistant.llm.server import ChatServer
from assistant.plugins.api import ToolCall, ToolSpec
from assistant.understanding import phrasing
from assistant.understanding.decoder import Decoding, Vocabulary, decode_arguments, supports
from assistant.understanding.grounding import asks_rather_than_tells, echoes_the_request, grounded, said_integers
from assistant.understanding.prompt import (
    REQUEST_LEAD,
    PlanContext,
    ToolIndex,
    ToolPhrases,
    request_text,
    system_prompt,
)
from assistant.understanding.schema import NONE_TOOL, args_gbnf, args_grammar, tool_call_schema

if TYPE_CHECKING:
    from llama_cpp.llama_grammar import LlamaGrammar

log = logging.getLogger(__name__)


class Planner(Protocol):
    async def plan(self, text: str, context: PlanContext) -> ToolCall | None: ...
    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None: ...


class _Backend(Protocol):
    def warm_up(self, request: bool = True) -> float: ...
    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None: ...
    async def plan(self, text: str, context: PlanContext) -> ToolCall | None: ...
    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None: ...
    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None: ...
    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written: ...


class LazyPlanner:
    """Loads and warms the real planner once, on first use or when `load()` is awaited at start,
    in a worker thread so the event loop keeps running. A model that could not be loaded is not
    tried again: whatever failed (LLMUnavailable from `make_planner`, a ConfigError such as a
    context too small for the system prompt, a bug) is kept as one LLMUnavailable saying why and
    what to do, and every later request that needs it is refused at once with the same message. A
    server's warm-up request that fails is not a failed load: the next request asks it again."""

    def __init__(self, factory: Callable[[], _Backend], index: Callable[[], ToolIndex] | None = None) -> None:
        """index: the tools worth offering, made without the model, so a request no tool fits is
        answered "none" before the model is loaded for it (a one-shot `assistant ask`)."""
        self._factory = factory
        self._index = functools.cache(index) if index is not None else None
        self._backend: _Backend | None = None
        self._lock = threading.Lock()
        self.warm_s: float | None = None
        self.unavailable: str | None = None
        """Why the model could not be loaded, once it could not (LLMUnavailable's message)."""

    def load_sync(self, warm: bool = True) -> _Backend:
        """The backend, loading it in this thread if nobody has yet (a tool's worker thread). `warm`
        runs one request too, so that the first real one is fast (at start); loaded for a request
        that is waiting (a one-shot `ask`), that request warms it."""
        with self._lock:
            if self._backend is None:
                self._refuse_if_unavailable()
                try:
                    backend = self._factory()
                except LLMUnavailable as e:
                    self.unavailable = e.message
                    raise
                except Exception as e:
                    raise self._failed_load(e) from e
                try:
                    self.warm_s = backend.warm_up(request=warm)
                except LLMUnavailable as e:
                    self.unavailable = e.message
                    raise
                except Exception as e:
                    if isinstance(backend, ServerPlanner):
                        raise  # a request the server did not answer well: asked again next time
                    raise self._failed_load(e) from e
                self._backend = backend
            return self._backend

    def _failed_load(self, e: Exception) -> LLMUnavailable:
        """What loading or warming the model raised, as the LLMUnavailable kept for every later
        request: the reason, then what to do."""
        remedy = "fix the config" if isinstance(e, ConfigError) else "run `assistant models --check`"
        if isinstance(e, AssistantError):
            reason = e.message
        else:  # a bug, or a library's own error: its traceback is for whoever reads the log
            log.exception("the language model could not be loaded")
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        unavailable = LLMUnavailable(
            f"the language model could not be loaded ({reason}): {remedy}, then start the assistant again"
        )
        self.unavailable = unavailable.message
        return unavailable

    async def load(self, warm: bool = True) -> _Backend:
        backend = self._backend
        if backend is not None:
            return backend
        self._refuse_if_unavailable()
        return await asyncio.to_thread(self.load_sync, warm)

    def _refuse_if_unavailable(self) -> None:
        if self.unavailable is not None:
            raise LLMUnavailable(self.unavailable)

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        if self._backend is None and self._index is not None:
            index = await asyncio.to_thread(self._index)  # made once, from every template: over a second
            if not index.offer(text, context):
                return None
        return await (await self.load(warm=False)).plan(text, context)

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        """The LLM's answer to an open question from the facts, unchecked (see phrasing.py); None
        when it did not finish within `timeout_s`."""
        return await (await self.load(warm=False)).phrase(question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        """The LLM's answer to a question from the household's passages (knowledge/answering.py),
        unchecked; called from a worker thread."""
        return self.load_sync(warm=False).answer_sync(question, passages)


def parse_call(raw: str, offered: Sequence[ToolSpec], text: str, index: ToolIndex | None = None) -> ToolCall | None:
    """The model's JSON (`{"skill.tool": {args}}`) as a ToolCall; None for "none". Raises on
    anything outside the schema. Optional arguments the request does not ground are dropped."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LLMError(f"the planner answered something that is not JSON: {raw[:80]!r}") from e
    if not isinstance(data, dict) or len(data) != 1:
        raise LLMError(f"the planner answered without exactly one tool: {raw[:80]!r}")
    ((tool, args),) = data.items()
    if tool == NONE_TOOL:
        return None
    if tool not in {s.qualified for s in offered}:
        raise LLMError(f"the planner chose '{tool}', which was not offered")
    if not isinstance(args, dict):
        raise LLMError("the planner's arguments are not an object")
    spec = next(s for s in offered if s.qualified == tool)
    words = index.words(tool) if index is not None else set()
    if echoes_the_request(spec, args, text) or asks_rather_than_tells(spec, text):
        return None
    return ToolCall(tool=tool, args=grounded(spec, args, text, words), source="llm", text=text, open_question=True)


ROOM_FOR_REQUEST = 768
"""Tokens a request needs after the system prompt: live names, the previous exchange, the words, the call."""
GRAMMAR_TOKENS = 160
"""What a call written under llama.cpp's grammar may take: its 120 tokens of arguments and the rest."""
CALL_TOKENS = 40
"""A tool call's tokens besides its arguments' values: the name, the braces, the keys."""
VALUE_TOKENS = 48
"""The most one argument's value may take: a string's 40 (decoder.MAX_STRING_TOKENS) and its quotes,
keys and separators. A request whose prompt leaves less room in the context than the call of the
offered tool with the most arguments could take is too long to plan."""


class LocalPlanner:
    """The three prompts on the local model, each with its fixed part's KV state kept (`llm/local.py`)."""

    def __init__(
        self,
        model_path: str,
        specs: Sequence[ToolSpec],
        examples: Sequence[ToolCall],
        phrases: ToolPhrases,
        *,
        threads: int | None = None,
        n_ctx: int | None = None,
        max_tools: int = 8,
        gpu_layers: int = 0,
        repack: bool = True,
        phrase_replies: bool = False,
    ) -> None:
        """n_ctx: the context in tokens; None sizes it to the system prompt and ROOM_FOR_REQUEST.
        phrase_replies: replies to open questions will be worded, so warm that prompt too at start."""
        self.specs = list(specs)
        self.system = system_prompt(self.specs, examples)

        def load(n_ctx: int) -> int:
            """Load the model with this context; the system prompt's tokens."""
            self.engine = LocalLLM(model_path, threads=threads, n_ctx=n_ctx, gpu_layers=gpu_layers, repack=repack)
            self.template = self.engine.template(self.system, REQUEST_LEAD)
            self._fixed = self.engine.tokens(self.template.prefix)
            return len(self._fixed)

        sized = not n_ctx
        n_ctx = n_ctx or needed_context(model_path, self.system, ROOM_FOR_REQUEST, lead=REQUEST_LEAD)
        prefix = load(n_ctx)
        if sized and context_for(prefix, ROOM_FOR_REQUEST) != n_ctx:  # the kept count was wrong (damaged)
            log.warning("the kept token count of the planner's prompt was wrong: loading the LLM again")
            self.engine.llm.close()
            n_ctx = needed_context(model_path, self.system, ROOM_FOR_REQUEST, counted=prefix, lead=REQUEST_LEAD)
            load(n_ctx)
        self.llm = self.engine.llm
        self.model_path = model_path
        self.index = ToolIndex(self.specs, phrases, max_tools)
        if prefix > n_ctx - ROOM_FOR_REQUEST:
            raise ConfigError(
                f"the planner's system prompt ({prefix} tokens) is too long for a context of {n_ctx}: raise planner.context"
            )
        self._vocabulary = Vocabulary(self.llm)
        self._with_args = {s.qualified: s for s in self.specs if s.params}
        # Arguments the decoder cannot write go through llama.cpp's grammar, made per request (its
        # numbers limited to those said); a schema the converter would lose is found now, at load.
        self._by_grammar = {name for name, spec in self._with_args.items() if not supports(spec.args_schema())}
        for name in self._by_grammar:
            args_gbnf(self._with_args[name])
        self._limited: dict[tuple[str, frozenset[int]], LlamaGrammar] = {}
        self._phrase_template = self.engine.template(phrasing.SYSTEM)
        self._warm_phrasing = phrase_replies
        self._answer_template = self.engine.template(answering.SYSTEM)

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

    def warm_up(self, request: bool = True) -> float:
        """Get the system prompt's KV state (from the disk cache, else by evaluating it) and, with
        `request`, run one request; returns the seconds it took."""
        start = time.perf_counter()
        if not request:
            with self.engine.lock:
                self.engine.prepare(self.template)
            return time.perf_counter() - start
        self.plan_sync("what time is it", PlanContext())
        if self._warm_phrasing:
            self.phrase_sync("is it late", "It is 9 PM.", timeout_s=30)
        return time.perf_counter() - start

    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None:
        """Decode `{"<tool>": {<args>}}` greedily under the offered tools' schema (decoder.py): the
        model is asked only where the schema leaves a choice, and forced text is evaluated in batches."""
        offered = self.index.offer(text, context)
        if not offered:
            log.info("planner: %r -> none (no tool shares a word with it)", text)
            return None
        # The fixed part's tokens as cached, then the rest's: tokenized whole, a request beginning
        # with punctuation would join the lead's closing quote ( ` "(` ) and miss the cached state.
        rest = self.template.after_prefix(request_text(text, context)) + '{"'
        prompt = self._fixed + self.llm.tokenize(rest.encode(), add_bos=False, special=True)
        most = max(GRAMMAR_TOKENS, CALL_TOKENS + VALUE_TOKENS * max(len(s.params) for s in offered))
        if not self.engine.fits(prompt, most):
            raise RequestTooLong(len(text))
        names = [*(s.qualified for s in offered), NONE_TOOL]
        with self.engine.lock:
            self.engine.prepare(self.template)
            try:
                decoding = Decoding(self.llm, self._vocabulary, prompt)
                name = names[decoding.choose([f'{n}"' for n in names])]
                raw_args = "{}"
                if name in self._by_grammar:
                    raw_args = self.engine.complete(
                        f'{self.template.prefix}{rest}{name}": ',
                        self._args_grammar(name, text),
                        120,
                    )
                elif name in self._with_args:
                    decoding.write(": ")
                    start = len(decoding.out)
                    decode_arguments(decoding, self._with_args[name].args_schema(), said_integers(text))
                    raw_args = decoding.out[start:].decode(errors="replace")
            except RuntimeError as e:  # llama.cpp's decode failed (its context full, its memory short)
                raise LLMError(f"the LLM failed while planning: {e}") from e
        raw = f'{{"{name}": {raw_args}}}'
        log.info("planner: %r -> %s (%d model calls)", text, raw, decoding.evaluations)
        return parse_call(raw, offered, text, self.index)

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        return await asyncio.to_thread(self.plan_sync, text, context)

    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None:
        """Stream the answer token by token and give up at the deadline; only the question and the
        facts are evaluated."""
        deadline = time.monotonic() + timeout_s
        tokens = self.engine.tokens(self._phrase_template.render(phrasing.request(question, facts)))
        if not self.engine.fits(tokens, phrasing.MAX_TOKENS):
            log.info("phrasing: the question and facts are too long for the context")
            return None  # the skill's own words stand
        with self.engine.lock:
            self.engine.prepare(self._phrase_template)
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
        whether one does, see answering.py), then the answer from it, greedily, to the end of the line."""
        if not passages:
            return answering.Written(None, "")
        tokens = self.engine.tokens(self._answer_template.render(answering.request(question, passages)) + "Answer: ")
        if not self.engine.fits(tokens, answering.MAX_TOKENS + 8):
            raise RequestTooLong(len(question))
        with self.engine.lock:
            self.engine.prepare(self._answer_template)
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
    """The three prompts on an OpenAI-compatible server, the plan with a JSON-schema response format."""

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
        self.server = ChatServer(url, model, timeout_s)
        self.specs = list(specs)
        self.index = ToolIndex(self.specs, phrases, max_tools)
        self.system = system_prompt(self.specs, examples)
        if response_format not in ("json_schema", "json_object"):
            raise ConfigError(f"planner.response_format must be json_schema or json_object, not {response_format!r}")
        self.response_format = response_format

    def _format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.response_format == "json_object":  # llama-cpp-python's own server
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "tool_call", "strict": True, "schema": schema}}

    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None:
        offered = self.index.offer(text, context)
        if not offered:
            return None
        raw = self.server.chat(
            self.system,
            request_text(text, context),
            max_tokens=160,
            response_format=self._format(tool_call_schema(offered)),
        )
        return parse_call(raw, offered, text, self.index)

    def warm_up(self, request: bool = True) -> float:
        """With `request`, one request, which also finds whether the server answers."""
        start = time.perf_counter()
        if request:
            self.plan_sync("what time is it", PlanContext())
        return time.perf_counter() - start

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        return await asyncio.to_thread(self.plan_sync, text, context)

    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None:
        text = self.server.chat(
            phrasing.SYSTEM, phrasing.request(question, facts), max_tokens=phrasing.MAX_TOKENS, timeout_s=timeout_s
        )
        return phrasing.clean(text)

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        return await asyncio.to_thread(self.phrase_sync, question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        if not passages:
            return answering.Written(None, "")
        text = self.server.chat(
            answering.SYSTEM, answering.request(question, passages), max_tokens=answering.MAX_TOKENS + 4, stop=["\n"]
        )
        return answering.parse(text, len(passages))


class FallbackPlanner:
    """An LLM server on a bigger machine with the local model behind it (planner.fallback): every
    prompt goes through the one failover (`core/failover.py`)."""

    def __init__(self, remote: ServerPlanner, local: Callable[[], _Backend], retry_s: float = 15.0) -> None:
        self.remote = remote
        self._local_factory = local
        self.local: _Backend | None = None
        self.failover = Failover(f"the LLM server at {remote.server.url}", LLMUnreachable, retry_s)

    @property
    def up(self) -> bool:
        return self.failover.up

    def _local(self) -> _Backend:
        assert self.local is not None, "warm_up() loads the local model first"
        return self.local

    def warm_up(self, request: bool = True) -> float:
        """Load and warm the local model (it must answer at once when the server fails), then the server."""
        start = time.perf_counter()
        self.local = self._local_factory()
        self.local.warm_up(request)
        try:
            self.failover.call(lambda: self.remote.warm_up(request), lambda: 0.0)
        except AssistantError as e:  # it answered badly at start: the local model plans until it answers well
            self.failover.failed(e.message)
        return time.perf_counter() - start

    def plan_sync(self, text: str, context: PlanContext) -> ToolCall | None:
        local = self._local()
        return self.failover.call(lambda: self.remote.plan_sync(text, context), lambda: local.plan_sync(text, context))

    async def plan(self, text: str, context: PlanContext) -> ToolCall | None:
        return await asyncio.to_thread(self.plan_sync, text, context)

    def phrase_sync(self, question: str, facts: str, timeout_s: float) -> str | None:
        local = self._local()
        return self.failover.call(
            lambda: self.remote.phrase_sync(question, facts, timeout_s),
            lambda: local.phrase_sync(question, facts, timeout_s),
        )

    async def phrase(self, question: str, facts: str, timeout_s: float) -> str | None:
        return await asyncio.to_thread(self.phrase_sync, question, facts, timeout_s)

    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written:
        local = self._local()
        return self.failover.call(
            lambda: self.remote.answer_sync(question, passages), lambda: local.answer_sync(question, passages)
        )
