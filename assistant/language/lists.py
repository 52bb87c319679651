"""Saying several things in one sentence."""

from __future__ import annotations


def and_list(items: list[str]) -> str:
    """["a", "b", "c"] → "a, b and c"; one item alone; nothing → ""."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def counted(count: int, one: str, many: str | None = None) -> str:
    """(1, "clip") → "1 clip"; (3, "clip") → "3 clips"."""
    return f"{count} {one if count == 1 else many or one + 's'}"
