"""The one failover from an LLM server to the local model (planner.fallback), for every prompt."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from assistant.core.errors import AssistantError, LLMUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")


class Failover:
    """A server that does not answer is marked down and the local model answers that request at
    once; the server is tried again `retry_s` after it failed, and kept while it answers. A server
    that answers badly has answered: its error is the answer."""

    def __init__(self, where: str, retry_s: float = 15.0) -> None:
        self.where = where
        self.retry_s = retry_s
        self.down_since: float | None = None

    @property
    def up(self) -> bool:
        return self.down_since is None or time.monotonic() - self.down_since >= self.retry_s

    def call(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        if self.up:
            try:
                value = remote()
            except LLMUnreachable as e:
                self.failed(e)
            except AssistantError:  # it answered, badly: that is the answer
                self.answered()
                raise
            else:
                self.answered()
                return value
        return local()

    def failed(self, e: AssistantError) -> None:
        if self.down_since is None:
            log.warning("%s: the local model answers until it answers again", e.message)
        self.down_since = time.monotonic()

    def answered(self) -> None:
        if self.down_since is not None:
            log.info("the LLM server at %s answers again", self.where)
        self.down_since = None
