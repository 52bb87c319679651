"""Sentence templates (hassil) → ToolCall.

Each skill ships sentences/<lang>.yaml in hassil syntax, with its own intents named after its tools
and a `borrow:` map that serves Home Assistant's English intents (home-assistant-intents) with our
tools, so good sentences are not written twice. Matching is a pure function of the text and the live
slot values.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from hassil import Intents, recognize_best
from hassil.expression import Alternative, Expression, Group, ListReference, RuleReference, Sequence
from hassil.intents import TextSlotList
from hassil.parse_expression import parse_sentence
from home_assistant_intents import get_intents

from assistant.errors import SkillError
from assistant.plugins.api import ToolCall, ToolSpec
from assistant.plugins.registry import LoadedSkill

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Borrowed:
    tool: str
    """Qualified tool name the Home Assistant intent maps onto."""
    slots: dict[str, str]
    """Home Assistant slot name → our argument name, where they differ."""


def _references(expr: Expression, rules: dict[str, str], seen: frozenset[str] = frozenset()) -> Iterator[ListReference]:
    """Every list reference in an expression, following expansion rules."""
    if isinstance(expr, ListReference):
        yield expr
    elif isinstance(expr, RuleReference):
        if expr.rule_name in rules and expr.rule_name not in seen:
            sentence = parse_sentence(rules[expr.rule_name])
            yield from _references(sentence.expression, rules, seen | {expr.rule_name})
    elif isinstance(expr, (Group, Sequence, Alternative)):
        for item in expr.items:
            yield from _references(item, rules, seen)


class TemplateMatcher:
    def __init__(self, skills: list[LoadedSkill], language: str = "en") -> None:
        ha = get_intents(language)
        if ha is None:
            raise SkillError(f"home-assistant-intents has no sentences for language '{language}'")
        self._rules: dict[str, str] = dict(ha.get("expansion_rules", {}))
        lists: dict[str, Any] = dict(ha.get("lists", {}))
        intents: dict[str, Any] = {}
        self._specs: dict[str, ToolSpec] = {}
        self._borrowed: dict[str, Borrowed] = {}
        self._live_lists: set[str] = set()
        for loaded in skills:
            self._add_skill(loaded, ha, intents, lists)
        self._intents = Intents.from_dict(
            {"language": language, "intents": intents, "lists": lists, "expansion_rules": self._rules}
        )
        self._skip_words = list(ha.get("skip_words", []))

    def _add_skill(self, loaded: LoadedSkill, ha: dict[str, Any], intents: dict[str, Any], lists: dict[str, Any]) -> None:
        name = loaded.skill.name
        try:
            doc = yaml.safe_load(loaded.sentences.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise SkillError(f"skill '{name}': cannot read {loaded.sentences}: {e}") from e
        tools = {spec.name: spec for spec in loaded.tools}
        for spec in loaded.tools:
            self._specs[spec.qualified] = spec
        self._rules.update(doc.get("expansion_rules", {}) or {})
        lists.update(doc.get("lists", {}) or {})
        self._live_lists.update(doc.get("live_lists", []) or [])
        for list_name in doc.get("live_lists", []) or []:
            lists.setdefault(list_name, {"values": []})
        for intent_name, body in (doc.get("intents") or {}).items():
            if intent_name not in tools:
                raise SkillError(f"skill '{name}': sentences for '{intent_name}', which is not one of its tools")
            intents[f"{name}.{intent_name}"] = body
        for ha_intent, target in (doc.get("borrow") or {}).items():
            target = {"tool": target} if isinstance(target, str) else target
            tool = target.get("tool")
            if tool not in tools:
                raise SkillError(f"skill '{name}': borrows {ha_intent} for '{tool}', which is not one of its tools")
            if ha_intent not in ha["intents"]:
                raise SkillError(f"skill '{name}': home-assistant-intents has no intent {ha_intent}")
            borrowed = Borrowed(f"{name}.{tool}", dict(target.get("slots") or {}))
            blocks = self._servable_blocks(ha["intents"][ha_intent]["data"], tools[tool], borrowed, lists)
            key = f"{name}.{tool}@{ha_intent}"
            intents[key] = {"data": blocks}
            self._borrowed[key] = borrowed

    def _servable_blocks(self, blocks: list[dict[str, Any]], spec: ToolSpec, borrowed: Borrowed, lists: dict[str, Any]) -> list[dict[str, Any]]:
        """Keep the sentences whose every slot is an argument of our tool and whose lists we have."""
        params = {p.name for p in spec.params}
        kept = []
        for block in blocks:
            if block.get("requires_context") or block.get("excludes_context"):
                continue
            sentences = []
            for text in block["sentences"]:
                refs = list(_references(parse_sentence(text).expression, self._rules))
                if all(
                    r.list_name in lists and borrowed.slots.get(r.slot_name, r.slot_name) in params
                    for r in refs
                ):
                    sentences.append(text)
            if sentences:
                kept.append({"sentences": sentences, **({"slots": block["slots"]} if "slots" in block else {})})
        return kept

    def match(self, text: str, live: dict[str, list[str]] | None = None) -> ToolCall | None:
        """The tool call a sentence template makes of `text`, or None."""
        slot_lists = {
            name: TextSlotList.from_strings(values)
            for name, values in (live or {}).items()
            if name in self._live_lists and values
        }
        result = recognize_best(_clean(text), self._intents, slot_lists=slot_lists, skip_words=self._skip_words)
        if result is None:
            return None
        key = result.intent.name
        borrowed = self._borrowed.get(key)
        tool = borrowed.tool if borrowed else key
        renames = borrowed.slots if borrowed else {}
        spec = self._specs[tool]
        params = {p.name for p in spec.params}
        args: dict[str, Any] = {}
        for entity in result.entities_list:
            arg = renames.get(entity.name, entity.name)
            if arg in params:
                value = entity.value
                args[arg] = value.strip() if isinstance(value, str) else value
        return ToolCall(tool=tool, args=args, source="template", text=text)


_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    """Whisper punctuates and capitalises; templates match plain words."""
    text = text.replace("’", "'").strip().strip(".!?,;:").lower()
    text = re.sub(r"(?<=\w)[.!?,;:](?=\s|$)", "", text)
    return _SPACES.sub(" ", text)
