"""The store thread: the one thread that touches the databases, with group commit.

TinyDB is not thread-safe and a journal must be written in order, so every database job runs on
this thread, one at a time, in arrival order. Each job is one unit of work (one journal record
per database it changed). While a group of records is being fsynced new jobs queue up; they run
next and are committed together, so concurrent writers share fsyncs. A job's caller is answered
only once its group is durable, and a job that read what an earlier job of its group wrote is
answered no sooner than that earlier job. A job may carry a `preview`: called on the loop with
the job's value once its group's records are written, right before their fsync, so that the
caller prepares its answer while the disk works (signs a token, say); it must send nothing
before the job's own result arrives, which is what says the value is durable. (Right before the
fsync, not sooner: the loop, woken, takes the GIL, and this thread must not need it again until
the fsync returns.)

Reads without the hop (`read_now`): while the thread is *quiet* (no job running, no write waiting
for its fsync: what is in memory is exactly what is durable), the event loop may run a read
itself, holding `_quiet_lock`. The thread takes that lock to leave the quiet state before it runs
any job, so a read on the loop never overlaps a job, never sees half a unit of work, and never
sees a write whose fsync has not completed; it becomes quiet again only once its group is
committed (or undone). When it is not quiet, the read is a job like any other (`run`).

Writes without the first hop (`run_previewed`): while the thread is quiet, the loop runs a write
job itself in the same way, under `_quiet_lock`, and leaves the quiet state before it lets go of
the lock (memory is now ahead of the disk); the job, already run, goes to the thread for its
commit alone, first in its group, and its caller is answered once that group is durable, as
before. The thread then needs the GIL only for moments (to write the record, to send the
preview and the answers) instead of for the job, which the loop, otherwise idle, would wait for.
A job that wrote nothing (or failed, and was undone) is answered at once. A job whose request is
the only one in flight is even committed on the loop (`_run_here`): no store thread is woken.
If it has a preview, its sync runs on a helper thread meanwhile (`overlap.py`), entered before
the preview starts, and the commit returns only once the sync has. The thread compacts a journal
before it becomes quiet again, so that no job on the loop changes what it folds.

The GIL decides where a preview may run. An RS256 signature holds the GIL for PyJWT's encoding
around it, and for all of its 0.26 ms with a cryptography older than the recent ones (50.0.2,
installed here, lets go of it while OpenSSL signs): a thread that needs the GIL to start its
write or its sync may wait until the signature is over. So a preview starts only once the sync
is under way, GIL released: the store thread sends it right before its `fdatasync` (also for a
job the loop ran and handed over), and on the loop the helper has entered its `fdatasync` before
the preview runs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
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


class _Inbox:
    """The thread's queue of jobs, woken through a pipe.

    A `queue.SimpleQueue` wakes its reader while the writer holds the GIL: the woken store thread
    then blocks at once on the GIL the loop still holds, and the two threads trade the CPU twice
    before the job even starts (on a busy machine, a few hundred microseconds per job). Writing
    to a pipe releases the GIL for the call, so the store thread wakes to a free GIL.
    """

    def __init__(self) -> None:
        self._items: collections.deque[_Job | None] = collections.deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # a full pipe already means "wake up"

    def put(self, item: _Job | None) -> None:
        self._items.append(item)
        with contextlib.suppress(BlockingIOError):
            os.write(self._write_fd, b"\0")

    def get_nowait(self) -> _Job | None:
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    def get(self) -> _Job | None:
        """The next item, waiting for one (the wake-ups of items already taken are skipped)."""
        while True:
            with contextlib.suppress(queue.Empty):
                return self.get_nowait()
            os.read(self._read_fd, 4096)

    def close(self) -> None:
        os.close(self._read_fd)
        os.close(self._write_fd)


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    alone: bool = False
    preview: Callable[[Any], None] | None = None
    #: already run, on the loop (`run_previewed`): only its commit is left
    executed: bool = False
    value: Any = None
    error: BaseException | None = field(default=None, repr=False)


class StoreThread:
    """Runs jobs for a store; `storages` are the databases whose writes it journals."""

    def __init__(self, name: str = "dpaas-store") -> None:
        self.storages: list[DurableStorage] = []
        #: held by a read on the loop, and by this thread to leave the quiet state
        self._quiet_lock = threading.Lock()
        self._quiet = False  # not before the store is open (see `_main`)
        self._queue = _Inbox()
        #: whether nothing else waits for the loop now (see `_run_here`); None: never so
        self.sync_on_loop: Callable[[], bool] | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` as one unit of work; return once whatever it wrote is durable."""
        return await self._submit(functools.partial(fn, *args, **kwargs), alone=False)

    async def run_previewed(self, fn: Callable[[], T],
                            preview: Callable[[T], None] | None) -> T:
        """`run`, and `preview(value)` on the loop while the value's writes are made durable
        (only if `fn` wrote something and succeeded; see the module docstring).

        While the thread is quiet, `fn` runs here and then on the loop, and only its commit is
        left to the thread (see the module docstring)."""
        future = self._run_here(fn, preview)
        if future is None:
            future = self._submit(fn, alone=False, preview=preview)
        return await future

    def _run_here(self, fn: Callable[[], Any],
                  preview: Callable[[Any], None] | None) -> asyncio.Future[Any] | None:
        """Run a job on the loop if the thread is quiet: its future, already done if the job
        wrote nothing (or failed, and was undone) or was committed here, else done once the
        thread committed it. None if the thread is not quiet (then the job must be submitted).

        Committed here, on the loop, while the quiet lock is held, when `sync_on_loop()` says
        that nothing else waits for the loop (no other request in flight). Then there is no hop
        to the store thread and back at all, and nobody waits for the loop during the sync; a
        preview runs while a helper thread syncs (`overlap.py`). Under concurrency writes go
        to the thread, and share its syncs."""
        if not self._quiet_lock.acquire(blocking=False):
            return None
        try:
            if not self._quiet or not self._thread.is_alive():
                return None
            if any(s.broken is not None or not s.database for s in self.storages):
                return None  # an upgrade's first write, or a failure: the thread's business
            loop = asyncio.get_running_loop()
            job = _Job(fn, loop.create_future(), loop, preview=preview, executed=True)
            self._execute(job, units=True)
            if job.error is not None or not any(s.pending for s in self.storages):
                _resolve(job.future, job.value, job.error)  # nothing to make durable
                return job.future
            if self.sync_on_loop is not None and self.sync_on_loop():
                # the preview (a signature, which holds the GIL) while the sync runs on a helper
                during = None if preview is None else functools.partial(
                    _run_previews, [(job.future, preview, job.value)])
                failure = self._commit(_no_preview, during)  # quiet all along: durable, or undone
                _resolve(job.future, job.value, failure)
                if failure is None and self._compaction_due():
                    # an empty job: the thread folds the journal after it, as after any group
                    self._queue.put(_Job(_no_preview, loop.create_future(), loop))
                return job.future
            self._quiet = False  # memory is ahead of the disk until the thread commits it
        finally:
            self._quiet_lock.release()
        job.preview = None  # run here, below, not by the thread
        self._queue.put(job)
        if preview is not None:
            _run_previews([(job.future, preview, job.value)])
        return job.future

    async def run_alone(self, fn: Callable[[], T]) -> T:
        """Run `fn` outside any unit, after every earlier job committed (open, close)."""
        return await self._submit(fn, alone=True)

    def read_now(self, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """`(True, fn())` if the thread is quiet: `fn` ran here and then, on durable data, with
        no job running; `(False, None)` if not (then the read must be a job, `run`). Never
        waits: the lock is only ever held for a read or for the switch out of the quiet state."""
        if not self._quiet_lock.acquire(blocking=False):
            return False, None
        try:
            if not self._quiet:
                return False, None
            return True, fn()
        finally:
            self._quiet_lock.release()

    @property
    def quiet(self) -> bool:
        """Whether a read on the loop would run now (for tests)."""
        return self._quiet

    def _busy(self) -> None:
        """Leave the quiet state: waits for a read on the loop to finish, if one runs."""
        if self._quiet:
            with self._quiet_lock:
                self._quiet = False

    def _calm(self) -> None:
        """Back to quiet once everything written is durable (or undone), if the store is open
        (`storages` is set by the open and emptied by the close)."""
        if self.storages and not self._quiet:
            self._quiet = True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _submit(self, fn: Callable[[], Any], alone: bool,
                preview: Callable[[Any], None] | None = None) -> asyncio.Future[Any]:
        if not self._thread.is_alive():
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(fn, future, loop, alone, preview))
        return future

    def stop(self) -> None:
        """Finish the queued jobs, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
            self._queue.close()

    # ----------------------------------------------------------------- on the thread

    def _main(self) -> None:
        carried: list[_Job | None] = []  # what ended the previous group: stop, or a lone job
        while True:
            job = carried.pop() if carried else self._queue.get()
            if job is None:
                self._busy()
                return
            self._busy()
            if job.alone:
                self._execute(job, units=False)
                self._calm()
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
                if not job.executed:
                    self._execute(job, units=True)
            failure = self._commit(functools.partial(self._preview, group))
            if failure is not None:
                for job in group:
                    job.error = failure
        except BaseException as exc:  # a bug here must not strand the waiting callers
            log.exception("store thread failed a group of %d jobs", len(group))
            for job in group:
                job.error = job.error or exc
            self._settle(group)  # not quiet: memory may not be what is durable, until a group
            return               # goes through
        if not self._compaction_due():
            self._calm()  # before the answers: a client that heard back may use the loop at once
            self._settle(group)
            return
        # Not quiet while compacting: jobs on the loop would change what is being folded.
        self._settle(group)
        self._compact()
        self._calm()

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

    def _commit(self, preview: Callable[[], None],
                during: Callable[[], None] | None = None) -> BaseException | None:
        """Commit every storage; `preview` runs once, right before the first fsync (so that the
        loop, woken by it, works while this thread waits for the disk, not for the GIL);
        `during` (on the loop, see `_run_here`) once, while the first fsync runs on a helper
        thread (`overlap.py`)."""
        failure: BaseException | None = None
        pending: list[Callable[[], None]] = [preview]

        def before_sync() -> None:
            if pending:
                pending.pop()()

        for storage in self.storages:
            if failure is not None:
                storage.rollback()
                continue
            overlapped = during if storage.pending else None
            if overlapped is not None:
                during = None
            try:
                storage.commit(before_sync, overlapped)
            except Exception as exc:
                failure = exc
        return failure

    def _compaction_due(self) -> bool:
        return any(s.broken is None and s.should_compact() for s in self.storages)

    def _compact(self) -> None:
        for storage in self.storages:
            if storage.broken is None and storage.should_compact():
                try:
                    storage.compact()
                except Exception:
                    log.exception("compacting %s failed", storage.path)

    @staticmethod
    def _preview(jobs: list[_Job]) -> None:
        """One wake-up per loop for all the group's previews: this thread sends it and goes
        straight into the fsync (a wake-up per preview would let the loop take the GIL and
        prepare between two of them, with the fsync not yet begun)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, ...]]] = {}
        for job in jobs:
            if job.preview is not None and job.error is None:
                by_loop.setdefault(job.loop, []).append((job.future, job.preview, job.value))
        for loop, previews in by_loop.items():
            try:
                loop.call_soon_threadsafe(_run_previews, previews)
            except Exception:  # e.g. the caller's loop is closed: a preview is optional
                log.debug("previews could not be sent", exc_info=True)

    @staticmethod
    def _settle(jobs: list[_Job]) -> None:
        for job in jobs:
            # RuntimeError: the caller's loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_resolve, job.future, job.value, job.error)


def _no_preview() -> None:
    return None


def _run_previews(previews: list[tuple[Any, ...]]) -> None:
    """A preview is an optimisation: if one fails, its caller does the work once the result is
    there (and meets the error then, if there is one)."""
    for future, preview, value in previews:
        if future.done():
            continue
        try:
            preview(value)
        except Exception:
            log.debug("a preview failed; the caller will do its work after the result",
                      exc_info=True)


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
