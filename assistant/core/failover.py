"""The one failover from a server on another machine to the local model, used by the LLM server
(planner.fallback) and by the Wyoming speech servers (stt.server, tts.server)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Failover:
    """A server that does not answer is marked down and the local model answers that request at
    once. It is tried again `retry_s` after it failed (with `retry_s` None, only once a probe finds
    it answering) and kept while it answers. A server that answers badly has answered: its error is
    the answer, and it is raised."""

    def __init__(self, what: str, unreachable: type[Exception], retry_s: float | None = None) -> None:
        """`what` names the server in the log ("the LLM server at http://…"); `unreachable` is the
        error that means it did not answer."""
        self.what = what
        self.unreachable = unreachable
        self.retry_s = retry_s
        self.down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        down = self.down_since
        return down is None or (self.retry_s is not None and time.monotonic() - down >= self.retry_s)

    def call(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        if self.up:
            try:
                value = remote()
            except self.unreachable as e:
                self.failed(getattr(e, "message", None) or str(e))
            except Exception:
                self.answered()
                raise
            else:
                self.answered()
                return value
        return local()

    def failed(self, why: str) -> None:
        with self._lock:
            was_up, self.down_since = self.down_since is None, time.monotonic()
        if was_up:
            log.warning("%s failed (%s): the local model answers until it answers again", self.what, why)

    def answered(self) -> None:
        with self._lock:
            was_down, self.down_since = self.down_since is not None, None
        if was_down:
            log.info("%s answers again", self.what)
