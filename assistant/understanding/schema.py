"""The JSON schema of one tool call, derived from the offered tools' signatures, and the llama.cpp
grammar built from it.

One branch per offered tool, `{"<skill.tool>": {<args>}}`, plus `{"none": {}}` for requests no tool
can serve. The tool's name is the key (not `{"tool": …, "args": …}`) because every generated token
costs about 70 ms on two cores, and this is the shortest shape that is still plain JSON.

Grammars are built here from the schema (llama.cpp's JSON-schema converter) and passed explicitly:
llama-cpp-python's `response_format` silently falls back to plain JSON when a schema cannot be
converted, which would let the model invent tool names. Here a lost name is an error. The local
planner writes the same schema with its own decoder (decoder.py), which asks the model only where the
schema leaves a choice; the grammar serves a server, and any argument shape that decoder does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.core.errors import LLMError
from assistant.plugins.api import ToolSpec

if TYPE_CHECKING:
    from llama_cpp.llama_grammar import LlamaGrammar

NONE_TOOL = "none"


def tool_call_schema(specs: Sequence[ToolSpec]) -> dict[str, Any]:
    branches = [_branch(spec.qualified, spec.args_schema()) for spec in specs]
    branches.append(_branch(NONE_TOOL, {"type": "object", "properties": {}, "additionalProperties": False}))
    return {"oneOf": branches}


def _branch(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: args}, "required": [name], "additionalProperties": False}


def gbnf_for(schema: dict[str, Any], literals: Sequence[str]) -> str:
    """GBNF text for a schema; raises instead of falling back when the schema cannot be converted.

    A schema the converter does not understand degrades to "any JSON value", so every literal that
    must constrain the output (tool names, argument names) is checked to be in the grammar."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        text: str = json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:
        raise LLMError(f"cannot turn the tool schema into a grammar: {e}", code="planner_schema") from e
    for literal in literals:
        if json.dumps(json.dumps(literal))[1:-1] not in text:
            raise LLMError(f"the planner grammar lost '{literal}'", code="planner_schema")
    return text


def call_gbnf(specs: Sequence[ToolSpec]) -> str:
    """The whole tool-call grammar in one piece (what a server is asked for; tested to be complete)."""
    literals = [NONE_TOOL, *(s.qualified for s in specs), *(p.name for s in specs for p in s.params)]
    return gbnf_for(tool_call_schema(specs), literals)


def args_grammar(spec: ToolSpec, said: frozenset[int] | None = None) -> LlamaGrammar:
    """llama.cpp's grammar for a tool's arguments object, which the local planner uses for a schema
    its own decoder does not write (decoder.supports)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(args_gbnf(spec, said), verbose=False)


def args_gbnf(spec: ToolSpec, said: frozenset[int] | None = None) -> str:
    """The GBNF of a tool's arguments object.

    `said`: the numbers the request says. An optional whole number can then only be one of them (or
    0), and with none said it cannot be written at all: the small model otherwise fills every number it is
    offered ("how long have i got on the pasta" decoded `"hours": 0, "minutes": 0, "seconds": 0`, 25
    tokens and 5 s, for arguments grounding then dropped). A tool with a required number is left as
    it is (it must get one, and asks for it when none was said)."""
    schema = spec.args_schema()
    names = [p.name for p in spec.params]
    integers = [n for n, prop in schema["properties"].items() if prop.get("type") == "integer"]
    if said is None or not integers or set(integers) & set(schema.get("required", [])):
        return gbnf_for(schema, names)
    if not said:
        schema = {**schema, "properties": {n: p for n, p in schema["properties"].items() if n not in integers}}
        return gbnf_for(schema, [n for n in names if n not in integers])
    # 0 stays: offered only the said numbers, the model wrote them under every unit ("20 minutes" →
    # minutes 20, seconds 20); a 0 it writes instead is dropped by grounding.
    choices = " | ".join(f'"{n}"' for n in sorted(said | {0}))
    limited, count = re.subn(
        r"^integer ::= .*$", f"integer ::= ({choices}) space", gbnf_for(schema, names), flags=re.MULTILINE
    )
    if count != 1:
        raise LLMError("the planner grammar has no integer rule to limit", code="planner_schema")
    return limited
