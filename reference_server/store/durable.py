"""TinyDB kept in memory and made durable by a journal, compacted into a snapshot now and then.

TinyDB holds the documents and answers the queries. What it does not do well is disk: its
storages rewrite the whole file on every write, and every table write copies the whole table.
Here the documents stay in memory; `JournaledTable` applies each write in place and reports the
documents it changed; a unit of work (one store job) becomes one journal record; `commit()`
writes and fsyncs the records of the units that ran since the last commit (group commit).
When the journal has grown past the snapshot, `compact()` writes a new snapshot and starts a new
journal generation. Listeners (the indexes) hear of every change, including undos.

Not thread-safe, on purpose: one thread (the store thread) owns a `DurableStorage`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from .journal import FORMAT, Journal, Replay, encode, keep_aside
from .snapshot import CorruptDatabaseError, Snapshot, Tables, read_snapshot, write_snapshot

log = logging.getLogger(__name__)

#: Compact once the journal holds this much more than the last snapshot (and at least this).
COMPACT_MIN_BYTES = 8 * 1024 * 1024

Doc = dict[str, Any]
#: listener(doc_id, before, after): before None = inserted, after None = removed
Listener = Callable[[int, Mapping[str, Any] | None, Mapping[str, Any] | None], None]


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (faster than copy.deepcopy, which it replaces here)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


class _Unit:
    """The documents one unit of work changed, with what each was before it (for undo)."""

    def __init__(self) -> None:
        self.before: dict[tuple[str, int], Doc | None] = {}
        self.record: bytes = b""


class DurableStorage(Storage):
    """A TinyDB storage: `path` is the snapshot, `path.with_suffix('.journal')` the journal."""

    def __init__(self, path: str | Path, compact_min_bytes: int = COMPACT_MIN_BYTES) -> None:
        self.path = Path(path)
        self.journal = Journal(self.path.with_suffix(".journal"))
        self.compact_min_bytes = compact_min_bytes
        self.commits = 0  # fsynced journal writes, for tests and the benchmark
        self.broken: BaseException | None = None
        self._listeners: dict[str, list[Listener]] = {}
        self._unit: _Unit | None = None
        self._pending: list[_Unit] = []  # ended units whose record is not yet durable
        self._data: Tables = {}
        self._snapshot_bytes = 0
        self._generation = 0
        self.database = ""  # the identity snapshot and journal share (snapshot.py, journal.py)
        self._upgrading: Replay | None = None
        self._load()

    # ----------------------------------------------------------------- start

    def _load(self) -> None:
        """Snapshot plus journal, each checked against the other; nothing on disk changes
        before every check has passed (but for a torn tail, kept aside, then cut)."""
        snapshot = read_snapshot(self.path)
        replay = self.journal.load()
        if snapshot is None:
            self._load_without_snapshot(replay)
        elif snapshot.database is None:
            self._upgrade(snapshot, replay)
        else:
            self._load_both(snapshot, replay)

    def _load_without_snapshot(self, replay: Replay | None) -> None:
        """A new database; or the crash window of its creation (the journal is written first,
        so a generation-0 journal alone is its whole history)."""
        if replay is None:
            self.database = uuid.uuid4().hex
            self.journal.start(0, self.database)
        elif replay.version == FORMAT and replay.generation == 0:
            assert replay.database is not None
            self.database = replay.database
            self._apply(replay)
        else:
            raise CorruptDatabaseError(
                f"journal {self.journal.path} (generation {replay.generation}) is there but its "
                f"snapshot {self.path} is missing"
            )
        self._snapshot_bytes = write_snapshot(self.path, self._data, 0, self.database)

    def _load_both(self, snapshot: Snapshot, replay: Replay | None) -> None:
        self._data, self._generation, self._snapshot_bytes = (
            snapshot.tables, snapshot.generation, snapshot.size)
        assert snapshot.database is not None
        self.database = snapshot.database
        if replay is None:
            raise CorruptDatabaseError(
                f"journal {self.journal.path} is missing beside snapshot {self.path} "
                "(a journal is never deleted: acknowledged writes may be lost)"
            )
        absorbed = replay.generation == self._generation - 1
        if replay.database != self.database and not (absorbed and replay.database is None):
            # A format-1 journal one generation behind is the one the upgrade absorbed.
            raise CorruptDatabaseError(
                f"journal {self.journal.path} belongs to another database than snapshot "
                f"{self.path} ({replay.database or 'no identity'}, not {self.database})"
            )
        if replay.generation == self._generation:
            self._apply(replay)
        elif absorbed:  # a crash between the snapshot's rename and the new journal's
            self.journal.start(self._generation, self.database)
        else:
            raise CorruptDatabaseError(
                f"journal {self.journal.path} (generation {replay.generation}) does not follow "
                f"snapshot {self.path} (generation {self._generation})"
            )

    def _upgrade(self, snapshot: Snapshot, replay: Replay | None) -> None:
        """A data dir written before databases had an identity: read it as that version did.
        It gets its identity (a new snapshot, a format-2 journal) at the first write or
        compaction, so that a start refused by a later check leaves it as it was."""
        self._data, self._generation = snapshot.tables, snapshot.generation
        if replay is not None and replay.version == FORMAT:
            raise CorruptDatabaseError(
                f"journal {self.journal.path} names a database, snapshot {self.path} names none"
            )
        if replay is not None and replay.generation == self._generation:
            for record in replay.records:
                self._replay(record)
        elif replay is not None and replay.generation != self._generation - 1:
            raise CorruptDatabaseError(
                f"journal {self.journal.path} (generation {replay.generation}) does not follow "
                f"snapshot {self.path} (generation {self._generation})"
            )
        self._upgrading = replay

    def _finish_upgrade(self) -> None:
        replay, self._upgrading = self._upgrading, None
        if replay is None:
            log.warning("no journal beside %s (written by an earlier version): started from "
                        "the snapshot alone", self.path)
        elif replay.torn and replay.generation == self._generation:
            log.warning("journal %s: a torn tail of %d bytes after %d good records is kept in %s",
                        self.journal.path, len(replay.torn), len(replay.records),
                        keep_aside(replay))
        database = uuid.uuid4().hex
        self._snapshot_bytes = write_snapshot(
            self.path, self._data, self._generation + 1, database)
        self._generation += 1
        self.database = database
        self.journal.start(self._generation, database)
        log.info("database %s (written by an earlier version) now has the identity %s",
                 self.path, database)

    def _apply(self, replay: Replay) -> None:
        for record in replay.records:
            self._replay(record)
        self.journal.open(replay)

    def _replay(self, record: Mapping[str, Any]) -> None:
        ops = record.get("ops")
        if not isinstance(ops, list):
            raise CorruptDatabaseError(f"journal {self.journal.path} has a record without ops")
        for op in ops:
            if not (
                isinstance(op, list)
                and len(op) == 3
                and isinstance(op[0], str)
                and type(op[1]) is int
                and op[1] > 0
                and (op[2] is None or isinstance(op[2], dict))
            ):
                raise CorruptDatabaseError(f"journal {self.journal.path} has a malformed record")
            table, doc_id, doc = op
            if doc is None:
                self._data.get(table, {}).pop(str(doc_id), None)
            else:
                self._data.setdefault(table, {})[str(doc_id)] = doc

    # ----------------------------------------------------------------- TinyDB's Storage API

    def read(self) -> Tables:
        """The live tables, not a copy: only `JournaledTable` and the store thread see them."""
        return self._data

    def write(self, data: Tables) -> None:
        raise NotImplementedError("whole-database writes are not journaled; use table methods")

    def close(self) -> None:
        self.journal.close()

    # ----------------------------------------------------------------- changes

    def listen(self, table: str, listener: Listener) -> None:
        """Call `listener` for every document of `table` now, then on every change."""
        self._listeners.setdefault(table, []).append(listener)
        for doc_id, doc in self._data.get(table, {}).items():
            listener(int(doc_id), None, doc)

    def live_table(self, name: str) -> dict[str, Doc]:
        return self._data.setdefault(name, {})

    def changed(self, table: str, before: Mapping[int, Doc | None], ok: bool = True) -> None:
        """`JournaledTable` reports the documents a write touched and what they were before.

        Outside a unit (offline seeding, tests) each write is its own unit, committed at once.
        """
        autocommit = self._unit is None
        if autocommit:
            self.begin()
        unit = self._unit
        assert unit is not None
        live = self._data.get(table, {})
        for doc_id, old in before.items():
            new = live.get(str(doc_id))
            if old == new:
                continue
            unit.before.setdefault((table, doc_id), old)
            for listener in self._listeners.get(table, ()):
                listener(doc_id, old, new)
        if autocommit:
            if not ok:
                self.abort()
                return
            self._complete()

    # ----------------------------------------------------------------- units and commits

    def begin(self) -> None:
        assert self._unit is None, "units do not nest"
        if self.broken is not None:
            raise RuntimeError(f"storage {self.path} failed earlier: {self.broken}")
        if not self.database:
            self._finish_upgrade()
        self._unit = _Unit()

    def prepare(self) -> None:
        """Encode the unit's record; raises (and the caller aborts) if it cannot be stored."""
        unit = self._unit
        assert unit is not None
        if unit.before:
            ops = [
                [table, doc_id, self._data.get(table, {}).get(str(doc_id))]
                for table, doc_id in unit.before
            ]
            unit.record = encode({"ops": ops})

    def end(self) -> None:
        """The unit is done (after `prepare`); its record waits for `commit()`."""
        unit, self._unit = self._unit, None
        assert unit is not None
        if unit.before:
            assert unit.record, "prepare() first"
            self._pending.append(unit)

    @property
    def pending(self) -> bool:
        """Whether ended units wait for `commit()`."""
        return bool(self._pending)

    def abort(self) -> None:
        """Undo the current unit in memory (its record was never written)."""
        unit, self._unit = self._unit, None
        if unit is not None:
            self._undo(unit)

    def commit(self, before_sync: Callable[[], None] | None = None,
               during_sync: Callable[[], None] | None = None) -> None:
        """Make every ended unit durable: one write and one fsync. On failure undo them all.
        `before_sync`: called between the write and the fsync; `during_sync`: while the fsync
        runs on a helper thread (`Journal.append`)."""
        if not self._pending:
            return
        units, self._pending = self._pending, []
        try:
            self.journal.append([u.record for u in units], before_sync, during_sync)
        except BaseException as exc:
            for unit in reversed(units):
                self._undo(unit)
            log.error("journal write to %s failed: %s", self.journal.path, exc)
            if self.journal.failed is not None:
                self.broken = self.journal.failed
            raise
        self.commits += 1

    def rollback(self) -> None:
        """Undo every ended unit not yet committed (another storage's commit failed)."""
        units, self._pending = self._pending, []
        for unit in reversed(units):
            self._undo(unit)

    def _undo(self, unit: _Unit) -> None:
        for (table, doc_id), old in reversed(list(unit.before.items())):
            live = self.live_table(table)
            current = live.get(str(doc_id))
            if old is None:
                live.pop(str(doc_id), None)
            else:
                live[str(doc_id)] = old
            for listener in self._listeners.get(table, ()):
                listener(doc_id, current, old)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work, durable when the block exits; undone if it raises."""
        self.begin()
        try:
            yield
        except BaseException:
            self.abort()
            raise
        self._complete()

    def _complete(self) -> None:
        """Make the open unit durable; undo it if it cannot be."""
        try:
            self.prepare()
        except BaseException:
            self.abort()
            raise
        self.end()
        self.commit()

    # ----------------------------------------------------------------- compaction

    @property
    def journal_bytes(self) -> int:
        return self.journal.size

    def should_compact(self) -> bool:
        return self.journal.size > max(self.compact_min_bytes, self._snapshot_bytes)

    def compact(self) -> None:
        """Fold the journal into a new snapshot; then start the next journal generation.

        Crash-safe in every order: until the snapshot's rename it is the old snapshot plus the
        old journal; after it, the new snapshot names the next generation, so the old journal
        (one generation behind) is known to be absorbed and is dropped at the next start.
        """
        assert self._unit is None and not self._pending, "compact between commits only"
        if not self.database:
            self._finish_upgrade()
            return
        if self.journal.records == 0:
            return
        generation = self._generation + 1
        self._snapshot_bytes = write_snapshot(self.path, self._data, generation, self.database)
        self._generation = generation
        try:
            self.journal.start(generation, self.database)
        except BaseException as exc:
            # Appending to the old journal now would be lost at the next start: stop writing.
            self.broken = exc
            raise


class _Tracked(MutableMapping[int, Doc]):
    """A table as TinyDB's updaters see it (int ids), over the live one (str ids).

    It remembers what every document it hands out or replaces was before, so the write can be
    journaled and undone; TinyDB updates documents in place through `__getitem__`.
    """

    def __init__(self, live: dict[str, Doc]) -> None:
        self.live = live
        self.before: dict[int, Doc | None] = {}

    def _remember(self, doc_id: int) -> None:
        if doc_id not in self.before:
            old = self.live.get(str(doc_id))
            self.before[doc_id] = None if old is None else clone(old)

    def __getitem__(self, doc_id: int) -> Doc:
        doc = self.live[str(doc_id)]
        self._remember(doc_id)
        return doc

    def __setitem__(self, doc_id: int, doc: Doc) -> None:
        self._remember(doc_id)
        self.live[str(doc_id)] = doc

    def __delitem__(self, doc_id: int) -> None:
        self._remember(doc_id)
        del self.live[str(doc_id)]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self.live

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in list(self.live))

    def __len__(self) -> int:
        return len(self.live)


class JournaledTable(Table):
    """A TinyDB table whose writes cost what they change, not what the table holds.

    TinyDB funnels every write through `_update_table`, which by default copies the whole table
    twice and hands it to the storage. Here the updater runs on the live table and the storage
    is told which documents changed.
    """

    def _update_table(self, updater: Callable[[dict[int, Mapping[str, Any]]], None]) -> None:
        storage = self._storage
        if not isinstance(storage, DurableStorage):
            raise TypeError("JournaledTable needs a DurableStorage")
        view = _Tracked(storage.live_table(self.name))
        try:
            updater(view)  # type: ignore[arg-type]
        except BaseException:
            storage.changed(self.name, view.before, ok=False)
            raise
        finally:
            self.clear_cache()
        storage.changed(self.name, view.before)


class Database(TinyDB):
    """TinyDB over a `DurableStorage`: `Database(path)` opens (or creates) one database."""

    table_class = JournaledTable
    default_storage_class = DurableStorage

    @property
    def durable(self) -> DurableStorage:
        return self.storage  # type: ignore[return-value]

    def documents(self, name: str) -> Table:
        """A table without TinyDB's query cache, which would hand out shared objects."""
        return self.table(name, cache_size=0)
