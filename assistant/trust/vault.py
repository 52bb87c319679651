"""Secrets at rest: encrypted (Fernet: AES-128-CBC with an HMAC-SHA256) under a key file that only its
owner may read.

`vault.key` is made once, 0600, in the data folder; a key file that others can read is refused, with
the command that fixes it. The secrets themselves (`secrets.json`) are encrypted, so a backup of the
data folder or a stray copy of that file gives nothing away without the key. The same key, derived for
the purpose, signs the audit trail (audit.py), so a line cannot be rewritten by someone without it.
Making the key starts the trail: its first entry ("trail_started") is written under the new key before
the key is used for anything else, so a trail missing beside an existing key is always a deletion
(or a crash in the few milliseconds between the two writes, which `assistant audit --verify` reports
the same way).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from assistant.core.errors import AssistantError
from assistant.core.store import atomic_write
from assistant.trust.audit import AUDIT_PURPOSE, AuditLog
from assistant.trust.keys import KEY_FILE, derive

SECRETS_FILE = "secrets.json"


class VaultError(AssistantError):
    code = "vault"


def _start_audit_trail(data_dir: Path, key: bytes) -> None:
    AuditLog(data_dir, derive(key, AUDIT_PURPOSE)).start("the vault key was made")


class Vault:
    def __init__(self, data_dir: Path) -> None:
        self.key_path = data_dir / KEY_FILE
        self.path = data_dir / SECRETS_FILE
        self._lock = threading.Lock()
        self._fernet: Fernet | None = None

    def _key(self) -> bytes:
        """The key, made on first use. Never readable by anyone but its owner."""
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(self.key_path.stat().st_mode)
            if mode & 0o077:
                raise VaultError(
                    f"{self.key_path} can be read by others (mode {mode:o}); run "
                    f"`chmod 600 {self.key_path}` and start again"
                ) from None
            key = self.key_path.read_bytes().strip()
        else:
            key = Fernet.generate_key()
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                f.flush()
                os.fsync(f.fileno())
            _start_audit_trail(self.key_path.parent, key)
        try:
            Fernet(key)
        except ValueError as e:
            raise VaultError(
                f"{self.key_path} is not a vault key; restore it from a backup (without it the "
                "stored secrets cannot be read)"
            ) from e
        return key

    def _box(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._key())
        return self._fernet

    def exists(self) -> bool:
        """Whether the key was made (checked without making it)."""
        return self.key_path.exists()

    def derived_key(self, purpose: str) -> bytes:
        """A key for another job (signing the audit trail), derived so it never reveals this one."""
        return derive(self._key(), purpose)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as e:
            raise VaultError(f"{self.path} is damaged ({e}); restore it from a backup or move it aside") from e
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise VaultError(f"{self.path} is not a secrets file; restore it from a backup or move it aside")
        return data

    def get(self, name: str) -> str | None:
        with self._lock:
            sealed = self._read().get(name)
            if sealed is None:
                return None
            try:
                return self._box().decrypt(sealed.encode()).decode()
            except InvalidToken:
                raise VaultError(
                    f"the secret '{name}' does not open with {self.key_path}: the key file was "
                    "replaced; restore the old one from a backup"
                ) from None

    def put(self, name: str, value: str) -> None:
        with self._lock:
            data = self._read()
            data[name] = self._box().encrypt(value.encode()).decode()
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True))

    def delete(self, name: str) -> bool:
        with self._lock:
            data = self._read()
            if data.pop(name, None) is None:
                return False
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True))
            return True

    def get_or_make(self, name: str) -> str:
        """The secret `name`, made now (32 random bytes, URL-safe) if it does not exist yet."""
        found = self.get(name)
        if found is None:
            found = secrets.token_urlsafe(32)
            self.put(name, found)
        return found


def trail_of(data_dir: Path) -> AuditLog:
    """The data folder's trail, under its vault's key (made, with the trail's start, if there is none)."""
    return AuditLog(data_dir, Vault(data_dir).derived_key(AUDIT_PURPOSE))
