"""ECI's CreateContainerGroup rate limit: one token bucket per account (= per profile) and a line of groups.

A group takes one token when it is created (the CreateContainerGroup call); with none left it waits,
Pending with reason ``Throttling``, and the groups waiting are served first come, first served (by the time
they asked, then in arrival order) as tokens come in. A token is taken once per group: ECI's own retries
after a stock-out happen inside ECI, on a group it already accepted, and a group adopted after an operator
restart was accepted already (a group recorded as throttled gets back in line at the time it first asked).
Profiles whose limit is off (the default) never wait. The bucket itself is ``domain.token_bucket``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from eci_operator.domain.token_bucket import TokenBucket
from eci_operator.models.profile import CreationRateLimit
from eci_operator.runtime.clock import Clock, Timer
from eci_operator.runtime.protocol import Key

THROTTLING = "Throttling"  # the condition reason (no dots allowed): ECI's API answers Throttling.User
THROTTLING_MESSAGE = (
    "Create ECI failed because the request was throttled (Throttling.User: Request was denied due to user "
    "flow control). %s"
)


@dataclass
class _Account:
    limit: CreationRateLimit
    bucket: TokenBucket
    line: list[tuple[dt.datetime, int, Key]] = field(default_factory=list)  # a heap: (asked at, seq, key)
    timer: Timer | None = None


class CreationThrottle:
    """The rate limit of every profile; ``grant(key)`` is called when a waiting group gets its token."""

    def __init__(self, clock: Clock, grant: Callable[[Key], None]) -> None:
        self.clock, self.grant = clock, grant
        self._accounts: dict[str, _Account] = {}
        self._waiting: dict[Key, str] = {}  # key -> profile, for the groups in a line
        self._seq = itertools.count()

    def configure(self, profile: str, limit: CreationRateLimit) -> None:
        """Take a profile's limit; a limit turned off lets every waiting group through at once."""
        now = self.clock.now()
        account = self._accounts.get(profile)
        if account is None:
            self._accounts[profile] = _Account(limit, TokenBucket.full(limit.burst, limit.per_second, now))
            return
        account.limit = limit
        account.bucket.resize(limit.burst, limit.per_second, now)
        self._serve(profile)

    def admit(self, profile: str, key: Key, asked_at: dt.datetime) -> bool:
        """A token now (True), or the group joins the profile's line (False: ``grant`` comes later)."""
        account = self._accounts.get(profile)
        if account is None or not account.limit.enabled:
            return True
        if key in self._waiting:
            return False
        self._serve(profile)  # the groups already in line come first
        if not account.line and account.bucket.take(self.clock.now()):
            return True
        heapq.heappush(account.line, (asked_at, next(self._seq), key))
        self._waiting[key] = profile
        self._arm(account, profile)
        return False

    def forget(self, key: Key) -> None:
        """The group is gone: it leaves its line (its entry is skipped when it comes up)."""
        self._waiting.pop(key, None)

    def waiting(self, profile: str) -> list[Key]:
        """The groups in the profile's line, first first."""
        account = self._accounts.get(profile)
        line = sorted(account.line) if account else []
        return [key for _, _, key in line if self._waiting.get(key) == profile]

    def describe(self, profile: str) -> str:
        """The limit in words, for the waiting group's message."""
        account = self._accounts.get(profile)
        if account is None:
            return ""
        limit = account.limit
        return (
            f"CreateContainerGroup is limited to a burst of {limit.burst} and {limit.per_second:g} per "
            f"second for the account of profile {profile}; waiting for a token, in the order the pods came"
        )

    def _serve(self, profile: str) -> None:
        """Give the tokens there are to the head of the line, then wake up when the next one is due."""
        account = self._accounts[profile]
        now = self.clock.now()
        while account.line:
            _, _, key = account.line[0]
            if self._waiting.get(key) != profile:
                heapq.heappop(account.line)  # deleted while it waited
                continue
            if account.limit.enabled and not account.bucket.take(now):
                break
            heapq.heappop(account.line)
            del self._waiting[key]
            self.grant(key)
        self._arm(account, profile)

    def _arm(self, account: _Account, profile: str) -> None:
        if account.timer is not None:
            account.timer.cancel()
            account.timer = None
        if account.line:
            due = account.bucket.next_token_at(self.clock.now())
            account.timer = self.clock.call_at(due, lambda: self._fire(profile, account))

    def _fire(self, profile: str, account: _Account) -> None:
        if self._accounts.get(profile) is account:
            account.timer = None
            self._serve(profile)
