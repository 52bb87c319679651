"""MkDocs hook: the configuration and event references, written at build time from the code itself
(the dataclasses, their field docstrings, and the defaults `load_config` gives), so they cannot drift.

A page asks for one with `<!-- generated: configuration -->` or `<!-- generated: events -->`.
tests/test_docs.py builds the site with `mkdocs build --strict` and checks that every setting and
every event field has a docstring to show.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields (a string right after `name: type = …`)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def inherited_field_docs(cls: type) -> dict[str, str]:
    """`field_docs` of `cls` and of the dataclasses it inherits from in its own module."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and klass.__module__ == cls.__module__:
            docs.update(field_docs(klass))
    return docs


def class_doc(cls: type) -> str:
    """The class's own docstring; "" where there is none (a dataclass gets its signature as one)."""
    doc = cls.__doc__ or ""
    return "" if doc.startswith(cls.__name__ + "(") else inspect.cleandoc(doc)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _type_name(hint: Any) -> str:
    text = hint if isinstance(hint, str) else getattr(hint, "__name__", str(hint))
    return text.replace("typing.", "").replace("|", "or")


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list | tuple):
        return (
            f"`{list(value) if isinstance(value, tuple) else value}`"
            if value
            else ("`{}`" if isinstance(value, dict) else "`[]`")
        )
    return f"`{value}`"


def configuration() -> str:
    from assistant.core.config import Config, load_config

    defaults = load_config(environ={})
    out = []
    for section in dataclasses.fields(Config):
        cls = type(getattr(defaults, section.name))
        docs = field_docs(cls)
        out.append(f"### `{section.name}`\n")
        if class_doc(cls):
            out.append(_one_line(class_doc(cls)) + "\n")
        out.append("| setting | type | default | what it does |\n|---|---|---|---|")
        for f in dataclasses.fields(cls):
            value = getattr(getattr(defaults, section.name), f.name)
            env = f"ASSISTANT__{section.name.upper()}__{f.name.upper()}"
            doc = _one_line(docs.get(f.name, ""))
            out.append(
                f"| `{section.name}.{f.name}`<br><small>`{env}`</small> | {_type_name(f.type)} | {_value(value)} | {doc} |"
            )
        out.append("")
    return "\n".join(out)


def events() -> str:
    from assistant.core import events as module

    out = []
    kinds = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, module.Event) and c is not module.Event and c.__module__ == module.__name__
    ]
    base = {f.name for f in dataclasses.fields(module.Event)}
    for cls in sorted(kinds, key=lambda c: inspect.getsourcelines(c)[1]):
        out.append(f"### `{cls.type}`\n")
        if class_doc(cls):
            out.append(_one_line(class_doc(cls)) + "\n")
        fields = [f for f in dataclasses.fields(cls) if f.name not in base]
        if fields:
            docs = inherited_field_docs(cls)
            out.append("| field | type | meaning |\n|---|---|---|")
            for f in fields:
                out.append(f"| `{f.name}` | {_type_name(f.type)} | {_one_line(docs.get(f.name, ''))} |")
        out.append("")
    return "\n".join(out)


GENERATED = {"configuration": configuration, "events": events}


def on_page_markdown(markdown: str, **_: Any) -> str:
    for name, make in GENERATED.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
