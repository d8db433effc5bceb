"""Broken and differently-correct variants for the SERVICE class (profile v2): service
accounts, API keys and HMAC-signed requests.

Each mutant breaks one MUST or SHOULD id the way a real implementation might: in the verifier of
signed requests (its steps are methods, `Components.hmac`), in the store (what a signing record
says, where a key or a service account is found), in the policy, or in a middleware that answers
as a buggy handler would. The correct variants choose differently where SERVICE leaves a choice
free (unpadded or URL-safe Base64, uppercase hex, global nonces, revoked keys gone from the list,
403 for an allowlist refusal, other paths named in `[paths]`) and must pass every SERVICE
scenario they are judged by.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from tinydb import Query

from reference_server import policy
from reference_server.app import Components
from reference_server.errors import Forbidden
from reference_server.hmac_auth import HmacVerifier, SignedParts, is_signed, refused
from reference_server.state import STORE
from reference_server.store import Store
from reference_server.store.service_accounts import (
    KEYS,
    SERVICE_ACCOUNTS,
    NonceUse,
    SigningRecord,
)
from reference_server.tokens import Identity
from tests.mutants import CORRECT, MUST, MUTANT, SHOULD, HarnessVariant
from tests.mutants.accounts_v2 import (
    answering,
    edit_body,
    foreign_doc,
    register,
)
from tests.mutants.rewrite import json_body, rebuilt, rewrite_json, rewrite_request, with_query

MUTANTS_SERVICE: list[HarnessVariant] = []
SERVICE = frozenset({"SERVICE"})
mutant = register(MUTANTS_SERVICE)
ONE_SA = re.compile(r"^/service-accounts/(?P<id>[^/]+)$")
KEYS_OF = re.compile(r"^/service-accounts/(?P<id>[^/]+)/keys$")
ONE_ACCOUNT = re.compile(r"^/accounts/(?P<id>[^/]+)$")
PENDING_NONCE = web.RequestKey("pending_nonce", tuple)
SIGNED_TARGET = web.RequestKey("signed_target", str)


def middleware(*mws: Middleware) -> dict[str, Any]:
    return {"middlewares": tuple(answering(mw) for mw in mws)}


def service_mutant(name: str, requirement: str, level: str, breaks: str, *,
                   watch: Sequence[str] = (), settings: Any = None, **parts: Any) -> None:
    if settings is None:
        mutant(name, requirement, level, breaks, watch=watch, classes=SERVICE, **parts)
        return
    MUTANTS_SERVICE.append(HarnessVariant(name, MUTANT, Components(**parts), requirement, level,
                                          breaks, watch=frozenset(watch), classes=SERVICE,
                                          settings=settings))


def is_sa_list(request: web.Request, *_: Any) -> bool:
    return request.method == "GET" and request.path == "/service-accounts"


def is_key_list(request: web.Request, *_: Any) -> bool:
    return request.method == "GET" and KEYS_OF.match(request.path) is not None


def is_key_issue(request: web.Request, *_: Any) -> bool:
    return request.method == "POST" and KEYS_OF.match(request.path) is not None


def each_result(edit: Any) -> Any:
    def change(body: Any) -> Any:
        if isinstance(body, dict):
            for item in body.get("results", []):
                if isinstance(item, dict):
                    edit(item)
        return body
    return change


def one(edit: Any) -> Any:
    def change(body: Any) -> Any:
        if isinstance(body, dict):
            edit(body)
        return body
    return change


async def on_store(request: web.Request, fn: Any, *args: Any) -> Any:
    store = request.app[STORE]
    return await store._read(fn, store, *args)


def any_service_account(store: Store, service_account_id: Any) -> dict[str, Any] | None:
    """A service account of any organization (runs on the store thread)."""
    for doc_id in store._service.by_id.ids(service_account_id):
        doc = store._doc(SERVICE_ACCOUNTS, doc_id)
        if doc is not None and doc.get("deleted_at") is None:
            return dict(doc)
    return None


# --- the verifier ----------------------------------------------------------------------------


class BodyNotCompared(HmacVerifier):
    def body_ok(self, body: bytes, declared: str) -> bool:
        return True


class QueryNotSigned(HmacVerifier):
    def target(self, request: web.Request) -> tuple[str, str]:
        return request.raw_path.partition("?")[0], ""


class UnpaddedOnly(HmacVerifier):
    def sign(self, secret_key: str, text: str) -> str:
        return super().sign(secret_key, text).rstrip("=")


class SignatureNotChecked(HmacVerifier):
    def signature_ok(self, expected: str, given: str) -> bool:
        return True


class DateUnbounded(HmacVerifier):
    def date_ok(self, date: float, now: float) -> bool:
        return True


class NoncesNotKept(HmacVerifier):
    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        return None


class NoncesKeptAMinute(HmacVerifier):
    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        outcome = await self.store.use_nonce(record.key_id, parts.nonce, parts.date + 60)
        if outcome == "used":
            raise refused("This nonce has been used already")


class NoncesInMemory(HmacVerifier):
    """Used nonces in a set of the running process: a restart forgets them."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: set[tuple[str, str]] = set()

    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        if (record.key_id, parts.nonce) in self.seen:
            raise refused("This nonce has been used already")
        self.seen.add((record.key_id, parts.nonce))


class NonceCheckThenSet(NoncesInMemory):
    """Looks, then awaits something, then records: copies arriving together all pass."""

    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        if (record.key_id, parts.nonce) in self.seen:
            raise refused("This nonce has been used already")
        await asyncio.sleep(0.05)
        self.seen.add((record.key_id, parts.nonce))


class NonceOnSuccess(HmacVerifier):
    """Records a nonce only once the request succeeded (a middleware does it after the
    handler): a refused request may be replayed."""

    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        return None

    async def authenticate(self, request: web.Request) -> Identity:
        identity = await super().authenticate(request)
        parts = self.parse(request)
        record = await self.store.signing_key(parts.access_key)
        request[PENDING_NONCE] = (record.key_id if record else "", parts.nonce,
                                    parts.date + self.settings.hmac_skew_seconds)
        return identity


@web.middleware
async def nonce_after_success(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    pending = request.get(PENDING_NONCE)
    if (pending and response.status < 400
            and await request.app[STORE].use_nonce(*pending) == "used"):
        return refused("This nonce has been used already").response()
    return response


class ExpiryIgnored(HmacVerifier):
    def key_problem(self, record: SigningRecord, request: web.Request, now: float) -> str | None:
        return super().key_problem(dataclasses.replace(record, expires_ts=None), request, now)


class AllowlistIgnored(HmacVerifier):
    def key_problem(self, record: SigningRecord, request: web.Request, now: float) -> str | None:
        return super().key_problem(dataclasses.replace(record, ip_allowlist=[]), request, now)


class PostsRefused(HmacVerifier):
    """Only GETs are checked right: a signed request with a body never verifies."""

    async def authenticate(self, request: web.Request) -> Identity:
        if request.method != "GET":
            raise refused("Invalid request signature")
        return await super().authenticate(request)


class MissingDateCrashes(HmacVerifier):
    def parse(self, request: web.Request) -> SignedParts:
        _ = request.headers["x-date"]  # a KeyError, a 500, when it is missing
        return super().parse(request)


class UnknownKeySaysSo(HmacVerifier):
    async def authenticate(self, request: web.Request) -> Identity:
        parts = self.parse(request)
        if await self.store.signing_key(parts.access_key) is None:
            raise refused("Unknown access key")
        return await super().authenticate(request)


# --- the store -------------------------------------------------------------------------------


def ignoring(problem: str) -> type[Store]:
    class Ignores(Store):
        def _signing_key_sync(self, access_key: str) -> SigningRecord | None:
            record = super()._signing_key_sync(access_key)
            if record is not None and record.problem == problem:
                return dataclasses.replace(record, problem=None)
            return record

    return Ignores


class LastUseNeverSet(Store):
    def _touch(self, key_id: str, now: float) -> None:
        return None


class RevokesEveryKey(Store):
    """Revoking one key revokes all the service account's keys."""

    def _revoke_key_sync(self, organization_id: str, service_account_id: str, key_id: str
                         ) -> Any:
        result = super()._revoke_key_sync(organization_id, service_account_id, key_id)
        if result.status == "ok":
            table = self._table(KEYS)
            table.update({"is_active": False},
                         Query().service_account_id == service_account_id)
        return result


class IssuesAcrossOrganizations(Store):
    def _issue_key_sync(self, organization_id: str, service_account_id: str,
                        key: dict[str, Any]) -> Any:
        found = any_service_account(self, service_account_id)
        if found is not None:
            organization_id = str(found.get("organization_id"))
        return super()._issue_key_sync(organization_id, service_account_id, key)


class TiesAnyAccount(Store):
    def _create_service_account_sync(self, organization_id: str, fields: dict[str, Any],
                                     statements: list[dict[str, Any]]) -> Any:
        real = self._live_account_sync
        self._live_account_sync = lambda org, acc: (  # type: ignore[method-assign]
            real(org, acc) or foreign_doc(self, acc) is not None)
        try:
            return super()._create_service_account_sync(organization_id, fields, statements)
        finally:
            del self._live_account_sync


# --- middlewares -----------------------------------------------------------------------------


@web.middleware
async def foreign_service_account_read(request: web.Request, handler: Handler
                                       ) -> web.StreamResponse:
    """GET /service-accounts/{id} finds it in any organization."""
    response = await handler(request)
    match = ONE_SA.match(request.path)
    if request.method == "GET" and match and response.status == 404:
        found = await on_store(request, any_service_account, match["id"])
        if found is not None:
            return web.json_response({k: v for k, v in found.items()
                                      if k not in ("statements", "deleted_at")})
    return response


def foreign_forbidden(pattern: re.Pattern[str], method: str) -> Middleware:
    """A foreign service account's id is told from a missing one: 403 instead of 404."""

    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        match = pattern.match(request.path)
        if (request.method == method and match and response.status == 404
                and await on_store(request, any_service_account, match["id"]) is not None):
            raise Forbidden("This service account belongs to another organization")
        return response

    return mw


SECRETS: dict[str, str] = {}


@web.middleware
async def secrets_listed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keeps each key's secret in plain text and shows it in the key list."""
    response = await handler(request)
    body = json_body(response)
    if is_key_issue(request) and isinstance(body, dict) and "secret_key" in body:
        SECRETS[str(body.get("id"))] = body["secret_key"]
    if is_key_list(request) and isinstance(body, dict) and isinstance(response, web.Response):
        for item in body.get("results", []):
            if isinstance(item, dict) and str(item.get("id")) in SECRETS:
                item["secret_key"] = SECRETS[str(item["id"])]
        return rebuilt(response, body)
    return response


@web.middleware
async def secret_hash_shown(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Service account objects carry a hash of their newest key's secret."""
    response = await handler(request)
    body = json_body(response)
    if (request.path.startswith("/service-accounts") and "/keys" not in request.path
            and isinstance(body, dict) and isinstance(response, web.Response)):
        items = body.get("results", [body]) if "results" in body else [body]
        for item in items:
            if isinstance(item, dict) and "id" in item:
                item["secret_hash"] = hashlib.sha256(str(item["id"]).encode()).hexdigest()
        return rebuilt(response, body)
    return response


def signed_status(status: int, body: Mapping[str, Any] | None = None,
                  drop_challenge: bool = False, to: int | None = None) -> Middleware:
    """Rewrites the answers of a given status to signed requests (`to`: with another status)."""

    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if is_signed(request) and response.status == status and isinstance(response,
                                                                             web.Response):
            if body is not None:
                return web.json_response(dict(body), status=to or status,
                                         headers={"WWW-Authenticate": "HMAC"})
            if drop_challenge:
                response.headers.popall("WWW-Authenticate", None)
        return response

    return mw


@web.middleware
async def upper_case_names_refused(request: web.Request, handler: Handler
                                   ) -> web.StreamResponse:
    names = {name for name, _ in request.raw_headers}
    if is_signed(request) and any(n in names for n in (b"X-DATE", b"X-NONCE",
                                                       b"X-CONTENT-SHA256")):
        raise refused("Invalid request signature")
    return await handler(request)


@web.middleware
async def lower_case_scheme_refused(request: web.Request, handler: Handler
                                    ) -> web.StreamResponse:
    if request.headers.get("Authorization", "").startswith("hmac "):
        raise refused("Invalid request signature")
    return await handler(request)


@web.middleware
async def signed_users_refused(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_signed(request) and request.path.startswith("/users"):
        raise refused("Service accounts cannot list users")
    return await handler(request)


@web.middleware
async def signed_reads_any_account(request: web.Request, handler: Handler
                                   ) -> web.StreamResponse:
    response = await handler(request)
    match = ONE_ACCOUNT.match(request.path)
    if is_signed(request) and request.method == "GET" and match and response.status == 404:
        found = await on_store(request, lambda store, i: foreign_doc(store, i), match["id"])
        if found is not None:
            return web.json_response(dict(found))
    return response


async def drop_bad_cidrs(request: web.Request, body: dict[str, Any]) -> dict[str, Any] | None:
    entries = body.get("ip_allowlist")
    if not isinstance(entries, list):
        return None
    import ipaddress

    def ok(entry: Any) -> bool:
        try:
            ipaddress.ip_network(str(entry), strict=False)
            return True
        except ValueError:
            return False

    return {**body, "ip_allowlist": [e for e in entries if ok(e)]}


async def drop_past_expiry(request: web.Request, body: dict[str, Any]) -> dict[str, Any] | None:
    value = body.get("expires_at")
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None and when < datetime.now(UTC):
        return {k: v for k, v in body.items() if k != "expires_at"}
    return None


def edit_key_body(edit: Any) -> Middleware:
    return edit_body(is_key_issue, edit)


def may_manage_keys(statements: Sequence[Mapping[str, Any]], action: str, resource: str
                    ) -> bool:
    if action in (policy.ACTION_ISSUE_KEY, policy.ACTION_REVOKE_KEY):
        return True
    return policy.is_allowed(statements, action, resource)


def status_of(match: Any, status: int) -> Middleware:
    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if match(request) and response.status == 201 and isinstance(response, web.Response):
            return rebuilt(response, json_body(response), status=status)
        return response

    return mw


def is_sa_create(request: web.Request, *_: Any) -> bool:
    return request.method == "POST" and request.path == "/service-accounts"


def windowed(seconds: int) -> Any:
    return lambda settings: dataclasses.replace(settings, hmac_skew_seconds=seconds)


def pop(*names: str) -> Any:
    def edit(item: dict[str, Any]) -> None:
        for name in names:
            item.pop(name, None)
    return edit


def sets(**fields: Any) -> Any:
    def edit(item: dict[str, Any]) -> None:
        item.update(fields)
    return edit


def colon_key(item: dict[str, Any]) -> None:
    if isinstance(item.get("access_key"), str):
        item["access_key"] += ":x"


# --- the mutants -----------------------------------------------------------------------------

service_mutant("signed_users_refused", "AUTH-18", MUST,
               "signed requests to /users are refused with 401", **middleware(
                   signed_users_refused))
service_mutant("sa_list_without_last_used_at", "SA-1", MUST,
               "service accounts are listed without last_used_at", **middleware(
                   rewrite_json(is_sa_list, each_result(pop("last_used_at")))))
service_mutant("sa_account_filter_ignored", "SA-2", MUST,
               "account_id is ignored: every service account is listed", **middleware(
                   rewrite_request(lambda r: is_sa_list(r) and "account_id" in r.query,
                                   lambda r: with_query(r, account_id=None))))
service_mutant("sa_created_inactive", "SA-3", MUST,
               "a new service account reads is_active false", **middleware(
                   rewrite_json(lambda r, resp: is_sa_create(r), one(sets(is_active=False)))))
service_mutant("sa_created_200", "SA-3", SHOULD, "creating a service account answers 200",
               watch=("SA-3",), **middleware(status_of(is_sa_create, 200)))
service_mutant("sa_for_foreign_account", "SA-4", MUST,
               "a service account may belong to another organization's account",
               store=TiesAnyAccount)
service_mutant("sa_secret_hash_shown", "SA-5", MUST,
               "service account objects carry a secret_hash", **middleware(secret_hash_shown))
service_mutant("sa_foreign_readable", "SA-6", MUST,
               "GET /service-accounts/{id} reads another organization's service account",
               **middleware(foreign_service_account_read))
service_mutant("sa_foreign_403", "SA-6", SHOULD,
               "another organization's service account gets 403, a missing one 404",
               watch=("SA-6",), **middleware(foreign_forbidden(ONE_SA, "GET")))
service_mutant("sa_inactive_keys_work", "SA-7", MUST,
               "a deactivated service account's keys keep working",
               store=ignoring("This key's service account is inactive or deleted"))
service_mutant("sa_inactive_listed", "SA-7", SHOULD,
               "inactive service accounts are in the default list", watch=("SA-7",),
               **middleware(rewrite_request(is_sa_list,
                                            lambda r: with_query(r, include_inactive="true"))))
service_mutant("key_without_expires_at", "KEY-1", MUST,
               "the issuing answer has no expires_at", **middleware(
                   rewrite_json(lambda r, resp: is_key_issue(r), one(pop("expires_at")))))
service_mutant("key_issued_200_without_id", "KEY-1", SHOULD,
               "issuing a key answers 200 without the key's id", watch=("KEY-1", "KEY-5"),
               **middleware(rewrite_json(lambda r, resp: is_key_issue(r), one(pop("id"))),
                            status_of(is_key_issue, 200)))
service_mutant("key_secret_listed", "KEY-2", MUST,
               "the key list shows each key's secret_key", **middleware(secrets_listed))
service_mutant("key_last_use_never_set", "KEY-3", MUST,
               "last_used_at of keys and service accounts is never set", store=LastUseNeverSet)
service_mutant("key_list_without_description", "KEY-4", SHOULD,
               "the key list leaves description out", watch=("KEY-5",), **middleware(
                   rewrite_json(is_key_list, each_result(pop("description")))))
service_mutant("revoked_key_works", "KEY-5", MUST, "a revoked key keeps working",
               store=ignoring("This key has been revoked"))
service_mutant("revoke_stops_every_key", "KEY-5", MUST,
               "revoking one key stops all of the service account's keys",
               store=RevokesEveryKey)
service_mutant("expired_key_works", "KEY-6", MUST,
               "a key keeps working after its expires_at", hmac=ExpiryIgnored)
service_mutant("past_expiry_accepted", "KEY-6", SHOULD,
               "an expires_at already past is dropped and the key issued without expiry",
               watch=("KEY-6", "KEY-1"), **middleware(edit_key_body(drop_past_expiry)))
service_mutant("allowlist_ignored", "KEY-7", MUST,
               "ip_allowlist is stored but never checked", hmac=AllowlistIgnored)
service_mutant("bad_cidr_dropped", "KEY-7", SHOULD,
               "allowlist entries that are no CIDR block are dropped silently",
               watch=("KEY-7",), **middleware(edit_key_body(drop_bad_cidrs)))
service_mutant("access_key_with_colon", "KEY-8", MUST,
               "access keys hold a colon", **middleware(
                   rewrite_json(lambda r, resp: is_key_issue(r), one(colon_key))))
service_mutant("keys_issued_across_organizations", "KEY-9", MUST,
               "a key may be issued to another organization's service account",
               store=IssuesAcrossOrganizations)
service_mutant("foreign_key_issue_403", "KEY-9", SHOULD,
               "issuing for another organization's service account gets 403, a missing one 404",
               watch=("KEY-9",), **middleware(foreign_forbidden(KEYS_OF, "POST")))
service_mutant("limited_manages_keys", "KEY-10", MUST,
               "a principal without the right may issue and revoke keys",
               authorize=may_manage_keys)
service_mutant("posts_never_verify", "HMAC-1", MUST,
               "only GETs verify: a signed request with a body is refused", hmac=PostsRefused)
service_mutant("query_not_signed", "HMAC-2", MUST,
               "the server leaves the query out of the string to sign", hmac=QueryNotSigned)
service_mutant("unpadded_base64_only", "HMAC-2", MUST,
               "the server expects unpadded Base64", hmac=UnpaddedOnly)
service_mutant("body_hash_not_compared", "HMAC-3", MUST,
               "x-content-sha256 is signed but never compared with the body",
               hmac=BodyNotCompared)
service_mutant("missing_x_date_crashes", "HMAC-4", MUST,
               "a signed request without x-date gets a 500", hmac=MissingDateCrashes)
service_mutant("upper_case_header_names_refused", "HMAC-4", MUST,
               "X-DATE, X-NONCE, X-CONTENT-SHA256 in upper case are refused",
               **middleware(upper_case_names_refused))
service_mutant("lower_case_scheme_refused", "HMAC-4", SHOULD,
               "the scheme written hmac is refused", watch=("HMAC-4",),
               **middleware(lower_case_scheme_refused))
service_mutant("signature_not_checked", "HMAC-5", MUST,
               "any signature is accepted for a known key", hmac=SignatureNotChecked)
service_mutant("nonces_not_kept", "HMAC-6", MUST, "a nonce may be used again",
               hmac=NoncesNotKept)
service_mutant("forbidden_replayable", "HMAC-6", MUST,
               "a nonce is used up only by a successful request: a 403 may be replayed",
               hmac=NonceOnSuccess, **middleware(nonce_after_success))
service_mutant("x_date_unbounded", "HMAC-7", MUST, "x-date is never compared with the clock",
               hmac=DateUnbounded)
service_mutant("x_date_window_1200", "HMAC-7", MUST, "x-date is accepted within ±1200 s",
               settings=windowed(1200))
service_mutant("x_date_window_400", "HMAC-7", SHOULD, "x-date is accepted within ±400 s",
               watch=("HMAC-7",), settings=windowed(400))
service_mutant("nonces_kept_a_minute", "HMAC-8", MUST,
               "used nonces are forgotten after 60 s, inside the 300 s window",
               hmac=NoncesKeptAMinute)
service_mutant("nonces_forgotten_on_restart", "HMAC-8", SHOULD,
               "used nonces are kept in memory only: a restart forgets them",
               watch=("HMAC-8", "HMAC-6"), hmac=NoncesInMemory)
service_mutant("nonce_check_then_set", "HMAC-9", SHOULD,
               "a nonce is looked up, then recorded after an await: concurrent copies pass",
               watch=("HMAC-6",), hmac=NonceCheckThenSet)
service_mutant("signed_refusals_403", "HMAC-10", MUST,
               "a signed request that fails authentication gets 403 Forbidden, not 401",
               **middleware(signed_status(401, {"error": "Forbidden", "message": "bad"},
                                          to=403)))
service_mutant("unknown_key_told_apart", "HMAC-10", SHOULD,
               "an unknown access key is answered differently from a wrong signature",
               watch=("HMAC-4", "HMAC-5"), hmac=UnknownKeySaysSo)
service_mutant("no_hmac_challenge", "HMAC-10", SHOULD,
               "a signed request's 401 has no WWW-Authenticate", watch=("HMAC-10",),
               **middleware(signed_status(401, drop_challenge=True)))
# (A 403 that says "AccessDenied" breaks ERR-0, the body's owner, whatever the request.)
service_mutant("signed_refusal_400", "HMAC-11", MUST,
               "a signed request its service account may not make gets 400, not 403",
               **middleware(signed_status(403, {"error": "BadRequest", "message": "no"},
                                          to=400)))
service_mutant("deleted_account_keys_work", "HMAC-12", MUST,
               "keys keep working once their service account's account is deleted",
               store=ignoring("This key's service account belongs to an account that no "
                              "longer exists"))
service_mutant("signed_reads_any_account", "HMAC-14", MUST,
               "a signed GET /accounts/{id} reads another organization's account",
               **middleware(signed_reads_any_account))


# --- correct variants ------------------------------------------------------------------------


class PathsVariant(HarnessVariant):
    """A correct variant that serves SERVICE at other paths, named as a config's [paths]."""

    def suite_config(self, config: Any) -> Any:
        from dpaas_conformance.library.target import ServicePaths

        return dataclasses.replace(config, paths=ServicePaths(**OTHER_PATHS))


OTHER_PATHS = {"service_account_create": "/service-accounts/new",
               "key_issue": "/service-accounts/{id}/api-keys",
               "key_list": "/service-accounts/{id}/api-keys",
               "key_revoke": "/service-accounts/{id}/api-keys/{key_id}"}


@web.middleware
async def other_paths(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The reference server's routes, reached from OTHER_PATHS only (the defaults are 404)."""
    path, method = request.path, request.method
    if path == "/service-accounts/new" and method == "POST":
        new = "/service-accounts"
    elif re.fullmatch(r"/service-accounts/[^/]+/api-keys(/[^/]+)?", path):
        new = path.replace("/api-keys", "/keys")
    elif (re.fullmatch(r"/service-accounts/[^/]+/keys(/[^/]+)?", path)
          or (path == "/service-accounts" and method == "POST")):
        return web.json_response({"error": "NotFound", "message": "Not found"}, status=404)
    else:
        return await handler(request)
    raw = new + (f"?{request.query_string}" if request.query_string else "")
    cloned = request.clone(method=method, rel_url=raw)
    cloned[SIGNED_TARGET] = request.raw_path  # what the client signed
    match = await request.app.router.resolve(cloned)
    match.add_app(request.app)
    match.freeze()
    cloned._match_info = match
    return await match.handler(cloned)  # the route the other path names


class SignedAsSent(HmacVerifier):
    """Checks the signature over the path the client sent, before `other_paths` rewrote it."""

    def target(self, request: web.Request) -> tuple[str, str]:
        path, _, query = str(request.get(SIGNED_TARGET, request.raw_path)).partition("?")
        return path, query


class LenientSigning(HmacVerifier):
    """Also accepts unpadded and URL-safe Base64 signatures, and uppercase hex body hashes."""

    def signature_ok(self, expected: str, given: str) -> bool:
        try:
            padded = given + "=" * (-len(given) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(base64.b64decode(expected), raw)

    def body_ok(self, body: bytes, declared: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared.lower())


class UuidNoncesOnly(HmacVerifier):
    """Accepts only UUIDs as nonces (HMAC-13 leaves the syntax free, as long as a UUID works)."""

    def parse(self, request: web.Request) -> SignedParts:
        import uuid

        parts = super().parse(request)
        try:
            uuid.UUID(parts.nonce)
        except ValueError:
            raise refused("x-nonce must be a UUID") from None
        return parts


class GlobalNonces(Store):
    """A nonce works once across every key; each key is still stamped as used (KEY-3)."""

    def _use_nonce_sync(self, key_id: str, nonce: str, expires_at: float) -> NonceUse:
        outcome = super()._use_nonce_sync("*", nonce, expires_at)
        if outcome == "ok":
            self._touch(key_id, self.now())
        return outcome


class AllowlistForbidden(HmacVerifier):
    """An allowlist refusal is 403, the others 401."""

    def key_problem(self, record: SigningRecord, request: web.Request, now: float) -> str | None:
        problem = super().key_problem(record, request, now)
        if problem is not None and "address" in problem:
            raise Forbidden("This key may not be used from this address")
        return problem


@web.middleware
async def revoked_keys_gone(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A key list without the revoked keys (its refusals, a 403 say, pass as they are)."""
    response = await handler(request)
    if not (is_key_list(request) and response.status == 200
            and isinstance(response, web.Response)):
        return response
    body = json_body(response)
    if not (isinstance(body, dict) and isinstance(body.get("results"), list)
            and isinstance(body.get("total"), int)):
        return response
    kept = [i for i in body["results"] if not (isinstance(i, dict)
                                                and i.get("is_active") is False)]
    gone = len(body["results"]) - len(kept)
    return rebuilt(response, {**body, "results": kept, "total": body["total"] - gone})


class OtherKeyFormat(Store):
    """Access keys in another format: `AKIA` and 20 URL-safe Base64 characters (dashes and
    underscores included), as another server might make them."""

    def _issue_key_sync(self, organization_id: str, service_account_id: str,
                        key: dict[str, Any]) -> Any:
        import secrets

        key = {**key, "access_key": "AKIA" + secrets.token_urlsafe(15)}
        return super()._issue_key_sync(organization_id, service_account_id, key)


def correct(name: str, why: str, *, ids: Sequence[str] = (), warnings: Sequence[str] = (),
            cls: type[HarnessVariant] = HarnessVariant, **parts: Any) -> HarnessVariant:
    if "middlewares" in parts:
        parts["middlewares"] = tuple(answering(mw) for mw in parts["middlewares"])
    return cls(name, CORRECT, Components(**parts), why=why, classes=SERVICE,
               ids=frozenset(ids), expected_warnings=frozenset(warnings))


#: the scenarios that create service accounts and issue, list or revoke keys at their paths
PATH_IDS = ("AUTH-18", "SA-3", "SA-4", "KEY-1", "KEY-2", "KEY-4", "KEY-5", "KEY-9", "KEY-10")
SIGNING_IDS = ("AUTH-18", "HMAC-1", "HMAC-2", "HMAC-3", "HMAC-4", "HMAC-5", "HMAC-10")
CORRECT_VARIANTS_SERVICE = [
    correct("lenient_signature_encodings", "unpadded and URL-safe Base64 signatures and "
            "uppercase hex body hashes are accepted too", ids=SIGNING_IDS, hmac=LenientSigning),
    correct("global_nonces", "a nonce works once across every key, not per key",
            ids=("HMAC-6", "HMAC-8", "HMAC-9"), store=GlobalNonces),
    correct("uuid_nonces_only", "only UUIDs are accepted as nonces",
            ids=("HMAC-1", "HMAC-5", "HMAC-6", "HMAC-9"), hmac=UuidNoncesOnly),
    correct("revoked_keys_unlisted", "a revoked key leaves the key list",
            ids=("KEY-4", "KEY-5"), middlewares=(revoked_keys_gone,)),
    correct("allowlist_refusal_403", "a key used from outside its allowlist gets 403",
            ids=("KEY-7",), hmac=AllowlistForbidden),
    correct("other_key_format", "access keys are AKIA and URL-safe Base64, not sa_ and hex",
            ids=("KEY-1", "KEY-3", "KEY-5", "KEY-8", "HMAC-1", "HMAC-6"), store=OtherKeyFormat),
    correct("other_service_paths", "service accounts and keys at other paths, named in "
            "[paths]", cls=PathsVariant, hmac=SignedAsSent, middlewares=(other_paths,),
            ids=PATH_IDS),
]
