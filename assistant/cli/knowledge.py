"""`assistant knowledge add-folder|remove-folder|folders|scan|search|ask|notes`: the household's
documents from a shell, as text or `--json`. `ask` answers as the voice would (the LLM, from the
passages). `notes` lists the assistant's notes; `notes add TEXT` and `notes remove ID` change them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.cli.actions import actions_of
from assistant.core.config import Config
from assistant.core.errors import KnowledgeError
from assistant.knowledge.index import KnowledgeIndex, ScanReport, configured_folders
from assistant.trust.admin import record_admin


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    action = actions_of(sub, "knowledge", "the household's documents and notes: folders, index, search", common)
    add = action("add-folder", "add a folder of documents (PDF, text, Markdown, HTML) and index it")
    add.add_argument("path", type=Path)
    add.add_argument("--no-scan", action="store_true", help="add it without indexing now")
    action("remove-folder", "stop reading a folder (its files are not touched)").add_argument("path", type=Path)
    action("folders", "the folders read, and the documents found in them")
    action("scan", "bring the index up to date: new, changed and removed documents")
    search = action("search", "the passages that best match a question, with their source and page")
    search.add_argument("query")
    search.add_argument("--top", type=int, default=5)
    ask = action("ask", "answer a question from the documents, as the voice would, with its source and passage")
    ask.add_argument("question")
    notes = action("notes", "the assistant's notes; `notes add TEXT`, `notes remove ID`")
    notes.add_argument("change", nargs="?", choices=["add", "remove"])
    notes.add_argument("value", nargs="?", help="the note's text (add) or its number (remove)")


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    if args.action == "ask":
        return _ask(args, config, data_dir)
    index = KnowledgeIndex(data_dir, configured_folders(config), semantic=config.knowledge.semantic)
    try:
        if args.action == "add-folder":
            return _add_folder(args, index, data_dir)
        return _ACTIONS[args.action](args, index)
    finally:
        index.close()


def _out(args: argparse.Namespace, data: Any, text: str) -> int:
    print(json.dumps(data, indent=1, ensure_ascii=False) if args.json else text)
    return 0


def _scan_text(report: ScanReport) -> str:
    lines = [
        f"{report.added} new, {report.changed} changed, {report.removed} removed, {report.unchanged} unchanged: "
        f"{report.pages} pages, {report.passages} passages in {report.seconds:.1f} s"
    ]
    lines += [f"not read: {path}: {why}" for path, why in report.failed]
    return "\n".join(lines)


def _add_folder(args: argparse.Namespace, index: KnowledgeIndex, data_dir: Path) -> int:
    """Added folders are read by the assistant (and answered from to anyone who asks): audited."""
    path, added = index.add_folder(args.path)
    if added:
        record_admin(data_dir, "folder added", "cli", path=str(path), to="knowledge")
    report = None if args.no_scan else index.scan()
    text = f"{'added' if added else 'already read:'} {path}" + (f"\n{_scan_text(report)}" if report else "")
    return _out(args, {"folder": str(path), "added": added, "scan": report.record() if report else None}, text)


def _remove_folder(args: argparse.Namespace, index: KnowledgeIndex) -> int:
    if not index.remove_folder(args.path):
        raise KnowledgeError(
            f"{args.path} is not a folder added with `assistant knowledge add-folder` "
            "(folders from the config are changed there)"
        )
    return _out(
        args, {"removed": str(args.path)}, f"removed {args.path} (`assistant knowledge scan` forgets its documents)"
    )


def _folders(args: argparse.Namespace, index: KnowledgeIndex) -> int:
    folders = [str(f) for f in index.folders()]
    documents = index.documents()
    text = "\n".join(folders) if folders else "no folders yet: `assistant knowledge add-folder PATH`"
    text += f"\n{len(documents)} documents" + "".join(
        f"\n  not read: {d['path']}: {d['error']}" for d in documents if d["error"]
    )
    return _out(args, {"folders": folders, "documents": documents}, text)


def _scan(args: argparse.Namespace, index: KnowledgeIndex) -> int:
    report = index.scan()
    return _out(args, report.record(), _scan_text(report))


def _search(args: argparse.Namespace, index: KnowledgeIndex) -> int:
    if not 1 <= args.top <= 50:
        raise KnowledgeError("--top must be between 1 and 50")
    hits = index.search(args.query, args.top)
    text = (
        "\n\n".join(f"{h.named()} ({h.score:.2f}):\n  {h.text}" for h in hits)
        or "nothing in your documents matches that"
    )
    return _out(args, {"query": args.query, "hits": [h.record() for h in hits]}, text)


def _ask(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    """With the whole core, so the answer is the one the voice would give (the planner's LLM)."""
    from assistant.app.runtime import build_core
    from assistant.core.bus import Bus

    if not args.question.strip():
        raise KnowledgeError('ask a question: `assistant knowledge ask "how do I descale the coffee machine"`')
    core = build_core(config, data_dir, Bus(), plays=False)
    assert core.answerer is not None
    answer = core.answerer.ask(args.question)
    hit = answer.hit
    return print_answer(
        args,
        {"question": args.question, **answer.record()},
        answer.speech,
        hit.named() if hit is not None else None,
        hit.text if hit is not None else None,
    )


def print_answer(
    args: argparse.Namespace, record: dict[str, Any], speech: str, source: str | None, passage: str | None
) -> int:
    """An answer as `knowledge ask` prints it, whether this process or the running assistant found it."""
    text = speech if source is None else f"{speech}\n\n{source}:\n  {passage}"
    return _out(args, record, text)


def _notes(args: argparse.Namespace, index: KnowledgeIndex) -> int:
    if args.change == "add":
        if not args.value:
            raise KnowledgeError(
                'say what to remember: `assistant knowledge notes add "the spare key is in the blue box"`'
            )
        note_id = index.remember(args.value)
        return _out(args, {"added": note_id}, f"noted ({note_id})")
    if args.change == "remove":
        if not (args.value or "").isdigit():
            raise KnowledgeError("give the note's number, as `assistant knowledge notes` lists it")
        if not index.forget(int(args.value)):
            raise KnowledgeError(f"there is no note {args.value}")
        return _out(args, {"removed": int(args.value)}, f"forgot note {args.value}")
    notes = index.notes()
    lines = [f"{n['id']:4d}  {n['text']}" + (f"  ({n['owner']}'s only)" if n["owner"] else "") for n in notes]
    return _out(args, {"notes": notes}, "\n".join(lines) or "no notes yet")


_ACTIONS = {"remove-folder": _remove_folder, "folders": _folders, "scan": _scan, "search": _search, "notes": _notes}
