"""Demo data that makes the guide's walkthrough run verbatim, plus the profile's principals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .passwords import Passwords
from .policy import ACTION_CREATE_ACCOUNT, ACTION_LIST_ACCOUNTS, ACTION_LIST_USERS
from .store import Store, isoformat


@dataclass(frozen=True)
class Principal:
    """Credentials of a demo user, as a client would send them to /authentication/login."""

    email: str
    password: str
    organization_slug: str


DEMO_PRINCIPALS: dict[str, Principal] = {
    "admin": Principal("user@example.com", "your-password", "myorg"),
    "limited": Principal("limited@example.com", "limited-password", "myorg"),
    "other": Principal("admin@other.example.com", "other-password", "otherorg"),
}

ORGANIZATIONS = {"myorg": "My Organization", "otherorg": "Other Organization"}

ADMIN_STATEMENTS: list[dict[str, Any]] = [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]


def limited_statements(organization_id: str) -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": [ACTION_LIST_ACCOUNTS, ACTION_LIST_USERS],
            "Resource": [f"dpaas:org/{organization_id}/*"],
        },
        {"Effect": "Deny", "Action": [ACTION_CREATE_ACCOUNT], "Resource": ["*"]},
    ]


def user_document(
    email: str,
    org_id: str,
    password_hash: str,
    statements: list[dict[str, Any]],
    now: str,
) -> dict[str, Any]:
    """A user as the store holds it (the benchmark's offline seeding builds the same)."""
    return {
        "id": str(uuid.uuid4()),
        "email": email.lower(),
        "organization_id": org_id,
        "password_hash": password_hash,
        "statements": statements,
        "is_active": True,
        "is_verified": True,
        "mfa_enabled": False,
        "metadata": {},
        "last_login_at": None,
        "created_at": now,
        "updated_at": now,
    }


def account_document(
    name: str, org_id: str, is_default: bool, now: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An account as the store holds it."""
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "organization_id": org_id,
        "is_default": is_default,
        "is_active": True,
        "metadata": metadata or {},
        "created_at": now,
        "updated_at": now,
    }


async def seed(store: Store, passwords: Passwords, clock: Callable[[], float]) -> bool:
    """Create the demo organizations, users and accounts in an empty database (idempotent)."""
    if not await store.is_empty():
        return False
    t = clock()
    now, earlier = isoformat(t), isoformat(t - 0.001)
    orgs = {slug: str(uuid.uuid4()) for slug in ORGANIZATIONS}
    hashes = dict(
        zip(
            DEMO_PRINCIPALS,
            await asyncio.gather(*(passwords.hash(p.password) for p in DEMO_PRINCIPALS.values())),
            strict=True,
        )
    )
    a, b = orgs["myorg"], orgs["otherorg"]
    email = {name: p.email for name, p in DEMO_PRINCIPALS.items()}
    data = {
        "organizations": [
            {"id": orgs[slug], "slug": slug, "name": name, "created_at": now, "updated_at": now}
            for slug, name in ORGANIZATIONS.items()
        ],
        "users": [
            user_document(email["admin"], a, hashes["admin"], ADMIN_STATEMENTS, now),
            user_document(email["limited"], a, hashes["limited"], limited_statements(a), now),
            user_document(email["other"], b, hashes["other"], ADMIN_STATEMENTS, now),
        ],
        # Development first, Production second: newest-first lists show Production on top.
        "accounts": [
            account_document("Development", a, True, earlier),
            account_document("Production", a, False, now),
            account_document("Other Default", b, True, now),
        ],
    }
    return await store.seed_if_empty(data)
