"""Sentence templates (hassil) → ToolCall.

Each skill ships sentences/<lang>.yaml in hassil syntax, with its own intents named after its tools
and a `borrow:` map that serves Home Assistant's English intents (home-assistant-intents) with our
tools, so good sentences are not written twice. Matching is a pure function of the text and the live
slot values.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hassil import Intents, recognize_best
from hassil.expression import Alternative, Expression, Group, ListReference, RuleReference, Sequence
from hassil.intents import RangeSlotList, SlotList, TextSlotList
from hassil.parse_expression import parse_sentence
from hassil.sample import sample_intents
from home_assistant_intents import get_intents
from rapidfuzz import fuzz, process

from assistant.core.errors import SkillError
from assistant.language.numbers import find_numbers
from assistant.plugins.api import ToolCall, ToolSpec
from assistant.plugins.registry import LoadedSkill
from assistant.understanding.derived import DerivedCache, module_digest
from assistant.understanding.prompt import MAX_DECLARED, ToolPhrases, declared_fault

log = logging.getLogger(__name__)

_STAND_IN = "zzlivename"
EXAMPLE_NAME = "kitchen"
"""The live name (a timer, a routine) that skills' `examples:` use; it stands for any name."""
EXAMPLE_NAMES = {"device_name": "hall lamp", "effect_name": "rainbow"}
"""Live names examples may use besides EXAMPLE_NAME, each for its own list. With "kitchen" for
everything, the planner's prompt showed a room as a device ("is the kitchen on" -> {"device":
"kitchen"}) and "set the kitchen to the kitchen effect". (Measured: the understanding bench and the
planner's calls were the same either way.)"""


def example_names(live_lists: Iterable[str]) -> dict[str, list[str]]:
    """The stand-in names examples are matched with: EXAMPLE_NAME in every list, and the list's own."""
    return {
        name: [EXAMPLE_NAMES[name], EXAMPLE_NAME] if name in EXAMPLE_NAMES else [EXAMPLE_NAME] for name in live_lists
    }


def has_example_name(sentence: str) -> bool:
    """Whether `sentence` says one of the stand-in names the examples use for a live list."""
    return without_example_names(sentence) != " ".join(sentence.split())


def without_example_names(sentence: str) -> str:
    """`sentence` with its stand-in names taken out (their words say nothing of the tool)."""
    for name in [*EXAMPLE_NAMES.values(), EXAMPLE_NAME]:
        sentence = re.sub(rf"\b{re.escape(name)}\b", " ", sentence)
    return " ".join(sentence.split())


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
    def __init__(self, skills: list[LoadedSkill], language: str = "en", cache_dir: Path | None = None) -> None:
        """cache_dir: where the planner's examples and phrases are kept between starts (derived.py)."""
        self._phrases: ToolPhrases | None = None
        ha = get_intents(language)
        if ha is None:
            raise SkillError(f"home-assistant-intents has no sentences for language '{language}'")
        self._rules: dict[str, str] = dict(ha.get("expansion_rules", {}))
        lists: dict[str, Any] = dict(ha.get("lists", {}))
        intents: dict[str, Any] = {}
        self._specs: dict[str, ToolSpec] = {}
        self._borrowed: dict[str, Borrowed] = {}
        self._live_lists: set[str] = set()
        self._declared_examples: list[tuple[str, str]] = []
        self._declared_words: dict[str, list[str]] = {}
        self._fuzzy_static: tuple[list[str], list[str]] | None = None
        self._fuzzy_live: tuple[Any, _FuzzyIndex] | None = None
        self._live_marks: list[frozenset[str]] | None = None
        self._language = language
        for loaded in skills:
            self._add_skill(loaded, ha, intents, lists)
        self._intents = Intents.from_dict(
            {"language": language, "intents": intents, "lists": lists, "expansion_rules": self._rules}
        )
        self._tool_lists: dict[str, set[str]] = {}
        for key, body in intents.items():
            borrowed = self._borrowed.get(key)
            named = self._tool_lists.setdefault(borrowed.tool if borrowed else key, set())
            for block in body.get("data", []):
                for text in block.get("sentences", []):
                    named.update(
                        r.list_name
                        for r in _references(parse_sentence(text).expression, self._rules)
                        if r.list_name in self._live_lists
                    )
        self._skip_words = list(ha.get("skip_words", []))
        self._derived = (
            DerivedCache(
                {
                    "language": language,
                    "intents": intents,
                    "lists": lists,
                    "rules": self._rules,
                    "examples": self._declared_examples,
                    "words": self._declared_words,
                    "live": sorted(self._live_lists),
                    "skip": self._skip_words,
                    "tools": {name: [spec.description, spec.args_schema()] for name, spec in self._specs.items()},
                    "borrowed": {key: [b.tool, b.slots] for key, b in self._borrowed.items()},
                    "code": {loaded.skill.name: module_digest(loaded.skill) for loaded in skills},
                },
                cache_dir,
            )
            if cache_dir is not None
            else None
        )

    def _add_skill(
        self, loaded: LoadedSkill, ha: dict[str, Any], intents: dict[str, Any], lists: dict[str, Any]
    ) -> None:
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
        for tool_name, sentences in (doc.get("examples") or {}).items():
            if tool_name not in tools:
                raise SkillError(f"skill '{name}': examples for '{tool_name}', which is not one of its tools")
            self._declared_examples.extend((f"{name}.{tool_name}", text) for text in sentences)
        self._declared_words.update(_checked_words(name, doc.get("words"), tools))
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

    def _servable_blocks(
        self, blocks: list[dict[str, Any]], spec: ToolSpec, borrowed: Borrowed, lists: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Keep the sentences whose every slot is an argument of our tool and whose lists we have."""
        params = {p.name for p in spec.params}
        kept = []
        for block in blocks:
            if block.get("requires_context") or block.get("excludes_context"):
                continue
            sentences = []
            for text in block["sentences"]:
                refs = list(_references(parse_sentence(text).expression, self._rules))
                if all(r.list_name in lists and borrowed.slots.get(r.slot_name, r.slot_name) in params for r in refs):
                    sentences.append(text)
            if sentences:
                kept.append({"sentences": sentences, **({"slots": block["slots"]} if "slots" in block else {})})
        return kept

    def _samples(self, per_intent: int, stand_in: str | None = None) -> Iterator[tuple[str, str]]:
        """(tool, sentence) pairs sampled from the templates; live lists get `stand_in`, or each its
        own example name."""
        names = {name: [stand_in] if stand_in else said[:1] for name, said in example_names(self._live_lists).items()}
        lists: dict[str, SlotList] = {name: TextSlotList.from_strings(names[name]) for name in self._live_lists}
        for intent, sentence in sample_intents(
            self._intents, slot_lists=lists, language=self._language, max_sentences_per_intent=per_intent
        ):
            borrowed = self._borrowed.get(intent)
            yield (borrowed.tool if borrowed else intent), sentence

    def declared_examples(self, free_text: bool = True) -> list[str]:
        """The skills' own example sentences, the first of every tool before the second of any.
        free_text=False leaves out those with words a wildcard takes ("remind me to call mum"): in
        Whisper's prompt such words are copied into what it hears ("remind me to water the plants"
        became "Remind me to call mum")."""
        by_tool: dict[str, list[str]] = {}
        for tool, text in self._declared_examples:
            if not free_text and self._has_free_text(text):
                continue
            by_tool.setdefault(tool, []).append(text)
        for texts in by_tool.values():
            texts.sort(key=len)  # the shortest first: more tools fit in a prompt
        rounds = max((len(v) for v in by_tool.values()), default=0)
        return [texts[i] for i in range(rounds) for texts in by_tool.values() if i < len(texts)]

    def _has_free_text(self, text: str) -> bool:
        return self.fills_wildcard(text, example_names(self._live_lists))

    def examples(self, seed: int = 7) -> list[ToolCall]:
        """Worked examples for the planner's prompt, made by the templates themselves so they can never
        disagree with them: each skill's `examples:` sentences, and for a tool without any, a sampled
        sentence that fills the most arguments."""
        if self._derived is not None and seed == 7:
            return self._derived.examples(lambda: self._made_examples(seed))
        return self._made_examples(seed)

    def _made_examples(self, seed: int) -> list[ToolCall]:
        live = example_names(self._live_lists)
        examples = [self._example(tool, text, live) for tool, text in self._declared_examples]
        covered = {call.tool for call in examples}
        if covered >= set(self._specs):
            return sorted(examples, key=lambda c: c.tool)
        rng = random.Random(seed)
        by_tool: dict[str, list[ToolCall]] = {}
        for tool, sentence in self._samples(per_intent=60):
            call = self.match(sentence, live)
            if tool not in covered and call is not None and call.tool == tool:
                by_tool.setdefault(tool, []).append(call)
        for tool in sorted(by_tool):
            calls = by_tool[tool]
            most = max(len(c.args) for c in calls)
            chosen = rng.choice([c for c in calls if len(c.args) == most])
            examples.append(self._example(tool, chosen.text, live))
        return sorted(examples, key=lambda c: c.tool)

    def _example(self, tool: str, text: str, live: dict[str, list[str]]) -> ToolCall:
        """The call `text` makes, with validated arguments (ints, not hassil's floats), as the prompt shows it."""
        text = clean(text)
        call = self.match(text, live)
        if call is None or call.tool != tool:
            raise SkillError(
                f"skill '{tool.split('.')[0]}': example {text!r} should match {tool} but matched "
                f"{call.tool if call else 'nothing'}"
            )
        return ToolCall(call.tool, self._specs[tool].validate(call.args), "template", text)

    def phrases(self) -> ToolPhrases:
        """Sample sentences per tool, the words people use for it, and the live lists each tool's
        sentences name (a mention of a live timer name makes the timer tools worth offering).
        Made once (sampling every template takes over a second); the templates never change after."""
        if self._phrases is None:
            derived = self._derived
            self._phrases = derived.phrases(self._sampled_phrases) if derived is not None else self._sampled_phrases()
        return self._phrases

    def _sampled_phrases(self) -> ToolPhrases:
        out = ToolPhrases(
            live_lists={tool: set(names) for tool, names in self._tool_lists.items()},
            words={tool: list(said) for tool, said in self._declared_words.items()},
        )
        # Live names are left out (the stand-in is dropped): a sample's "kitchen" timer must not make
        # the timer tools look relevant to "turn on the kitchen light". Sentences with wildcards are
        # not sampled, so the skills' declared examples count too.
        for tool, sentence in [*self._samples(per_intent=200, stand_in=_STAND_IN), *self._declared_examples]:
            words = [w for w in without_example_names(sentence).split() if w != _STAND_IN]
            out.sentences.setdefault(tool, []).append(" ".join(words))
        return out

    def match(
        self, text: str, live: dict[str, list[str]] | None = None, fuzzy: bool = False, last_resort: bool = False
    ) -> ToolCall | None:
        """The tool call a sentence template makes of `text`, or None. fuzzy: the text is a template
        sentence a misheard request was close to; a sentence block with `metadata: {fuzzy: false}`
        (generic words such as "turn on the light") is then not taken: near it are requests that
        name something the home does not have ("turn on the kitchen light").
        A block with `metadata: {last_resort: true}` ("turn on the {anything}") is taken only when
        `last_resort` is asked for: after every other way, the planner included, found nothing, so
        that "turn on the toaster" is told there is no toaster instead of "I can't help with that"."""
        result = recognize_best(
            clean(text), self._intents, slot_lists=self._slot_lists(live), skip_words=self._skip_words
        )
        if result is None or (fuzzy and (result.intent_metadata or {}).get("fuzzy") is False):
            return None
        if bool((result.intent_metadata or {}).get("last_resort")) != last_resort:
            return None
        key = result.intent.name
        borrowed = self._borrowed.get(key)
        tool = borrowed.tool if borrowed else key
        renames = borrowed.slots if borrowed else {}
        spec = self._specs[tool]
        params = {p.name for p in spec.params}
        args: dict[str, Any] = {}
        keep_articles = bool((result.intent_metadata or {}).get("keep_articles"))
        for entity in result.entities_list:
            arg = renames.get(entity.name, entity.name)
            if arg in params:
                value = entity.value
                if isinstance(value, str):
                    value = value.strip() if keep_articles else _ARTICLE.sub("", value.strip())
                    if value in _NOT_NAMES:  # a wildcard that caught a stray word: "set it timer", "start at timer"
                        continue
                args[arg] = value
        whole = (result.intent_metadata or {}).get("whole_request")
        if whole in params:  # the words around the slot carry the meaning: "which day is {the recycling} collected"
            args[whole] = text.strip()
        open_question = bool((result.intent_metadata or {}).get("open_question"))
        ask_first = bool((result.intent_metadata or {}).get("ask_first"))
        return ToolCall(
            tool=tool, args=args, source="template", text=text, open_question=open_question, ask_first=ask_first
        )

    def match_fuzzy(
        self, text: str, live: dict[str, list[str]] | None = None, min_score: float = 0.86
    ) -> ToolCall | None:
        """A template match that tolerates speech-to-text errors ("can't sail the pasta timer").

        The request, with its numbers replaced by '#', is compared character by character with every
        template sentence sampled with '#' for its number ranges; the closest one at or above
        `min_score` is filled with the request's numbers and matched exactly. The call's score is the
        similarity (0..1)."""
        shape, values = number_shape(clean(text))
        index = self._fuzzy_index(live or {})
        best = process.extractOne(shape, index.shapes, scorer=fuzz.ratio, score_cutoff=min_score * 100)
        if best is None:
            return None
        _, score, position = best
        template = index.shapes[position]
        if template.count("#") != len(values):
            return None
        filled = template
        for value in values:
            filled = filled.replace("#", str(value), 1)
        call = self.match(filled, live, fuzzy=True)
        if call is None:
            return None
        return ToolCall(call.tool, call.args, "template", text, round(score / 100, 3), call.open_question)

    def _fuzzy_index(self, live: dict[str, list[str]]) -> _FuzzyIndex:
        """Sampled template sentences for fuzzy matching. Sampling takes most of a second, so it is
        done once, with a marker word for each live list; only the few sentences holding a marker are
        expanded with the live names on each request."""
        key = tuple(sorted((k, tuple(v)) for k, v in live.items() if k in self._live_lists))
        if self._fuzzy_live is None or self._fuzzy_live[0] != key:
            static_shapes, live_shapes = self.template_shapes()
            if self._live_marks is None:  # which lists each shape names: found once, not per change
                self._live_marks = [
                    frozenset(name for name in self._live_lists if LIVE_MARK + name in shape) for shape in live_shapes
                ]
            shaped = {name: [number_shape(clean(v))[0] for v in values] for name, values in live.items()}
            expanded = [
                e
                for shape, names in zip(live_shapes, self._live_marks, strict=True)
                for e in _expand_live(shape, [(name, shaped[name]) for name in live if name in names])
            ]
            self._fuzzy_live = (key, _FuzzyIndex(static_shapes + expanded))
        return self._fuzzy_live[1]

    def fills_wildcard(self, text: str, live: dict[str, list[str]] | None = None) -> bool:
        """Whether `text` matches a template exactly with words a wildcard takes (a reminder's words,
        a new timer's name)."""
        result = recognize_best(
            clean(text), self._intents, slot_lists=self._slot_lists(live), skip_words=self._skip_words
        )
        return (
            result is not None
            and not (result.intent_metadata or {}).get("last_resort")
            and any(e.is_wildcard for e in result.entities_list)
        )

    def _slot_lists(self, live: dict[str, list[str]] | None) -> dict[str, SlotList]:
        return {
            name: TextSlotList.from_strings(values)
            for name, values in (live or {}).items()
            if name in self._live_lists and values
        }

    def template_shapes(self) -> tuple[list[str], list[str]]:
        """Every sentence the templates can say, '#' standing for each number: those without a live
        name, and those with LIVE_MARK + the list's name where a live name goes ("set a
        livelist_timer_name timer for # minutes"). Sampled once (most of a second), and kept on disk."""
        if self._fuzzy_static is None:
            derived = self._derived
            self._fuzzy_static = derived.shapes(self._sampled_shapes) if derived is not None else self._sampled_shapes()
        return self._fuzzy_static

    def _sampled_shapes(self) -> tuple[list[str], list[str]]:
        marked: dict[str, SlotList] = {name: TextSlotList.from_strings([LIVE_MARK + name]) for name in self._live_lists}
        ranges = {name for name, sl in self._intents.slot_lists.items() if isinstance(sl, RangeSlotList)}
        static: dict[str, None] = {}
        with_live: dict[str, None] = {}
        # Live lists share names with Home Assistant's wildcard lists (timer_name), so sentences
        # with wildcards are sampled too, and those still holding a wildcard are dropped here.
        for _, sentence in sample_intents(
            self._intents,
            slot_lists=marked,
            language=self._language,
            expand_ranges=False,
            exclude_sentences_with_wildcards=False,
        ):
            if any(name not in ranges for name in _PLACEHOLDER.findall(sentence)):
                continue
            shape = _PLACEHOLDER.sub("#", clean(sentence))
            (with_live if LIVE_MARK in shape else static)[shape] = None
        return list(static), list(with_live)

    def warm_up(self) -> None:
        """Compile the templates and sample the fuzzy index now rather than on the first request."""
        self.match("what time is it")
        self._fuzzy_index({})


def _checked_words(skill: str, declared: object, tools: dict[str, ToolSpec]) -> dict[str, list[str]]:
    """A skill's `words:`, checked: the words and short phrases people use for each of its tools that
    its templates do not say ("rouse", "get me up"). They only decide which tools the planner is
    offered (prompt.ToolIndex); no template matches them."""
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise SkillError(f"skill '{skill}': words must map each tool to a list of words and phrases")
    out: dict[str, list[str]] = {}
    for tool, said in declared.items():
        if tool not in tools:
            raise SkillError(f"skill '{skill}': words for '{tool}', which is not one of its tools")
        if not isinstance(said, list):
            raise SkillError(f"skill '{skill}': words for '{tool}' must be a list of words and phrases")
        if len(said) > MAX_DECLARED:
            raise SkillError(f"skill '{skill}': {len(said)} words for '{tool}', more than {MAX_DECLARED}")
        for entry in said:
            if (fault := declared_fault(entry)) is not None:
                raise SkillError(f"skill '{skill}': words for '{tool}': {entry!r}: {fault}")
        out[f"{skill}.{tool}"] = list(said)
    return out


def number_shape(text: str) -> tuple[str, list[int]]:
    """`text` with each number, in digits or words, replaced by '#', and the numbers in order."""
    words = text.replace("-", " ").split()
    shape: list[str] = []
    values: list[int] = []
    at = 0
    for span in find_numbers(words):
        shape += words[at : span.start] + ["#"]
        values.append(span.value)
        at = span.end
    return " ".join(shape + words[at:]), values


def _expand_live(shape: str, lists: list[tuple[str, list[str]]]) -> list[str]:
    """Template shapes with the live names of the `lists` the shape names put in, each already
    number-shaped like the request ("turn on bench light one" finds "turn on bench light #" and is
    filled back to "… light 1"). With no lists the shape names a list nobody has a name in."""
    if not lists:
        return [] if LIVE_MARK in shape else [shape]
    out = [shape]
    for name, values in lists:
        mark = LIVE_MARK + name
        out = [s.replace(mark, v, 1) for s in out for v in values]
    return list(dict.fromkeys(s for s in out if LIVE_MARK not in s))


@dataclass(frozen=True)
class _FuzzyIndex:
    shapes: list[str]
    """Template sentences with '#' for numbers: compared with the request, then filled with its numbers."""


LIVE_MARK = "livelist_"

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SPACES = re.compile(r"\s+")
_ARTICLE = re.compile(r"^(the|a|an|my|our) ")
_NOT_NAMES = {"", "it", "a", "an", "the", "at", "this", "that", "my", "one", "and", "to", "of", "for"}
"""A wildcard name keeps what precedes it: "set the oven timer" names the timer "oven", not "the oven"."""


def clean(text: str) -> str:
    """Whisper punctuates and capitalises; templates match plain words."""
    text = text.replace("’", "'").strip().strip(".!?,;:").lower()
    text = re.sub(r"(?<=\w)[.!?,;:](?=\s|$)", "", text)
    return _SPACES.sub(" ", text)
