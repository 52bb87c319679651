"""The household's key file, and the keys derived from it for each job (the vault's secrets, the
audit trail's MACs, the trail's signed head)."""

from __future__ import annotations

import hashlib
import hmac

KEY_FILE = "vault.key"


def derive(key: bytes, purpose: str) -> bytes:
    """A key for one job (`purpose`), derived from `key` so that it never reveals it."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()
