"""Every Then step can fail: a step that passes on anything is a defect of the suite.

For each Then step of `steps/` there is a right answer it must accept and a wrong one it must
refuse with an assertion (a finding about the target), never pass and never crash. A new Then
step without such a pair fails `test_every_then_step_has_a_case`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dpaas_conformance.account_by_id as by_id
import dpaas_conformance.account_deletion as deletion
import dpaas_conformance.account_updates as updates
import dpaas_conformance.accounts as accounts
import dpaas_conformance.auth as auth
import dpaas_conformance.common as common
import dpaas_conformance.default_account as defaults
import dpaas_conformance.errors as errors
import dpaas_conformance.lists as lists
import dpaas_conformance.users as users
import dpaas_conformance.users_by_account as by_account
import httpx
import jwt
import pytest
from dpaas_conformance.library.calls import Actors, Created, Session, Walk
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.outcomes import Inconclusive
from dpaas_conformance.library.target import Config, Membership, Principal, Target
from pytest_bdd.steps import step_function_context_registry

from tests.support import mocked_api
from tests.then_cases_service import service_cases
from tests.tiny_target import signing_key

ADMIN = Principal("admin", "admin@t.test", "admin-password-1", "org-a")
LIMITED = Principal("limited", "viewer@t.test", "viewer-password-1", "org-a")
TARGET = Target("http://t.test", Config(principals={"admin": ADMIN, "limited": LIMITED}))


class Fresh:
    """A value made when its test runs, never at import: a token carries the time it was issued,
    and a long run must not age it past what the lifetime and signature checks tolerate."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def __call__(self) -> Any:
        return self.make()


def fresh(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v() if isinstance(v, Fresh) else v for k, v in values.items()}


def token(age: int = 0, **claims: Any) -> str:
    """An access token issued `age` seconds ago."""
    issued = int(time.time()) - age
    return jwt.encode({"sub": "u1", "iat": issued, "exp": issued + 900, **claims}, signing_key(),
                      algorithm="RS256", headers={"kid": "k1"})


def tokens(**fields: Any) -> dict[str, Any]:
    return {"access_token": token(), "refresh_token": "r" * 43, "token_type": "Bearer",
            "expires_in": 900, **fields}


TOKENS = Fresh(tokens)
ACTORS = Fresh(lambda: Actors({"admin": Session(ADMIN, token(), "r" * 43, "p" * 43)}, "admin"))


def jwks() -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key().public_key()))
    return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def account(n: int = 1, org: str = "o1", **fields: Any) -> dict[str, Any]:
    stamp = f"2025-09-30T10:00:{n:02d}Z"
    return {"id": f"a{n}", "name": f"n{n}", "organization_id": org, "is_default": False,
            "is_active": True, "metadata": {}, "created_at": stamp, "updated_at": stamp,
            **fields}


def user(n: int = 1, org: str = "o1", email: str | None = None, **fields: Any) -> dict[str, Any]:
    stamp = f"2025-09-30T10:00:{n:02d}Z"
    return {"id": f"u{n}", "email": email or f"user{n}@t.test", "organization_id": org,
            "created_at": stamp, "updated_at": stamp, "is_active": True, "is_verified": True,
            "mfa_enabled": False, "metadata": {}, "last_login_at": None, **fields}


def page(items: list[dict[str, Any]], total: int | None = None, number: int = 1) -> dict:
    return {"total": len(items) if total is None else total, "page": number, "results": items}


def resp(status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None,
         sent: Any = None, url: str = "http://t.test/x", text: str | None = None
         ) -> Any:
    """A response to judge (a `Fresh` one when its body is made when the test runs)."""
    if isinstance(body, Fresh):
        return Fresh(lambda: resp(status, body(), headers=headers, sent=sent, url=url, text=text))
    request = httpx.Request("POST" if sent is not None else "GET", url,
                            json=sent if sent is not None else None)
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def error(status: int, code: str, /, **details: list[str]) -> httpx.Response:
    body: dict[str, Any] = {"error": code, "message": "m"}
    if details or code == "ValidationError":
        body["details"] = details
    return resp(status, body)


def api(routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> ApiClient:
    """An ApiClient whose target answers from `routes` ("METHOD /path" -> handler)."""
    def handler(request: httpx.Request) -> httpx.Response:
        return routes[f"{request.method} {request.url.path}"](request)

    return mocked_api(handler, TARGET.passwords)


def answers(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, json=body() if isinstance(body, Fresh) else body)


def logs_in_then(accounts_page: dict[str, Any]) -> ApiClient:
    return api({"POST /authentication/login": answers(200, TOKENS),
                "GET /accounts": answers(200, accounts_page)})


def walk_of(items: list[dict[str, Any]], resource: str = "accounts", total: int | None = None,
            by: str = "admin") -> Walk:
    return Walk(resource, by, tuple(items), len(items) if total is None else total)


def upd(status: int, body: Any, sent: Any, method: str = "PUT", account_id: str = "a1"
        ) -> httpx.Response:
    """The answer to an update of one account, with what was sent."""
    request = httpx.Request(method, f"http://t.test/accounts/{account_id}", json=sent)
    return httpx.Response(status, json=body, request=request)


def reads(account_id: str, body: Any, status: int = 200, **more: Any) -> ApiClient:
    """A target where GET /accounts/{account_id} answers `body` (plus `more` routes)."""
    return api({f"GET /accounts/{account_id}": answers(status, body), **more})


OTHER = Principal("other", "boss@o.test", "other-password-1", "org-b")
BOTH = Fresh(lambda: Actors({"admin": Session(ADMIN, token(), "r" * 43, "p" * 43),
                             "other": Session(OTHER, token(sub="u9"), "o" * 43)}, "admin"))
MEMBERSHIP = Membership("a1", (ADMIN.email,), (LIMITED.email,))
TARGET_V2 = Target("http://t.test", Config(principals={"admin": ADMIN, "limited": LIMITED,
                                                       "other": OTHER}, membership=MEMBERSHIP))
MINE = (Created("admin", account(1, metadata={"team": "x"})),)
THEIRS = (Created("other", account(7, org="o2", name="Secret Name")),)
STAMP = "2001-01-01T00:00:00Z"
LATER = "2025-09-30T11:00:00Z"


CREATED = (Created("admin", account(1, name="m x")), Created("admin", account(2, name="z x")),
           Created("admin", account(3, name="a x")))


@dataclass
class Case:
    """Arguments under which the step must pass (`good`) and must fail (`bad`)."""

    good: dict[str, Any]
    bad: dict[str, Any]
    shared: dict[str, Any] = field(default_factory=dict)


CASES: dict[Callable[..., Any], Case] = {
    # --- common
    common.status_is: Case({"response": resp(201)}, {"response": resp(200)}, {"status": 201}),
    common.status_is_success: Case({"response": resp(204)}, {"response": resp(302)}),
    common.client_error: Case({"response": error(401, "Unauthorized")},
                              {"response": resp(500, {"error": "X", "message": "m"})}),
    common.client_error_with_message: Case({"response": error(400, "BadRequest")},
                                           {"response": resp(400, {"error": "BadRequest"})}),
    common.success_or_client_error: Case({"response": error(422, "ValidationError", a=["m"])},
                                         {"response": error(503, "Unavailable")}),
    common.named_error: Case({"response": error(403, "Forbidden")},
                             {"response": error(403, "Unauthorized")},
                             {"error": "Forbidden", "status": 403}),
    common.details_name: Case({"response": error(422, "ValidationError", name=["required"])},
                              {"response": error(422, "ValidationError", email=["bad"])},
                              {"name": "name"}),
    common.refused_or_clamped: Case({"response": resp(200, page([account()] * 3))},
                                    {"response": resp(200, page([account()] * 4))},
                                    {"name": "quantity", "n": 3}),
    common.no_token: Case({"response": error(401, "Unauthorized")},
                          {"response": resp(401, {"error": "U", "message": "m",
                                                  "data": {"access_token": "t"}})}),
    common.header_includes: Case({"response": resp(headers={"Cache-Control": "private, no-store"})},
                                 {"response": resp(headers={"Cache-Control": "no-cache"})},
                                 {"name": "Cache-Control", "text": "no-store"}),
    common.header_starts: Case({"response": resp(headers={"WWW-Authenticate": "Bearer x"})},
                               {"response": resp(headers={"WWW-Authenticate": "Basic"})},
                               {"name": "WWW-Authenticate", "text": "Bearer"}),
    common.error_shape_for_status: Case(
        {"response": error(415, "UnsupportedMediaType")},
        {"response": resp(415, text="415: Unsupported Media Type")}),
    common.throttled: Case(
        {"response": resp(429, {"error": "TooManyRequests", "message": "m"},
                          headers={"Retry-After": "30"})},
        {"response": error(401, "Unauthorized")}),
    common.header_retry: Case(
        {"response": resp(headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})},
        {"response": resp(headers={"Retry-After": "soon"})}, {"name": "Retry-After"}),
    common.same_errors: Case(
        {"responses": [error(401, "Unauthorized"), error(401, "Unauthorized")]},
        {"responses": [error(401, "Unauthorized"),
                       resp(401, {"error": "Unauthorized", "message": "no such user"})]},
        {"error": "Unauthorized", "status": 401}),
    # --- auth
    auth.token_response: Case({"response": resp(200, TOKENS)},
                              {"response": resp(200, Fresh(lambda: tokens(token_type="bearer")))}),
    auth.access_token_is_jwt: Case(
        {"response": resp(200, TOKENS)},
        {"response": resp(200, Fresh(lambda: tokens(access_token="opaque-token")))},
        {"first": "sub", "second": "exp"}),
    auth.lifetime: Case({"response": resp(200, TOKENS)},
                        {"response": resp(200, Fresh(lambda: tokens(access_token=token(600))))}),
    auth.one_winner: Case({"responses": [resp(200), error(401, "Unauthorized")]},
                          {"responses": [resp(200), resp(200)]}, {"n": 1}),
    auth.differs: Case({"response": resp(200, TOKENS, sent={"refresh_token": "old"})},
                       {"response": resp(200, TOKENS, sent={"refresh_token": "r" * 43})}),
    auth.new_access_works: Case(
        {"api": api({"GET /accounts": answers(200, page([]))})},
        {"api": api({"GET /accounts": answers(401, {"error": "Unauthorized", "message": "m"})})},
        {"actors": ACTORS, "response": resp(200, TOKENS)}),
    auth.new_refresh_works: Case(
        {"api": api({"POST /authentication/refresh": answers(200, TOKENS)})},
        {"api": api({"POST /authentication/refresh": answers(
            401, {"error": "Unauthorized", "message": "m"})})},
        {"response": resp(200, TOKENS)}),
    auth.jwks_body: Case({"response": resp(200, jwks())},
                         {"response": resp(200, {"keys": [{**jwks()["keys"][0], "d": "x"}]})}),
    auth.verifies: Case({"response": resp(200, jwks())},
                        {"response": resp(200, {"keys": [{**jwks()["keys"][0], "kid": "k2"}]})},
                        {"actors": ACTORS}),
    # --- lists
    lists.each_once: Case({"walk": walk_of([account(1), account(2)])},
                          {"walk": walk_of([account(1), account(1)])}, {"created": ()}),
    lists.list_of: Case({"response": resp(200, page([account()]))},
                        {"response": resp(200, page([{**account(), "is_active": "yes"}]))},
                        {"resource": "accounts"}),
    lists.page_with: Case({"response": resp(200, page([account()], 3, 2))},
                          {"response": resp(200, page([account()], 3, 1))},
                          {"page": "2", "how": "exactly", "n": "1"}),
    lists.total_at_least: Case({"response": resp(200, page([account()], 3))},
                               {"response": resp(200, page([account()], 1))}, {"n": 3}),
    lists.sorted_by: Case({"response": resp(200, page([account(3), account(1)]))},
                          {"response": resp(200, page([account(1), account(3)]))},
                          {"order": "-created_at", "created": ()}),
    lists.walk_sorted_by: Case(
        {"walk": walk_of([CREATED[2].account, account(9, name="B"), CREATED[0].account,
                          CREATED[1].account])},
        {"walk": walk_of([c.account for c in CREATED])},
        {"order": "name", "created": CREATED}),
    lists.created_newest_first: Case(
        {"response": resp(200, page([c.account for c in reversed(CREATED)]))},
        {"response": resp(200, page([c.account for c in CREATED]))}, {"created": CREATED}),
    lists.empty_page: Case(
        {"response": resp(200, page([], 150, 3),
                          url="http://t.test/accounts?quantity=100&page=3")},
        {"response": resp(200, page([], 0, 3),
                          url="http://t.test/accounts?quantity=100&page=3")}, {"n": 2}),
    # --- accounts
    accounts.is_account: Case({"response": resp(201, account())},
                              {"response": resp(201, {**account(), "created_at": "yesterday"})}),
    accounts.as_sent: Case(
        {"response": resp(201, account(name="S", is_default=True),
                          sent={"name": "S", "is_default": True})},
        {"response": resp(201, account(name="S"), sent={"name": "S", "is_default": True})}),
    accounts.same_organization: Case(
        {"api": logs_in_then(page([account(1), account(2)]))},
        {"api": logs_in_then(page([account(1), account(2, org="o2")]))},
        {"actors": ACTORS, "response": resp(201, account(3))}),
    accounts.listed: Case(
        {"api": logs_in_then(page([account(3), account(1)], 5))},
        {"api": logs_in_then(page([account(1)], 5))},
        {"actors": ACTORS, "response": resp(201, account(3)), "accounts_before": 4}),
    accounts.metadata_is: Case({"response": resp(201, account(metadata={"a": 1}))},
                               {"response": resp(201, account(metadata={"a": "1"}))},
                               {"meta": '{"a": 1}'}),
    accounts.timestamps_end: Case(
        {"response": resp(201, account())},
        {"response": resp(201, account(created_at="2025-09-30T10:00:00+00:00"))},
        {"suffix": "Z"}),
    accounts.refused_or_ignored: Case(
        {"response": resp(201, account(id="server-id"), sent={"name": "n", "id": "mine"})},
        {"response": resp(201, account(id="mine"), sent={"name": "n", "id": "mine"})},
        {"field": "id"}),
    accounts.stored_without: Case(
        {"api": logs_in_then(page([account(1, name="n")]))},
        {"api": logs_in_then(page([account(1, name="n", created_at="2001-01-01T00:00:00Z")]))},
        {"actors": ACTORS, "response": resp(201, account(1), sent={"name": "n"}),
         "field": "created_at", "value": '"2001-01-01T00:00:00Z"'}),
    accounts.all_in_my_org: Case(
        {"response": resp(200, page([account(1), account(2)]))},
        {"response": resp(200, page([account(1), account(2, org="o2")]))},
        {"created": (Created("admin", account(1)),)}),
    accounts.not_seen: Case({"walk": walk_of([account(7)], by="other")},
                            {"walk": walk_of([account(1)], by="other")},
                            {"created": (Created("admin", account(1)),), "name": "admin"}),
    accounts.other_org: Case({"walk": walk_of([account(7, org="o2")], by="other")},
                             {"walk": walk_of([account(7, org="o1")], by="other")},
                             {"created": (Created("admin", account(1)),), "name": "admin"}),
    # --- users
    users.no_secrets: Case(
        {"response": resp(200, page([user()]))},
        {"response": resp(200, page([user(password_digest="$2b$12$" + "a" * 53)]))},
        {"target": TARGET}),
    users.includes_user: Case(
        {"response": resp(200, page([user(email="ADMIN@t.test")]))},
        {"response": resp(200, page([user()]))},
        {"api": api({}), "actors": ACTORS, "target": TARGET, "name": "admin"}),
    users.users_have: Case({"response": resp(200, page([user()]))},
                           {"response": resp(200, page([user(mfa_enabled=None)]))},
                           {"names": '"is_active", "mfa_enabled"'}),
    users.users_in_my_org: Case(
        {"walk": walk_of([user(1, email=ADMIN.email), user(2)], "users")},
        {"walk": walk_of([user(1, email=ADMIN.email), user(2, org="o2")], "users")},
        {"actors": ACTORS}),
    users.user_not_seen: Case({"walk": walk_of([user(1)], "users", by="other")},
                              {"walk": walk_of([user(1, email=ADMIN.email)], "users")},
                              {"target": TARGET, "name": "admin"}),
    # --- errors
    errors.each_success_or_client_error: Case(
        {"responses": [resp(201, account()), error(422, "ValidationError", metadata=["deep"])]},
        {"responses": [resp(201, account()), error(500, "InternalError")]}),
    errors.every_page_valid: Case(
        {"api": logs_in_then(page([account()]))},
        {"api": api({"POST /authentication/login": answers(200, TOKENS),
                     "GET /accounts": lambda _r: httpx.Response(
                         200, text='{"total": 1, "page": 1, "results": [NaN]}',
                         headers={"content-type": "application/json"})})},
        {"target": TARGET}),
    # --- one account by id (v2)
    by_id.not_found: Case({"response": error(404, "NotFound")}, {"response": resp(200, account())}),
    # The same instants, written otherwise than the list writes them: one account.
    by_id.as_listed: Case({"response": resp(200, account(
                              1, created_at="2025-09-30T10:00:01+00:00",
                              updated_at="2025-09-30T10:00:01.000Z"))},
                          {"response": resp(200, account(1, name="renamed"))},
                          {"api": api({"GET /accounts": answers(200, page([account(1)]))}),
                           "actors": ACTORS}),
    by_id.leaks_nothing: Case(
        {"response": resp(404, {"error": "NotFound", "message": "m", "request_id": "o2o2"})},
        {"response": resp(404, {"error": "NotFound", "message": "Secret Name is not yours"})},
        {"created": THEIRS, "name": "other"}),
    by_id.unchanged: Case({"api": reads("a7", THEIRS[0].account)},
                          {"api": reads("a7", {**THEIRS[0].account, "name": "changed"})},
                          {"actors": BOTH, "created": THEIRS, "name": "other"}),
    by_id.same_answers: Case({"responses": [error(404, "NotFound"), error(404, "NotFound")]},
                             {"responses": [error(403, "Forbidden"), error(404, "NotFound")]}),
    # --- updates (v2)
    updates.shows_sent: Case(
        {"api": reads("a1", account(1, name="S", metadata={"a": 1}))},
        {"api": reads("a1", account(1, name="S", metadata={}))},
        {"actors": ACTORS, "created": MINE,
         "response": upd(200, account(1), {"name": "S", "metadata": {"a": 1}})}),
    updates.answered_as_sent: Case({"response": upd(200, account(1, name="S"), {"name": "S"})},
                                   {"response": upd(200, account(1, name="T"), {"name": "S"})}),
    updates.back_to_defaults: Case({"api": reads("a1", account(1, metadata={}))},
                                   {"api": reads("a1", account(1, metadata={"team": "x"}))},
                                   {"actors": ACTORS, "created": MINE, "meta": "{}"}),
    updates.only_sent_changed: Case(  # created_at as made, written with an offset
        {"api": reads("a1", account(1, name="S", metadata={"team": "x"}, updated_at=LATER,
                                    created_at="2025-09-30T10:00:01+00:00"))},
        {"api": reads("a1", account(1, name="S", metadata={}, updated_at=LATER))},
        {"actors": ACTORS, "created": MINE,
         "response": upd(200, account(1), {"name": "S"}, "PATCH")}),
    updates.metadata_patched: Case(
        {"api": reads("a1", account(1, metadata={"team": "x", "tier": 2}))},
        {"api": reads("a1", account(1, metadata={"tier": "2"}))},
        {"actors": ACTORS, "created": MINE, "meta": '{"tier": 2}'}),
    updates.not_honoured: Case(
        {"api": reads("a1", account(1))}, {"api": reads("a1", account(1, created_at=STAMP))},
        {"actors": ACTORS, "created": MINE, "field": "created_at",
         "response": upd(200, account(1), {"name": "n", "created_at": STAMP})}),
    updates.others_cannot_read: Case({"api": reads("a1", {"error": "NotFound", "message": "m"},
                                                   404)},
                                      {"api": reads("a1", account(1))},
                                      {"actors": BOTH, "created": MINE, "name": "admin"}),
    updates.timestamps_kept: Case({"api": reads("a1", account(1, updated_at=LATER))},
                                  {"api": reads("a1", account(1, created_at=LATER))},
                                  {"actors": ACTORS, "created": MINE}),
    updates.still_readable: Case(
        {"api": reads("a1", account(1), **{
            "POST /authentication/login": answers(200, TOKENS),
            "GET /accounts": answers(200, page([account(1)]))})},
        {"api": reads("a1", {"error": "InternalError", "message": "m"}, 500, **{
            "POST /authentication/login": answers(200, TOKENS),
            "GET /accounts": answers(200, page([account(1)]))})},
        {"actors": ACTORS, "created": MINE, "target": TARGET}),
    # --- deletion (v2)
    deletion.gone_from_list: Case(
        {"api": api({"GET /accounts": answers(200, page([account(2)], 4))})},
        {"api": api({"GET /accounts": answers(200, page([account(1), account(2)], 5))})},
        {"actors": ACTORS, "created": MINE, "accounts_before": 5}),
    deletion.total_counts_deleted: Case({"walk": walk_of([account(1)], total=6)},
                                        {"walk": walk_of([account(1)], total=5)},
                                        {"accounts_before": 5}),
    deletion.deleted_at: Case(
        {"walk": walk_of([account(1, deleted_at="2025-09-30T10:00:00Z")])},
        {"walk": walk_of([account(1, deleted_at="2025-09-30T10:00:00+02:00")])},
        {"deleted": account(1), "field": "deleted_at"}),
    deletion.reveals_nothing: Case({"responses": [error(403, "Forbidden")]},
                                   {"responses": [resp(200, page([account(1)]))]},
                                   {"deleted": account(1), "name": "admin"}),
    # --- the default account (v2)
    defaults.only_default: Case(
        {"api": api({"GET /accounts": answers(200, page([account(3, is_default=True),
                                                         account(2)])),
                     "GET /accounts/a2": answers(200, account(2))})},
        {"api": api({"GET /accounts": answers(200, page([account(3, is_default=True),
                                                         account(2, is_default=True)])),
                     "GET /accounts/a2": answers(200, account(2, is_default=True))})},
        {"actors": ACTORS, "recorded_default": defaults.Recorded(account(2, is_default=True)),
         "response": upd(200, account(3, is_default=True), {"is_default": True}, "PATCH",
                         "a3")}),
    defaults.none_crashed: Case({"responses": [resp(200), error(409, "Conflict")]},
                                {"responses": [resp(200), error(500, "InternalError")]}),
    defaults.at_most_one: Case(
        {"api": api({"GET /accounts": answers(200, page([account(3, is_default=True)]))})},
        {"api": api({"GET /accounts": answers(200, page([account(3, is_default=True),
                                                         account(4, is_default=True)]))})},
        {"actors": ACTORS}),
    defaults.exactly_one: Case(
        {"api": api({"GET /accounts": answers(200, page([account(3, is_default=True)]))})},
        {"api": api({"GET /accounts": answers(200, page([account(3), account(4)]))})},
        {"actors": ACTORS, "responses": [resp(200)],
         "created": (Created("admin", account(3)), Created("admin", account(4)))}),
    defaults.refusal_changed_nothing: Case(
        {"api": reads("a3", account(3, is_default=True))},
        {"api": reads("a3", account(3, is_default=True, name="renamed"))},
        {"actors": ACTORS, "response": error(409, "Conflict"),
         "made_default": account(3, is_default=True)}),
    # --- users by account (v2)
    by_account.exactly_the_members: Case(
        {"walk": walk_of([user(1, email=ADMIN.email)], "users")},
        {"walk": walk_of([user(1, email=ADMIN.email), user(2, email=LIMITED.email)], "users")},
        {"target": TARGET_V2}),
    by_account.total_is_members: Case({"walk": walk_of([user(1)], "users", total=1)},
                                      {"walk": walk_of([user(1)], "users", total=3)}),
    by_account.none_of_theirs: Case(
        {"responses": [resp(200, page([]))]},
        {"responses": [resp(200, page([user(9, org="o2")]))]},
        {"found_account": account(7, org="o2"), "target": TARGET_V2}),
    by_account.same_list_or_error: Case(
        {"responses": [resp(200, page([])), resp(200, page([]))]},
        {"responses": [error(403, "Forbidden"), resp(200, page([]))]}),
    by_account.is_timestamp: Case(
        {"own_users": {"admin": user(1, last_login_at=LATER)}},
        {"own_users": {"admin": user(1, last_login_at=None)}},
        {"actors": ACTORS, "field": "last_login_at"}),
    by_account.typed_fields: Case({"walk": walk_of([user(1)], "users")},
                                  {"walk": walk_of([user(1, mfa_enabled="false")], "users")}),
    by_account.filtered_no_secrets: Case(
        {"walk": walk_of([user(1)], "users")},
        {"walk": walk_of([user(1, password_digest="$2b$12$" + "a" * 53)], "users")},
        {"target": TARGET}),
    by_account.filtered_in_org: Case(
        {"walk": walk_of([user(2)], "users")}, {"walk": walk_of([user(2, org="o2")], "users")},
        {"api": api({"GET /users": answers(200, page([user(1, email=ADMIN.email)]))}),
         "actors": ACTORS, "name": "admin"}),
    by_account.foreign_user_unread: Case(
        {"responses": [resp(200, user(1)), error(404, "NotFound")]},
        {"responses": [resp(200, user(1)), resp(200, user(9, org="o2"))]},
        {"own_users": {"other": user(9, org="o2", email=OTHER.email)}}),
}


CASES.update(service_cases(sys.modules[__name__]))  # SERVICE's steps: tests/then_cases_service.py


def then_steps() -> dict[str, Callable[..., Any]]:
    found = {}
    for context in list(step_function_context_registry.values()):
        func = context.step_func
        if context.type == "then" and func.__module__.startswith("dpaas_conformance."):
            found[f"{func.__module__}.{func.__name__}"] = func
    return found


def test_every_then_step_has_a_case() -> None:
    known = {f"{f.__module__}.{f.__name__}" for f in CASES}
    missing = sorted(set(then_steps()) - known)
    assert not missing, f"Then steps with no right and wrong answer to check: {missing}"


@pytest.mark.parametrize("step", list(CASES), ids=lambda f: f.__name__)
def test_a_then_step_accepts_a_right_answer_and_refuses_a_wrong_one(
    step: Callable[..., Any]
) -> None:
    case = CASES[step]
    step(**fresh(case.shared), **fresh(case.good))
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        step(**fresh(case.shared), **fresh(case.bad))


def test_a_short_foreign_organization_id_is_looked_for_as_a_value_not_inside_text() -> None:
    """Decimal ids are short: "o2" inside a request id is no leak, "o2" as a value is."""
    by_id.leaks_nothing(resp(404, {"error": "NotFound", "message": "m", "trace": "xo2x"}),
                        THEIRS, "other")
    with pytest.raises(AssertionError, match="organization_id"):
        by_id.leaks_nothing(resp(404, {"error": "NotFound", "message": "m", "org": "o2"}),
                            THEIRS, "other")


def test_a_descending_walk_is_judged_on_first_sightings() -> None:
    """Accounts created during a newest-first walk push items already seen onto the next page."""
    shifted = [account(9), account(8), account(7), account(8), account(7), account(6)]
    lists.walk_sorted_by(walk_of(shifted), "-created_at", ())
    unsorted = [account(9), account(7), account(8), account(6)]
    with pytest.raises(AssertionError, match="item 2 is"):
        lists.walk_sorted_by(walk_of(unsorted), "-created_at", ())


def test_a_throttled_login_leaves_enumeration_unjudged() -> None:
    answers = [error(401, "Unauthorized"), error(429, "TooManyRequests"),
               error(401, "Unauthorized")]
    with pytest.raises(Inconclusive, match="throttled 1 of these logins"):
        common.same_errors(answers, "Unauthorized", 401)


def test_bad_credential_checks_wait_once_for_a_short_throttle() -> None:
    calls: list[int] = []

    def login(_request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 4:
            return httpx.Response(429, json={"error": "TooManyRequests", "message": "m"},
                                  headers={"Retry-After": "0"})
        return httpx.Response(401, json={"error": "Unauthorized", "message": "m"})

    answers = auth.logs_in_wrong_each(api({"POST /authentication/login": login}), TARGET, "admin")
    assert [r.status_code for r in answers] == [401, 401, 401] and len(calls) == 8


def test_an_account_read_again_agrees_on_instants_not_on_spellings() -> None:
    from dpaas_conformance.library.calls_v2 import same_account

    listed = account(1)
    assert same_account({**listed, "created_at": "2025-09-30T12:00:01+02:00"}, listed) == []
    assert same_account({**listed, "updated_at": "2025-09-30T10:00:02Z"}, listed) == [
        "updated_at: '2025-09-30T10:00:01Z' became '2025-09-30T10:00:02Z'"]
    assert same_account({**listed, "created_at": None}, listed) != []
