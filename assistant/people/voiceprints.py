"""Voiceprints at rest: one file per person in `people/`, encrypted under a key derived from the
vault's, so a copy of the folder tells nothing without the key, and nothing leaves the machine.

A file that does not open (another household's, damaged, written by hand) is left out at load with a
message naming it and what to do; the others still load.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet, InvalidToken

from assistant.core.errors import AssistantError
from assistant.core.store import atomic_write

PEOPLE_DIR = "people"
PURPOSE = "voiceprints"
SUFFIX = ".voiceprint"
DIMENSIONS = 256
ROLES = ("adult", "child", "guest")
"""The roles every household has; any other word is a custom role."""
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def a_role(role: str) -> str:
    """The role as said in a sentence: "an adult", "a child", "a cook"."""
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


MAX_NAME = 40
MAX_FILE_BYTES = 64 * 1024
"""A voiceprint file is about 1.5 KB; anything much larger is not one."""


class PeopleError(AssistantError):
    code = "people"


@dataclass(frozen=True)
class Person:
    name: str
    """As said and shown ("Anna")."""
    role: str
    """adult, child, guest, or a custom role."""
    voiceprint: np.ndarray
    """The mean of the enrolment clips' speaker embeddings, unit length (256 floats)."""
    enrolled_at: float
    clips: int
    """How many clips it was made from."""

    def describe(self) -> dict[str, object]:
        """What `people list` shows: never the voiceprint itself."""
        return {"name": self.name, "role": self.role, "enrolled_at": self.enrolled_at, "clips": self.clips}


def _one_spelling(name: str) -> str:
    """ "Annä" typed with a combining mark is "Annä"; a curly apostrophe is "'"; spaces are single."""
    return " ".join(unicodedata.normalize("NFC", name).replace("\u2019", "'").split())


def name_key(name: str) -> str:
    """What two spellings of one name share: "anna", "ANNA " and "Anna" are one person."""
    return _one_spelling(name).casefold()


def named(people: Iterable[Person], name: str) -> Person | None:
    """The person of this name among `people`, whatever its case or spelling, or None."""
    key = name_key(name)
    return next((p for p in people if name_key(p.name) == key), None)


def checked_name(name: str) -> str:
    """A person's name as given, or a PeopleError that says what a name may be."""
    cleaned = _one_spelling(name)
    if (
        not any(c.isalpha() for c in cleaned)
        or len(cleaned) > MAX_NAME
        or not all(c.isalpha() or c in " '-." for c in cleaned)
    ):
        raise PeopleError(
            f"{name!r} is not a name I can use: letters, spaces, apostrophes, hyphens and full stops, at most {MAX_NAME}"
        )
    return cleaned


def checked_role(role: str) -> str:
    cleaned = role.strip().lower()
    if not _ROLE.fullmatch(cleaned):
        raise PeopleError(
            f"{role!r} is not a role: use adult, child, guest, or one word of your own (letters, digits, - and _)"
        )
    return cleaned


def _file_name(name: str) -> str:
    """A file name that is the same for "Anna" and "anna", and safe whatever the name's letters."""
    return hashlib.sha256(name.casefold().encode()).hexdigest()[:24] + SUFFIX


_FOLDER_FIX = "it should be the folder of voiceprints; move it aside"


def sealed_files(data_dir: Path) -> int:
    """How many voiceprint files the data folder holds, read or not (0 if the folder cannot be read)."""
    try:
        return sum(1 for p in (data_dir / PEOPLE_DIR).iterdir() if p.name.endswith(SUFFIX))
    except OSError:
        return 0


def key_missing(data_dir: Path, vault_key: Path) -> str | None:
    """Why the voiceprints cannot be read when they are there but the vault key is not; else None.
    Without the message, a lost key looked like nobody enrolled: every voice allowed every role."""
    count = sealed_files(data_dir)
    if not count or vault_key.exists():
        return None
    return (
        f"{count} voiceprint file{'s are' if count != 1 else ' is'} in {data_dir / PEOPLE_DIR} but the vault key "
        f"{vault_key} is missing, so no voice can be told: restore the key from a backup, or move the folder "
        f"aside and enrol everyone again"
    )


class Voiceprints:
    """The people enrolled in one data folder."""

    def __init__(self, data_dir: Path, key: bytes) -> None:
        """key: the vault's key derived for PURPOSE (`Vault.derived_key(PURPOSE)`)."""
        self.folder = data_dir / PEOPLE_DIR
        self._box = Fernet(base64.urlsafe_b64encode(key[:32]))
        self._lock = threading.Lock()

    def load(self) -> tuple[list[Person], list[str]]:
        """Everyone enrolled, by name, and a message for each file left out."""
        people: list[Person] = []
        problems: list[str] = []
        try:
            files = sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return [], []
        except OSError as e:
            raise PeopleError(f"{self.folder} cannot be read ({e.strerror or e}): {_FOLDER_FIX}") from None
        for path in files:
            try:
                people.append(self._read(path))
            except PeopleError as e:
                problems.append(e.message)
        return sorted(people, key=lambda p: p.name.casefold()), problems

    def find(self, name: str) -> Person | None:
        path = self.folder / _file_name(checked_name(name))
        return self._read(path) if path.exists() else None

    def save(self, person: Person) -> None:
        vector = np.asarray(person.voiceprint, dtype=np.float32)
        if vector.shape != (DIMENSIONS,) or not np.all(np.isfinite(vector)):
            raise PeopleError(f"a voiceprint is {DIMENSIONS} numbers; this one is not")
        record = {
            "name": person.name,
            "role": person.role,
            "enrolled_at": person.enrolled_at,
            "clips": person.clips,
            "voiceprint": base64.b64encode(vector.tobytes()).decode(),
        }
        sealed = self._box.encrypt(json.dumps(record).encode())
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                atomic_write(self.folder / _file_name(person.name), sealed.decode())
            except (FileExistsError, NotADirectoryError) as e:
                raise PeopleError(f"{self.folder} is not a folder ({e.strerror or e}): {_FOLDER_FIX}") from None
            except IsADirectoryError:
                raise PeopleError(
                    f"{self.folder / _file_name(person.name)} is a folder where {person.name}'s voiceprint "
                    "belongs: move it aside"
                ) from None
            except OSError as e:
                raise PeopleError(
                    f"{person.name}'s voiceprint could not be saved in {self.folder}: {e.strerror or e}"
                ) from None

    def forget(self, name: str) -> bool:
        with self._lock:
            path = self.folder / _file_name(checked_name(name))
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except NotADirectoryError:
                raise PeopleError(f"{self.folder} is not a folder: {_FOLDER_FIX}") from None
            except IsADirectoryError:
                raise PeopleError(f"{path} is a folder, not a voiceprint: move it aside") from None
            except OSError as e:
                raise PeopleError(f"{path} could not be removed: {e.strerror or e}") from None
            return True

    def _read(self, path: Path) -> Person:
        what = f"the voiceprint file {path}"
        fix = "enrol that person again, or move the file aside"
        try:
            if not path.is_file():
                raise PeopleError(f"{what} is not a regular file; {fix}")
            if path.stat().st_size > MAX_FILE_BYTES:  # before reading: a link to a huge file is never read
                raise PeopleError(f"{what} is too large to be a voiceprint; {fix}")
            sealed = path.read_bytes()
            if len(sealed) > MAX_FILE_BYTES:
                raise PeopleError(f"{what} is too large to be a voiceprint; {fix}")
            record = json.loads(self._box.decrypt(sealed))
        except InvalidToken:
            raise PeopleError(
                f"{what} does not open with this household's key (another's, or damaged); {fix}"
            ) from None
        except (OSError, ValueError) as e:
            raise PeopleError(f"{what} cannot be read ({e}); {fix}") from None
        try:
            vector = np.frombuffer(base64.b64decode(record["voiceprint"], validate=True), dtype=np.float32).copy()
            person = Person(
                name=checked_name(str(record["name"])),
                role=checked_role(str(record["role"])),
                voiceprint=vector,
                enrolled_at=float(record["enrolled_at"]),
                clips=int(record["clips"]),
            )
        except (KeyError, TypeError, ValueError, PeopleError) as e:
            raise PeopleError(f"{what} is not a voiceprint ({e}); {fix}") from None
        norm = float(np.linalg.norm(person.voiceprint))
        if person.voiceprint.shape != (DIMENSIONS,) or not np.isfinite(norm) or abs(norm - 1.0) > 1e-3:
            raise PeopleError(f"{what} holds no usable voiceprint; {fix}")
        return person


def new_person(name: str, role: str, embeddings: list[np.ndarray]) -> Person:
    """A person from the speaker embeddings of their enrolment clips (each unit length)."""
    mean = np.mean(np.stack(embeddings), axis=0)
    return Person(
        checked_name(name),
        checked_role(role),
        (mean / np.linalg.norm(mean)).astype(np.float32),
        time.time(),
        len(embeddings),
    )
