"""The planner's schema decoder on a real model (SmolLM2-135M: fast, and poor enough at planning to
wander anywhere the schema lets it): whatever the model prefers, the output is JSON the tool's schema
allows, and text the schema forces costs no model call of its own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.core.models import resolve_llm
from assistant.plugins.api import ToolSpec
from assistant.understanding.decoder import Decoding, Vocabulary, decode_arguments, supports
from assistant.understanding.grounding import said_integers

pytestmark = pytest.mark.slow_model


@pytest.fixture(scope="module")
def model() -> tuple[Any, Vocabulary]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(resolve_llm("smollm2-135m").path), n_ctx=1024, n_threads=2, verbose=False)
    return llm, Vocabulary(llm)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[ToolSpec]:
    core = build_core(load_config(environ={}), tmp_path_factory.mktemp("data"), Bus())
    return [s for s in core.registry.tools() if s.params]


def start(model: tuple[Any, Vocabulary], prompt: str) -> Decoding:
    llm, vocabulary = model
    return Decoding(llm, vocabulary, llm.tokenize(prompt.encode(), add_bos=True, special=True))


def conforms(schema: dict[str, Any], args: dict[str, Any], said: frozenset[int]) -> None:
    """`args` is what `schema` allows, property order included, with whole numbers as `said` limits them."""
    order = list(schema["properties"])
    assert list(args) == sorted(args, key=order.index), "properties out of the schema's order"
    assert set(schema["required"]) <= set(args)
    for name, value in args.items():
        prop = schema["properties"][name]
        if "enum" in prop:
            assert value in prop["enum"]
        elif prop["type"] == "string":
            assert isinstance(value, str) and len(value.encode()) <= prop.get("maxLength", 200) + 32
            assert '"' not in value and all(ord(c) >= 0x20 for c in value)
        elif prop["type"] == "boolean":
            assert isinstance(value, bool)
        else:
            assert isinstance(value, int) and not isinstance(value, bool) and value >= 0
            if name not in schema["required"]:
                assert said and value in said | {0}, f"{name}={value} was not said"


@pytest.mark.timeout(900)  # every tool × four requests through the model: minutes on a busy machine
def test_every_tools_arguments_decode_to_json_its_schema_allows(
    model: tuple[Any, Vocabulary], specs: list[ToolSpec]
) -> None:
    requests = [
        "set a timer for seven minutes for the eggs",
        "turn the kitchen light to 40 percent",
        "zzz qqq",
        'he said "no" \\ then left\n\tfor 3 hours and 25 minutes',
    ]
    for spec in specs:
        schema = spec.args_schema()
        assert supports(schema), spec.qualified
        for text in requests:
            said = said_integers(text)
            decoding = start(model, f"Request: {text}\nCall {spec.qualified} with JSON arguments: ")
            decode_arguments(decoding, schema, said)
            out = decoding.out.decode()
            try:
                args = json.loads(out)
            except json.JSONDecodeError:
                pytest.fail(f"{spec.qualified} for {text!r} decoded {out!r}, not JSON")
            conforms(schema, args, said)


def test_text_the_schema_forces_is_evaluated_with_the_prompt_in_one_call(model: tuple[Any, Vocabulary]) -> None:
    schema = {
        "type": "object",
        "properties": {"day": {"type": "string", "enum": ["today", "tomorrow"]}},
        "required": ["day"],
        "additionalProperties": False,
    }
    decoding = start(model, "What is on tomorrow? Arguments: ")
    decode_arguments(decoding, schema, frozenset())
    assert json.loads(decoding.out) in ({"day": "today"}, {"day": "tomorrow"})
    assert decoding.evaluations == 1, '`{"day": "` must go with the prompt, and the rest needs no call'


def test_the_model_chooses_where_the_options_part(model: tuple[Any, Vocabulary]) -> None:
    decoding = start(model, "Count with me: 1, 2, 3, 4, 5, 6,")
    assert decoding.choose([" 7, 8", " 2, 9", " banana"]) == 0
    assert decoding.out == b" 7, 8"


def test_a_number_that_starts_another_ends_where_the_model_stops(model: tuple[Any, Vocabulary]) -> None:
    decoding = start(model, '{"minutes": ')
    with pytest.raises(ValueError, match="nothing says where it ends"):
        decoding.choose(["1", "12"])
    decoding = start(model, '{"minutes": ')
    picked = decoding.choose(["1", "12"], ender=decoding.vocabulary.after_number)
    assert decoding.out == [b"1", b"12"][picked]


def test_the_cache_holds_what_was_decided_so_the_next_decode_reuses_the_prompt(model: tuple[Any, Vocabulary]) -> None:
    llm, _ = model
    prompt = "A long shared prefix that the next request starts with as well. Request: "
    first = start(model, prompt + "one")
    first.choose(["yes", "no"])
    n = len(llm.tokenize(prompt.encode(), add_bos=True))
    assert llm.n_tokens >= n
    second = start(model, prompt + "two")
    assert llm.n_tokens >= n - 1, "the shared prefix was thrown away"
    assert second.choose(["yes", "no"]) in (0, 1)
