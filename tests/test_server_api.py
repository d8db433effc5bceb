"""The reference server over HTTP, in-process (AppRunner in a thread, fake clock, httpx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import Components, create_app
from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS
from reference_server.pagination import ListParams, Page
from reference_server.store import Store
from reference_server.store.indexes import Listing, Rows
from tests.support import FakeClock


def _serve(
    tmp_path: Path, clock: FakeClock, components: Components | None = None, **kw: Any
) -> ServedApp:
    from tests.test_server_throttle import FAST_HASHING  # that module imports this one

    # Cheap argon2: these tests are about the API, and log in often (how a password is hashed
    # is tests/test_server_throttle.py's and the process tests' business).
    settings = Settings(data_dir=tmp_path, demo=True, clock=clock, **{**FAST_HASHING, **kw})
    return ServedApp(lambda: create_app(settings, components or Components()))


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[httpx.Client]:
    with (
        _serve(tmp_path_factory.mktemp("api"), clock) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as c,
    ):
        yield c


def login(client: httpx.Client, who: str = "admin") -> dict[str, Any]:
    p = DEMO_PRINCIPALS[who]
    r = client.post(
        "/authentication/login",
        json={"email": p.email, "password": p.password, "organization_slug": p.organization_slug},
    )
    assert r.status_code == 200, r.text
    return r.json()


def auth(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_error(r: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == error and isinstance(body["message"], str), body
    assert "Traceback" not in r.text
    return body


# ---------------------------------------------------------------- authentication


def test_login_success_and_headers(client: httpx.Client) -> None:
    p = DEMO_PRINCIPALS["admin"]
    r = client.post(
        "/authentication/login",
        json={"email": p.email, "password": p.password, "organization_slug": p.organization_slug},
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_login_failures_are_indistinguishable(client: httpx.Client) -> None:
    p = DEMO_PRINCIPALS["other"]
    attempts = [
        {"email": p.email, "password": "wrong", "organization_slug": p.organization_slug},
        {"email": "nobody@example.com", "password": "x", "organization_slug": "otherorg"},
        {"email": p.email, "password": p.password, "organization_slug": "no-such-org"},
    ]
    seen = set()
    for body in attempts:
        r = client.post("/authentication/login", json=body)
        assert_error(r, 401, "Unauthorized")
        assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
        headers = tuple(sorted(k for k in r.headers if k not in ("date", "content-length")))
        seen.add((r.status_code, r.text, headers))
    assert len(seen) == 1, seen


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "x", "organization_slug": "myorg"}, "email"),
        ({"email": "a@b.c", "organization_slug": "myorg"}, "password"),
        ({"email": "a@b.c", "password": "x"}, "organization_slug"),
        ({"email": 5, "password": "x", "organization_slug": "myorg"}, "email"),
        ({"email": "a@b.c", "password": ["x"], "organization_slug": "myorg"}, "password"),
        ({"email": "a@b.c", "password": "x" * 1025, "organization_slug": "myorg"}, "password"),
    ],
)
def test_login_validation(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    err = assert_error(client.post("/authentication/login", json=body), 422, "ValidationError")
    assert field in err["details"]


def test_login_throttle_per_account(tmp_path: Path) -> None:
    clock = FakeClock()
    with _serve(tmp_path, clock) as base, httpx.Client(base_url=base, timeout=10) as c:
        p = DEMO_PRINCIPALS["limited"]
        bad = {"email": p.email, "password": "nope", "organization_slug": "MyOrg"}
        for _ in range(5):
            assert c.post("/authentication/login", json=bad).status_code == 401
        r = c.post("/authentication/login", json={**bad, "password": p.password})
        assert_error(r, 429, "TooManyRequests")
        assert int(r.headers["retry-after"]) == 60
        assert r.headers["cache-control"] == "no-store"
        login(c, "admin")  # other users of the org are not blocked
        clock.advance(30)
        assert int(c.post("/authentication/login", json=bad).headers["retry-after"]) == 30
        clock.advance(30)
        login(c, "limited")  # the window passed; success resets the counter
        for _ in range(4):
            assert c.post("/authentication/login", json=bad).status_code == 401
        login(c, "limited")


def test_refresh_rotation_reuse_and_errors(client: httpx.Client) -> None:
    first = login(client)
    r = client.post("/authentication/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/accounts", headers=auth(second)).status_code == 200

    reused = client.post("/authentication/refresh", json={"refresh_token": first["refresh_token"]})
    body = assert_error(reused, 401, "Unauthorized")
    assert reused.headers["pragma"] == "no-cache"
    newest = client.post("/authentication/refresh", json={"refresh_token": second["refresh_token"]})
    assert newest.status_code == 401 and newest.json() == body, "family revoked"
    unknown = client.post("/authentication/refresh", json={"refresh_token": "def502004a8c"})
    assert unknown.status_code == 401 and unknown.json() == body

    for bad in ({}, {"refresh_token": 5}, {"refresh_token": None}):
        err = assert_error(client.post("/authentication/refresh", json=bad), 422, "ValidationError")
        assert "refresh_token" in err["details"]


def test_concurrent_refresh_has_one_winner(client: httpx.Client) -> None:
    token = login(client)["refresh_token"]

    def attempt(_: int) -> int:
        r = client.post("/authentication/refresh", json={"refresh_token": token})
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert sorted(statuses) == [200] + [401] * 7


# ---------------------------------------------------------------- bearer auth


def test_bearer_scheme_handling(client: httpx.Client) -> None:
    tokens = login(client)
    r = client.get("/accounts")
    assert_error(r, 401, "Unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["message"] == "Invalid or expired token"
    r = client.get("/accounts", headers={"Authorization": f"Basic {tokens['access_token']}"})
    assert_error(r, 401, "Unauthorized")
    for value in ("Bearer", "Bearer not a token", "Bearer a.b.c", "Bearer ###"):
        r = client.get("/accounts", headers={"Authorization": value})
        assert_error(r, 401, "Unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/accounts", headers={"Authorization": "Bearer a.b.c"})
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = client.get("/accounts", params={"access_token": tokens["access_token"]})
    assert r.status_code == 401, "tokens in the query string are ignored"
    r = client.get("/accounts", headers={"Authorization": f"bEaReR {tokens['access_token']}"})
    assert r.status_code == 200


def test_expired_token_via_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    with _serve(tmp_path, clock) as base, httpx.Client(base_url=base, timeout=10) as c:
        tokens = login(c)
        clock.advance(900)
        r = c.get("/accounts", headers=auth(tokens))
        assert_error(r, 401, "Unauthorized")
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        refreshed = c.post(
            "/authentication/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert c.get("/accounts", headers=auth(refreshed.json())).status_code == 200


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "101"}, "quantity"),
        ({"quantity": "ten"}, "quantity"),
        ({"order_by": "password_hash"}, "order_by"),
        ({"order_by": "-"}, "order_by"),
    ],
)
def test_list_param_validation(client: httpx.Client, params: dict[str, str], name: str) -> None:
    tokens = login(client)
    for path in ("/accounts", "/users"):
        r = client.get(path, params=params, headers=auth(tokens))
        assert name in assert_error(r, 422, "ValidationError")["details"]


def test_demo_walkthrough_and_users(client: httpx.Client) -> None:
    tokens = login(client)
    body = client.get("/accounts", headers=auth(tokens)).json()
    names = [a["name"] for a in body["results"]]
    assert names[-2:] == ["Production", "Development"] and body["page"] == 1
    dev = body["results"][-1]
    assert dev["is_default"] is True and dev["created_at"].endswith("Z")
    users = client.get("/users", headers=auth(tokens))
    assert users.status_code == 200
    for user in users.json()["results"]:
        assert set(user) == {
            "id",
            "email",
            "organization_id",
            "is_active",
            "is_verified",
            "mfa_enabled",
            "metadata",
            "last_login_at",
            "created_at",
            "updated_at",
        }
    assert "argon2" not in users.text and "password" not in users.text
    by_email = {u["email"]: u for u in users.json()["results"]}
    assert by_email["user@example.com"]["last_login_at"].endswith("Z")
    emails = client.get("/users", params={"order_by": "email"}, headers=auth(tokens)).json()
    assert [u["email"] for u in emails["results"]] == sorted(by_email)


def test_paging_walk_is_stable_during_creates(client: httpx.Client) -> None:
    tokens = login(client)
    h = auth(tokens)
    for i in range(7):
        assert client.post("/accounts", json={"name": f"walk-{i}"}, headers=h).status_code == 201
    total = client.get("/accounts", headers=h).json()["total"]
    seen: list[str] = []
    page = 1
    while True:
        r = client.get(
            "/accounts", params={"page": page, "quantity": 3, "order_by": "created_at"}, headers=h
        )
        results = r.json()["results"]
        if not results:
            break
        seen += [a["id"] for a in results]
        client.post("/accounts", json={"name": f"during-{page}"}, headers=h)  # appended at end
        page += 1
    assert len(seen) == len(set(seen)) >= total
    past = client.get("/accounts", params={"page": 999, "quantity": 100}, headers=h).json()
    assert past["results"] == [] and past["page"] == 999 and past["total"] >= total


# ---------------------------------------------------------------- accounts


def test_create_account_and_default_switch(client: httpx.Client) -> None:
    h = auth(login(client))
    r = client.post(
        "/accounts",
        json={"name": "  Staging ", "is_default": True, "metadata": {"a": 1}},
        headers=h,
    )
    assert r.status_code == 201
    acc = r.json()
    assert acc["name"] == "Staging" and acc["is_default"] is True and acc["is_active"] is True
    assert acc["metadata"] == {"a": 1}
    everything = client.get("/accounts", params={"quantity": 100}, headers=h).json()
    defaults = [a["id"] for a in everything["results"] if a["is_default"]]
    assert defaults == [acc["id"]]
    other = auth(login(client, "other"))
    theirs = client.get("/accounts", params={"quantity": 100}, headers=other).json()
    assert acc["id"] not in {a["id"] for a in theirs["results"]}
    assert {a["organization_id"] for a in theirs["results"]} != {acc["organization_id"]}
    assert sum(a["is_default"] for a in theirs["results"]) == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "This field is required"),
        ({"name": 5}, "name", None),
        ({"name": "   "}, "name", None),
        ({"name": "x" * 201}, "name", None),
        ({"name": "x" * 200 + " "}, "name", None),  # the length counts the name as sent
        ({"name": "\x1d"}, "name", None),  # whitespace to Python's str.strip()
        ({"name": "ok", "is_default": "yes"}, "is_default", None),
        ({"name": "ok", "metadata": []}, "metadata", None),
        ({"name": "ok", "metadata": {"k": "v" * 9000}}, "metadata", None),
        ({"name": "ok", "id": "acc-1"}, "id", "This field is read-only"),
        ({"name": "ok", "organization_id": "org-x"}, "organization_id", "This field is read-only"),
        ({"name": "ok", "created_at": "2020-01-01T00:00:00Z"}, "created_at", None),
        ({"name": "ok", "updated_at": "2020-01-01T00:00:00Z"}, "updated_at", None),
        ({"name": "ok", "is_active": False}, "is_active", None),
        ({"name": "ok", "role": "admin"}, "role", None),
    ],
)
def test_create_account_validation(
    client: httpx.Client, body: dict[str, Any], field: str, message: str | None
) -> None:
    h = auth(login(client))
    before = client.get("/accounts", headers=h).json()["total"]
    err = assert_error(client.post("/accounts", json=body, headers=h), 422, "ValidationError")
    assert field in err["details"]
    if message:
        assert err["details"][field] == [message]
    assert client.get("/accounts", headers=h).json()["total"] == before


def test_limited_principal_is_forbidden_to_create(client: httpx.Client) -> None:
    h = auth(login(client, "limited"))
    assert client.get("/accounts", headers=h).status_code == 200
    assert client.get("/users", headers=h).status_code == 200
    r = client.post("/accounts", json={"name": "nope"}, headers=h)
    body = assert_error(r, 403, "Forbidden")
    assert body["message"] == "Insufficient permissions"


# ---------------------------------------------------------------- protocol errors


def test_protocol_errors(client: httpx.Client) -> None:
    h = auth(login(client))
    assert_error(client.get("/nope"), 404, "NotFound")
    r = client.delete("/accounts", headers=h)
    assert_error(r, 405, "MethodNotAllowed")
    assert "POST" in r.headers["allow"]
    big = json.dumps({"name": "x", "metadata": {"k": "v" * 70_000}})
    r = client.post("/accounts", content=big, headers={**h, "Content-Type": "application/json"})
    assert_error(r, 413, "PayloadTooLarge")
    r = client.post("/accounts", content="name=x", headers={**h, "Content-Type": "text/plain"})
    assert_error(r, 415, "UnsupportedMediaType")
    for raw in (b"{", b"[1, 2]", b'"str"', b"", b"\xff\xfe", b'{"name": NaN}', b"[" * 100_00):
        r = client.post("/accounts", content=raw, headers={**h, "Content-Type": "application/json"})
        assert_error(r, 400, "BadRequest")
    r = client.post("/accounts", content=b'{"name": "no content type"}', headers=h)
    assert r.status_code == 201, "a body without Content-Type is parsed as JSON"
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"] == "public, max-age=300"
    assert jwks.headers["x-content-type-options"] == "nosniff"
    assert all(set(k) == {"kty", "use", "alg", "kid", "n", "e"} for k in jwks.json()["keys"])


# ---------------------------------------------------------------- seams


class LeakyStore(Store):
    """A broken variant: lists every organization's accounts."""

    def tenant_rows(self, listing: Listing, organization_id: str) -> Rows:
        if listing.name == "accounts":
            return listing.all_rows()
        return super().tenant_rows(listing, organization_id)


class CrashingStore(Store):
    async def list_users(self, organization_id: str, params: ListParams) -> Page:
        raise RuntimeError("secret internal detail")


@web.middleware
async def strip_cache_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.pop("Cache-Control", None)
    return response


def test_components_seams(tmp_path: Path) -> None:
    components = Components(
        store=LeakyStore, authorize=lambda *_: True, middlewares=(strip_cache_control,)
    )
    with (
        _serve(tmp_path / "a", FakeClock(), components) as base,
        httpx.Client(base_url=base) as c,
    ):
        h = auth(login(c, "limited"))
        listed = c.get("/accounts", headers=h)
        assert len({a["organization_id"] for a in listed.json()["results"]}) == 2
        assert "cache-control" not in listed.headers
        assert c.post("/accounts", json={"name": "allowed now"}, headers=h).status_code == 201
        assert "cache-control" not in c.get("/nope").headers

    with (
        _serve(tmp_path / "b", FakeClock(), Components(store=CrashingStore)) as base,
        httpx.Client(base_url=base) as c,
    ):
        r = c.get("/users", headers=auth(login(c)))
        assert_error(r, 500, "InternalError")
        assert "secret internal detail" not in r.text
