"""The reference server's storage: journal, snapshot, crash recovery, units of work, the store."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import uuid
from pathlib import Path

import pytest
from tinydb import TinyDB, where
from tinydb.storages import MemoryStorage

from reference_server.config import Settings, StartupError
from reference_server.pagination import ListParams
from reference_server.store import MAIN_DB, Store, isoformat
from reference_server.store.durable import Database, DurableStorage
from reference_server.store.indexes import Listing
from reference_server.store.refresh_records import PRUNE_PER_WRITE
from reference_server.store.snapshot import META_TABLE, CorruptDatabaseError, write_snapshot
from tests.support import FakeClock


def journal_of(path: Path) -> Path:
    return path.with_suffix(".journal")


def records(path: Path) -> list[bytes]:
    """The record lines of a database's journal (its header left out; the zeros after them, the
    room the file is grown by, too)."""
    return journal_of(path).read_bytes().rstrip(b"\0").splitlines(keepends=True)[1:]


def crash(db: Database) -> None:
    """Drop a database the way a SIGKILL would: no compaction, nothing flushed on the way out."""
    db.durable.journal.close()


# ---------------------------------------------------------------- the durable layer


def test_a_write_is_one_fsynced_journal_record_not_a_rewrite(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    table = db.documents("t")
    table.insert({"a": 0})
    snapshot_before = path.read_bytes()
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "fdatasync",
                        lambda fd: (calls.append("fdatasync"), real_fdatasync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b)))
    table.insert({"a": 1})
    table.update({"a": 2}, doc_ids=[1])
    # the file was grown (zeros, fsynced) by the first write: a record changes no metadata
    assert calls == ["fdatasync", "fdatasync"], "one fdatasync per write, and no file replaced"
    assert path.read_bytes() == snapshot_before, "the snapshot is not rewritten"
    assert len(records(path)) == 3
    crash(db)
    again = Database(path)
    assert sorted(d["a"] for d in again.documents("t").all()) == [1, 2]


def test_snapshot_is_written_through_a_temp_file_and_rename(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "db.json"
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_replace(src, dst):
        calls.append("replace")
        assert Path(src).parent == path.parent, "temp file must be in the same directory"
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", spy_replace)
    write_snapshot(path, {"t": {"1": {"a": 1}}}, 3, "db-id")
    assert calls == ["fsync", "replace", "fsync"], "fsync file, rename, fsync directory"
    meta = {"1": {"generation": 3, "database": "db-id"}}
    assert json.loads(path.read_text()) == {"t": {"1": {"a": 1}}, META_TABLE: meta}
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"], "no temp file left behind"


def test_a_database_written_by_the_previous_version_loads(tmp_path: Path) -> None:
    """Earlier versions wrote the plain TinyDB JSON document, as TinyDB's JSONStorage does."""
    path = tmp_path / "dpaas.json"
    old = TinyDB(path)
    old.table("accounts").insert_multiple({"name": f"a{i}", "meta": {"i": i}} for i in range(5))
    old.table("users").insert({"email": "u@example.com"})
    old.close()
    db = Database(path)
    assert [d["name"] for d in db.documents("accounts").all()] == [f"a{i}" for i in range(5)]
    assert db.documents("accounts").get(doc_id=3) == {"name": "a2", "meta": {"i": 2}}
    db.documents("accounts").insert({"name": "new"})
    assert db.documents("accounts").get(where("name") == "new").doc_id == 6
    crash(db)
    assert len(Database(path).documents("accounts")) == 6


@pytest.mark.parametrize(
    "content",
    ["", "{", '{"t": [1, 2]}', "[]", "\x00\x00garbage", '{"t": {"x": {}}}', '{"t": {"1": 5}}',
     '{"_journal": {"1": {"generation": "7"}}}'],
)
def test_corrupt_snapshot_refuses_to_load(tmp_path: Path, content: str) -> None:
    path = tmp_path / "db.json"
    path.write_text(content)
    with pytest.raises(CorruptDatabaseError):
        DurableStorage(path)
    assert path.read_text() == content, "a corrupt file is never overwritten"


def test_a_torn_journal_tail_is_cut_off_kept_aside_and_logged(tmp_path: Path, caplog) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    for i in range(4):
        db.documents("t").insert({"i": i})
    crash(db)
    *good_lines, last = journal_of(path).read_bytes().splitlines(keepends=True)
    good = b"".join(good_lines)
    # a line cut short, and one whose middle never reached the disk (the zeros under it show)
    for torn in (last[:-1], last[:10], last[:20] + b"\x00" * 9 + last[29:]):
        journal_of(path).write_bytes(good + torn + b"\x00" * 300)
        with caplog.at_level(logging.WARNING, logger="reference_server.store.journal"):
            again = Database(path)
        assert [d["i"] for d in again.documents("t").all()] == [0, 1, 2]
        assert journal_of(path).read_bytes() == good, "the torn tail is cut off, zeros and all"
        [kept] = [p for p in tmp_path.iterdir() if ".torn-" in p.name]
        assert kept.read_bytes() == torn, "and kept beside the journal"
        assert "torn tail" in caplog.text and kept.name in caplog.text
        kept.unlink()
        caplog.clear()
        crash(again)


def test_zeros_after_the_last_record_are_room_not_a_torn_write(tmp_path: Path, caplog) -> None:
    """The journal is grown ahead of its records with zeros: after a crash, zeros follow the
    last record, and they are neither damage nor a torn tail."""
    path = tmp_path / "db.json"
    db = Database(path)
    for i in range(3):
        db.documents("t").insert({"i": i})
    assert journal_of(path).read_bytes().endswith(b"\x00"), "grown ahead, zero-filled"
    crash(db)
    with_room = journal_of(path).read_bytes() + b"\x00" * 300
    journal_of(path).write_bytes(with_room)
    with caplog.at_level(logging.WARNING, logger="reference_server.store.journal"):
        again = Database(path)
    assert [d["i"] for d in again.documents("t").all()] == [0, 1, 2]
    assert not [p for p in tmp_path.iterdir() if ".torn-" in p.name] and not caplog.text
    again.documents("t").insert({"i": 3})  # written over the zeros
    crash(again)
    assert [d["i"] for d in Database(path).documents("t").all()] == [0, 1, 2, 3]


def test_a_complete_line_over_the_zeros_that_does_not_check_out_refuses(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    for i in range(3):
        db.documents("t").insert({"i": i})
    crash(db)
    head, *lines = journal_of(path).read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"i":2', b'"i":7')  # complete, no zero in it, bad CRC
    damaged = head + b"".join(lines) + b"\x00" * 300
    journal_of(path).write_bytes(damaged)
    with pytest.raises(CorruptDatabaseError, match="does not check out"):
        DurableStorage(path)
    assert journal_of(path).read_bytes() == damaged, "nothing is cut off or rewritten"


def test_damage_before_good_records_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    for i in range(3):
        db.documents("t").insert({"i": i})
    crash(db)
    lines = journal_of(path).read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"i":1', b'"i":7')  # the CRC no longer matches
    damaged = b"".join(lines)
    journal_of(path).write_bytes(damaged)
    with pytest.raises(CorruptDatabaseError, match="does not check out"):
        DurableStorage(path)
    assert journal_of(path).read_bytes() == damaged, "nothing is cut off or rewritten"


def test_zeros_inside_a_record_that_records_follow_refuse_to_start(tmp_path: Path) -> None:
    """A torn write is the last one: zeros inside an earlier record, with acknowledged records
    after it, are damage, and those records are never set aside as a torn tail."""
    path = tmp_path / "db.json"
    db = Database(path)
    for i in range(3):
        db.documents("t").insert({"i": i})
    crash(db)
    lines = journal_of(path).read_bytes().rstrip(b"\x00").splitlines(keepends=True)
    for lost in (lines[2][:10] + b"\x00" * 9 + lines[2][19:],  # a lost sector inside it
                 b"\x00" * 9 + lines[2][9:]):  # or at its start
        damaged = b"".join([*lines[:2], lost, *lines[3:]])
        journal_of(path).write_bytes(damaged)
        with pytest.raises(CorruptDatabaseError, match="records follow"):
            DurableStorage(path)
        assert journal_of(path).read_bytes() == damaged, "nothing is cut off or rewritten"
        assert not [p for p in tmp_path.iterdir() if ".torn-" in p.name]


def test_compaction_folds_the_journal_into_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    table = db.documents("t")
    for i in range(10):
        table.insert({"i": i})
    table.remove(doc_ids=[1, 2])
    db.durable.compact()
    snapshot = json.loads(path.read_text())
    assert sorted(snapshot["t"], key=int) == [str(i) for i in range(3, 11)]
    assert records(path) == [], "a new, empty journal generation"
    assert json.loads(journal_of(path).read_bytes().splitlines()[0])["generation"] == 1
    table.insert({"i": 10})
    crash(db)
    assert len(Database(path).documents("t")) == 9


def test_a_crash_between_snapshot_and_new_journal_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    db.documents("t").insert({"i": 0})
    db.documents("t").insert({"i": 1})
    tables = json.loads(json.dumps(db.storage.read()))
    crash(db)
    identity = db.durable.database
    write_snapshot(path, tables, 1, identity)  # the new snapshot landed, the old journal stayed
    again = Database(path)
    assert [d["i"] for d in again.documents("t").all()] == [0, 1]
    assert records(path) == [], "the absorbed journal is dropped"
    crash(again)
    write_snapshot(path, tables, 5, identity)  # a journal of neither this generation nor the last
    with open(journal_of(path), "ab") as fh:
        fh.write(b"0badc0de {")
    journal = journal_of(path).read_bytes()
    with pytest.raises(CorruptDatabaseError, match="does not follow"):
        DurableStorage(path)
    assert journal_of(path).read_bytes() == journal, "a refusal changes nothing on disk"


def test_a_unit_of_work_is_one_record_and_undone_as_a_whole(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    table = db.documents("t")
    seen: list[tuple[int, object, object]] = []
    db.durable.listen("t", lambda i, before, after: seen.append((i, before, after)))
    with db.durable.transaction():
        table.insert({"i": 1})
        table.insert({"i": 2})
        table.update({"i": 3}, doc_ids=[1])
    assert len(records(path)) == 1
    seen.clear()
    with pytest.raises(RuntimeError), db.durable.transaction():
        table.update({"i": 9}, doc_ids=[1, 2])
        table.remove(doc_ids=[2])
        raise RuntimeError("abort")
    assert [(d.doc_id, d["i"]) for d in table.all()] == [(1, 3), (2, 2)]
    assert len(records(path)) == 1, "nothing journaled"
    assert seen[-2:] == [(2, None, {"i": 2}), (1, {"i": 9}, {"i": 3})], "listeners hear the undo"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "\ud800", {1, 2}])
def test_what_json_cannot_hold_is_refused_and_leaves_no_trace(tmp_path: Path, bad) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    table = db.documents("t")
    table.insert({"ok": True})
    with pytest.raises((ValueError, TypeError)):
        table.insert({"bad": bad})
    with pytest.raises((ValueError, TypeError)):
        table.update({"bad": bad}, doc_ids=[1])
    assert table.all() == [{"ok": True}]
    assert len(records(path)) == 1
    table.insert({"ok": False})
    assert len(table) == 2, "and the next write works"


def test_a_failed_fsync_undoes_the_write_and_cuts_the_journal_back(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "db.json"
    db = Database(path)
    table = db.documents("t")
    table.insert({"v": "old"})
    before = records(path)

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fdatasync", boom)
        with pytest.raises(OSError):
            table.update({"v": "new"}, doc_ids=[1])
    assert table.get(doc_id=1) == {"v": "old"}
    assert records(path) == before
    assert journal_of(path).stat().st_size == db.durable.journal.size, "cut back, zeros and all"
    table.update({"v": "newer"}, doc_ids=[1])
    crash(db)
    assert Database(path).documents("t").get(doc_id=1) == {"v": "newer"}


def test_journaled_tables_behave_like_tinydb(tmp_path: Path) -> None:
    """The same random operations on stock TinyDB and on `Database` leave the same tables."""
    rng = random.Random(8)
    stock = TinyDB(storage=MemoryStorage)
    ours = Database(tmp_path / "db.json")
    for step in range(400):
        op = rng.choice(["insert", "insert_multiple", "update", "update_where", "remove",
                         "remove_where", "upsert", "truncate" if step % 97 == 96 else "insert"])
        name = rng.choice(["a", "b"])
        n = rng.randrange(5)
        for db in (stock, ours):
            t = db.table(name, cache_size=0)
            ids = [d.doc_id for d in t.all()]
            pick = [i for i in ids if i % 3 == n % 3][:2]
            if op == "insert":
                t.insert({"n": n, "nested": {"step": step}})
            elif op == "insert_multiple":
                t.insert_multiple({"n": n + k} for k in range(3))
            elif op == "update":
                t.update({"n": n * 10}, doc_ids=pick)
            elif op == "update_where":
                t.update(lambda d, seen=step: d.update(seen=seen), where("n") == n)
            elif op == "remove":
                t.remove(doc_ids=pick)
            elif op == "remove_where":
                t.remove(where("n") == n)
            elif op == "upsert":
                t.upsert({"n": n, "up": step}, where("n") == n)
            else:
                t.truncate()
        assert stock.storage.read() == ours.storage.read(), f"step {step}: {op}"
    crash(ours)
    assert Database(tmp_path / "db.json").storage.read() == stock.storage.read()


# ---------------------------------------------------------------- indexes


def test_listing_pages_match_a_full_sort(tmp_path: Path) -> None:
    """Pages read off the index equal slices of the tenant's rows sorted from scratch."""
    rng = random.Random(3)
    db = Database(tmp_path / "db.json")
    fields = ("created_at", "name", "updated_at")
    listing = Listing("accounts", fields)
    db.durable.listen("accounts", listing.change)
    table = db.documents("accounts")
    stamps = [isoformat(1_700_000_000 + i // 3) for i in range(60)]  # with ties
    for i in range(200):
        table.insert({
            "organization_id": rng.choice("ab"),
            "name": rng.choice([None, "x", "Y", f"n{i % 7}", "é"]),
            "created_at": rng.choice(stamps),
            "updated_at": rng.choice(stamps),
        })
    table.update({"updated_at": stamps[0]}, doc_ids=rng.sample(range(1, 201), 30))
    table.update({"organization_id": "b"}, doc_ids=rng.sample(range(1, 201), 20))
    table.remove(doc_ids=rng.sample(range(1, 201), 25))
    with pytest.raises(RuntimeError), db.durable.transaction():  # an undone unit moves nothing
        table.update({"organization_id": "c", "name": "zzz"}, doc_ids=list(range(1, 201)))
        raise RuntimeError("abort")
    for org in "ab":
        docs = [(d.doc_id, d) for d in table.all() if d["organization_id"] == org]
        rows = listing.rows(org)
        assert rows.total == len(docs)
        for field in fields:
            for descending in (False, True):
                ordered = sorted(
                    docs,
                    key=lambda p, f=field: (p[1][f] is not None, p[1][f] or "", p[0]),
                    reverse=descending,
                )
                expected = [doc_id for doc_id, _ in ordered]
                for quantity in (1, 7, 100):
                    for page in range(1, len(docs) // quantity + 3):
                        params = ListParams(page, quantity, field, descending)
                        assert rows.page(params) == expected[params.offset :][:quantity]
    assert listing.rows("c").total == 0
    assert listing.all_rows().total == len(table)


# ---------------------------------------------------------------- the store


def _settings(tmp_path: Path, clock: FakeClock | None = None) -> Settings:
    return Settings(data_dir=tmp_path, clock=clock or FakeClock())


def test_store_tenant_scoping_default_switch_and_ordering(tmp_path: Path) -> None:
    clock = FakeClock()

    async def scenario() -> None:
        store = Store(_settings(tmp_path, clock))
        await store.open()
        try:
            first = await store.create_account("org-a", "First", is_default=True)
            clock.advance(1)
            await store.create_account("org-b", "Foreign", is_default=True)
            journaled = store.main_storage.journal.records
            second = await store.create_account("org-a", "Second", is_default=True)
            assert store.main_storage.journal.records == journaled + 1, "one record"
            # Same timestamp for three more: ties broken by insertion order.
            for name in ("t1", "t2", "t3"):
                await store.create_account("org-a", name)

            page = await store.list_accounts("org-a", ListParams())
            assert page.total == 5
            names = [a["name"] for a in page.results]
            assert names == ["t3", "t2", "t1", "Second", "First"]
            assert {a["organization_id"] for a in page.results} == {"org-a"}
            by_id = {a["id"]: a for a in page.results}
            assert by_id[second["id"]]["is_default"] is True
            assert by_id[first["id"]]["is_default"] is False
            assert by_id[first["id"]]["updated_at"] == isoformat(clock.now)

            asc = await store.list_accounts(
                "org-a", ListParams(quantity=2, order_field="created_at", descending=False)
            )
            assert [a["name"] for a in asc.results] == ["First", "Second"]
            other = await store.list_accounts("org-b", ListParams())
            assert [a["name"] for a in other.results] == ["Foreign"]
            assert other.results[0]["is_default"] is True, "other tenants are untouched"
        finally:
            await store.close()

    asyncio.run(scenario())


def test_the_store_hands_out_copies(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = Store(_settings(tmp_path))
        await store.open()
        try:
            made = await store.create_account("org-a", "A", metadata={"tags": ["x"]})
            made["metadata"]["tags"].append("changed by the caller")
            listed = (await store.list_accounts("org-a", ListParams())).results[0]
            assert listed["metadata"] == {"tags": ["x"]}
            listed["metadata"]["tags"].append("changed again")
            again = (await store.list_accounts("org-a", ListParams())).results[0]
            assert again["metadata"] == {"tags": ["x"]}
        finally:
            await store.close()

    asyncio.run(scenario())


def test_second_store_on_same_dir_refuses(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = Store(_settings(tmp_path))
        await store.open()
        try:
            with pytest.raises(StartupError, match="locked"):
                await Store(_settings(tmp_path)).open()
        finally:
            await store.close()
        again = Store(_settings(tmp_path))
        await again.open()
        await again.close()

    asyncio.run(scenario())


def test_store_refuses_corrupt_database(tmp_path: Path) -> None:
    (tmp_path / MAIN_DB).write_text('{"accounts": {"1": ')

    async def scenario() -> None:
        with pytest.raises(CorruptDatabaseError):
            await Store(_settings(tmp_path)).open()

    asyncio.run(scenario())
    assert (tmp_path / MAIN_DB).read_text() == '{"accounts": {"1": '


def test_concurrent_creates_lose_nothing_and_share_fsyncs(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = Store(_settings(tmp_path))
        await store.open()
        try:
            commits = store.main_storage.commits
            made = await asyncio.gather(
                *(store.create_account("org-a", f"acc-{i}") for i in range(40))
            )
            assert store.main_storage.journal.records >= 40
            assert store.main_storage.commits - commits < 40, "group commit"
            page = await store.list_accounts("org-a", ListParams(quantity=100))
            assert page.total == 40
            assert {a["id"] for a in page.results} == {a["id"] for a in made}
        finally:
            await store.close()

    asyncio.run(scenario())
    data = json.loads((tmp_path / MAIN_DB).read_text())
    assert len(data["accounts"]) == 40, "closing folds the journal into the snapshot"


# ---------------------------------------------------------------- refresh-token records


def _token_record(token_hash: str, now: float, ttl: float = 100.0) -> dict[str, object]:
    return {"hash": token_hash, "family_id": str(uuid.uuid5(uuid.NAMESPACE_URL, token_hash)),
            "user_id": "user-1", "org_id": "org-1", "issued_at": now, "expires_at": now + ttl}


def _with_store(tmp_path: Path, clock: FakeClock, body) -> None:
    async def scenario() -> None:
        store = Store(_settings(tmp_path, clock))
        await store.open()
        try:
            await store.seed_if_empty({
                "organizations": [{"id": "org-1", "slug": "org"}],
                "users": [{"id": "user-1", "organization_id": "org-1", "is_active": True}],
            })
            await body(store)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_token_without_a_position_is_found_by_its_hash(tmp_path: Path) -> None:
    """Tokens that carry no family and position (issued before they did, or by a variant):
    the current one rotates, the one just spent revokes the family, an older one is unknown."""
    clock = FakeClock()

    async def body(store: Store) -> None:
        await store.insert_refresh_token(_token_record("h0", clock.now))
        assert (await store.rotate_refresh_token("h0", {"hash": "h1"})).status == "ok"
        assert (await store.rotate_refresh_token("h1", {"hash": "h2"})).status == "ok"
        spent = await store.find_refresh_token("h1")
        assert spent is not None and spent["used_at"] == clock.now and spent["hash"] == "h1"
        assert (await store.find_refresh_token("h2") or {}).get("used_at", 0) is None
        assert await store.find_refresh_token("h0") is None, "only the last spent one is kept"
        assert (await store.rotate_refresh_token("h0", {"hash": "h3"})).status == "invalid"
        assert (await store.rotate_refresh_token("h1", {"hash": "h3"})).status == "reused"
        assert await store.find_refresh_token("h2") is None, "the family is gone"
        assert await store.find_refresh_token("h1") is None

    _with_store(tmp_path, clock, body)


def test_expired_records_are_dropped_while_the_server_runs(tmp_path: Path) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        for i in range(40):
            await store.insert_refresh_token(_token_record(f"old{i}", clock.now, ttl=10))
        await store.rotate_refresh_token("old0", {"hash": "old0-next"})
        clock.advance(11)
        await store.insert_refresh_token(_token_record("new", clock.now))
        left = [h for i in range(40) if await store.find_refresh_token(h := f"old{i}")]
        assert len(left) == 40 - PRUNE_PER_WRITE, "a write drops a bounded few, oldest first"
        assert await store.prune_refresh_tokens() == len(left), "one record per family"
        assert await store.find_refresh_token("old0-next") is None
        assert await store.find_refresh_token("new") is not None

    _with_store(tmp_path, clock, body)


def test_a_rotation_writes_as_much_after_a_long_chain_as_at_its_start(tmp_path: Path) -> None:
    clock = FakeClock()
    sizes: list[int] = []

    async def body(store: Store) -> None:
        await store.insert_refresh_token(_token_record(f"{0:064x}", clock.now, ttl=10**6))
        for i in range(600):
            before = store.tokens_storage.journal.size
            result = await store.rotate_refresh_token(f"{i:064x}", {"hash": f"{i + 1:064x}"})
            assert result.status == "ok"
            sizes.append(store.tokens_storage.journal.size - before)
        assert await store.rotate_refresh_token(f"{0:064x}", {"hash": "x"}) is not None

    _with_store(tmp_path, clock, body)
    # One record each, of the same size but for the digits of document ids: no rewrite grows.
    assert max(sizes) - min(sizes) <= 4 * 2, sizes


def test_a_refresh_record_missing_a_field_refuses_to_start(tmp_path: Path) -> None:
    record = _token_record("h0", 1.0)
    del record["expires_at"]
    (tmp_path / "tokens.json").write_text(json.dumps({"refresh_tokens": {"1": record}}))

    async def scenario() -> None:
        with pytest.raises(CorruptDatabaseError, match="record 1 has no valid 'expires_at'"):
            await Store(_settings(tmp_path)).open()

    asyncio.run(scenario())


def test_the_data_dir_is_created_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "parent" / "data"

    async def scenario() -> None:
        store = Store(_settings(data_dir))
        await store.open()
        await store.close()

    asyncio.run(scenario())
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in data_dir.iterdir()} == dict.fromkeys(
        [".lock", "dpaas.json", "dpaas.journal", "tokens.json", "tokens.journal"], 0o600
    )
