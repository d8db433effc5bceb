"""The shortcuts of a signed request keep its meaning: `x-date` read without `time.strptime`
says what strptime said of every string, and `last_used_at`, skipped within its interval once
this server wrote it, is written again after the interval and after an undo."""

from __future__ import annotations

import asyncio
import calendar
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography.fernet import Fernet
from dpaas_conformance.hmac_auth import format_x_date, signed_headers

from reference_server.app import Components
from reference_server.authentication import authenticate
from reference_server.config import Settings
from reference_server.demo import DEMO_READER
from reference_server.hmac_auth import _X_DATE, parse_x_date
from reference_server.store import Store, isoformat
from tests.support import FakeClock
from tests.test_server_api import _serve

WAIT = 10.0
ORG = "org-a"
SA = "sa-1"
KEY = "key-1"
INTERVAL = 60


def strptime_reading(value: str) -> float | None:
    """What the server said of `x-date` before: the pattern, then strptime and timegm."""
    if _X_DATE.fullmatch(value) is None:
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, OverflowError):
        return None


def test_x_date_reads_as_strptime_read_it() -> None:
    edges = ["2026-12-03T16:22:00Z", "2024-02-29T23:59:59Z", "2026-02-29T00:00:00Z",
             "2026-12-31T23:59:60Z", "2026-12-31T23:59:61Z", "2026-12-31T23:59:62Z",
             "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
             "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
             "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z",
             "1969-12-31T23:59:59Z", "2026-12-03 16:22:00Z", "2026-12-03T16:22:00", ""]
    rnd = random.Random(19)
    fields = [(0, 9999), (0, 13), (0, 32), (0, 25), (0, 61), (0, 63)]
    pattern = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z"
    drawn = [pattern.format(*(rnd.randint(a, b) for a, b in fields)) for _ in range(3000)]
    assert parse_x_date("2026-12-31T23:59:60Z") == parse_x_date("2027-01-01T00:00:00Z")
    for value in edges + drawn:
        assert parse_x_date(value) == strptime_reading(value), value


def run(tmp_path: Path, clock: FakeClock, body: Callable[[Store], Awaitable[None]]) -> None:
    async def scenario() -> None:
        store = Store(Settings(data_dir=tmp_path, clock=clock, last_used_interval=INTERVAL))
        await store.open()
        try:
            stamp = isoformat(clock())
            await store.seed_service_account(
                {"id": SA, "name": "Reader", "account_id": None, "organization_id": ORG,
                 "is_active": True, "metadata": {}, "statements": [], "created_at": stamp,
                 "updated_at": stamp, "last_used_at": None, "deleted_at": None},
                {"id": KEY, "access_key": "AK1", "secret": "sealed", "service_account_id": SA,
                 "organization_id": ORG, "expires_at": None, "expires_ts": None,
                 "ip_allowlist": [], "is_active": True, "created_at": stamp,
                 "last_used_at": None, "revoked_at": None})
            await body(store)
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT * 3))


def stamps(store: Store) -> tuple[Any, Any]:
    """The key's and its service account's `last_used_at`, as stored."""
    key = store._table("api_keys").get(doc_id=store._service.key_by_id.first(KEY))
    sa = store._table("service_accounts").get(doc_id=store._service.by_id.first(SA))
    assert key is not None and sa is not None
    return key["last_used_at"], sa["last_used_at"]


def test_last_used_at_is_written_once_per_interval_and_again_after_it(tmp_path: Path) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        first = isoformat(clock())
        assert await store.use_nonce(KEY, "n1", clock() + 300) == "ok"
        assert stamps(store) == (first, first)
        clock.advance(INTERVAL - 1)
        assert await store.use_nonce(KEY, "n2", clock() + 300) == "ok"
        assert stamps(store) == (first, first), "within the interval: not written again"
        clock.advance(2)
        later = isoformat(clock())
        assert await store.use_nonce(KEY, "n3", clock() + 300) == "ok"
        assert stamps(store) == (later, later), "after it: written again"
        clock.advance(-3 * INTERVAL)  # a clock set back is no reason to skip
        assert await store.use_nonce(KEY, "n4", clock() + 300) == "ok"
        assert stamps(store) == (later, later)

    run(tmp_path, clock, body)


def test_a_stamp_undone_by_a_failed_sync_is_written_by_the_next_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()

    async def body(store: Store) -> None:
        failing = True
        real = os.fdatasync

        def sync(fd: int) -> None:
            if failing:
                raise OSError(28, "No space left on device")
            real(fd)

        with monkeypatch.context() as m:
            m.setattr(os, "fdatasync", sync)
            with pytest.raises(OSError):
                await store.use_nonce(KEY, "n1", clock() + 300)
        assert stamps(store) == (None, None), "the failed write is undone"
        failing = False
        clock.advance(1)
        assert await store.use_nonce(KEY, "n2", clock() + 300) == "ok"
        now = isoformat(clock())
        assert stamps(store) == (now, now), "written by the next request, not skipped"

    run(tmp_path, clock, body)



def signed_list(client: httpx.Client, clock: FakeClock, access_key: str) -> int:
    """The status of `GET /accounts` signed with the demo reader's secret, dated by `clock`."""
    headers = signed_headers(access_key, DEMO_READER.secret_key, "GET", "/accounts",
                             x_date=format_x_date(clock()))
    return client.get("/accounts", headers=headers).status_code


def test_no_signed_request_opens_a_sealed_secret(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stored key's secret is opened at start: a known key's first request after a
    restart, and an unknown key's (checked against the dummy), cost no Fernet opening at all,
    so they do the same work (CWE-208), and the key still authenticates."""
    clock = FakeClock()
    with _serve(tmp_path, clock):
        pass  # the demo's key is stored, sealed: the next start meets it in the database
    opened: list[bytes] = []
    decrypt = Fernet.decrypt

    def counted(self: Fernet, token: bytes | str, ttl: int | None = None) -> bytes:
        opened.append(token if isinstance(token, bytes) else token.encode())
        return decrypt(self, token, ttl)

    monkeypatch.setattr(Fernet, "decrypt", counted)
    unknown = "sa_" + "0" * 32
    with _serve(tmp_path, clock) as base_url, \
            httpx.Client(base_url=base_url, timeout=WAIT) as client:
        at_start = len(opened)
        answers = {key: signed_list(client, clock, key)
                   for key in (DEMO_READER.access_key, unknown)}
    assert at_start >= 1  # the demo's key, opened at start
    assert answers == {DEMO_READER.access_key: 200, unknown: 401}
    assert len(opened) == at_start, "a signed request opened a sealed secret"


def test_a_request_is_authenticated_once_whoever_asks(tmp_path: Path) -> None:
    """A middleware that asks who calls, before the route asks again, gets the same caller, and a
    signed request is not refused as a replay of itself (its nonce is used up by the first
    check)."""
    seen = []

    @web.middleware
    async def asks_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/accounts":
            seen.append(await authenticate(request))
        return await handler(request)

    clock = FakeClock()
    with _serve(tmp_path, clock, Components(middlewares=(asks_first,))) as base_url, \
            httpx.Client(base_url=base_url, timeout=WAIT) as client:
        status = signed_list(client, clock, DEMO_READER.access_key)
    assert status == 200
    assert [i.service_account_id for i in seen] == [DEMO_READER.service_account_id]
