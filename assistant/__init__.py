"""An offline, voice-first home assistant."""

__version__ = "0.1.0"
