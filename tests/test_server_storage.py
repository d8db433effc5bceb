"""The reference server's storage: atomic writes, corruption refusal, copies, batches, tenancy."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from tinydb import TinyDB

from reference_server.config import Settings, StartupError
from reference_server.pagination import ListParams
from reference_server.snapshot import AtomicJSONStorage, CorruptDatabaseError
from reference_server.storage import MAIN_DB, Store, isoformat
from tests.support import FakeClock


def test_write_goes_through_temp_file_and_rename(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "db.json"
    storage = AtomicJSONStorage(path)
    calls: list[tuple[str, str]] = []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_replace(src, dst):
        calls.append(("replace", Path(src).name))
        assert Path(src).parent == path.parent, "temp file must be in the same directory"
        assert json.loads(Path(src).read_text()) == {"t": {"1": {"a": 1}}}
        return real_replace(src, dst)

    def spy_fsync(fd):
        calls.append(("fsync", ""))
        return real_fsync(fd)

    monkeypatch.setattr(os, "replace", spy_replace)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    storage.write({"t": {"1": {"a": 1}}})
    kinds = [c[0] for c in calls]
    assert kinds == ["fsync", "replace", "fsync"], "fsync file, rename, fsync directory"
    assert json.loads(path.read_text()) == {"t": {"1": {"a": 1}}}
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"], "no temp file left behind"


def test_failed_write_keeps_previous_state(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "db.json"
    storage = AtomicJSONStorage(path)
    storage.write({"t": {"1": {"v": "old"}}})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        storage.write({"t": {"1": {"v": "new"}}})
    assert storage.read() == {"t": {"1": {"v": "old"}}}
    assert json.loads(path.read_text()) == {"t": {"1": {"v": "old"}}}
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


@pytest.mark.parametrize("content", ["", "{", '{"t": [1, 2]}', "[]", "\x00\x00garbage"])
def test_corrupt_file_refuses_to_load(tmp_path: Path, content: str) -> None:
    path = tmp_path / "db.json"
    path.write_text(content)
    with pytest.raises(CorruptDatabaseError):
        AtomicJSONStorage(path)
    assert path.read_text() == content, "a corrupt file is never overwritten"


def test_read_returns_fresh_copies(tmp_path: Path) -> None:
    storage = AtomicJSONStorage(tmp_path / "db.json")
    assert storage.read() is None
    storage.write({"t": {"1": {"meta": {"k": "v"}}}})
    first = storage.read()
    assert first is not None
    first["t"]["1"]["meta"]["k"] = "mutated"
    assert storage.read() == {"t": {"1": {"meta": {"k": "v"}}}}


def test_batch_is_one_write_and_rolls_back(tmp_path: Path) -> None:
    db = TinyDB(tmp_path / "db.json", storage=AtomicJSONStorage)
    storage: AtomicJSONStorage = db.storage  # type: ignore[assignment]
    table = db.table("t", cache_size=0)
    with storage.batch():
        for i in range(5):
            table.insert({"i": i})
        assert len(table) == 5, "reads inside a batch see pending writes"
        assert not (tmp_path / "db.json").exists(), "nothing written before the batch ends"
    assert storage.writes == 1
    assert len(json.loads((tmp_path / "db.json").read_text())["t"]) == 5

    with pytest.raises(RuntimeError), storage.batch():
        table.insert({"i": 99})
        raise RuntimeError("abort")
    assert storage.writes == 1
    assert len(table) == 5, "a failed batch leaves no trace"


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
            writes_before = store.main_storage.writes
            second = await store.create_account("org-a", "Second", is_default=True)
            assert store.main_storage.writes == writes_before + 1, "default switch is one write"
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


def test_concurrent_creates_lose_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = Store(_settings(tmp_path))
        await store.open()
        try:
            made = await asyncio.gather(
                *(store.create_account("org-a", f"acc-{i}") for i in range(40))
            )
            page = await store.list_accounts("org-a", ListParams(quantity=100))
            assert page.total == 40
            assert {a["id"] for a in page.results} == {a["id"] for a in made}
        finally:
            await store.close()

    asyncio.run(scenario())
    data = json.loads((tmp_path / MAIN_DB).read_text())
    assert len(data["accounts"]) == 40
