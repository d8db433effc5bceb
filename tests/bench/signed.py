"""What signing costs (issue 17): a signed list against a Bearer list on the same server, and
the signed list with 10 keys against 10,000 keys in the database.

Two demo servers run side by side, each from a data dir that holds the demo's reader service
account and its key, plus extra keys of that service account written offline through the
server's own storage layer (as `seed.py` does for accounts): 9 on one (10 keys), 9,999 on the
other (10,000). The four rows are measured interleaved, one client each, keep-alive, as in
`per_request.py`: the headers of each signed request are made before its clock starts (what is
timed is the server's work: finding the key, opening its sealed secret, checking the signature,
recording the nonce durably). The targets: a signed list at most 2x a Bearer list; the key
lookup flat (the 10,000-key p50 within 1.25x of the 10-key one).

    python -m tests.bench.signed [--rounds 30] [--batch 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dpaas_conformance.hmac_auth import format_x_date, signed_headers

from reference_server.demo import DEMO_PRINCIPALS, DEMO_READER
from reference_server.service_keys import SecretBox, new_access_key, new_secret_key
from reference_server.store import MAIN_DB, isoformat
from reference_server.store.durable import Database
from reference_server.store.service_accounts import KEYS, SERVICE_ACCOUNTS
from tests.support import free_port

KEY_COUNTS = (10, 10_000)
#: a signed list at most this many Bearer lists; 10,000 keys at most this many times 10
SIGNED_TARGET, FLAT_TARGET = 2.0, 1.25
TIMEOUT = 10.0
LIST = "/accounts?quantity=20"


def extra_keys(data_dir: Path, count: int) -> None:
    """`count` more keys of the demo reader's service account, sealed with the data dir's own
    Fernet key, stored as the server stores an issued key."""
    box = SecretBox.load_or_create(data_dir)
    db = Database(data_dir / MAIN_DB)
    try:
        owner = next(d for d in db.documents(SERVICE_ACCOUNTS).all()
                     if d.get("id") == DEMO_READER.service_account_id)
        stamp = isoformat(time.time() - 3600)
        docs = [{"id": f"bench-key-{i:06d}", "access_key": new_access_key(),
                 "secret": box.seal(new_secret_key()), "description": f"bench {i}",
                 "expires_at": None, "expires_ts": None, "ip_allowlist": [],
                 "service_account_id": owner["id"], "organization_id": owner["organization_id"],
                 "is_active": True, "created_at": stamp, "last_used_at": None,
                 "revoked_at": None} for i in range(count)]
        with db.durable.transaction():
            db.documents(KEYS).insert_multiple(docs)
        db.durable.compact()
    finally:
        db.close()


class Client:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        assert parts.hostname is not None and parts.port is not None
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)

    def get(self, path: str, headers: dict[str, str]) -> int:
        self.conn.request("GET", path, headers={"Accept": "application/json", **headers})
        response = self.conn.getresponse()
        response.read()
        return response.status


def bearer_token(base: str) -> str:
    admin = DEMO_PRINCIPALS["admin"]
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
    conn.request("POST", "/authentication/login", headers={"Content-Type": "application/json"},
                 body=json.dumps({"email": admin.email, "password": admin.password,
                                  "organization_slug": admin.organization_slug}))
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"login failed: {response.status} {body[:200]!r}")
    return str(json.loads(body)["access_token"])


def measure(bases: dict[int, str], rounds: int, batch: int) -> dict[str, Any]:
    """p50 of a Bearer and a signed list on each server, interleaved round by round."""
    rows: dict[str, list[float]] = {}
    plans = []
    for count, base in bases.items():
        token = bearer_token(base)
        for kind in ("bearer", "signed"):
            name = f"list, {kind}, {count:,} keys"
            rows[name] = []
            plans.append((name, Client(base), kind, token))
    for name, client, kind, token in plans:  # warm up, and check each answers 200
        for _ in range(5):
            status = client.get(LIST, headers_for(kind, token))
            if status != 200:
                raise SystemExit(f"{name}: {status}")
    for r in range(rounds):
        for name, client, kind, token in plans[r % len(plans):] + plans[:r % len(plans)]:
            for _ in range(batch):
                headers = headers_for(kind, token)
                t0 = time.perf_counter()
                status = client.get(LIST, headers)
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise SystemExit(f"{name}: {status}")
                rows[name].append(elapsed * 1000)
    p50 = {name: statistics.median(v) for name, v in rows.items()}
    few, many = KEY_COUNTS
    signed_ratio = max(p50[f"list, signed, {c:,} keys"] / p50[f"list, bearer, {c:,} keys"]
                       for c in KEY_COUNTS)
    flat_ratio = p50[f"list, signed, {many:,} keys"] / p50[f"list, signed, {few:,} keys"]
    return {"rounds": rounds, "batch": batch, "p50_ms": p50,
            "signed_over_bearer": signed_ratio, "keys_10000_over_10": flat_ratio,
            "signed_target": SIGNED_TARGET, "flat_target": FLAT_TARGET}


def headers_for(kind: str, token: str) -> dict[str, str]:
    if kind == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return signed_headers(DEMO_READER.access_key, DEMO_READER.secret_key, "GET", LIST,
                          x_date=format_x_date(time.time()))


def render(result: dict[str, Any]) -> str:
    source = f"; server from {result['server_src']}" if result.get("server_src") else ""
    lines = ["", f"signed requests (one client, p50 of interleaved rounds{source})",
             f"{'request':<32}{'p50 ms':>10}"]
    lines += [f"{name:<32}{ms:>10.3f}" for name, ms in result["p50_ms"].items()]
    ok = "ok" if result["signed_over_bearer"] <= SIGNED_TARGET else "OVER"
    flat = "ok" if result["keys_10000_over_10"] <= FLAT_TARGET else "OVER"
    lines.append(f"signed / Bearer: {result['signed_over_bearer']:.2f}x "
                 f"(target <= {SIGNED_TARGET}x: {ok})")
    lines.append(f"10,000 keys / 10 keys: {result['keys_10000_over_10']:.2f}x "
                 f"(target <= {FLAT_TARGET}x: {flat})")
    return "\n".join(lines)


@contextmanager
def demo_server(data_dir: Path, src: Path | None = None) -> Iterator[str]:
    """The reference server in demo mode on a free port, as its own process (run from `src`,
    another source tree, if given)."""
    from tests.bench.__main__ import process

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "reference_server", "--demo", "--port", str(port),
               "--data-dir", str(data_dir)]
    with process(command, base, data_dir.with_name(data_dir.name + ".log"), src):
        yield base


def signed_costs(tmp: Path, rounds: int, batch: int, src: Path | None = None) -> dict[str, Any]:
    """Seeds the two data dirs (a demo start, then the extra keys offline) and measures; `src`:
    the server's source tree (`--server-src`), else this one."""
    from contextlib import ExitStack

    bases: dict[int, str] = {}
    with ExitStack() as stack:
        for count in KEY_COUNTS:
            data_dir = tmp / f"signed-{count}"
            with demo_server(data_dir, src):
                pass  # the demo's organizations, users, reader and Fernet key, then a clean stop
            extra_keys(data_dir, count - 1)
            bases[count] = stack.enter_context(demo_server(data_dir, src))
        result = measure(bases, rounds, batch)
    return result | {"server_src": str(src) if src is not None else None}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.signed", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench-signed.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dpaas-bench-signed-") as tmp:
        result = signed_costs(Path(tmp), args.rounds, args.batch)
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(render(result))
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwritten to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
