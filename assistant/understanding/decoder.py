"""Greedy decoding of one tool call under its JSON schema, with the text the schema forces written in
one batch instead of generated token by token.

On two cores every token the model generates costs ~70 ms, but a batch of ten costs ~290 ms. In
`{"device.set_brightness": {"percent": 20, "device": "kitchen"}}` most tokens are forced once a few
choices are made (which tool, which key, which value): `.set_brightness": {"percent": ` follows
from "device" and the key. So the decoder walks the schema itself: at each choice it tokenizes every
allowed continuation, follows them as a token trie, asks the model only where the continuations part,
and leaves a forced tail unevaluated until something needs the model's next logits. Free text (a
string argument) is generated token by token with only tokens a JSON string allows.

It understands the shapes tools declare (objects of strings, enums, whole numbers, booleans);
`supports()` says whether a schema is one of them, and the planner uses llama.cpp's grammar for any
other. Ranges (`minimum`, `maximum`) are not enforced here, as in llama.cpp's grammar: the tool's
validation rejects them with a clear message.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_DIGITS = 6
"""A number nobody says in a home command is longer than this (86400 seconds is five)."""

MAX_STRING_TOKENS = 40


def supports(schema: dict[str, Any]) -> bool:
    """Whether `schema` (a tool's arguments object) is a shape this decoder writes."""
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return False
    return all(_kind(p) is not None for p in schema["properties"].values())


def _kind(prop: dict[str, Any]) -> str | None:
    if "enum" in prop:
        ok = all(isinstance(v, str) and '"' not in v and "\\" not in v for v in prop["enum"]) and prop["enum"]
        return "enum" if ok else None
    return {"string": "string", "integer": "integer", "boolean": "boolean"}.get(prop.get("type", ""))


class Pieces:
    """Each token's text, in one buffer: the vocabulary as 152k bytes objects in a list and a dict
    took 18 MB; this and the lookup below take about 5 MB."""

    def __init__(self, pieces: list[bytes]) -> None:
        lengths = [len(p) for p in pieces]
        self._blob = b"".join(pieces)
        self._starts = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._starts[1:])
        # A piece's token by its text: hashes sorted, each with the lowest token of its text first
        # (the tokenizer's own choice where two tokens have one text).
        hashes = np.array([hash(p) for p in pieces], dtype=np.int64)
        tokens = np.array([t for t, p in enumerate(pieces) if p], dtype=np.int64)
        order = tokens[np.lexsort((tokens, hashes[tokens]))]
        self._sorted_hashes = hashes[order]
        self._sorted_tokens = order
        self.longest = max(lengths, default=0)

    def __getitem__(self, token: int) -> bytes:
        return self._blob[self._starts[token] : self._starts[token + 1]]

    def tokens_of(self, texts: list[bytes]) -> list[int | None]:
        """The token whose text is each of `texts` (None where no token's is)."""
        if not texts:
            return []
        wanted = np.array([hash(t) for t in texts], dtype=np.int64)
        at = np.searchsorted(self._sorted_hashes, wanted)
        found: list[int | None] = []
        for text, h, i in zip(texts, wanted.tolist(), at.tolist(), strict=True):
            token = None
            while i < len(self._sorted_hashes) and self._sorted_hashes[i] == h:
                if self[int(self._sorted_tokens[i])] == text:
                    token = int(self._sorted_tokens[i])
                    break
                i += 1
            found.append(token)
        return found


class Vocabulary:
    """Each token's text (bytes) and the token sets free values are generated from."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        vocab = llm._model.vocab
        n = llm.n_vocab()
        buf = ctypes.create_string_buffer(256)
        pieces: list[bytes] = []
        for token in range(n):
            size = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
            pieces.append(buf.raw[:size] if size > 0 else b"")
        self.string_body = np.array([_string_safe(p) for p in pieces], dtype=bool)
        """Tokens that may sit inside a JSON string: no quote, backslash or control byte."""
        self.string_close = np.array([_closes_string(p) for p in pieces], dtype=bool)
        """Tokens that close a string: plain string text, the quote, anything after it."""
        self.digits = np.array([bool(p) and p.isdigit() for p in pieces], dtype=bool)
        self.after_number = np.array([p[:1] in (b",", b"}") for p in pieces], dtype=bool)
        """Tokens that end a number: the next key or the end of the object."""
        self.pieces = Pieces(pieces)

    def prefixes(self, text: bytes) -> list[int]:
        """The tokens whose text begins `text`."""
        heads = [text[:k] for k in range(1, min(len(text), self.pieces.longest) + 1)]
        return [t for t in self.pieces.tokens_of(heads) if t is not None]


def _closes_string(piece: bytes) -> bool:
    quote = piece.find(b'"')
    return quote >= 0 and piece[:quote].isascii() and _string_safe(piece[:quote], empty=True)


def _string_safe(piece: bytes, empty: bool = False) -> bool:
    if not piece:
        return empty
    return b'"' not in piece and b"\\" not in piece and min(piece) >= 0x20


class Decoding:
    """One greedy decode continuing `prompt` in the model's KV cache (the caller holds the model).

    `out` is the text decided so far; `_carry` is the end of it that is decided but not yet
    tokenized, because the next choice may tokenize it together with what follows."""

    def __init__(self, llm: Any, vocabulary: Vocabulary, prompt: list[int]) -> None:
        self.llm = llm
        self.vocabulary = vocabulary
        self.out = b""
        self._carry = ""
        self._pending: list[int] = []
        self._logits: np.ndarray | None = None
        self.evaluations = 0
        self._feed(prompt)

    def _feed(self, prompt: list[int]) -> None:
        """Evaluate `prompt`, reusing the cached tokens it begins with (the system prompt)."""
        same = type(self.llm).longest_token_prefix(self.llm.input_ids[: self.llm.n_tokens], prompt)
        same = min(same, len(prompt) - 1)  # at least one token, for its logits
        self.llm.n_tokens = same
        self._pending = list(prompt[same:])
        self._logits = None

    def _next_logits(self) -> np.ndarray:
        if self._pending:
            self.llm.eval(self._pending)
            self.evaluations += 1
            self._pending = []
            self._logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),)).copy()
        assert self._logits is not None, "a decode starts by feeding its prompt"
        return self._logits

    def logits(self) -> np.ndarray:
        """The model's scores for the next token, after what is decided so far."""
        self._commit()
        return self._next_logits()

    def line(self, max_tokens: int, sentence: bool = False) -> str:
        """Free text, greedily, up to the end of the line or the model's end (with `sentence`, the end
        of the first sentence: a full stop not after a digit, or a space after one that was); what was
        generated."""
        import llama_cpp

        self._commit()
        v = self.vocabulary
        text = b""
        for _ in range(max_tokens):
            token = int(np.argmax(self._next_logits()))
            if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):  # <|im_end|>, end of text
                break
            piece = v.pieces[token]
            if b"\n" in piece:
                text += piece[: piece.index(b"\n")]
                break
            if sentence and text.rstrip().endswith((b".", b"!", b"?")) and piece[:1].isspace():
                break  # "1.2 bar." then " Read all …"
            self._pending.append(token)
            text += piece
            if sentence and text.endswith((b".", b"!", b"?")) and not text[-2:-1].isdigit():
                break
        self.out += text
        return text.decode(errors="replace")

    def write(self, text: str) -> None:
        """Text the schema forces here; tokenized with whatever is chosen next."""
        self._carry += text
        self.out += text.encode()

    def choose(self, options: Sequence[str], ender: np.ndarray | None = None) -> int:
        """Which of `options` the model prefers to write next (its index).

        The model picks among the tokens that begin what some option still has to write (any of
        them, not only the way the tokenizer would split it: ` {"` as one token, or ` {` then `"`),
        and is asked only where the options part; a tail only one option has left stays unwritten
        until something needs the model again. `ender`: the tokens that mean "stop here" where one
        option is the start of another (numbers)."""
        if len(options) == 1:
            self.write(options[0])
            return 0
        v = self.vocabulary
        texts = [(self._carry + option).encode() for option in options]
        pos = 0
        alive = list(range(len(options)))
        while len(alive) > 1:
            rests = [texts[i][pos:] for i in alive]
            finished = [i for i, rest in zip(alive, rests, strict=False) if not rest]
            common = os.path.commonprefix(rests)
            if common:
                # Write what all options share, but for its last token, which may join what follows.
                settled = self.llm.tokenize(common, add_bos=False, special=False)[:-1]
                if settled:
                    written = self.llm.detokenize(settled)
                    assert common.startswith(written), (common, written)
                    self._pending.extend(settled)
                    pos += len(written)
                    continue
            candidates = {t for rest in rests for t in v.prefixes(rest)}
            if len(candidates) == 1 and not finished:
                # One token can follow, whatever the model would say (the space before a number, the
                # second digit of "10"): asking it would cost a model call (~60 ms) for nothing.
                (token,) = candidates
                self._pending.append(token)
                piece = v.pieces[token]
                alive = [i for i in alive if texts[i][pos:].startswith(piece)]
                pos += len(piece)
                continue
            logits = self._next_logits()
            token = max(candidates, key=lambda t: logits[t])
            if finished:
                if ender is None:
                    raise ValueError("an option is the start of another and nothing says where it ends")
                if logits[token] < float(np.max(np.where(ender, logits, -np.inf))):
                    alive = finished[:1]
                    break
            piece = v.pieces[token]
            self._pending.append(token)
            alive = [i for i in alive if texts[i][pos:].startswith(piece)]
            pos += len(piece)
        (chosen,) = alive
        self._carry = texts[chosen][pos:].decode()
        self.out += options[chosen].encode()
        return chosen

    def _commit(self) -> None:
        if self._carry:
            self._pending.extend(self.llm.tokenize(self._carry.encode(), add_bos=False, special=False))
            self._carry = ""

    def string(self, max_bytes: int) -> None:
        """A JSON string's text and closing quote, generated; the opening quote is already written.
        A token that closes the string and goes on (`",`) counts as closing it; what it goes on with
        is left to the next choice."""
        self._commit()
        v = self.vocabulary
        text = b""
        for _ in range(MAX_STRING_TOKENS):
            logits = self._next_logits()
            allowed = v.string_close if len(text) >= max_bytes else v.string_body | v.string_close
            token = int(np.argmax(np.where(allowed, logits, -np.inf)))
            piece = v.pieces[token]
            if v.string_close[token]:
                closing = piece[: piece.index(b'"') + 1]
                self.out += text + closing
                self._carry = closing.decode()
                return
            self._pending.append(token)
            text += piece
        self.out += text
        self.write('"')

    def number(self) -> None:
        """A whole number of any size, digits only (the schema's range is checked by the tool)."""
        self._commit()
        v = self.vocabulary
        digits = b""
        while len(digits) < MAX_DIGITS:
            logits = self._next_logits()
            token = int(np.argmax(np.where(v.digits, logits, -np.inf)))
            if digits and logits[token] < float(np.max(np.where(v.after_number, logits, -np.inf))):
                break
            self._pending.append(token)
            digits += v.pieces[token]
        self.out += digits


def decode_arguments(decoding: Decoding, schema: dict[str, Any], said: frozenset[int] | None) -> None:
    """Write the arguments object of `schema` (see `supports`), in the schema's property order with
    any optional ones left out, as llama.cpp's grammar for the same schema allows.

    `said`: the whole numbers the request says. An optional whole number can then only be one of
    them or 0, and with none said it is not written at all (see schema.args_gbnf for why). Unlike that
    grammar, which has one rule for every number of a tool and so leaves them all open when one is
    required, the limit here is per property: a required number is always open, the optional ones
    beside it are still limited."""
    required = set(schema.get("required", []))
    props = [
        (name, prop)
        for name, prop in schema["properties"].items()
        if not (said is not None and not said and _kind(prop) == "integer" and name not in required)
    ]
    decoding.write("{")
    first = True
    while True:
        candidates: list[tuple[str, dict[str, Any]]] = []
        for name, prop in props:
            candidates.append((name, prop))
            if name in required:
                break
        can_end = not any(name in required for name, _ in props)
        sep = "" if first else ", "
        options = [
            sep + json.dumps(name) + ": " + ('"' if _kind(prop) == "string" else "") for name, prop in candidates
        ]
        picked = decoding.choose(options + (["}"] if can_end else []))
        if picked == len(candidates):
            return
        name, prop = candidates[picked]
        props = props[picked + 1 :]  # the candidates are the first of the properties left
        _value(decoding, prop, said if name not in required else None)
        first = False


def _value(decoding: Decoding, prop: dict[str, Any], said: frozenset[int] | None) -> None:
    kind = _kind(prop)
    if kind == "string":
        decoding.string(int(prop.get("maxLength", 200)))
    elif kind == "enum":
        decoding.choose([json.dumps(v) for v in prop["enum"]])
    elif kind == "boolean":
        decoding.choose(["true", "false"])
    elif said:
        decoding.choose([str(n) for n in sorted(said | {0})], ender=decoding.vocabulary.after_number)
    else:
        decoding.number()
