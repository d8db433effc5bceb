"""A journal's sync on a helper thread while the caller does work that holds the GIL.

A refresh made alone on the event loop has two waits: its rotation's sync (an `fdatasync`, about
0.1 ms here, which releases the GIL) and its access token's RS256 signature (about 0.26 ms; PyJWT
holds the GIL around it, and cryptography releases it while OpenSSL signs only in its recent
versions: 50.0.2 here does). They overlap for sure only if the sync is already under way, GIL
released, when the signature starts: a thread woken to sync may otherwise wait for the GIL until
the signature is over. So `sync_during` hands the sync to this thread, waits (GIL released, a
few microseconds when a core is free, and bounded) until the thread has entered its `fdatasync`,
runs the work, then waits for the sync to return; it returns only once the data is durable, or
raises the sync's error. The caller's guarantees are those of a plain `fdatasync` on its own
thread: nothing is acknowledged before it returns.

One thread per process, started on first use, woken through a pipe (whose write releases the
GIL; see `thread.py`'s `_Inbox`).
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Callable

#: How long the caller waits (GIL released) for the helper to enter its sync before it starts
#: its work anyway (a loaded machine: the overlap is lost, nothing else).
START_WAIT = 0.002


class _Sync:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.started = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None


class _Syncer:
    def __init__(self, name: str = "dpaas-sync") -> None:
        self._items: collections.deque[_Sync] = collections.deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # a full pipe already means "wake up"
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def put(self, sync: _Sync) -> None:
        self._items.append(sync)
        with contextlib.suppress(BlockingIOError):
            os.write(self._write_fd, b"\0")

    def _main(self) -> None:
        while True:
            try:
                sync = self._items.popleft()
            except IndexError:
                os.read(self._read_fd, 4096)
                continue
            sync.started.set()
            try:
                os.fdatasync(sync.fd)
            except BaseException as exc:  # the caller raises it
                sync.error = exc
            sync.done.set()


_syncer: _Syncer | None = None
_syncer_lock = threading.Lock()


def _helper() -> _Syncer:
    global _syncer
    with _syncer_lock:
        if _syncer is None:
            _syncer = _Syncer()
        return _syncer


def sync_during(fd: int, work: Callable[[], None]) -> None:
    """`os.fdatasync(fd)` on the helper thread while `work()` runs here; returns once the sync
    has returned (raising its error if it failed), whatever `work` did."""
    sync = _Sync(fd)
    _helper().put(sync)
    sync.started.wait(START_WAIT)
    try:
        work()
    finally:
        sync.done.wait()
    if sync.error is not None:
        raise sync.error
