"""The record written after every tool call, whoever asked for it: what ran, with which arguments,
from where, how it went and how long it took. It goes into the audit trail (audit.py), durably,
before the reply is spoken or the routine goes on."""

from __future__ import annotations

from typing import Any

from assistant.plugins.api import ToolCall, ToolResult
from assistant.trust.audit import AuditLog

ORIGINS = ("voice", "phone", "text", "routine", "wyoming")
"""Where a call came from: the room's microphone, a paired phone, `assistant ask`, a routine, a
Wyoming client (Home Assistant; its address goes in the record as `peer`)."""


def record_call(
    audit: AuditLog, origin: str, call: ToolCall, result: ToolResult, duration_s: float, **more: Any
) -> dict[str, Any]:
    return audit.append(
        "tool_call",
        origin=origin,
        skill=call.tool.split(".")[0],
        tool=call.tool,
        args=call.args,
        source=call.source,
        score=call.score,
        text=call.text,
        ok=result.ok,
        duration_s=round(duration_s, 4),
        result=result.data,
        **more,
    )
