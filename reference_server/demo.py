"""Demo data that makes the guide's walkthrough run verbatim, plus the profile's principals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .passwords import Passwords
from .policy import ACTION_CREATE_ACCOUNT, ACTION_LIST_ACCOUNTS, ACTION_LIST_USERS
from .storage import Store, isoformat


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


def _user(
    principal: Principal,
    org_id: str,
    password_hash: str,
    statements: list[dict[str, Any]],
    now: str,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "email": principal.email.lower(),
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


def _account(name: str, org_id: str, is_default: bool, now: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "organization_id": org_id,
        "is_default": is_default,
        "is_active": True,
        "metadata": {},
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
    data = {
        "organizations": [
            {"id": orgs[slug], "slug": slug, "name": name, "created_at": now, "updated_at": now}
            for slug, name in ORGANIZATIONS.items()
        ],
        "users": [
            _user(DEMO_PRINCIPALS["admin"], a, hashes["admin"], ADMIN_STATEMENTS, now),
            _user(DEMO_PRINCIPALS["limited"], a, hashes["limited"], limited_statements(a), now),
            _user(DEMO_PRINCIPALS["other"], b, hashes["other"], ADMIN_STATEMENTS, now),
        ],
        # Development first, Production second: newest-first lists show Production on top.
        "accounts": [
            _account("Development", a, True, earlier),
            _account("Production", a, False, now),
            _account("Other Default", b, True, now),
        ],
    }
    return await store.seed_if_empty(data)
