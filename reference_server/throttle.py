"""Login throttling that slows password guessing without handing attackers a lockout.

Two limits, both keyed by the client address (see clients.py):

- per (client, organization, email): `max_failures` failures in `window` seconds, then 429
  until the oldest failure ages out. Guessing one account is slow from any one address, and the
  real user, calling from another address, still logs in with the right password.
- per client, across accounts: a token bucket of `address_burst` failures that refills at
  `address_refill` per second. It stops one address from spreading guesses over many accounts
  (password spraying). A (client, account) pair that has logged in successfully before is
  *known* and does not need the bucket: a client that has spent its budget on failures can
  still log in to the accounts it holds the password of, so a run of the conformance suite
  (one address, dozens of failed logins for made-up users, many valid ones) never stops its own
  valid logins, while an attacker's address cannot try new accounts.

A success resets its pair's failures and refunds its bucket token, so users who mistype once
cost nothing. Every table is bounded (least recently used dropped first).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .errors import TooManyRequests

Pair = tuple[str, str, str]  # (client, organization slug, email), lower-cased


@dataclass
class Attempt:
    """One login attempt inside `LoginThrottle.attempt`; the route reports how it ended."""

    known: bool
    outcome: bool | None = None

    def failed(self) -> None:
        self.outcome = False

    def succeeded(self) -> None:
        self.outcome = True


class LoginThrottle:
    """Failure windows per (client, account), failure budgets per client, known pairs."""

    def __init__(
        self,
        clock: Callable[[], float],
        max_failures: int,
        window: float,
        max_keys: int = 10_000,
        address_burst: int = 100,
        address_refill: float = 0.2,
        known_ttl: float = 30 * 24 * 3600,
    ) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window
        self._max_keys = max_keys
        self._burst = float(address_burst)
        self._refill = address_refill
        self._known_ttl = known_ttl
        self._failures: OrderedDict[Pair, deque[float]] = OrderedDict()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._known: OrderedDict[Pair, float] = OrderedDict()  # pair -> known until
        # Per-pair locks exist only while attempts on that pair are in flight.
        self._locks: dict[Pair, tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def pair(client: str, organization_slug: str, email: str) -> Pair:
        return (client, organization_slug.strip().lower(), email.strip().lower())

    def _bounded(self, table: OrderedDict, key: object) -> None:
        table.move_to_end(key)
        while len(table) > self._max_keys:
            table.popitem(last=False)

    # -- per pair: a sliding window of failures

    def _recent(self, pair: Pair, now: float) -> deque[float]:
        times = self._failures.get(pair)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[pair]
        return times

    def retry_after(self, pair: Pair) -> int | None:
        """Seconds until `pair` may try again, or None when it is not throttled."""
        now = self._clock()
        times = self._recent(pair, now)
        if len(times) < self._max_failures:
            return None
        return max(1, math.ceil(times[0] + self._window - now))

    # -- per client: a token bucket of failures

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._refill)

    def _take(self, client: str) -> int | None:
        """Spend one token of `client`; or the seconds until one is back, spending nothing."""
        now = self._clock()
        tokens = self._tokens(client, now)
        if tokens < 1:
            return max(1, math.ceil((1 - tokens) / self._refill))
        self._buckets[client] = (tokens - 1, now)
        self._bounded(self._buckets, client)
        return None

    def _refund(self, client: str) -> None:
        now = self._clock()
        self._buckets[client] = (min(self._burst, self._tokens(client, now) + 1), now)
        self._bounded(self._buckets, client)

    # -- known pairs

    def _is_known(self, pair: Pair) -> bool:
        until = self._known.get(pair)
        if until is None:
            return False
        if until <= self._clock():
            del self._known[pair]
            return False
        return True

    @contextlib.asynccontextmanager
    async def _serialized(self, pair: Pair) -> AsyncIterator[None]:
        """One attempt per pair at a time, so a burst of concurrent guesses cannot slip past
        the limit while hashes are checked; concurrent logins of one user just queue."""
        lock, users = self._locks.get(pair, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[pair] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[pair]
            if users <= 1:
                del self._locks[pair]
            else:
                self._locks[pair] = (lock, users - 1)

    @contextlib.asynccontextmanager
    async def attempt(self, client: str, organization_slug: str, email: str
                      ) -> AsyncIterator[Attempt]:
        """Admit one login attempt (else TooManyRequests) and book its outcome on exit."""
        pair = self.pair(client, organization_slug, email)
        async with self._serialized(pair):
            wait = self.retry_after(pair)
            if wait is not None:
                raise TooManyRequests(wait)
            attempt = Attempt(known=self._is_known(pair))
            if not attempt.known:
                wait = self._take(client)
                if wait is not None:
                    raise TooManyRequests(wait)
            try:
                yield attempt
            finally:
                self._book(pair, attempt)

    def _book(self, pair: Pair, attempt: Attempt) -> None:
        client = pair[0]
        if attempt.outcome is False:
            self._failures.setdefault(pair, deque()).append(self._clock())
            self._bounded(self._failures, pair)
            return
        if not attempt.known:
            self._refund(client)  # a success, or no verdict (the server could not check)
        if attempt.outcome is True:
            self._failures.pop(pair, None)
            self._known[pair] = self._clock() + self._known_ttl
            self._bounded(self._known, pair)

    def __len__(self) -> int:
        return len(self._failures)
