"""Text out of a document, page by page: PDF (pypdf), plain text, Markdown and HTML. A file that
cannot be read is a KnowledgeError naming it; the others are read all the same."""

from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import KnowledgeError

SUFFIXES = {
    ".pdf": "pdf",
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
MAX_BYTES = 50 * 1024 * 1024
"""A larger file is not a household document worth reading whole (a scanned book, a disk image)."""


@dataclass(frozen=True)
class Page:
    number: int | None
    """1-based page of a PDF; None for a document without pages."""
    text: str


@dataclass(frozen=True)
class Document:
    title: str
    """What the reply calls it: the PDF's own title, the first heading, or the file's name in words."""
    kind: str
    pages: list[Page]


def readable(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.name.startswith((".", "~$"))


def read_document(path: Path) -> Document:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise KnowledgeError(f"{path.name}: only PDF, text, Markdown and HTML documents are read")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise KnowledgeError(f"{path} cannot be read: {e.strerror or e}") from None
    if size > MAX_BYTES:
        raise KnowledgeError(f"{path.name} is larger than {MAX_BYTES // 2**20} MiB and is not read")
    if kind == "pdf":
        return _pdf(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise KnowledgeError(f"{path} cannot be read: {e.strerror or e}") from None
    text = raw.decode("utf-8", errors="replace")
    if kind == "html":
        return _html(path, text)
    title = _first_heading(text) if kind == "markdown" else None
    return Document(title or _name_in_words(path), kind, [Page(None, text)])


def _pdf(path: Path) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise KnowledgeError(f"{path.name} is encrypted: save an unlocked copy to have it read")
        pages = [Page(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
        meta_title = reader.metadata.title if reader.metadata else None
    except KnowledgeError:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise KnowledgeError(f"{path.name} is not a readable PDF ({type(e).__name__})") from None
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else _name_in_words(path)
    return Document(title, "pdf", pages)


class _Text(html.parser.HTMLParser):
    SKIP = {"script", "style", "head", "nav", "noscript"}
    BREAK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.heading = ""
        self._skip = 0
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._in.append(tag)
        if tag in self.SKIP:
            self._skip += 1
        if tag in self.BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title += data
        elif current == "h1" and not self.heading:
            self.heading = data.strip()
        if not self._skip:
            self.parts.append(data)


def _html(path: Path, text: str) -> Document:
    parser = _Text()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as e:
        raise KnowledgeError(f"{path.name} is not readable HTML ({e})") from None
    title = parser.title.strip() or parser.heading or _name_in_words(path)
    return Document(title, "html", [Page(None, "".join(parser.parts))])


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def _name_in_words(path: Path) -> str:
    """ "coffee-machine_manual.pdf" → "coffee machine manual"."""
    return " ".join(re.sub(r"[_\-.]+", " ", path.stem).split()) or path.name
