"""What one request costs: one client, keep-alive, p50 per operation, read as multiples of the
loopback floor (an ordinary aiohttp handler in its own process, `floor.py`).

The machine may be shared, so the operations are measured interleaved: each round sends a batch
of every operation in turn (the floor among them), and a p50 is taken over all the rounds. A
load that comes and goes then weighs on every figure alike, and the ratios to the floor, all
from one run, are what to compare between runs. The client is `http.client` (the standard
library's, one connection per server, blocking): the lightest client at hand, so that what it
costs itself hides as little as possible of what the servers cost.

`OPERATIONS` is the one place that lists what is measured: a row per operation. An operation
the server does not serve (404 or 405 on the first try: an older server) is reported as such.
With a second server (`--compare-src`, an earlier version), each of its operations is a row of
its own ("…, other server"), measured in the same rounds: a before/after difference smaller than
the noise between two runs (often ±10% on a shared machine) shows up there, as the floor does.

Two rows are bare writes, served by the floor's process (`floor.py`): a create and a refresh
with only the work no implementation can leave out (the body, one record written and
fdatasynced, and for the refresh an RS256 signature with PyJWT), as ordinary aiohttp handlers.
They are the least any aiohttp server pays for those two on this machine: what the reference
server costs beyond them is its own, and a target below them is out of reach.

One more row is no request at all: the disk's own cost of what a write waits for, a record of
300 bytes written over the zeros of a file grown ahead (as the journal is) beside the data dir and
fdatasynced, measured by the benchmark itself in the same rounds (a create or a refresh pays one
such sync).
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.bench.floor import Records

#: Per operation: a p50 at most this many floors (issue 19); None: no target.
TARGETS: dict[str, float] = {"list": 2.0, "create": 3.0, "refresh": 3.0}
FLOOR = "floor"
#: what the rows of the second server (`--compare-src`) are named after
OTHER = ", other server"
FSYNC = "disk: 300 B written + fdatasync"
BARE = ", bare aiohttp"
TIMEOUT = 10.0


class Client:
    """One keep-alive connection to one server; a request's status and JSON body."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        assert parts.hostname is not None and parts.port is not None
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


@dataclass
class Session:
    """What the operations share: the admin's tokens, an account to read and change, accounts
    to delete (made before each batch, untimed)."""

    api: Client
    floor: Client
    disk: Records
    access: str = ""
    refresh: str = ""
    account_id: str = ""
    doomed: list[str] = field(default_factory=list)
    made: int = 0

    def create(self, name: str) -> str:
        status, body = self.api.call("POST", "/accounts", {"name": name}, self.access)
        if status != 201:
            raise SystemExit(f"creating an account failed: {status} {body[:200]!r}")
        self.made += 1
        return str(json.loads(body)["id"])


def _prepare_deletes(s: Session, count: int) -> None:
    s.doomed = [s.create(f"Doomed {s.made}") for _ in range(count)]


def _write_and_sync(s: Session, i: int) -> None:
    s.disk.write_durably({"i": i})


def _next_refresh(s: Session, body: bytes) -> None:
    s.refresh = json.loads(body)["refresh_token"]


@dataclass(frozen=True)
class Operation:
    """One row of the table: a request, sent `batch` times per round."""

    name: str
    method: str
    path: Callable[[Session], str]
    body: Callable[[Session, int], Any] | None = None
    expect: tuple[int, ...] = (200,)
    auth: bool = True
    on_floor: bool = False
    #: reads the answer (the refresh chain goes on with the new token)
    then: Callable[[Session, bytes], None] | None = None
    #: untimed, before each batch (accounts for the deletes)
    prepare: Callable[[Session, int], None] | None = None
    #: no request: this, in the benchmark's own process
    local: Callable[[Session, int], None] | None = None

    def send(self, s: Session, i: int) -> tuple[int, bytes]:
        if self.local is not None:
            self.local(s, i)
            return 200, b""
        client = s.floor if self.on_floor else s.api
        body = self.body(s, i) if self.body is not None else None
        return client.call(self.method, self.path(s), body, s.access if self.auth else None)


OPERATIONS: tuple[Operation, ...] = (
    Operation(FLOOR, "GET", lambda s: "/accounts", auth=False, on_floor=True),
    Operation(FSYNC, "", lambda s: "", local=_write_and_sync),
    Operation("create" + BARE, "POST", lambda s: "/accounts", auth=False, on_floor=True,
              body=lambda s, i: {"name": f"Bench {i}", "metadata": {"i": i}}, expect=(201,)),
    Operation("refresh" + BARE, "POST", lambda s: "/authentication/refresh", auth=False,
              on_floor=True, body=lambda s, i: {"refresh_token": s.refresh}),
    Operation("list", "GET", lambda s: "/accounts"),
    Operation("create", "POST", lambda s: "/accounts",
              body=lambda s, i: {"name": f"Bench {i}", "metadata": {"i": i}}, expect=(201,)),
    Operation("refresh", "POST", lambda s: "/authentication/refresh",
              body=lambda s, i: {"refresh_token": s.refresh}, auth=False, then=_next_refresh),
    Operation("get", "GET", lambda s: f"/accounts/{s.account_id}"),
    Operation("patch", "PATCH", lambda s: f"/accounts/{s.account_id}",
              body=lambda s, i: {"name": f"Patched {i}"}),
    Operation("delete", "DELETE", lambda s: f"/accounts/{s.doomed.pop()}", expect=(200, 204),
              prepare=_prepare_deletes),
)


@dataclass
class Row:
    operation: str
    latencies_ms: list[float] = field(default_factory=list)
    served: bool = True

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)


def measure(base: str, floor_base: str, login: dict[str, str], rounds: int,
            batch: int, disk: Path, other_base: str | None = None) -> dict[str, Any]:
    """Every operation `rounds` x `batch` times, interleaved; p50 per operation and its ratio to
    the floor's. `disk`: a file to write to for the disk row (beside the data dir).
    `other_base`: a second server whose operations are measured in the same rounds."""
    records = Records(disk)
    floor_client = Client(floor_base)
    sessions = [Session(Client(b), floor_client, records) for b in (base, other_base) if b]
    try:
        for s in sessions:
            _sign_in(s, login)
        plan: list[tuple[Operation, Session, Row]] = []
        for op in OPERATIONS:
            on_servers = not op.on_floor and op.local is None
            for k, s in enumerate(sessions if on_servers else sessions[:1]):
                plan.append((op, s, Row(op.name + (OTHER if k else ""))))
        for op, s, row in plan:  # probe, and warm up
            for i in range(5):
                if op.prepare is not None:
                    op.prepare(s, 1)
                status, body = op.send(s, i)
                if i == 0 and status in (404, 405) and status not in op.expect:
                    row.served = False
                    break
                _check(op, status, body)
                if op.then is not None:
                    op.then(s, body)
        live = [(op, s, row) for op, s, row in plan if row.served]
        for r in range(rounds):
            # each round starts one operation further on, so that none always follows another
            for op, s, row in live[r % len(live):] + live[: r % len(live)]:
                if op.prepare is not None:
                    op.prepare(s, batch)
                for i in range(batch):
                    t0 = time.perf_counter()
                    status, body = op.send(s, i)
                    elapsed = time.perf_counter() - t0
                    _check(op, status, body)
                    if op.then is not None:
                        op.then(s, body)
                    row.latencies_ms.append(elapsed * 1000)
    finally:
        for s in sessions:
            s.api.close()
        floor_client.close()
        records.close()
    rows = [row for _op, _s, row in plan]
    floor = next(r for r in rows if r.operation == FLOOR).p50
    return {
        "rounds": rounds, "batch": batch, "floor_p50_ms": floor,
        "rows": [
            {"operation": r.operation, "served": r.served, "n": len(r.latencies_ms),
             **({"p50_ms": r.p50, "floors": r.p50 / floor, "target": TARGETS.get(r.operation)}
                if r.served else {})}
            for r in rows
        ],
    }


def _sign_in(s: Session, login: dict[str, str]) -> None:
    """The admin's tokens, and the account the by-id operations read and change."""
    status, body = s.api.call("POST", "/authentication/login", login)
    if status != 200:
        raise SystemExit(f"login failed: {status} {body[:200]!r}")
    tokens = json.loads(body)
    s.access, s.refresh = tokens["access_token"], tokens["refresh_token"]
    s.account_id = s.create("Bench subject")


def _check(op: Operation, status: int, body: bytes) -> None:
    if status not in op.expect:
        raise SystemExit(f"{op.name}: got {status}, expected {op.expect}: {body[:200]!r}")
