"""Login throttling keyed by (organization, email), never by client IP.

Keying by the target account stops password guessing against one account from any number
of addresses, and one locked account never blocks other users or the same email elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable


class LoginThrottle:
    """Sliding-window failure counter with a bounded number of keys (oldest evicted).

    Attempts on one key run one at a time (`serialized`), so a burst of concurrent guesses
    cannot slip past the limit while hashes are checked, and concurrent *legitimate* logins
    of one user just queue for a few milliseconds instead of being throttled.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        max_failures: int,
        window: float,
        max_keys: int = 10_000,
    ) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window
        self._max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        # Per-key locks exist only while attempts on that key are in flight.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def key(organization_slug: str, email: str) -> tuple[str, str]:
        return (organization_slug.strip().lower(), email.strip().lower())

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: tuple[str, str]) -> int | None:
        """Seconds until `key` may try again, or None when it is not throttled."""
        now = self._clock()
        times = self._recent(key, now)
        if len(times) < self._max_failures:
            return None
        return max(1, math.ceil(times[0] + self._window - now))

    @contextlib.asynccontextmanager
    async def serialized(self, key: tuple[str, str]) -> AsyncIterator[None]:
        """Run one login attempt for `key` at a time."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def record_failure(self, key: tuple[str, str]) -> None:
        times = self._failures.setdefault(key, deque())
        times.append(self._clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeed(self, key: tuple[str, str]) -> None:
        """A successful login resets the key's counter."""
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)
