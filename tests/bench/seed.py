"""A data dir holding N accounts, written offline through the server's own storage layer.

Creating 10,000 accounts over HTTP would measure the filling, not the server at 10,000 accounts.
Instead the benchmark builds the documents the demo seeding builds (organizations, users with
argon2id hashes, accounts) and stores them the way the server stores them, before starting it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_server.demo import (
    ADMIN_STATEMENTS,
    DEMO_PRINCIPALS,
    account_document,
    user_document,
)
from reference_server.store import MAIN_DB, isoformat
from reference_server.store.durable import Database

BENCH_PASSWORD = "bench-password"
ORG, NEIGHBOUR = "myorg", "otherorg"


def bench_email(k: int) -> str:
    """The user client k logs in as: 16 clients log in as 16 distinct users."""
    return f"bench-{k}@example.com"


@dataclass(frozen=True)
class Layout:
    """How much data the measured organization and its neighbour hold."""

    accounts: int
    neighbour_accounts: int = 0
    users: int = 16


def _user(email: str, org_id: str, password_hash: str, now: str) -> dict[str, Any]:
    return user_document(email, org_id, password_hash, ADMIN_STATEMENTS, now)


def _accounts(org_id: str, count: int, start: float) -> list[dict[str, Any]]:
    """`count` accounts a millisecond apart, the oldest first, the first one the default."""
    out = []
    for i in range(count):
        ts = isoformat(start + i / 1000)
        out.append(account_document(f"Seeded {i:06d}", org_id, i == 0, ts, {"seq": i}))
    return out


def documents(layout: Layout, hashes: dict[str, str], now: float) -> dict[str, list[dict]]:
    """Every document of the seeded database, by table."""
    stamp = isoformat(now - 3600)
    org_ids = {ORG: str(uuid.uuid4()), NEIGHBOUR: str(uuid.uuid4())}
    admin, other = DEMO_PRINCIPALS["admin"], DEMO_PRINCIPALS["other"]
    users = [
        _user(admin.email, org_ids[ORG], hashes[admin.password], stamp),
        _user(other.email, org_ids[NEIGHBOUR], hashes[other.password], stamp),
        *(_user(bench_email(k), org_ids[ORG], hashes[BENCH_PASSWORD], stamp)
          for k in range(layout.users)),
    ]
    start = now - 3000
    return {
        "organizations": [
            {"id": org_id, "slug": slug, "name": slug, "created_at": stamp, "updated_at": stamp}
            for slug, org_id in org_ids.items()
        ],
        "users": users,
        "accounts": [
            *_accounts(org_ids[ORG], layout.accounts, start),
            *_accounts(org_ids[NEIGHBOUR], layout.neighbour_accounts, start),
        ],
    }


def write(data_dir: Path, tables: dict[str, list[dict]]) -> None:
    """Store the documents through the server's own storage layer, then fold them into the
    snapshot, as a clean shutdown of the server would."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(data_dir / MAIN_DB)
    try:
        with db.durable.transaction():
            for name, docs in tables.items():
                db.documents(name).insert_multiple(docs)
        db.durable.compact()
    finally:
        db.close()
