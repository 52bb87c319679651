"""The LLM planner for real: plumbing with SmolLM2-135M (fast), the OpenAI-compatible server backend
against llama-cpp-python's own server on loopback, and the default Qwen2.5-Coder-1.5B on a handful
of requests the templates do not match."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.errors import RequestTooLong
from assistant.core.models import resolve_llm
from assistant.knowledge.answering import Passage
from assistant.llm.local import _count_prefix_tokens, count_file, needed_context
from assistant.plugins.api import ToolCall
from assistant.understanding.planner import ROOM_FOR_REQUEST, LocalPlanner, ServerPlanner
from assistant.understanding.prompt import REQUEST_LEAD, PlanContext
from assistant.voice.dialogue import PLANNER_DOWN
from testbed.harness import Recorder, wait_for

OFFLINE = {"ASSISTANT__PLANNER__THREADS": "2"}


def core_with(tmp: Path, **env: str) -> tuple[Core, Recorder]:
    bus = Bus()
    config = load_config(environ={**OFFLINE, **{f"ASSISTANT__{k.upper()}": v for k, v in env.items()}})
    return build_core(config, tmp, bus), Recorder(bus)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> LocalPlanner:
    core, _ = core_with(tmp_path_factory.mktemp("data"))
    matcher = core.dialogue.router.matcher
    planner = LocalPlanner(
        str(resolve_llm("smollm2-135m").path), core.registry.tools(), matcher.examples(), matcher.phrases(), threads=2
    )
    planner.warm_up()
    return planner


@pytest.mark.slow_model
def test_small_model_output_is_always_a_valid_offered_call(small: LocalPlanner) -> None:
    offered = {s.qualified for s in small.specs}
    texts = (
        "could you start a timer for the eggs",
        "what's the weather",
        "how long on the pasta",
        "zzz qqq",
        "set set set timer timer 99999999",
    )
    calls = {text: small.plan_sync(text, PlanContext(live={"timer_name": ["pasta"]})) for text in texts}
    # "none" (None) is a valid answer to any of these; what may never come is a call outside the offer.
    made = [call for call in calls.values() if call is not None]
    assert made, f"the model declined every request: no call was checked ({calls})"
    for call in made:
        assert call.tool in offered and call.source == "llm" and isinstance(call.args, dict)
        spec = small.index.specs[[s.qualified for s in small.index.specs].index(call.tool)]
        assert set(call.args) <= {p.name for p in spec.params}


@pytest.mark.slow_model
def test_system_prompt_state_is_cached_on_disk_and_reused(small: LocalPlanner, tmp_path: Path) -> None:
    path = small.engine.state_file(small.template.prefix)
    assert path.exists() and path.stat().st_size > 0
    core, _ = core_with(tmp_path)
    matcher = core.dialogue.router.matcher
    other = LocalPlanner(small.model_path, small.specs, [], matcher.phrases(), threads=2)
    assert other.engine.state_file(other.template.prefix) != path  # no examples: another system prompt, another state
    same = LocalPlanner(small.model_path, small.specs, matcher.examples(), matcher.phrases(), threads=2)
    assert same.engine.state_file(same.template.prefix) == path

    def evaluated(tokens: object) -> object:
        raise AssertionError("the system prompt was evaluated again instead of read from its cached state")

    same.llm.eval = evaluated  # type: ignore[method-assign]
    same.warm_up(
        request=False
    )  # no time bound: a busy machine stretches it; what is checked is that nothing is evaluated
    tokens = same.engine.tokens(same.template.prefix)
    assert same.llm.n_tokens == len(tokens) and list(same.llm.input_ids[: len(tokens)]) == tokens
    del same.llm.eval
    assert same.plan_sync("could you start a timer for the eggs", PlanContext()) == small.plan_sync(
        "could you start a timer for the eggs", PlanContext()
    )


@pytest.mark.slow_model
@pytest.mark.parametrize("damage", ["truncated", "garbage", "another prompt's"])
def test_a_damaged_cached_state_is_evaluated_again_and_replaced(small: LocalPlanner, damage: str) -> None:
    engine = small.engine
    context = PlanContext(live={"timer_name": ["pasta"]})
    before = small.plan_sync("could you start a timer for the eggs", context)
    path = engine.state_file(small.template.prefix)
    good = path.read_bytes()
    other = engine.template("You answer in one word.")
    engine.prepare(other)
    other_state = engine.state_file(other.prefix).read_bytes()
    path.write_bytes(
        {"truncated": good[: len(good) // 2], "garbage": b"\x00" * 4096, "another prompt's": other_state}[damage]
    )
    engine._states.clear()
    engine.prepare(small.template)
    tokens = engine.tokens(small.template.prefix)
    assert engine.llm.n_tokens == len(tokens) and list(engine.llm.input_ids[: len(tokens)]) == tokens
    assert path.read_bytes() == good, "the damaged state was not replaced by the evaluated one"
    assert small.plan_sync("could you start a timer for the eggs", context) == before


@pytest.mark.slow_model
def test_the_plan_state_is_put_back_from_disk_after_another_prompt_and_not_held(small: LocalPlanner) -> None:
    """The planner's state (90 MB with the default model) is read again after phrasing used the KV
    cache, rather than held; the plans before and after are the same."""
    context = PlanContext(live={"timer_name": ["pasta"]})
    before = small.plan_sync("could you start a timer for the eggs", context)
    assert small.engine._states[small.template.prefix][1] is None, "a state on disk is not held in memory"
    small.phrase_sync("How long is left on the pasta timer?", "pasta timer: 4 minutes left", 60.0)
    tokens = small.engine._states[small.template.prefix][0]
    assert list(small.llm._input_ids[: len(tokens)]) != tokens, "phrasing did not use the KV cache"
    assert small.plan_sync("could you start a timer for the eggs", context) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, on loopback only."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(resolve_llm("smollm2-135m").path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}) before it answered")
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=1).read()
        except OSError:
            return False
        return True

    try:
        # A wait for it to be up, not a bound: a busy machine is slow to load it.
        wait_for(answering, 240, "llama_cpp.server answering on /v1/models")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow_model
def test_server_backend_gets_a_schema_valid_call(llama_server: str, tmp_path: Path) -> None:
    core, _ = core_with(tmp_path)
    planner = ServerPlanner(
        llama_server,
        "smollm2",
        core.registry.tools(),
        core.dialogue.router.matcher.examples(),
        core.dialogue.router.matcher.phrases(),
        response_format="json_object",
        timeout_s=240,
    )
    offered = {s.qualified for s in core.registry.tools()}
    for text in ("please start the egg timer", "what's the weather"):
        call = planner.plan_sync(text, PlanContext())
        assert call is None or call.tool in offered


def test_an_unreachable_server_is_a_clear_answer_not_a_crash(tmp_path: Path) -> None:
    core, rec = core_with(
        tmp_path,
        planner__server_url=f"http://127.0.0.1:{_free_port()}",
        planner__timeout_s="2",
        planner__fallback="false",
    )
    # A request some tool speaks of (the LLM is asked); one that no tool fits needs no LLM at all.
    assert asyncio.run(core.dialogue.handle("please could you boil the kettle")) == "Sorry, I can't help with that yet."
    reply = asyncio.run(core.dialogue.handle("could you possibly keep an eye on the pasta for me"))
    assert reply == PLANNER_DOWN
    error = rec.of("error")[-1]
    assert error.code == "planner_unreachable" and "did not answer" in error.message  # type: ignore[attr-defined]


@pytest.mark.slow_model
def test_the_local_model_plans_while_the_server_is_down_and_the_server_is_used_again(
    llama_server: str, tmp_path: Path
) -> None:
    """planner.fallback: a server that does not answer costs nothing but the refused connection; the
    local model plans at once, and the server is asked again once `retry_s` has passed."""
    from assistant.understanding.planner import FallbackPlanner

    port = _free_port()
    core, rec = core_with(
        tmp_path, planner__server_url=f"http://127.0.0.1:{port}", planner__timeout_s="2", planner__model="smollm2-135m"
    )
    assert core.planner is not None
    backend = asyncio.run(core.planner.load())
    assert isinstance(backend, FallbackPlanner) and not backend.up, "found down at start"
    asked: list[str] = []
    remote_plan = backend.remote.plan_sync

    def counted(text: str, context: PlanContext) -> ToolCall | None:
        asked.append(text)
        return remote_plan(text, context)

    backend.remote.plan_sync = counted  # type: ignore[method-assign]
    backend.failover.retry_s = 3600  # a busy machine may take longer than the default 15 s to get here
    reply = asyncio.run(core.dialogue.handle("please could you boil the kettle"))
    # Down since the start, the server is not waited on again within retry_s: the local model planned
    # at once (what that takes is the machine's load, so it is the asking that is checked, not a time).
    assert reply != PLANNER_DOWN and asked == []
    assert not [e for e in rec.of("error") if e.code == "planner_unreachable"]  # type: ignore[attr-defined]
    backend.remote.server.url = llama_server.rstrip("/") + "/v1/chat/completions"  # the server comes back
    backend.remote.response_format, backend.remote.server.timeout_s = "json_object", 60
    backend.failover.retry_s = 0
    asyncio.run(core.dialogue.handle("please could you boil the kettle"))
    assert backend.up and backend.failover.down_since is None, "asked again, it answered, and it is used"


@pytest.fixture(scope="module")
def qwen_core(tmp_path_factory: pytest.TempPathFactory) -> tuple[Core, Recorder]:
    # Replies to open questions are worded by the LLM only when asked to with the packaged model.
    core, rec = core_with(tmp_path_factory.mktemp("data"), understanding__phrase_replies="true")
    assert core.planner is not None
    asyncio.run(core.planner.load())
    return core, rec


@pytest.mark.slow_model
@pytest.mark.parametrize(
    "text, tool, args",
    [
        ("could you start a timer for the eggs, seven minutes", "timer.start", {"minutes": 7, "name": "eggs"}),
        ("is it monday or tuesday today", "clock.get_date", {}),
        ("please get rid of every single timer", "timer.clear_all", {}),
        ("order me a large pizza", None, {}),
    ],
)
def test_the_default_planner_on_requests_templates_miss(qwen_core, text: str, tool: str | None, args: dict) -> None:  # type: ignore[no-untyped-def]
    core, _ = qwen_core
    live = {"timer_name": ["pasta"]}
    assert core.dialogue.router.match_templates(text, live) is None, "this request must exercise the LLM"
    start = time.perf_counter()
    call = asyncio.run(core.planner.plan(text, PlanContext(live=live)))
    took = time.perf_counter() - start
    if tool is None:
        assert call is None
    else:
        assert call is not None and call.source == "llm"
        assert (call.tool, core.registry.tool(call.tool).validate(call.args)) == (tool, args)
    assert took < 10, f"{took:.1f} s"


@pytest.mark.slow_model
def test_a_question_answered_in_other_words_completes_the_call(qwen_core) -> None:  # type: ignore[no-untyped-def]
    core, rec = qwen_core
    core.dialogue.forget()
    assert asyncio.run(core.dialogue.handle("set a timer")) == "For how long?"
    reply = asyncio.run(core.dialogue.handle("oh, about a quarter of an hour"))
    assert reply == "Timer set for 15 minutes.", reply


@pytest.mark.slow_model
def test_an_open_question_gets_a_reply_worded_from_the_result(qwen_core) -> None:  # type: ignore[no-untyped-def]
    core, rec = qwen_core
    core.dialogue.forget()
    asyncio.run(core.dialogue.handle("set an alarm for 7 am tomorrow"))
    reply = asyncio.run(core.dialogue.handle("when do i need to get up tomorrow"))
    event = rec.of("reply")[-1]
    fixed = rec.of("tool_result")[-1]
    assert fixed.tool == "agenda.day"  # type: ignore[attr-defined]
    if event.phrased:  # type: ignore[attr-defined]
        assert reply != "Tomorrow you have an alarm at 7 AM." and "7" in reply, reply
    else:  # the check refused the model's wording: the tool's own reply, never a wrong one
        assert reply == "Tomorrow you have an alarm at 7 AM.", reply


@pytest.mark.slow_model
def test_a_plain_question_gets_the_tools_own_reply_without_the_llm(qwen_core) -> None:  # type: ignore[no-untyped-def]
    core, rec = qwen_core
    reply = asyncio.run(core.dialogue.handle("what's planned for tomorrow"))
    assert reply.startswith("Tomorrow you have an alarm at 7 AM") and not rec.of("reply")[-1].phrased  # type: ignore[attr-defined]


@pytest.mark.slow_model
def test_a_state_that_cannot_be_cached_is_held_and_put_back(
    small: LocalPlanner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = PlanContext(live={"timer_name": ["pasta"]})
    before = small.plan_sync("could you start a timer for the eggs", context)
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setattr("assistant.llm.local.models_cache_dir", lambda: tmp_path / "not-a-folder" / "models")
    small.engine._states.clear()
    small.engine.prepare(small.template)
    assert small.engine._states[small.template.prefix][1] is not None, "the state was not held"
    small.phrase_sync("How long is left on the pasta timer?", "pasta timer: 4 minutes left", 60.0)
    assert small.plan_sync("could you start a timer for the eggs", context) == before
    small.engine._states.clear()  # the next test reads it from the real cache again


@pytest.mark.slow_model
def test_the_context_is_sized_to_the_prompt_and_the_count_is_kept(
    small: LocalPlanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = len(small.engine.tokens(small.template.prefix))
    assert (
        small.llm.n_ctx() % 256 == 0
        and prefix + ROOM_FOR_REQUEST <= small.llm.n_ctx() < prefix + ROOM_FOR_REQUEST + 256
    )

    assert _count_prefix_tokens(small.model_path, small.system, REQUEST_LEAD) == prefix  # from the vocabulary alone

    def counted(model_path: str, system: str, lead: str) -> int:
        raise AssertionError("the prompt's tokens were counted again instead of read from the cache")

    monkeypatch.setattr("assistant.llm.local._count_prefix_tokens", counted)
    assert needed_context(small.model_path, small.system, ROOM_FOR_REQUEST, lead=REQUEST_LEAD) == small.llm.n_ctx()


@pytest.mark.slow_model
def test_the_request_parts_lead_is_in_the_cached_prompt(small: LocalPlanner) -> None:
    """ "Request: \"" is cached with the system prompt, and a request is evaluated after it as cached,
    even one whose first character the tokenizer would join to the lead's quote ( ` "(` )."""
    assert small.template.prefix.endswith(REQUEST_LEAD) and small.template.lead == REQUEST_LEAD
    rendered = small.template.render(f'{REQUEST_LEAD}order me a pizza"')
    assert rendered.count(REQUEST_LEAD) == 1 and rendered.startswith(small.template.prefix)
    fixed = small.engine.tokens(small.template.prefix)
    assert small.engine.tokens(rendered)[: len(fixed)] == fixed
    with pytest.raises(ValueError):
        small.template.render("order me a pizza")
    for text in ("(order me a pizza)", "...order me a pizza", "'order me a pizza'"):
        small.plan_sync(text, PlanContext())
        assert list(small.llm.input_ids[: len(fixed)]) == fixed, text
    other = small.engine.template("You answer in one word.")
    assert other.lead == "" and other.render("hi") == other.prefix + "hi" + other.suffix


@pytest.mark.slow_model
def test_a_request_too_long_for_the_context_is_said_so_not_a_crash(small: LocalPlanner, tmp_path: Path) -> None:
    pasted = "could you switch the kitchen light off for me and then " * 300
    with pytest.raises(RequestTooLong) as raised:
        small.plan_sync(pasted, PlanContext())
    assert "too long" in raised.value.message and "sentence or two" in raised.value.message
    # The phrasing and answer prompts' fixed parts are short: three times as much overflows them too.
    assert small.phrase_sync(pasted * 3, "It is 9 PM.", 30.0) is None  # the tool's own reply stands
    with pytest.raises(RequestTooLong):
        small.answer_sync(pasted * 3, [Passage("manual", "Descale the kettle monthly.")])
    context = PlanContext(live={"timer_name": ["pasta"]})
    assert small.plan_sync("could you start a timer for the eggs", context) == small.plan_sync(
        "could you start a timer for the eggs", context
    )  # still planning after it


@pytest.mark.slow_model
def test_the_dialogue_says_a_pasted_page_is_too_long(tmp_path: Path) -> None:
    core, rec = core_with(tmp_path, planner__model="smollm2-135m")
    reply = asyncio.run(core.dialogue.handle("could you switch the kitchen light off for me and then " * 300))
    assert reply.startswith("That's too long for me to follow") and rec.of("error")[-1].code == "too_long"  # type: ignore[attr-defined]


@pytest.mark.slow_model
@pytest.mark.parametrize("kept", ["10", "-768", "5000", "not a number", "a pipe"])
def test_a_wrong_or_unreadable_kept_count_still_gives_the_context_the_prompt_needs(
    small: LocalPlanner, kept: str, tmp_path: Path
) -> None:
    matcher = core_with(tmp_path)[0].dialogue.router.matcher
    path = count_file(small.model_path, small.system, REQUEST_LEAD)
    right = path.read_text()
    path.unlink()
    if kept == "a pipe":
        os.mkfifo(path)  # read as a file, it would block the start for ever
    else:
        path.write_text(kept)
    try:
        again = LocalPlanner(small.model_path, small.specs, matcher.examples(), matcher.phrases(), threads=2)
        assert again.system == small.system and again.llm.n_ctx() == small.llm.n_ctx()
        assert path.is_file() and path.read_text() == right
    finally:
        if not path.is_file():
            path.unlink(missing_ok=True)
            path.write_text(right)
