"""Schemathesis hooks for the DPaaS document: let stateful runs start with a real login.

Stateful runs follow the document's links (login -> list/create -> refresh), but only from a
login that succeeds, and Schemathesis cannot log in by itself:

- its dependency analysis reads `organization_slug` as a reference to an "Organization" that no
  operation returns, so it never starts a chain at login; `after_load_schema` drops that guess;
- generated credentials are refused (401), so `flatmap_case` offers, beside every positive login
  case, the same case with the credentials of the principal the run authenticates as
  (DPAAS_EMAIL, DPAAS_PASSWORD, DPAAS_ORG). About half of the logins succeed and their links
  are followed. Negative cases are left as generated.

And SERVICE's creates: some rules of a valid body cannot be written in a JSON Schema (a service
account's `account_id` must be a live account of the caller's organization, a key's `expires_at`
must be in the future and its `ip_allowlist` entries CIDR blocks), so `before_call` makes each
valid (positive) case follow them before it is sent: a live account id of the run's principal,
no past expiry, only the allowlist entries that are CIDR blocks. Negative cases are left alone.

Used by `examples/schemathesis.toml`; the README shows the command.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import schemathesis
from hypothesis import strategies as st

LOGIN = "POST /authentication/login"


def credentials() -> dict[str, str]:
    return {
        "email": os.environ["DPAAS_EMAIL"],
        "password": os.environ["DPAAS_PASSWORD"],
        "organization_slug": os.environ["DPAAS_ORG"],
    }


@schemathesis.hook
def after_load_schema(context: schemathesis.HookContext, schema: schemathesis.BaseSchema) -> None:
    analysis = schema.analysis

    class LoginStartsChains(type(analysis)):  # type: ignore[misc]
        """The same analysis, minus the Organization guess on login's `organization_slug`."""

        __slots__ = ()

        @property
        def dependency_graph(self):  # type: ignore[no-untyped-def]
            graph = super().dependency_graph
            node = graph.operations.get(LOGIN)
            if node is not None:
                node.inputs = [s for s in node.inputs if s.parameter_name != "organization_slug"]
            return graph

    analysis.__class__ = LoginStartsChains


@schemathesis.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
    meta = case.meta
    if case.operation.label != LOGIN or meta is None or not meta.generation.mode.is_positive:
        return st.just(case)
    real = case.operation.Case(
        media_type=case.media_type,
        headers=case.headers,
        query=case.query,
        body=credentials(),
    )
    return st.sampled_from([case, real])


CREATE_SERVICE_ACCOUNT = "POST /service-accounts"
ISSUE_KEY = "POST /service-accounts/{id}/keys"


@cache
def token(base_url: str) -> str | None:
    """An access token of the run's principal (15 minutes: longer than a run of these hooks)."""
    login = httpx.post(f"{base_url}/authentication/login", json=credentials(), timeout=10)
    return str(login.json()["access_token"]) if login.status_code == 200 else None


def live_account(base_url: str) -> str | None:
    """An account id of the run's principal's organization, the newest listed, looked up each
    time: a stateful run may have deleted the one it found before."""
    bearer = token(base_url)
    if bearer is None:
        return None
    listed = httpx.get(f"{base_url}/accounts", params={"quantity": 1}, timeout=10,
                       headers={"Authorization": f"Bearer {bearer}"})
    results = listed.json().get("results") if listed.status_code == 200 else None
    return str(results[0]["id"]) if results else None


def is_cidr(entry: Any) -> bool:
    try:
        ipaddress.ip_network(str(entry).strip(), strict=False)
    except ValueError:
        return False
    return isinstance(entry, str)


def in_future(value: Any) -> bool:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return when.tzinfo is not None and when > datetime.now(UTC)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case,
                kwargs: dict[str, Any]) -> None:
    label = case.operation.label
    meta = case.meta
    positive = meta is None or meta.generation.mode.is_positive
    if label not in (CREATE_SERVICE_ACCOUNT, ISSUE_KEY) or not positive:
        return
    if not isinstance(case.body, dict):
        return
    if label == CREATE_SERVICE_ACCOUNT:
        account = live_account((case.operation.base_url or "").rstrip("/"))
        if account is not None:
            case.body["account_id"] = account
        return
    if "expires_at" in case.body and not in_future(case.body["expires_at"]):
        case.body["expires_at"] = None
    if isinstance(case.body.get("ip_allowlist"), list):
        case.body["ip_allowlist"] = [e for e in case.body["ip_allowlist"] if is_cidr(e)]
