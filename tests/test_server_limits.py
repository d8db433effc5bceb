"""No client can starve the others (issue 9): read deadlines, connection bounds, and a bounded
password-hashing pool that is fair across client addresses.

Timing here is only ever a bound on how long a test may wait; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest

from reference_server.app import Components, create_app
from reference_server.config import Settings
from reference_server.errors import ServiceUnavailable, TooManyRequests
from reference_server.passwords import PRIORITY_TURNS, FairPool, Passwords
from tests.support import FakeClock, ServedApp, raw_exchange
from tests.test_server_throttle import FAST_HASHING, credentials, unknown_user

WAIT = 10.0  # the most any step here waits for the server


@contextmanager
def serve(tmp_path: Path, components: Components | None = None, **kw: Any) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path, demo=True, clock=FakeClock(), **FAST_HASHING, **kw)
    with ServedApp(lambda: create_app(settings, components or Components())) as base:
        yield base


def connect(base: str, source: str = "127.0.0.1") -> socket.socket:
    url = urlsplit(base)
    return socket.create_connection((url.hostname, url.port), WAIT, source_address=(source, 0))


def read_all(s: socket.socket) -> bytes:
    """Everything until the server closes the connection (bounded by the socket timeout)."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


GET = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"


# ---------------------------------------------------------------- read deadlines


def test_a_body_trickling_past_the_deadline_gets_408_and_the_connection_closes(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, body_timeout=0.3) as base, connect(base) as s:
        s.sendall(b"POST /authentication/login HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em")
        head, _, body = read_all(s).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), head
        assert json.loads(body)["error"] == "RequestTimeout"


def test_headers_trickling_past_the_deadline_close_the_connection(tmp_path: Path) -> None:
    with serve(tmp_path, header_timeout=0.3) as base, connect(base) as slow, connect(base) as idle:
        slow.sendall(b"GET /accounts HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert read_all(slow) == b"", "closed without an answer"
        assert read_all(idle) == b"", "an idle connection is closed too"


# ---------------------------------------------------------------- connection bounds


def test_connections_are_bounded_per_address_and_in_all(tmp_path: Path) -> None:
    with serve(tmp_path, max_connections=3, max_connections_per_address=2) as base, \
            ExitStack() as stack:
        def opened(source: str) -> socket.socket:
            s = stack.enter_context(connect(base, source))
            s.sendall(GET)  # answered: the server has counted this connection
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
            return s

        first = opened("127.0.0.2")
        opened("127.0.0.2")
        r = raw_exchange(base, GET, source="127.0.0.2")
        assert r is not None and r.status == 429, "a third from one address"
        assert json.loads(r.body)["error"] == "TooManyRequests"
        opened("127.0.0.3")
        r = raw_exchange(base, GET, source="127.0.0.4")
        assert r is not None and r.status == 503 and r.headers["retry-after"] == "1"
        assert json.loads(r.body)["error"] == "ServiceUnavailable"
        first.close()
        deadline = time.monotonic() + WAIT
        while (r := raw_exchange(base, GET, source="127.0.0.4")) is None or r.status != 200:
            assert time.monotonic() < deadline, "a slot never came back"


# ---------------------------------------------------------------- the hashing pool


class Gate:
    """Jobs block in the worker threads until released, recording the order they ran in."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran: list[str] = []
        self.started = threading.Semaphore(0)

    def job(self, name: str) -> Callable[[], str]:
        def run() -> str:
            self.started.release()
            assert self.release.wait(WAIT)
            self.ran.append(name)
            return name

        return run


async def settle() -> None:
    """Let the loop run the callbacks that move jobs along (a bounded number of turns)."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_one_address_may_use_the_whole_pool_when_nobody_else_waits() -> None:
    async def scenario() -> None:
        gate = Gate()
        pool = FairPool(workers=2, capacity=4)
        jobs = [asyncio.ensure_future(pool.run("a", gate.job(f"a{i}"))) for i in range(6)]
        await settle()
        with pytest.raises(TooManyRequests):
            await pool.run("a", gate.job("a6"))
        gate.release.set()
        assert sorted(await asyncio.gather(*jobs)) == [f"a{i}" for i in range(6)]
        pool.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT))


def test_waiting_logins_are_served_round_robin_and_known_pairs_first() -> None:
    async def scenario() -> None:
        gate = Gate()
        pool = FairPool(workers=1, capacity=10)
        running = asyncio.ensure_future(pool.run("a", gate.job("a0")))
        await asyncio.to_thread(gate.started.acquire, True, WAIT)
        jobs = [asyncio.ensure_future(pool.run(c, gate.job(n)))
                for c, n in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("c", "c1")]]
        await settle()
        known = asyncio.ensure_future(pool.run("d", gate.job("known"), priority=True))
        await settle()
        gate.release.set()
        await asyncio.gather(running, known, *jobs)
        assert gate.ran == ["a0", "known", "a1", "b1", "c1", "a2", "a3"]
        pool.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT))


def test_returning_users_never_starve_a_first_login() -> None:
    async def scenario() -> None:
        gate = Gate()
        pool = FairPool(workers=1, capacity=20)
        running = asyncio.ensure_future(pool.run("a", gate.job("a0")))
        await asyncio.to_thread(gate.started.acquire, True, WAIT)
        first = asyncio.ensure_future(pool.run("new", gate.job("first")))
        await settle()
        known = [asyncio.ensure_future(pool.run("k", gate.job(f"k{i}"), priority=True))
                 for i in range(PRIORITY_TURNS + 3)]
        await settle()
        gate.release.set()
        await asyncio.gather(running, first, *known)
        assert gate.ran.index("first") == PRIORITY_TURNS + 1, gate.ran
        pool.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT))


def test_a_full_pool_makes_the_heaviest_address_give_way() -> None:
    async def scenario() -> None:
        gate = Gate()
        pool = FairPool(workers=1, capacity=3)
        running = asyncio.ensure_future(pool.run("x", gate.job("x0")))
        await asyncio.to_thread(gate.started.acquire, True, WAIT)
        a = [asyncio.ensure_future(pool.run("a", gate.job(f"a{i}"))) for i in range(3)]
        await settle()
        b = asyncio.ensure_future(pool.run("b", gate.job("b1")))  # evicts a2
        await settle()
        with pytest.raises(TooManyRequests) as evicted:
            await a[2]
        assert int(evicted.value.headers["Retry-After"]) >= 1
        c = asyncio.ensure_future(pool.run("c", gate.job("c1")))  # evicts a1
        await settle()
        with pytest.raises(TooManyRequests):
            await a[1]
        with pytest.raises(ServiceUnavailable) as busy:  # a, b, c hold one each: no one gives way
            await pool.run("d", gate.job("d1"))
        assert int(busy.value.headers["Retry-After"]) >= 1
        gate.release.set()
        assert await asyncio.gather(running, a[0], b, c) == ["x0", "a0", "b1", "c1"]
        pool.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT))


class GatedPasswords(Passwords):
    """Verification blocks until the test releases it, so the pool's state is known."""

    instances: ClassVar[list[GatedPasswords]] = []

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.gate = Gate()
        GatedPasswords.instances.append(self)

    def _verify_sync(self, stored_hash: str | None, password: str) -> bool:
        self.gate.started.release()
        assert self.gate.release.wait(WAIT)
        return super()._verify_sync(stored_hash, password)


def test_a_full_pool_answers_503_or_429_with_retry_after_over_http(tmp_path: Path) -> None:
    components = Components(passwords=GatedPasswords)
    with serve(tmp_path, components, password_workers=1, password_queue=1) as base, \
            ThreadPoolExecutor(4) as threads:
        passwords = GatedPasswords.instances[-1]

        def log_in(source: str, body: dict[str, str]) -> httpx.Response:
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(base_url=base, timeout=WAIT, transport=transport) as c:
                return c.post("/authentication/login", json=body)

        first = threads.submit(log_in, "127.0.0.2", credentials("admin"))
        assert passwords.gate.started.acquire(timeout=WAIT)
        queued = threads.submit(log_in, "127.0.0.3", unknown_user())
        deadline = time.monotonic() + WAIT
        while passwords.pool.waiting < 1:
            assert time.monotonic() < deadline, "the second login never queued"
            time.sleep(0.001)  # polling the pool's state, not waiting for a fixed time
        busy = log_in("127.0.0.4", unknown_user())
        assert busy.status_code == 503 and busy.json()["error"] == "ServiceUnavailable"
        assert int(busy.headers["retry-after"]) >= 1
        heavy = log_in("127.0.0.3", unknown_user())
        assert heavy.status_code == 429 and int(heavy.headers["retry-after"]) >= 1
        passwords.gate.release.set()
        assert first.result(WAIT).status_code == 200
        assert queued.result(WAIT).status_code == 401
