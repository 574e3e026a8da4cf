"""A token bucket: ECI's rate limit on CreateContainerGroup, per account (pure: time is passed in).

The bucket holds at most ``burst`` tokens and gains ``per_second`` of them each second; a call takes one.
Alibaba documents CreateContainerGroup's limit this way: burst 100, 20 per second (fact sheet section 4).
Over any stretch of ``t`` seconds at most ``burst + per_second * t`` tokens are taken, which is what a
test of a throttled burst checks. No clock here: every method takes ``now``, so the runtime drives it with
its injected clock and the unit tests with plain timestamps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EPSILON = 1e-9  # a timer may fire a hair before the token is whole: count it as whole


@dataclass
class TokenBucket:
    burst: int
    per_second: float
    tokens: float
    at: dt.datetime  # when ``tokens`` was counted

    @classmethod
    def full(cls, burst: int, per_second: float, now: dt.datetime) -> TokenBucket:
        return cls(burst=burst, per_second=per_second, tokens=float(burst), at=now)

    def _refill(self, now: dt.datetime) -> None:
        elapsed = max(0.0, (now - self.at).total_seconds())  # a clock stepping back refills nothing
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.per_second)
        self.at = max(self.at, now)

    def take(self, now: dt.datetime) -> bool:
        """Take one token if there is one now."""
        self._refill(now)
        if self.tokens + EPSILON < 1.0:
            return False
        self.tokens = max(0.0, self.tokens - 1.0)
        return True

    def next_token_at(self, now: dt.datetime) -> dt.datetime:
        """When the bucket next holds a whole token (``now`` if it holds one already)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        if missing <= EPSILON:
            return now
        return self.at + dt.timedelta(seconds=missing / self.per_second)

    def resize(self, burst: int, per_second: float, now: dt.datetime) -> None:
        """New limits: the tokens counted so far stay, capped at the new burst."""
        self._refill(now)
        self.burst, self.per_second = burst, per_second
        self.tokens = min(self.tokens, float(burst))
