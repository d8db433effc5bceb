"""Demo data that makes the guide's walkthrough run verbatim, plus the profile's principals.

The demo accounts have fixed ids, so that a configuration can name one: the membership fixture
of `examples/reference-demo.toml` (admin and limited are members of Production, only admin of
Development; the other organization's admin of its own default account).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .passwords import Passwords
from .policy import (
    ACTION_CREATE_ACCOUNT,
    ACTION_GET_ACCOUNT,
    ACTION_GET_USER,
    ACTION_LIST_ACCOUNTS,
    ACTION_LIST_USERS,
)
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

#: (organization slug, name) -> the demo account's fixed id
DEMO_ACCOUNT_IDS = {
    ("myorg", "Development"): "c032642a-f01b-59a3-9387-d103396d47f2",
    ("myorg", "Production"): "5a0f959d-af66-5710-b1f2-7ef63609441d",
    ("otherorg", "Other Default"): "6c6edca1-6ae1-531f-9368-53d5e434bb1a",
}
#: account -> the demo principals who are its members
DEMO_MEMBERS = {
    ("myorg", "Development"): ("admin",),
    ("myorg", "Production"): ("admin", "limited"),
    ("otherorg", "Other Default"): ("other",),
}

ADMIN_STATEMENTS: list[dict[str, Any]] = [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]


def limited_statements(organization_id: str) -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": [ACTION_LIST_ACCOUNTS, ACTION_GET_ACCOUNT, ACTION_LIST_USERS,
                       ACTION_GET_USER],
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
        "deleted_at": None,
    }


def membership_document(account: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {"account_id": account["id"], "user_id": user["id"],
            "organization_id": account["organization_id"]}


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
    users = {
        "admin": user_document(email["admin"], a, hashes["admin"], ADMIN_STATEMENTS, now),
        "limited": user_document(email["limited"], a, hashes["limited"], limited_statements(a),
                                 now),
        "other": user_document(email["other"], b, hashes["other"], ADMIN_STATEMENTS, now),
    }
    # Development first, Production second: newest-first lists show Production on top.
    accounts = {
        ("myorg", "Development"): account_document("Development", a, True, earlier),
        ("myorg", "Production"): account_document("Production", a, False, now),
        ("otherorg", "Other Default"): account_document("Other Default", b, True, now),
    }
    for key, account in accounts.items():
        account["id"] = DEMO_ACCOUNT_IDS[key]
    data = {
        "organizations": [
            {"id": orgs[slug], "slug": slug, "name": name, "created_at": now, "updated_at": now}
            for slug, name in ORGANIZATIONS.items()
        ],
        "users": list(users.values()),
        "accounts": list(accounts.values()),
        "memberships": [membership_document(accounts[key], users[name])
                        for key, names in DEMO_MEMBERS.items() for name in names],
    }
    return await store.seed_if_empty(data)
