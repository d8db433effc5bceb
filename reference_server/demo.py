"""Demo data that makes the guide's walkthrough run verbatim, plus the profile's principals.

The demo accounts have fixed ids, so that a configuration can name one: the membership fixture
of `examples/reference-demo.toml` (admin and limited are members of Production, only admin of
Development; the other organization's admin of its own default account). So does the demo's one
service account, the *reader* of organization A (it may list and read accounts and users), and
its key, printed at start in demo mode only (`[service_keys.reader]` of the example config).
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
    ACTION_GET_SERVICE_ACCOUNT,
    ACTION_GET_USER,
    ACTION_LIST_ACCOUNTS,
    ACTION_LIST_KEYS,
    ACTION_LIST_SERVICE_ACCOUNTS,
    ACTION_LIST_USERS,
)
from .service_keys import SecretBox
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

@dataclass(frozen=True)
class DemoKey:
    """The demo's service account and its key: fixed, like the demo's passwords, so that a
    config can name them (never use these outside a demo)."""

    service_account_id: str
    key_id: str
    access_key: str
    secret_key: str
    account: tuple[str, str]  # the demo account it belongs to


DEMO_READER = DemoKey(
    service_account_id="7c5085d2-a371-5d55-be6a-792d850c7aea",
    key_id="9409ba02-a94c-5e03-acea-fec110be209e",
    access_key="sa_demo_reader_44134ab894b8155dc1113a60",
    secret_key="sk_live_demo_1QyQxUuHtoa8ZcM4WBAkvf6NaX72_VIe",
    account=("myorg", "Production"),
)

ADMIN_STATEMENTS: list[dict[str, Any]] = [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]


def limited_statements(organization_id: str) -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": [ACTION_LIST_ACCOUNTS, ACTION_GET_ACCOUNT, ACTION_LIST_USERS,
                       ACTION_GET_USER, ACTION_LIST_SERVICE_ACCOUNTS,
                       ACTION_GET_SERVICE_ACCOUNT, ACTION_LIST_KEYS],
            "Resource": [f"dpaas:org/{organization_id}/*"],
        },
        {"Effect": "Deny", "Action": [ACTION_CREATE_ACCOUNT], "Resource": ["*"]},
    ]


def reader_statements(organization_id: str) -> list[dict[str, Any]]:
    """The demo's service account may list and read accounts and users, nothing more."""
    return [{
        "Effect": "Allow",
        "Action": [ACTION_LIST_ACCOUNTS, ACTION_GET_ACCOUNT, ACTION_LIST_USERS, ACTION_GET_USER],
        "Resource": [f"dpaas:org/{organization_id}/*"],
    }]


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


async def seed_service_account(store: Store, box: SecretBox, clock: Callable[[], float]
                               ) -> DemoKey | None:
    """The reader service account and its key (the secret sealed), in a demo just seeded."""
    slug, name = DEMO_READER.account
    admin = DEMO_PRINCIPALS["admin"]
    user = await store.find_login_user(admin.organization_slug, admin.email)
    if user is None:
        return None
    org = user["organization_id"]
    now = isoformat(clock())
    service_account = {
        "id": DEMO_READER.service_account_id, "name": "Demo reader",
        "description": "Lists and reads accounts and users (the demo's service account)",
        "account_id": DEMO_ACCOUNT_IDS[(slug, name)], "organization_id": org,
        "is_active": True, "metadata": {}, "statements": reader_statements(org),
        "created_at": now, "updated_at": now, "last_used_at": None, "deleted_at": None,
    }
    key = {
        "id": DEMO_READER.key_id, "access_key": DEMO_READER.access_key,
        "secret": box.seal(DEMO_READER.secret_key), "description": "The demo reader's key",
        "service_account_id": DEMO_READER.service_account_id, "organization_id": org,
        "expires_at": None, "expires_ts": None, "ip_allowlist": [], "is_active": True,
        "created_at": now, "last_used_at": None, "revoked_at": None,
    }
    return DEMO_READER if await store.seed_service_account(service_account, key) else None
