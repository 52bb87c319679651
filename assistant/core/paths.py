"""Where the files shipped beside the code live: the default config, the shipped routines and the
voice manifest sit in the project folder next to `assistant/` (the README's setup installs the
project in place, so they are found from the code's own location)."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT / "config" / "default.yaml"
SHIPPED_ROUTINES = PROJECT / "config" / "routines"
VOICES_DIR = PROJECT / "voices"
"""The voice manifest (`voices.yaml`, the packaged voices) and any `NAME.onnx` of the household's own."""
