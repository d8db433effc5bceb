"""A scenario's preconditions stand on what the scenario made, never on another scenario's data.

Scenarios run side by side (`-n 2`, and the harness's shards). A precondition that borrows an
item it finds in a list may borrow one that its maker deletes a moment later, and the suite then
blames the target for the suite's own choice: a CI run failed HMAC-1 so, its key refused because
its service account's account, another scenario's, had just been deleted (HMAC-12, rightly).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from dpaas_conformance.library.calls import Session
from dpaas_conformance.library.service import new_service_account
from dpaas_conformance.library.target import Config, Principal, Target

from tests.support import mocked_api

ADMIN = Principal("admin", "admin@t.test", "admin-password-1", "org-a")
TARGET = Target("http://t.test", Config(principals={"admin": ADMIN}))
STAMP = "2025-09-30T10:00:00Z"


def an_account(account_id: str, name: str) -> dict[str, Any]:
    return {"id": account_id, "name": name, "organization_id": "org-a", "is_default": False,
            "is_active": True, "metadata": {}, "created_at": STAMP, "updated_at": STAMP}


def test_a_service_account_belongs_to_an_account_the_scenario_made(
        request: pytest.FixtureRequest) -> None:
    sent: list[tuple[str, str, Any]] = []
    others = {"total": 1, "page": 1, "results": [an_account("theirs", "another scenario's")]}

    def target(call: httpx.Request) -> httpx.Response:
        body = json.loads(call.content) if call.content else None
        sent.append((call.method, call.url.path, body))
        if call.method == "GET" and call.url.path == "/accounts":
            return httpx.Response(200, json=others)
        if call.method == "POST" and call.url.path == "/accounts":
            return httpx.Response(201, json=an_account("mine", body["name"]))
        if call.method == "POST" and call.url.path == "/service-accounts":
            return httpx.Response(201, json={"id": "sa-1", **body})
        return httpx.Response(200, json={})  # the deactivation at teardown

    api = mocked_api(target, TARGET.passwords)
    session = Session(ADMIN, "access", "refresh")

    made = new_service_account(request, api, TARGET, session)

    assert made.shown["account_id"] == "mine"
    creates = [body for method, path, body in sent if (method, path) == ("POST", "/accounts")]
    assert len(creates) == 1 and creates[0]["name"].strip()
