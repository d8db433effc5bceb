"""Issue 19's shortcuts keep the store's guarantees: a read served on the event loop sees whole
units of work and only durable ones; a list's encodings follow every change and undo; a refresh's
answer, prepared during the fsync, waits for it; an access token's signature is checked once but
its times and its user on every request."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from reference_server.app import Components, create_app
from reference_server.config import Settings
from reference_server.inflight import InFlight
from reference_server.jsonio import EncodedObject, encode_item
from reference_server.pagination import ListParams
from reference_server.store import MAIN_DB, Store, isoformat
from reference_server.store.durable import Database
from reference_server.store.thread import StoreThread
from reference_server.tokens import Keyring, TokenService
from reference_server.verified_tokens import VerifiedTokens
from tests.support import FakeClock, ServedApp

WAIT = 10.0  # seconds: a bound on every wait, never a synchronisation by sleeping
ORG = "org-a"


def _settings(tmp_path: Path, clock: FakeClock | None = None) -> Settings:
    return Settings(data_dir=tmp_path, clock=clock or FakeClock())


def run(tmp_path: Path, body: Callable[[Store], Awaitable[None]], store_class: type[Store] = Store,
        clock: FakeClock | None = None) -> None:
    async def scenario() -> None:
        store = store_class(_settings(tmp_path, clock))
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT * 3))


class HeldFsync:
    """`os.fdatasync` (a journal's sync), held until released: the store thread waits inside
    its sync meanwhile."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail: OSError | None = None
        self._real = os.fdatasync

    def __call__(self, fd: int) -> None:
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the fsync"
        if self.fail is not None:
            raise self.fail
        self._real(fd)


@contextmanager
def held_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldFsync]:
    held = HeldFsync()
    with monkeypatch.context() as m:
        m.setattr(os, "fdatasync", held)
        try:
            yield held
        finally:
            held.release.set()


async def turns(n: int = 50) -> None:
    """Let the loop run what is ready (a bounded number of turns)."""
    for _ in range(n):
        await asyncio.sleep(0)


# ---------------------------------------------------------------- reads on the loop


def test_a_quiet_store_answers_reads_on_the_loop_without_the_store_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(store: Store) -> None:
        made = await store.create_account(ORG, "A")
        await store.seed_if_empty({"organizations": [{"id": ORG, "slug": "a"}],
                                   "users": [{"id": "u1", "organization_id": ORG,
                                              "is_active": True}]})
        assert store._thread.quiet, "a store with nothing in flight is quiet"

        async def no_hop(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a read of a quiet store went to the store thread")

        monkeypatch.setattr(store._thread, "run", no_hop)
        page = await store.list_accounts(ORG, ListParams())
        assert [a["id"] for a in page.results] == [made["id"]]
        user = await store.get_active_user("u1", ORG)
        assert user is not None and user["id"] == "u1"

    run(tmp_path, body)


def test_a_read_waits_for_a_write_whose_fsync_has_not_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store thread is inside the fsync of an account's create: a list asked for meanwhile
    is not answered until the fsync returns, and then it shows the account."""

    async def body(store: Store) -> None:
        before = await store.create_account(ORG, "Before")
        with held_fsync(monkeypatch) as fsync:
            writing = asyncio.ensure_future(store.create_account(ORG, "Held"))
            assert await asyncio.to_thread(fsync.entered.wait, WAIT)
            assert not store._thread.quiet, "a write waiting for its fsync: not quiet"
            reading = asyncio.ensure_future(store.list_accounts(ORG, ListParams()))
            await turns()
            assert not reading.done(), "a read returned while a write was not yet durable"
            assert not writing.done()
            fsync.release.set()
            made = await writing
            page = await reading
        assert {a["id"] for a in page.results} == {before["id"], made["id"]}
        assert store._thread.quiet

    run(tmp_path, body)


def test_after_a_failed_fsync_a_read_on_the_loop_sees_the_write_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(store: Store) -> None:
        kept = await store.create_account(ORG, "Kept", is_default=True)
        await store.list_accounts(ORG, ListParams())  # its encoding is now kept
        with held_fsync(monkeypatch) as fsync:
            fsync.fail = OSError(28, "No space left on device")
            writing = asyncio.ensure_future(store.create_account(ORG, "Lost", is_default=True))
            assert await asyncio.to_thread(fsync.entered.wait, WAIT)
            fsync.release.set()
            with pytest.raises(OSError):
                await writing
        assert store._thread.quiet, "undone, memory is what is durable again"
        page = await store.list_accounts(ORG, ListParams())
        assert [(a["name"], a["is_default"]) for a in page.results] == [("Kept", True)], (
            "the undo reached the list: the old default is the default again, the new one gone")
        assert page.results[0]["id"] == kept["id"]
        again = await store.create_account(ORG, "Next")
        assert again["name"] == "Next", "and the next write works"

    run(tmp_path, body)


def test_an_undo_reaches_the_encodings_a_read_made_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that ran on the store thread after a write of its group encoded what the write
    changed; the group's fsync fails and the write is undone: lists show the old values."""

    async def body(store: Store) -> None:
        await store.create_account(ORG, "Kept", is_default=True)
        running, gate = threading.Event(), threading.Event()

        def hold() -> None:
            running.set()
            assert gate.wait(WAIT)

        blocking = asyncio.ensure_future(store._thread.run(hold))
        assert await asyncio.to_thread(running.wait, WAIT)  # its group is made: it runs alone
        with held_fsync(monkeypatch) as fsync:
            fsync.fail = OSError(5, "Input/output error")
            writing = asyncio.ensure_future(store.create_account(ORG, "Lost", is_default=True))
            reading = asyncio.ensure_future(store._run(
                store._list_sync, "accounts", store._accounts.listing, ORG, ListParams(),
                store.account_fields))
            await turns()
            gate.set()  # the write and the read now run as one group
            await blocking
            assert await asyncio.to_thread(fsync.entered.wait, WAIT)
            fsync.release.set()
            for task in (writing, reading):
                with pytest.raises(OSError):
                    await task
        page = await store.list_accounts(ORG, ListParams())
        assert [(a["name"], a["is_default"]) for a in page.results] == [("Kept", True)]

    run(tmp_path, body)


class HalfwayPause(Store):
    """A create that makes a new default in two steps with a pause between (the GIL released):
    a read that ran between them would see no default at all."""

    def _create_account_sync(self, organization_id: str, name: str, is_default: bool,
                             metadata: dict[str, Any]) -> dict[str, Any]:
        table = self._table("accounts")
        now = isoformat(self.now())
        table.update({"is_default": False, "updated_at": now},
                     doc_ids=self._accounts.defaults.ids(organization_id))
        if threading.current_thread() is not threading.main_thread():
            # halfway through a unit of work on the store thread, the old default demoted (a
            # unit that runs on the loop cannot have a read between its halves)
            time.sleep(0.002)
        account = {"id": self.new_account_id(), "name": name, "organization_id": organization_id,
                   "is_default": True, "is_active": True, "metadata": {}, "created_at": now,
                   "updated_at": now}
        table.insert(account)
        return dict(account)


def test_reads_on_the_loop_never_see_half_a_unit_of_work(tmp_path: Path) -> None:
    """Two writers make new defaults one after the other while a reader lists without pause:
    every list has exactly one default (a read between the two halves of a create would see
    none)."""

    async def body(store: Store) -> None:
        await store.create_account(ORG, "First", is_default=True)

        async def writer(k: int) -> None:
            for i in range(6):
                await store.create_account(ORG, f"D{k}-{i}", is_default=True)

        writers = [asyncio.ensure_future(writer(k)) for k in range(2)]
        reads = 0
        for _ in range(50_000):  # bounded: the writes end long before
            if all(w.done() for w in writers):
                break
            page = await store.list_accounts(ORG, ListParams(quantity=100))
            defaults = [a["name"] for a in page.results if a["is_default"]]
            assert len(defaults) == 1, f"a read saw half a unit of work: defaults {defaults}"
            reads += 1
            await asyncio.sleep(0)
        await asyncio.gather(*writers)
        # (a unit run on the loop blocks reads while it runs: fewer reads than writes is fine)
        assert reads > 5, "reads ran while the writes were in flight"

    run(tmp_path, body, HalfwayPause)


def test_a_preview_comes_during_the_fsync_and_the_result_only_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        thread = StoreThread("test-store")
        db = Database(tmp_path / "db.json")
        thread.storages = [db.durable]
        table = db.documents("t")
        seen: list[tuple[Any, bool]] = []
        try:
            with held_fsync(monkeypatch) as fsync:
                writing = asyncio.ensure_future(thread.run_previewed(
                    lambda: table.insert({"v": 1}),
                    lambda value: seen.append((value, not fsync.release.is_set()))))
                assert await asyncio.to_thread(fsync.entered.wait, WAIT)
                for _ in range(200):  # the preview comes through the loop: a bounded wait
                    if seen:
                        break
                    await asyncio.sleep(0.005)
                assert seen and not writing.done(), "the preview came before the result"
                fsync.release.set()
                assert await writing == 1
            assert seen == [(1, True)]
            # no write, no preview; a failed job, no preview
            assert await thread.run_previewed(lambda: len(table), lambda v: seen.append(v)) == 1

            def broken() -> None:
                table.insert({"v": 2})
                raise ValueError("no")

            with pytest.raises(ValueError):
                await thread.run_previewed(broken, lambda v: seen.append(v))
            await turns()
            assert seen == [(1, True)]
        finally:
            thread.storages = []
            thread.stop()
            db.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT * 3))


def test_a_refresh_prepares_its_answer_during_the_fsync_and_sends_it_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(store: Store) -> None:
        await store.seed_if_empty({"organizations": [{"id": ORG, "slug": "a"}],
                                   "users": [{"id": "u1", "organization_id": ORG,
                                              "is_active": True, "statements": []}]})
        tokens = TokenService(store.settings, store, Keyring.load_or_create(tmp_path))
        first = await tokens.issue({"id": "u1", "organization_id": ORG})
        signed: list[bool] = []
        sign = tokens.create_access_token

        def spy(user_id: str, organization_id: str) -> str:
            signed.append(not fsync.release.is_set())  # the fsync cannot have returned yet
            return sign(user_id, organization_id)

        monkeypatch.setattr(tokens, "create_access_token", spy)
        with held_fsync(monkeypatch) as fsync:
            rotating = asyncio.ensure_future(tokens.rotate(first["refresh_token"]))
            assert await asyncio.to_thread(fsync.entered.wait, WAIT)
            for _ in range(200):
                if signed:
                    break
                await asyncio.sleep(0.005)
            assert signed == [True], "the access token was signed while the fsync ran"
            assert not rotating.done(), "and the answer waits for the fsync"
            fsync.release.set()
            out = await rotating
        assert out is not None and signed == [True], "signed once"
        identity = await tokens.verify_access_token(out["access_token"])
        assert identity is not None and identity.user_id == "u1"

    run(tmp_path, body)


# ---------------------------------------------------------------- lists encoded once


def test_an_encoded_item_someone_changed_is_encoded_again() -> None:
    item = EncodedObject(b'{"a": 1, "b": [1]}')
    assert encode_item(item) == b'{"a": 1, "b": [1]}'
    item["b"].append(2)  # the caller's own copy
    assert encode_item(item) == b'{"a": 1, "b": [1, 2]}'
    assert encode_item(EncodedObject(b'{"a": 1, "b": [1]}')) == b'{"a": 1, "b": [1]}'


def test_a_stored_document_json_cannot_hold_is_listed_repaired_and_logged_each_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database written before input validation existed may hold a lone surrogate; the list
    answers 200 with it repaired, and says so in the log at every request, not only the first
    (the encoding is kept, the warning is not)."""
    settings = Settings(data_dir=tmp_path, demo=True, clock=FakeClock())
    login = {"email": "user@example.com", "password": "your-password",
             "organization_slug": "myorg"}
    with (ServedApp(lambda: create_app(settings, Components())) as base,
          httpx.Client(base_url=base, timeout=10) as c):
        assert c.post("/authentication/login", json=login).status_code == 200
    # between two runs, a record as a version without input validation could have stored it
    snapshot = tmp_path / MAIN_DB
    text = snapshot.read_text()
    assert text.count('"Production"') == 1
    snapshot.write_text(text.replace('"Production"', '"Production\\ud800"'))
    with (ServedApp(lambda: create_app(settings, Components())) as base,
          httpx.Client(base_url=base, timeout=10) as c):
        access = c.post("/authentication/login", json=login).json()["access_token"]
        h = {"Authorization": f"Bearer {access}"}
        for _ in range(2):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="reference_server"):
                page = c.get("/accounts", headers=h)
            assert page.status_code == 200, page.text
            assert [a["name"] for a in page.json()["results"]] == [
                "Production\ufffd", "Development"]
            assert any("repaired" in rec.getMessage() for rec in caplog.records)


# ---------------------------------------------------------------- signatures checked once


def _tokens(tmp_path: Path, store: Store) -> TokenService:
    return TokenService(store.settings, store, Keyring.load_or_create(tmp_path))


async def _seeded(store: Store) -> None:
    await store.seed_if_empty({"organizations": [{"id": ORG, "slug": "a"}],
                               "users": [{"id": "u1", "organization_id": ORG, "is_active": True,
                                          "statements": []}]})


def test_a_token_signature_is_checked_once_and_its_times_at_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        await _seeded(store)
        tokens = _tokens(tmp_path, store)
        checked: list[str] = []
        signed_claims = tokens._signed_claims

        def spy(token: str) -> dict[str, Any] | None:
            checked.append(token)
            return signed_claims(token)

        monkeypatch.setattr(tokens, "_signed_claims", spy)
        token = tokens.create_access_token("u1", ORG)
        for _ in range(5):
            assert await tokens.verify_access_token(token) is not None
        assert checked == [token], "one signature check for five requests"
        clock.advance(-60)  # a clock set back past iat (beyond the leeway): refused, cached or not
        assert await tokens.verify_access_token(token) is None
        clock.advance(60 + store.settings.access_token_ttl)  # exactly at exp
        assert await tokens.verify_access_token(token) is None
        assert len(tokens.verified) == 0, "an expired token is no longer kept"
        assert checked == [token, token], "and past its exp it is checked again, and refused"

    run(tmp_path, body, clock=clock)


def test_a_cached_token_of_a_user_no_longer_active_is_refused(tmp_path: Path) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        await _seeded(store)
        tokens = _tokens(tmp_path, store)
        token = tokens.create_access_token("u1", ORG)
        assert await tokens.verify_access_token(token) is not None
        assert len(tokens.verified) == 1

        def deactivate() -> None:
            store._table("users").update({"is_active": False},
                                         doc_ids=store._users.by_id.ids("u1"))

        await store._run(deactivate)
        assert await tokens.verify_access_token(token) is None

    run(tmp_path, body, clock=clock)


def test_only_tokens_that_verify_are_kept_and_at_most_the_bound() -> None:
    cache = VerifiedTokens(max_entries=2)
    now = 1000.0
    cache.put("no-exp", {"sub": "x"}, now)
    cache.put("float-exp", {"exp": 2000.5}, now)
    cache.put("expired", {"exp": 1000}, now)
    assert len(cache) == 0
    for name in ("a", "b", "c"):
        cache.put(name, {"exp": 2000, "sub": name}, now)
    assert len(cache) == 2 and cache.get("a", now) is None, "the oldest goes first"
    claims = cache.get("c", now)
    assert claims == {"exp": 2000, "sub": "c"}
    claims["sub"] = "changed by the caller"
    assert cache.get("c", now) == {"exp": 2000, "sub": "c"}, "callers get copies"
    assert cache.get("c", 2000) is None and len(cache) == 1


def test_garbage_never_enters_the_cache(tmp_path: Path) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        await _seeded(store)
        tokens = _tokens(tmp_path, store)
        good = tokens.create_access_token("u1", ORG)
        head, payload, signature = good.split(".")
        for bad in (good + "==", f"{head}.{payload}.{signature[::-1]}", "a.b.c", "x" * 100):
            assert tokens.decode_access_token(bad) is None
        assert len(tokens.verified) == 0

    run(tmp_path, body, clock=clock)


# ---------------------------------------------------------------- a write alone, synced on the loop


class SyncSpy:
    """`os.fdatasync`, noting the thread each call runs on; failing once if told to."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.fail: OSError | None = None
        self._real = os.fdatasync

    def __call__(self, fd: int) -> None:
        self.threads.append(threading.current_thread().name)
        if self.fail is not None:
            fail, self.fail = self.fail, None
            raise fail
        self._real(fd)


def test_a_write_alone_is_synced_on_the_loop_before_it_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(store: Store) -> None:
        store.sync_on_loop_when(lambda: True)
        spy = SyncSpy()
        monkeypatch.setattr(os, "fdatasync", spy)
        made = await store.create_account(ORG, "Alone")
        assert spy.threads == [threading.current_thread().name], "synced here, before the answer"
        assert store._thread.quiet
        page = await store.list_accounts(ORG, ListParams())
        assert [a["id"] for a in page.results] == [made["id"]]

        seen: list[Any] = []
        with store.preparing(seen.append):  # it prepares its answer while a helper syncs
            await store.create_account(ORG, "Prepared")
        assert spy.threads[1:] == ["dpaas-sync"] and len(seen) == 1
        assert store._thread.quiet

        store.sync_on_loop_when(lambda: False)  # another request in flight: the thread syncs
        await store.create_account(ORG, "Not alone")
        with store.preparing(seen.append):
            await store.create_account(ORG, "Not alone, prepared")
        assert spy.threads[2:] == ["dpaas-store", "dpaas-store"] and len(seen) == 2

    run(tmp_path, body)
    reopened = Database(tmp_path / MAIN_DB)
    try:
        names = {a["name"] for a in reopened.documents("accounts").all()}
    finally:
        reopened.close()
    assert names == {"Alone", "Prepared", "Not alone", "Not alone, prepared"}, (
        "every answered write is on disk")


def test_a_write_alone_prepares_its_answer_while_the_sync_runs_and_returns_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(store: Store) -> None:
        store.sync_on_loop_when(lambda: True)
        with held_fsync(monkeypatch) as fsync:
            real = fsync._real
            synced: list[bool] = []

            def sync_and_note(fd: int) -> None:
                real(fd)
                synced.append(True)

            fsync._real = sync_and_note
            seen: list[tuple[bool, bool]] = []

            def prepare(value: Any) -> None:
                # the helper is inside the sync, which cannot return before this releases it
                seen.append((fsync.entered.is_set(), bool(synced)))
                fsync.release.set()

            with store.preparing(prepare):
                made = await store.create_account(ORG, "Prepared")
            assert seen == [(True, False)], "prepared while the sync was under way"
            assert synced == [True], "and answered only once it had returned"
        assert store._thread.quiet
        page = await store.list_accounts(ORG, ListParams())
        assert [a["id"] for a in page.results] == [made["id"]]

    run(tmp_path, body)


@pytest.mark.parametrize("preview", [False, True], ids=["on the loop", "during a preview"])
def test_a_failed_sync_undoes_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preview: bool
) -> None:
    """Synced on the loop, or by the helper thread while an answer is prepared (a preview)."""
    async def body(store: Store) -> None:
        store.sync_on_loop_when(lambda: True)
        kept = await store.create_account(ORG, "Kept", is_default=True)
        spy = SyncSpy()
        spy.fail = OSError(28, "No space left on device")
        monkeypatch.setattr(os, "fdatasync", spy)
        seen: list[Any] = []

        def maybe_preview() -> AbstractContextManager[Any]:
            return store.preparing(seen.append) if preview else nullcontext()

        with maybe_preview(), pytest.raises(OSError):
            await store.create_account(ORG, "Lost", is_default=True)
        if preview:
            assert spy.threads == ["dpaas-sync"] and len(seen) == 1
        assert store._thread.quiet, "undone, memory is what is durable again"
        page = await store.list_accounts(ORG, ListParams())
        assert [(a["id"], a["is_default"]) for a in page.results] == [(kept["id"], True)]
        with maybe_preview():
            again = await store.create_account(ORG, "Next")
        assert again["name"] == "Next", "and the next write works"

    run(tmp_path, body)


def test_in_flight_counts_the_requests_between_the_start_and_the_end_of_their_handler() -> None:
    in_flight = InFlight()

    async def scenario() -> None:
        seen: list[bool] = []
        gate = asyncio.Event()

        async def handler(request: Any) -> web.StreamResponse:
            seen.append(in_flight.alone())
            await gate.wait()
            return web.Response()

        first = asyncio.ensure_future(in_flight.middleware(None, handler))
        await turns()
        second = asyncio.ensure_future(in_flight.middleware(None, handler))
        await turns()
        gate.set()
        await asyncio.gather(first, second)
        assert seen == [True, False], "alone, then not: the first was still in flight"
        assert in_flight.count == 0 and in_flight.alone()

    asyncio.run(asyncio.wait_for(scenario(), WAIT))
