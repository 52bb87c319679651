"""The household's documents as searchable passages, and the assistant's own notes ("remember that
the spare key is in the blue box") beside them. This is the face the rest of the assistant uses; the
work is done along the data flow:

- ingest.py reads the folders (only what changed since the last scan) into passages and vectors;
- storage.py keeps them in one SQLite file in the data folder (`knowledge/index.db`);
- retrieval.py finds the best passages for a question, by words and by meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import Config
from assistant.core.errors import KnowledgeError
from assistant.knowledge import ingest
from assistant.knowledge.ingest import ScanReport
from assistant.knowledge.retrieval import Hit, Retrieval
from assistant.knowledge.storage import NOTES, IndexFile

__all__ = ["EVERYONE", "NOTES", "Hit", "KnowledgeIndex", "Reader", "ScanReport", "configured_folders"]


@dataclass(frozen=True)
class Reader:
    """Whose notes a search may use besides the household's: `name`'s own (None: nobody's, as for a
    voice nobody enrolled), or everyone's (`everyone`: typed on this machine, or nobody enrolled)."""

    name: str | None = None
    everyone: bool = False

    def may_read(self, owner: str | None) -> bool:
        return self.everyone or owner is None or (self.name is not None and owner.casefold() == self.name.casefold())


EVERYONE = Reader(everyone=True)


def configured_folders(config: Config) -> list[Path]:
    """folders.documents and knowledge.folders from the config."""
    named = config.folders.named()
    return [*([named["documents"]] if "documents" in named else []), *(Path(f) for f in config.knowledge.folders)]


class KnowledgeIndex:
    def __init__(self, data_dir: Path, configured: list[Path] | None = None, semantic: bool = True) -> None:
        """configured: folders from the config (folders.documents, knowledge.folders); more are added
        with `add_folder` and kept in the index. semantic: search by meaning as well as by words
        (each passage is embedded as it is indexed: about 35 passages a second on two cores)."""
        self._file = IndexFile(data_dir / "knowledge" / "index.db")
        self.configured = [p.expanduser().resolve() for p in configured or []]
        self.data_dir = data_dir
        self.semantic = semantic
        self._retrieval = Retrieval(self._file, self._embed_query if semantic else None, self.embed_missing)

    def close(self) -> None:
        self._file.close()

    # --- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Path]:
        return list(dict.fromkeys([*self.configured, *self._file.folders()]))

    def add_folder(self, folder: Path | str) -> tuple[Path, bool]:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise KnowledgeError(f"{folder} is not a folder")
        if path in self.folders():
            return path, False
        self._file.add_folder(path)
        return path, True

    def remove_folder(self, folder: Path | str) -> bool:
        return self._file.remove_folder(Path(folder).expanduser().resolve())

    # --- documents --------------------------------------------------------------------------

    def scan(
        self, progress: Callable[[int, int], None] | None = None, give_way: Callable[[], None] | None = None
    ) -> ScanReport:
        """Bring the index up to date with the folders (ingest.scan)."""
        report = ingest.scan(self._file, self.folders(), self.data_dir, self._embed, progress, give_way)
        if report.touched:
            self._retrieval.changed()
        return report

    def documents(self) -> list[dict[str, Any]]:
        return self._file.documents()

    def embed_missing(self) -> int:
        """Embed passages indexed without semantic search (an index from before it was turned on);
        returns how many."""
        if not self.semantic:
            return 0
        count = ingest.embed_missing(self._file, self._embed)
        if count:
            self._retrieval.vectors_changed()
        return count

    # --- notes ------------------------------------------------------------------------------

    def note_owners(self) -> list[str]:
        """The person each "only mine" note is told to."""
        return list(self._file.owners().values())

    def remember(self, text: str, owner: str | None = None) -> int:
        """A note of the household's, or only `owner`'s (told to nobody else)."""
        words = " ".join(text.split())
        if not words:
            raise KnowledgeError("there is nothing to remember")
        vectors = self._embed([f"your notes. {words}"])
        note_id = self._file.add_note(words, None if vectors is None else vectors[0], owner)
        self._retrieval.changed()
        return note_id

    def notes(self) -> list[dict[str, Any]]:
        return self._file.notes()

    def forget(self, note_id: int) -> bool:
        gone = self._file.drop_note(note_id)
        self._retrieval.changed()
        return gone

    # --- searching --------------------------------------------------------------------------

    def search(
        self, query: str, k: int = 5, within: list[Path] | None = None, notes: bool = True, reader: Reader = EVERYONE
    ) -> list[Hit]:
        """The best passages for `query`, best first (retrieval.py). `within`: only documents under
        these folders; `notes`: the household's notes too, and those of `reader`'s that are theirs."""
        owners = self._file.owners() if notes and not reader.everyone else {}
        hidden = frozenset(i for i, owner in owners.items() if not reader.may_read(owner))
        return self._retrieval.search(query, k, within, notes, hidden)

    def mend(self, question: str) -> str:
        """`question` with the words speech-to-text misheard spelled as the documents spell them
        ("guest Wi-Fi" → "guest wifi", "discale" → "descale"): see mending.py."""
        return self._retrieval.mend(question)

    def unknown(self, words: set[str]) -> set[str]:
        """Those of `words` (stems, as answering.content_words gives them) that no passage holds."""
        return self._retrieval.unknown(words)

    # --- embedding --------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> np.ndarray | None:
        if not self.semantic or not texts:
            return None
        from assistant.knowledge.embedding import shared_embedder

        return shared_embedder().embed(texts)

    def _embed_query(self, query: str) -> np.ndarray:
        from assistant.knowledge.embedding import shared_embedder

        vector: np.ndarray = shared_embedder().embed([query])[0]
        return vector
