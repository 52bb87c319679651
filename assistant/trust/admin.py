"""Administrative changes (a folder added, a phone paired, a skill installed) written to the data
folder's audit trail, under its vault key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.trust.audit import ADMIN, AuditError
from assistant.trust.vault import trail_of


def record_admin(data_dir: Path, action: str, who: str, **details: Any) -> dict[str, Any]:
    """Write an administrative change to the trail of `data_dir`, durably, and return the entry.

    action: what was done, in a few words ("folder added", "phone paired", "phone revoked", "skill installed").
    who: who did it ("cli" for the command line, "admin" for the page's admin, "phone:<name>" …).
    details: what it was done to (path=…, phone=…, skill=…); secret-looking names are redacted."""
    if not action.strip() or not who.strip():
        raise AuditError("an administrative entry needs what was done and who did it")
    return trail_of(data_dir).append(ADMIN, action=action, who=who, **details)
