"""The shape every `assistant THING ACTION … [--json] [--data-dir DIR]` command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def actions_of(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: str,
    help_: str,
    common: Callable[[argparse.ArgumentParser], None],
) -> Callable[[str, str], argparse.ArgumentParser]:
    """Adds `command` with required actions; returns how to add one action (with --json and the
    common data options)."""
    actions = sub.add_parser(command, help=help_).add_subparsers(dest="action", required=True)

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_)
        a.add_argument("--json", action="store_true")
        common(a)
        return a

    return action
