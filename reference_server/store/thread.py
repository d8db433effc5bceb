"""The store thread: the one thread that touches the databases, with group commit.

TinyDB is not thread-safe and a journal must be written in order, so every database job runs on
this thread, one at a time, in arrival order. Each job is one unit of work (one journal record
per database it changed). While a group of records is being fsynced new jobs queue up; they run
next and are committed together, so concurrent writers share fsyncs. A job's caller is answered
only once its group is durable, and a job that read what an earlier job of its group wrote is
answered no sooner than that earlier job.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from .durable import DurableStorage

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MAX_GROUP = 256


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    alone: bool = False
    value: Any = None
    error: BaseException | None = field(default=None, repr=False)


class StoreThread:
    """Runs jobs for a store; `storages` are the databases whose writes it journals."""

    def __init__(self, name: str = "dpaas-store") -> None:
        self.storages: list[DurableStorage] = []
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` as one unit of work; return once whatever it wrote is durable."""
        return await self._submit(functools.partial(fn, *args, **kwargs), alone=False)

    async def run_alone(self, fn: Callable[[], T]) -> T:
        """Run `fn` outside any unit, after every earlier job committed (open, close)."""
        return await self._submit(fn, alone=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _submit(self, fn: Callable[[], Any], alone: bool) -> asyncio.Future[Any]:
        if not self._thread.is_alive():
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(fn, future, loop, alone))
        return future

    def stop(self) -> None:
        """Finish the queued jobs, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    # ----------------------------------------------------------------- on the thread

    def _main(self) -> None:
        carried: list[_Job | None] = []  # what ended the previous group: stop, or a lone job
        while True:
            job = carried.pop() if carried else self._queue.get()
            if job is None:
                return
            if job.alone:
                self._execute(job, units=False)
                self._settle([job])
                continue
            group = [job]
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or nxt.alone:
                    carried.append(nxt)
                    break
                group.append(nxt)
            self._run_group(group)

    def _run_group(self, group: list[_Job]) -> None:
        try:
            for job in group:
                self._execute(job, units=True)
            failure = self._commit()
            if failure is not None:
                for job in group:
                    job.error = failure
        except BaseException as exc:  # a bug here must not strand the waiting callers
            log.exception("store thread failed a group of %d jobs", len(group))
            for job in group:
                job.error = job.error or exc
        self._settle(group)
        self._compact()

    def _execute(self, job: _Job, units: bool) -> None:
        storages = list(self.storages) if units else []
        try:
            for storage in storages:
                storage.begin()
            job.value = job.fn()
            for storage in storages:
                storage.prepare()
        except BaseException as exc:
            for storage in storages:
                storage.abort()
            job.error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            return
        for storage in storages:
            storage.end()

    def _commit(self) -> BaseException | None:
        failure: BaseException | None = None
        for storage in self.storages:
            if failure is not None:
                storage.rollback()
                continue
            try:
                storage.commit()
            except Exception as exc:
                failure = exc
        return failure

    def _compact(self) -> None:
        for storage in self.storages:
            if storage.broken is None and storage.should_compact():
                try:
                    storage.compact()
                except Exception:
                    log.exception("compacting %s failed", storage.path)

    @staticmethod
    def _settle(jobs: list[_Job]) -> None:
        for job in jobs:
            # RuntimeError: the caller's loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_resolve, job.future, job.value, job.error)


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
