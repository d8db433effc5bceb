"""The store's plumbing: the data-dir lock, the two databases, the one thread that owns them.

All database work runs on ONE thread at a time (TinyDB is not thread-safe, `thread.py`); each job
is one unit of work, durable before its caller hears back. A read (`_read`) or a write (`_run`)
runs on the event loop instead, without the hop, when the store thread is quiet (no job running,
nothing written waiting for its sync), holding the lock that thread takes to leave the quiet
state; a write's commit then goes to the thread, or is made on the loop when its request is the
only one in flight (`sync_on_loop_when`). Lists show documents encoded once (`rendering.py`).
How documents reach disk is `durable.py`'s business (a snapshot, `snapshot.py`, plus a journal,
`journal.py`); what they are looked up by, `indexes.py`.
The resources' own documents and queries live in `accounts.py`, `users.py` and
`refresh_records.py`, each a part of the one `Store` (`__init__.py`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tinydb.table import Table

from ..config import Settings, StartupError
from ..pagination import ListParams, Page
from .durable import Database, DurableStorage, clone
from .indexes import Listing, Rows
from .rendering import Rendering
from .thread import StoreThread

log = logging.getLogger("reference_server.store")

P = ParamSpec("P")
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an index type

MAIN_DB = "dpaas.json"
TOKENS_DB = "tokens.json"
#: Locked as well as the directory, for servers of earlier versions, which lock only this file.
LOCK_FILE = ".lock"
#: The tokens database folds its journal into its snapshot sooner than the main one (at least
#: this much journal): a rotation rewrites one small record, so a busy refresh chain would
#: otherwise leave megabytes of journal for a snapshot of a few hundred bytes.
TOKENS_COMPACT_MIN_BYTES = 256 * 1024

#: What `StoreCore.preparing` asked for, in the task that asked for it (`_run` passes it on).
_PREPARE: ContextVar[Callable[[Any], None] | None] = ContextVar("dpaas_prepare", default=None)


def isoformat(ts: float) -> str:
    """UTC ISO 8601 with microseconds and a `Z`, e.g. 2025-09-30T10:00:00.123456Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StoreCore:
    """The single owner of both TinyDB files; every query runs on one dedicated thread.

    Each resource's queries subclass this and name the indexes they need in `main_indexes` or
    `token_indexes`: classes built on that database when it opens, found again with `_index`.
    """

    main_indexes: tuple[type, ...] = ()
    token_indexes: tuple[type, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._thread = StoreThread()
        self._lock_fds: list[int] = []
        self._db: Database | None = None
        self._tokens_db: Database | None = None
        self._indexes: dict[type, Any] = {}
        self._renderings: dict[tuple[str, tuple[str, ...]], Rendering] = {}

    # ----------------------------------------------------------------- plumbing

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` as one unit of work, durable before this returns: on the loop if the store
        thread is quiet, else on that thread (`StoreThread.run_previewed`)."""
        return await self._thread.run_previewed(functools.partial(fn, *args, **kwargs),
                                                _PREPARE.get())

    @contextlib.contextmanager
    def preparing(self, prepare: Callable[[Any], None]) -> Iterator[None]:
        """While the block runs, each write it makes through the store calls `prepare(value)`
        with the write's result once it is applied and while it is being made durable (then
        the write's own result follows, once it is durable). A caller uses it to prepare its
        answer during the fsync; `prepare` may be called with any query's value (or not at all:
        a write that changed nothing), and must send nothing."""
        token = _PREPARE.set(prepare)
        try:
            yield
        finally:
            _PREPARE.reset(token)

    async def _read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn`, which only reads, on the event loop if the store thread is quiet (what is
        in memory is then exactly what is durable, and no job runs); else on the store thread
        (`_run`). Either way it sees whole units of work, and only durable ones (`thread.py`).

        `fn` must not write, and must not take long: while it runs, the loop serves no one
        (a page is at most 100 documents, each encoded once).
        """
        done, value = self._thread.read_now(lambda: fn(*args, **kwargs))
        if done:
            return value  # type: ignore[return-value]
        return await self._thread.run(fn, *args, **kwargs)

    def sync_on_loop_when(self, alone: Callable[[], bool]) -> None:
        """Let a write whose caller prepares nothing be made durable on the event loop itself,
        without the hop to the store thread and back, whenever `alone()` says that nothing else
        waits for the loop (the app: no other request in flight). See `thread.py`."""
        self._thread.sync_on_loop = alone

    def now(self) -> float:
        return self.settings.clock()

    @property
    def main_storage(self) -> DurableStorage:
        assert self._db is not None, "store is not open"
        return self._db.durable

    @property
    def tokens_storage(self) -> DurableStorage:
        assert self._tokens_db is not None, "store is not open"
        return self._tokens_db.durable

    def _table(self, name: str) -> Table:
        assert self._db is not None, "store is not open"
        return self._db.documents(name)

    def _index(self, kind: type[I]) -> I:
        index = self._indexes.get(kind)
        assert index is not None, "store is not open"
        return index  # type: ignore[no-any-return]

    def _rendering(self, table: str, fields: tuple[str, ...]) -> Rendering:
        """`table` of the main database as a list shows it through `fields` (made on first use)."""
        key = (table, fields)
        rendering = self._renderings.get(key)
        if rendering is None:
            rendering = self._renderings[key] = Rendering(self.main_storage, table, fields)
        return rendering

    def _doc(self, table: str, doc_id: int | None) -> dict[str, Any] | None:
        """One document (TinyDB's copy of its top level), or None."""
        return None if doc_id is None else self._table(table).get(doc_id=doc_id)  # type: ignore[return-value]

    async def open(self) -> None:
        """Lock the data dir, load both databases (refusing corrupt ones), prune old tokens."""
        try:
            await self._thread.run_alone(self._open_sync)
        except BaseException:
            self._thread.stop()
            raise

    async def close(self) -> None:
        """Fold the journals into snapshots, close the files, release the lock and the thread."""
        try:
            if self._thread.alive:  # else a failed open stopped it, and nothing is open
                await self._thread.run_alone(self._close_sync)
        finally:
            self._thread.stop()

    def _open_sync(self) -> None:
        data_dir = self.settings.data_dir
        try:
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            data_dir.mkdir(mode=0o700, exist_ok=True)  # its files hold hashes and the key
        except OSError as exc:
            raise StartupError(f"data dir {data_dir} is unusable: {exc.strerror or exc}") from exc
        self._lock(data_dir)
        try:
            self._db = Database(data_dir / MAIN_DB)
            self._tokens_db = Database(
                data_dir / TOKENS_DB, compact_min_bytes=TOKENS_COMPACT_MIN_BYTES)
            self._indexes = {kind: kind(self._db) for kind in self.main_indexes}
            self._indexes |= {kind: kind(self._tokens_db) for kind in self.token_indexes}
            self._prepare_sync()
            for storage in (self.main_storage, self.tokens_storage):
                storage.compact()  # a journal left by a crash, or the pruning just done
        except StartupError:
            self._close_sync(compact=False)
            raise
        except OSError as exc:
            self._close_sync(compact=False)
            raise StartupError(f"cannot use the database in {data_dir}: {exc}") from exc
        self._thread.storages = [self.main_storage, self.tokens_storage]

    def _close_sync(self, compact: bool = True) -> None:
        self._thread.storages = []
        for db in (self._db, self._tokens_db):
            if db is not None:
                if compact and db.durable.broken is None:
                    try:
                        db.durable.compact()
                    except OSError:
                        log.exception("compacting %s at shutdown failed", db.durable.path)
                db.close()
        self._db = self._tokens_db = None
        self._indexes = {}
        self._renderings = {}
        self._unlock()

    def _lock(self, data_dir: Path) -> None:
        """Lock the data directory itself: a lock on a file of it would be lost with the file
        (deleted while a server runs, it would let a second one in). `.lock` too, for servers
        of earlier versions."""
        for target, flags in ((data_dir, os.O_RDONLY | os.O_DIRECTORY),
                              (data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT)):
            try:
                fd = os.open(target, flags, 0o600)
            except OSError as exc:
                self._unlock()
                raise StartupError(
                    f"data dir {data_dir} is unusable: {exc.strerror or exc}") from exc
            self._lock_fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                self._unlock()
                raise StartupError(
                    f"data dir {data_dir} is locked by another running server") from exc

    def _unlock(self) -> None:
        while self._lock_fds:
            fd = self._lock_fds.pop()
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _prepare_sync(self) -> None:
        """What a resource does once its indexes are built and before the journals are folded
        (pruning, say); extended with `super()` by the resources that need it."""

    # ----------------------------------------------------------------- seeding

    async def is_empty(self) -> bool:
        return await self._read(lambda: len(self._table("organizations")) == 0)

    async def seed_if_empty(self, data: Mapping[str, list[dict[str, Any]]]) -> bool:
        """Insert organizations, users, accounts and memberships (one write) if there are no
        organizations yet."""
        return await self._run(self._seed_sync, data)

    def _seed_sync(self, data: Mapping[str, list[dict[str, Any]]]) -> bool:
        if len(self._table("organizations")):
            return False
        for table in ("organizations", "users", "accounts", "memberships"):
            self._table(table).insert_multiple(clone(row) for row in data.get(table, []))
        return True

    # ----------------------------------------------------------------- lists

    def tenant_rows(self, listing: Listing, organization_id: str) -> Rows:
        """The tenant filter, in one place: the rows of a list one organization may see."""
        return listing.rows(organization_id)

    def _list_sync(
        self, table: str, listing: Listing, organization_id: str, params: ListParams,
        fields: tuple[str, ...],
    ) -> Page:
        """One page, each document as `fields` show it, encoded once (`rendering.py`); run it
        with `_read`."""
        rows = self.tenant_rows(listing, organization_id)
        rendering = self._rendering(table, fields)
        return Page(total=rows.total, results=[rendering.shown(i) for i in rows.page(params)])
