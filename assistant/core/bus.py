"""In-process publish/subscribe of events. Subscribers are called synchronously and must be cheap."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import IO

from assistant.core.events import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the callable that removes it."""
        if subscriber in self._subscribers:
            raise ValueError("subscriber is already registered")
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken subscriber must never stop the pipeline
                log.exception("event subscriber failed on %s", event.type)


class JsonlWriter:
    """Writes every event as one JSON line and flushes, so a crash loses nothing already said."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: Event) -> None:
        self._stream.write(json.dumps(event.to_dict(), default=str) + "\n")
        self._stream.flush()
