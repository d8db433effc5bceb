"""Argon2id password hashing on a small bounded pool, fair across client addresses.

One hash costs tens of milliseconds of a core, so hashing is what a login flood exhausts. The
pool runs as many hashes at once as there are workers (one per core by default); up to
`capacity` more wait, served round-robin across client addresses so that one address's flood
delays another address's login by about one hash per turn, not by the whole flood. A login of
an account its client has logged in to before (a *known* pair, see throttle.py) waits in a
lane served first: a real user's login stays fast even under a flood from many addresses. While
first logins wait, the two lanes take turns (`PRIORITY_TURNS` known-pair jobs, then one from the
round-robin lane), so a steady stream of returning users never starves a first login.

When the waiting room is full, the address with the most waiting jobs gives way (its newest job
is refused with 429); if no address holds more than its share, the newcomer is refused with
503. Both carry `Retry-After`. Nothing caps one address while nobody else waits: a single
client can still use the whole pool.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .config import Settings
from .errors import ServiceUnavailable, TooManyRequests

MAX_PASSWORD_LENGTH = 1024

#: Known-pair logins served in a row before a waiting first login gets its turn.
PRIORITY_TURNS = 1


@dataclass
class _Job:
    client: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    result: asyncio.Future[Any] = field(repr=False)


class FairPool:
    """A bounded, per-client round-robin queue in front of a thread pool."""

    def __init__(
        self,
        workers: int,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._workers = workers
        self._capacity = capacity
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dpaas-argon2")
        self._running = 0
        self._priority: deque[_Job] = deque()
        self._queues: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._waiting = 0
        self._priority_streak = 0
        self._job_seconds = 0.05  # running estimate of one job, for Retry-After
        self._closed = False

    @property
    def waiting(self) -> int:
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until the jobs waiting now should be done."""
        return max(1, math.ceil(self._waiting * self._job_seconds / self._workers))

    async def run(self, client: str, fn: Callable[..., Any], *args: Any,
                  priority: bool = False) -> Any:
        """Run `fn(*args)` on the pool; raises TooManyRequests/ServiceUnavailable when full."""
        if self._closed:
            raise ServiceUnavailable(retry_after=1)
        job = _Job(client, fn, args, asyncio.get_running_loop().create_future())
        if self._running < self._workers and not self._waiting:
            self._start(job)
        else:
            self._admit(job, priority)
        try:
            return await job.result
        except asyncio.CancelledError:
            self._forget(job)
            raise

    async def run_internal(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run the server's own work on the pool's threads, outside the queue and its bounds."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _admit(self, job: _Job, priority: bool) -> None:
        if self._waiting >= self._capacity:
            self._make_room(job.client, priority)
        if priority:
            self._priority.append(job)
        else:
            self._queues.setdefault(job.client, deque()).append(job)
        self._waiting += 1

    def _make_room(self, client: str, priority: bool) -> None:
        """Evict the newest job of the address with most waiting, or refuse the newcomer."""
        mine = len(self._queues.get(client, ())) if not priority else -1
        heaviest = max(self._queues, key=lambda c: len(self._queues[c]), default=None)
        if heaviest is not None and len(self._queues[heaviest]) >= mine + 2:
            victim = self._queues[heaviest].pop()
            if not self._queues[heaviest]:
                del self._queues[heaviest]
            self._waiting -= 1
            victim.result.set_exception(TooManyRequests(
                self.retry_after(), "Too many concurrent logins from this address, try again later"
            ))
            return
        if heaviest is not None and heaviest == client:
            raise TooManyRequests(
                self.retry_after(), "Too many concurrent logins from this address, try again later"
            )
        raise ServiceUnavailable(retry_after=self.retry_after())

    def _next(self) -> _Job | None:
        if self._priority and (self._priority_streak < PRIORITY_TURNS or not self._queues):
            self._priority_streak += 1
            self._waiting -= 1
            return self._priority.popleft()
        self._priority_streak = 0
        if not self._queues:
            return None
        client, queue = next(iter(self._queues.items()))
        job = queue.popleft()
        if queue:
            self._queues.move_to_end(client)  # round-robin: this address goes to the back
        else:
            del self._queues[client]
        self._waiting -= 1
        return job

    def _forget(self, job: _Job) -> None:
        """A cancelled waiter leaves the queue (a running job just finishes unobserved)."""
        for queue in (self._priority, self._queues.get(job.client)):
            if queue is not None and job in queue:
                queue.remove(job)
                self._waiting -= 1
                if queue is not self._priority and not queue:
                    del self._queues[job.client]
                return

    def _start(self, job: _Job) -> None:
        self._running += 1
        started = self._clock()
        future = self._executor.submit(job.fn, *job.args)
        loop = job.result.get_loop()
        future.add_done_callback(
            lambda f: loop.call_soon_threadsafe(partial(self._finished, job, started, f))
        )

    def _finished(self, job: _Job, started: float, future: Future[Any]) -> None:
        self._running -= 1
        self._job_seconds = 0.8 * self._job_seconds + 0.2 * (self._clock() - started)
        if not job.result.done():
            exc = future.exception()
            if exc is not None:
                job.result.set_exception(exc)
            else:
                job.result.set_result(future.result())
        while self._running < self._workers and (nxt := self._next()) is not None:
            if not nxt.result.done():
                self._start(nxt)

    def close(self) -> None:
        """Refuse what still waits, then let running jobs finish."""
        self._closed = True
        while (job := self._next()) is not None:
            if not job.result.done():
                job.result.set_exception(ServiceUnavailable(retry_after=1))
        self._executor.shutdown(wait=True)


class Passwords:
    """Hash, verify and rehash-check passwords with Argon2id, off the event loop.

    `dummy_hash` is verified when the user or organization is unknown, so every login
    failure costs the same argon2 work (no timing oracle for user enumeration).
    """

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )
        self.pool = FairPool(settings.password_workers, settings.password_queue)
        self.dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self.dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(
        self, password: str, *, client: str | None = None, priority: bool = False
    ) -> str:
        """Hash on the pool, queued as `client`; with no client (the server's own work, such
        as seeding demo users at start) straight on the pool's threads, never refused."""
        if client is None:
            return await self.pool.run_internal(self._hasher.hash, password)
        return await self.pool.run(client, self._hasher.hash, password, priority=priority)

    async def verify(
        self, stored_hash: str | None, password: str, *, client: str, priority: bool = False
    ) -> bool:
        """True if `password` matches; with `stored_hash=None` verify a dummy and say False.

        Raises TooManyRequests or ServiceUnavailable (an ApiError) when the pool is full.
        """
        return await self.pool.run(
            client, self._verify_sync, stored_hash, password, priority=priority
        )

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    def close(self) -> None:
        self.pool.close()

