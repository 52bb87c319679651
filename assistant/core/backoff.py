"""One restart schedule for everything that is started again after a crash: the supervised services
and the sandboxed skills' processes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The pause before restart number n (counting from 1): first_s · factor^(n-1), at most most_s.
    A service that then ran stable_s without crashing starts counting from 1 again."""

    first_s: float = 0.5
    factor: float = 2.0
    most_s: float = 30.0
    stable_s: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.most_s, self.first_s * self.factor ** max(0, failures - 1))
