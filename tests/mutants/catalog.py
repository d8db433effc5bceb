"""The broken variants of the reference server, each breaking one requirement id.

Every mutant is built by substituting one of the server's parts through its app factory
(`Components`): the token service, the store, the policy check, or a middleware that rewrites a
response the way a buggy handler would. The level says how the suite must react: a MUST mutant
must fail the run, a SHOULD mutant must be warned about (and fail nothing at MUST level).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from reference_server.app import Components
from reference_server.bearer import require
from reference_server.errors import ApiError
from reference_server.pagination import ListParams, Page
from reference_server.policy import ACTION_CREATE_ACCOUNT, accounts_resource, is_allowed
from reference_server.store import (
    ACCOUNT_FIELDS,
    USER_FIELDS,
    RotationResult,
    Store,
    isoformat,
)
from reference_server.store.indexes import Listing, Rows
from reference_server.tokens import TokenService, hash_refresh_token
from tests.mutants.rewrite import (
    is_list,
    json_body,
    on,
    rebuilt,
    rewrite_json,
    rewrite_request,
    rewrite_response,
    status_is,
    with_query,
)

MUST, SHOULD = "must", "should"
TOKEN_PATHS = ("/authentication/login", "/authentication/refresh")


@dataclass(frozen=True)
class Mutant:
    name: str
    requirement: str
    level: str
    breaks: str
    components: Components

    @property
    def area(self) -> str:
        return self.requirement.split("-")[0]


MUTANTS: dict[str, Mutant] = {}


def mutant(name: str, requirement: str, level: str, breaks: str, **parts: Any) -> None:
    MUTANTS[name] = Mutant(name, requirement, level, breaks, Components(**parts))


def middleware(*mws: Any) -> dict[str, Any]:
    return {"middlewares": tuple(mws)}


# --- refresh tokens ------------------------------------------------------------------------


class SameRefreshToken(TokenService):
    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        tokens = await super().rotate(refresh_token)
        return tokens and {**tokens, "refresh_token": refresh_token}


class ForgetsUse(Store):
    """Never marks a refresh token used: rotated tokens stay valid forever."""

    async def rotate_refresh_token(
        self, token_hash: str, successor: Mapping[str, Any]
    ) -> RotationResult:
        current = await self.find_refresh_token(token_hash)
        if current is None or current["expires_at"] <= self.now() or current.get("revoked_at"):
            return RotationResult("invalid")
        user = await self.get_active_user(current["user_id"], current["org_id"])
        if user is None:
            return RotationResult("invalid")
        record = {**current, **successor, "parent_hash": token_hash, "issued_at": self.now()}
        await self.insert_refresh_token(record)
        return RotationResult("ok", user=user, record=record)


class KeepsFamily(Store):
    async def revoke_family(self, family_id: str, reason: str = "revoked") -> int:
        return 0


class RacyRotation(TokenService):
    """Checks the token, then writes later without checking again: a check-then-act race.

    The first request to get past the gap rotates; any other that passed the check before
    that write stores its own successor in the family, as a server without a re-check would.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._written: set[str] = set()

    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        token_hash = hash_refresh_token(refresh_token)
        record = await self.store.find_refresh_token(token_hash)
        if record is None or record.get("used_at") is not None or record.get("revoked_at"):
            return await super().rotate(refresh_token)
        await asyncio.sleep(0.3)  # the gap between the check and the write, widened
        if token_hash not in self._written:
            self._written.add(token_hash)
            return await super().rotate(refresh_token)
        successor = secrets.token_urlsafe(32)
        await self.store.insert_refresh_token({
            **record, "hash": hash_refresh_token(successor), "parent_hash": token_hash,
            "issued_at": self.settings.clock(),
        })
        return self._token_response(record["user_id"], record["org_id"], successor)


class DeadSuccessor(TokenService):
    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        tokens = await super().rotate(refresh_token)
        return tokens and {**tokens, "refresh_token": secrets.token_urlsafe(32)}


class CrashesOnUnknownRefresh(TokenService):
    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        token_hash = hash_refresh_token(refresh_token)
        if await self.store.find_refresh_token(token_hash) is None:
            raise KeyError(token_hash)  # an unhandled lookup miss: a 500
        return await super().rotate(refresh_token)


class BadRequest400(ApiError):
    status, error, message = 400, "BadRequest", "Refresh token rejected"


class Rotation400(TokenService):
    """Answers 400 instead of 401 for one kind of refresh failure."""

    refused_kind = "reused"

    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        successor = secrets.token_urlsafe(32)
        result = await self.store.rotate_refresh_token(
            hash_refresh_token(refresh_token), {"hash": hash_refresh_token(successor)}
        )
        if result.status == self.refused_kind:
            raise BadRequest400()
        if result.status != "ok" or result.record is None:
            return None
        return self._token_response(result.record["user_id"], result.record["org_id"], successor)


class UnknownRefresh400(Rotation400):
    refused_kind = "invalid"


mutant(
    "refresh_not_rotated",
    "AUTH-8",
    MUST,
    "refresh hands back the refresh token it was sent",
    tokens=SameRefreshToken,
)
mutant(
    "rotated_token_still_valid",
    "AUTH-9",
    MUST,
    "a used refresh token keeps working",
    store=ForgetsUse,
)
mutant(
    "used_token_400",
    "AUTH-9",
    SHOULD,
    "a reused refresh token gets 400, not 401",
    tokens=Rotation400,
)
mutant(
    "successor_token_dead",
    "AUTH-10",
    MUST,
    "the new refresh token never works",
    tokens=DeadSuccessor,
)
mutant(
    "unknown_refresh_crashes",
    "AUTH-11",
    MUST,
    "an unknown refresh token is a 500",
    tokens=CrashesOnUnknownRefresh,
)
mutant(
    "unknown_refresh_400",
    "AUTH-11",
    SHOULD,
    "an unknown refresh token gets 400, not 401",
    tokens=UnknownRefresh400,
)
mutant(
    "reuse_keeps_family",
    "AUTH-12",
    SHOULD,
    "reuse of a rotated token revokes nothing",
    store=KeepsFamily,
)
mutant(
    "concurrent_refreshes_win",
    "AUTH-13",
    SHOULD,
    "concurrent refreshes all succeed",
    tokens=RacyRotation,
)

# --- access tokens -------------------------------------------------------------------------


class AcceptsAlgNone(TokenService):
    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        try:
            if jwt.get_unverified_header(token).get("alg") == "none":
                claims = jwt.decode(token, options={"verify_signature": False})
                return claims if self._claims_ok(claims) else None
        except jwt.PyJWTError:
            return None
        return super().decode_access_token(token)


class AcceptsHS256PublicKey(TokenService):
    """The key-confusion bug: HMAC checked with the RSA public key's PEM as the secret."""

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("alg") != "HS256":
            return super().decode_access_token(token)
        key = self.keyring.public_key(header.get("kid", ""))
        if key is None:
            return None
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input, _, signature = token.rpartition(".")
        expected = jwt.utils.base64url_encode(
            hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, signature):
            return None
        claims = jwt.decode(token, options={"verify_signature": False})
        return claims if self._claims_ok(claims) else None


class IgnoresSignature(TokenService):
    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        return claims if self._claims_ok(claims) else None


class IgnoresExpiry(TokenService):
    def _claims_ok(self, claims: Mapping[str, Any]) -> bool:
        return super()._claims_ok({**claims, "exp": int(claims.get("exp", 0)) + 10**9})


class NoExpClaim(TokenService):
    def create_access_token(self, user_id: str, organization_id: str) -> str:
        claims = jwt.decode(
            super().create_access_token(user_id, organization_id),
            options={"verify_signature": False},
        )
        claims.pop("exp")
        key = self.keyring.active
        return jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"typ": "JWT", "kid": key.kid}
        )

    def _claims_ok(self, claims: Mapping[str, Any]) -> bool:
        return super()._claims_ok({"exp": int(self.settings.clock()) + 60, **claims})

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keyring.public_key(header.get("kid", ""))
            claims = jwt.decode(
                token, key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
            )
        except jwt.PyJWTError:
            return None
        return claims if self._claims_ok(claims) else None


class EarlyIat(TokenService):
    """Claims it issued the token ten minutes ago: exp - iat is no longer 900."""

    def create_access_token(self, user_id: str, organization_id: str) -> str:
        claims = jwt.decode(
            super().create_access_token(user_id, organization_id),
            options={"verify_signature": False},
        )
        claims["iat"] -= 600
        key = self.keyring.active
        return jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"typ": "JWT", "kid": key.kid}
        )


def token_field(name: str, value: Any) -> dict[str, Any]:
    class Changed(TokenService):
        def _token_response(self, user_id: str, organization_id: str, refresh: str) -> dict:
            return {**super()._token_response(user_id, organization_id, refresh), name: value}

    return {"tokens": Changed}


mutant(
    "expires_in_wrong", "AUTH-1", MUST, "expires_in says 3600", **token_field("expires_in", 3600)
)
mutant(
    "token_type_wrong", "AUTH-1", MUST, 'token_type says "JWT"', **token_field("token_type", "JWT")
)
mutant("no_exp_claim", "AUTH-2", MUST, "access tokens carry no exp", tokens=NoExpClaim)
mutant("iat_in_the_past", "AUTH-3", SHOULD, "exp - iat is 1500", tokens=EarlyIat)
mutant("alg_none_accepted", "AUTH-15", MUST, "alg none tokens are accepted", tokens=AcceptsAlgNone)
mutant(
    "hs256_public_key_accepted",
    "AUTH-15",
    MUST,
    "HS256 keyed with the public key passes",
    tokens=AcceptsHS256PublicKey,
)
mutant("signature_not_checked", "AUTH-15", MUST, "any signature passes", tokens=IgnoresSignature)
mutant(
    "expired_token_accepted", "AUTH-15", MUST, "expired tokens are accepted", tokens=IgnoresExpiry
)

# --- logging in ----------------------------------------------------------------------------


class TellsUnknownEmail(Store):
    async def find_login_user(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        user = await super().find_login_user(organization_slug, email)
        if user is None:
            raise type(
                "UnknownEmail",
                (ApiError,),
                {"status": 401, "error": "Unauthorized", "message": "No such user"},
            )()
        return user


def drop_headers(*names: str) -> Callable[[web.Request, web.Response], web.Response]:
    def change(_request: web.Request, response: web.Response) -> web.Response:
        for name in names:
            response.headers.pop(name, None)
        return response

    return change


def as_status(status: int, error: str, keep_details: bool = False) -> Callable[..., web.Response]:
    def change(_request: web.Request, response: web.Response) -> web.Response:
        body = json_body(response) or {}
        new = {"error": error, "message": body.get("message", error)}
        if keep_details and "details" in body:
            new["details"] = body["details"]
        return rebuilt(response, new, status)

    return change


mutant(
    "login_missing_field_400",
    "AUTH-4",
    MUST,
    "a login without a field gets 400, no details",
    **middleware(
        rewrite_response(
            lambda r, resp: on("POST", "/authentication/login")(r) and resp.status == 422,
            as_status(400, "BadRequest"),
        )
    ),
)
mutant(
    "login_refusal_carries_token",
    "AUTH-5",
    MUST,
    "a refused login's 401 body carries an access token (built before the password was checked)",
    **middleware(
        rewrite_json(
            lambda r, resp: on("POST", "/authentication/login")(r) and resp.status == 401,
            lambda body: {**body, "access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"},
        )
    ),
)
mutant(
    "login_tells_unknown_email",
    "AUTH-5",
    SHOULD,
    "unknown email answers differently",
    store=TellsUnknownEmail,
)
mutant(
    "tokens_cacheable",
    "AUTH-6",
    SHOULD,
    "token responses carry no Cache-Control",
    **middleware(
        rewrite_response(
            lambda r, _: r.path in TOKEN_PATHS, drop_headers("Cache-Control", "Pragma")
        )
    ),
)
mutant(
    "no_login_throttle",
    "AUTH-7",
    SHOULD,
    "failed logins are never throttled",
    **middleware(
        rewrite_response(
            lambda r, resp: on("POST", "/authentication/login")(r) and resp.status == 429,
            as_status(401, "Unauthorized"),
        )
    ),
)
mutant(
    "no_www_authenticate",
    "AUTH-16",
    SHOULD,
    "401s carry no WWW-Authenticate",
    **middleware(rewrite_response(status_is(401), drop_headers("WWW-Authenticate"))),
)
mutant(
    "no_jwks",
    "AUTH-17",
    SHOULD,
    "no JWK Set is published",
    **middleware(
        rewrite_response(
            lambda r, _: r.path == "/.well-known/jwks.json", as_status(404, "NotFound")
        )
    ),
)

# --- lists ---------------------------------------------------------------------------------


class TotalIsPageSize(Store):
    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        page = await super().list_accounts(organization_id, params)
        return Page(total=len(page.results), results=page.results)

    async def list_users(self, organization_id: str, params: ListParams) -> Page:
        page = await super().list_users(organization_id, params)
        return Page(total=len(page.results), results=page.results)


class OverlappingPages(Store):
    """Off by one: every page after the first starts with the previous page's last item."""

    @staticmethod
    def through(params: ListParams) -> ListParams:
        return dataclasses.replace(params, page=1, quantity=params.offset + params.quantity)

    @staticmethod
    def shifted(everything: Page, params: ListParams) -> Page:
        start = max(0, params.offset - 1)
        return Page(everything.total, everything.results[start : start + params.quantity])

    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        page = await super().list_accounts(organization_id, self.through(params))
        return self.shifted(page, params)

    async def list_users(self, organization_id: str, params: ListParams) -> Page:
        return self.shifted(await super().list_users(organization_id, self.through(params)), params)


def uncapped(request: web.Request) -> bool:
    return (
        is_list(request) and int(request.query.get("quantity", "0") or 0) > 100
        if request.query.get("quantity", "").isdigit()
        else False
    )


@web.middleware
async def no_quantity_cap(request: web.Request, handler: Any) -> web.StreamResponse:
    """Serves any quantity by stitching 100-item pages together, as an uncapped server would."""
    if not uncapped(request):
        return await handler(request)
    wanted = int(request.query["quantity"])
    page = int(request.query.get("page", "1"))
    results: list[Any] = []
    response: Any = None
    first = (page - 1) * wanted // 100 + 1
    for sub in range(first, first + wanted // 100 + 2):
        response = await handler(with_query(request, quantity="100", page=str(sub)))
        body = json_body(response)
        if response.status != 200 or body is None:
            return response
        results += body["results"]
        if len(body["results"]) < 100:
            break
    return rebuilt(response, {"total": body["total"], "page": page, "results": results[:wanted]})


mutant(
    "total_counts_page", "LIST-1", MUST, "total counts only the page's items", store=TotalIsPageSize
)
mutant(
    "page_not_echoed",
    "LIST-1",
    MUST,
    "page always says 1",
    **middleware(
        rewrite_json(
            lambda r, resp: is_list(r) and resp.status == 200, lambda body: {**body, "page": 1}
        )
    ),
)
mutant(
    "quantity_not_capped",
    "LIST-2",
    MUST,
    "quantity above 100 is served in full",
    **middleware(no_quantity_cap),
)
mutant("pages_overlap", "LIST-3", MUST, "consecutive pages share an item", store=OverlappingPages)
mutant(
    "oldest_first_by_default",
    "LIST-4",
    MUST,
    "with no order_by the oldest come first",
    **middleware(
        rewrite_request(
            lambda r: is_list(r) and "order_by" not in r.query,
            lambda r: with_query(r, order_by="created_at"),
        )
    ),
)
mutant(
    "bad_page_ignored",
    "LIST-5",
    SHOULD,
    "page=0 and page=two are served as page 1",
    **middleware(
        rewrite_request(
            lambda r: (
                (is_list(r) and not r.query.get("page", "1").isdigit())
                or r.query.get("page") == "0"
            ),
            lambda r: with_query(r, page=None),
        )
    ),
)
mutant(
    "past_the_end_404",
    "LIST-6",
    SHOULD,
    "a page past the end is a 404",
    **middleware(
        rewrite_response(
            lambda r, resp: (
                is_list(r) and resp.status == 200 and (json_body(resp) or {}).get("results") == []
            ),
            as_status(404, "NotFound"),
        )
    ),
)

# --- accounts ------------------------------------------------------------------------------


class AllTenants(Store):
    """Forgets the tenant filter on one list."""

    table = "accounts"

    def tenant_rows(self, listing: Listing, organization_id: str) -> Rows:
        if listing.name != self.table:
            return super().tenant_rows(listing, organization_id)
        return listing.all_rows()


class AllTenantsUsers(AllTenants):
    table = "users"


class NotPersisted(Store):
    """Answers a create with the account it would have stored, and stores nothing."""

    async def create_account(
        self,
        organization_id: str,
        name: str,
        is_default: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = isoformat(self.now())
        return {"id": self.new_account_id(), "name": name, "organization_id": organization_id,
                "is_default": is_default, "is_active": True, "metadata": dict(metadata or {}),
                "created_at": now, "updated_at": now}


def handles_create(make_body: Callable[[dict[str, Any], str], dict[str, Any] | None]) -> Any:
    """A create handler that skips validation the way a hand-rolled one might."""

    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        if not on("POST", "/accounts")(request):
            return await handler(request)
        identity = await require(request, ACTION_CREATE_ACCOUNT, accounts_resource)
        try:
            sent = json.loads(await request.read())
        except ValueError:
            return await handler(request)
        fields = make_body(sent, identity.organization_id) if isinstance(sent, dict) else None
        if fields is None:
            return await handler(request)
        from reference_server.state import STORE

        account = await request.app[STORE].create_account(**fields)
        return web.json_response(account, status=201)

    return mw


def honour_org(sent: dict[str, Any], org: str) -> dict[str, Any] | None:
    if "organization_id" not in sent or not isinstance(sent.get("name"), str):
        return None
    return {"organization_id": str(sent["organization_id"]), "name": sent["name"]}


def default_name(sent: dict[str, Any], org: str) -> dict[str, Any] | None:
    if "name" in sent:
        return None
    return {
        "organization_id": org,
        "name": "Untitled",
        "is_default": sent.get("is_default") is True,
    }


def local_time(body: Any) -> Any:
    def fix(account: dict[str, Any]) -> dict[str, Any]:
        return {
            **account,
            **{
                k: str(account[k]).replace("Z", "+02:00")
                for k in ("created_at", "updated_at")
                if k in account
            },
        }

    if isinstance(body, dict) and "results" in body:
        return {**body, "results": [fix(a) for a in body["results"]]}
    return fix(body) if isinstance(body, dict) and "id" in body else body


def without(field: str) -> Callable[[Any], Any]:
    def edit(body: Any) -> Any:
        if isinstance(body, dict) and "results" in body:
            return {
                **body,
                "results": [{k: v for k, v in a.items() if k != field} for a in body["results"]],
            }
        return {k: v for k, v in body.items() if k != field} if isinstance(body, dict) else body

    return edit


def account_responses(request: web.Request, response: web.Response) -> bool:
    return request.path == "/accounts" and response.status < 300


def lets_anyone_create(statements: Any, action: str, resource: str) -> bool:
    return action == ACTION_CREATE_ACCOUNT or is_allowed(statements, action, resource)


mutant(
    "accounts_of_all_tenants",
    "ACC-1",
    MUST,
    "the list holds every organization's accounts",
    store=AllTenants,
)
mutant(
    "created_account_not_stored",
    "ACC-2",
    MUST,
    "create answers but stores nothing",
    store=NotPersisted,
)
mutant(
    "create_answers_200",
    "ACC-2",
    SHOULD,
    "create answers 200, not 201",
    **middleware(
        rewrite_response(
            lambda r, resp: on("POST", "/accounts")(r) and resp.status == 201,
            lambda _r, resp: rebuilt(resp, json_body(resp), 200),
        )
    ),
)
mutant(
    "missing_name_defaulted",
    "ACC-3",
    MUST,
    "an account without a name is created anyway",
    **middleware(handles_create(default_name)),
)
mutant(
    "client_organization_honoured",
    "ACC-4",
    MUST,
    "organization_id from the body is used",
    **middleware(handles_create(honour_org)),
)
mutant(
    "limited_may_create",
    "ACC-5",
    MUST,
    "the policy lets anyone create accounts",
    authorize=lets_anyone_create,
)
mutant(
    "timestamps_not_utc",
    "ACC-6",
    MUST,
    "timestamps carry a +02:00 offset",
    **middleware(rewrite_json(account_responses, local_time)),
)
mutant(
    "account_without_metadata",
    "ACC-6",
    SHOULD,
    "accounts carry no metadata",
    **middleware(rewrite_json(account_responses, without("metadata"))),
)

# --- users ---------------------------------------------------------------------------------


class LeaksHash(Store):
    user_fields = (*USER_FIELDS, "password_hash")


class UserFieldsMissing(Store):
    user_fields = tuple(f for f in USER_FIELDS if f != "created_at")


class NoMfaField(Store):
    user_fields = tuple(f for f in USER_FIELDS if f != "mfa_enabled")


mutant(
    "user_without_created_at", "USER-1", MUST, "users carry no created_at", store=UserFieldsMissing
)
mutant("user_without_mfa_enabled", "USER-1", SHOULD, "users carry no mfa_enabled", store=NoMfaField)
mutant("password_hash_listed", "USER-2", MUST, "/users shows password hashes", store=LeaksHash)
mutant(
    "users_of_all_tenants",
    "USER-3",
    MUST,
    "/users lists every organization's users",
    store=AllTenantsUsers,
)

# --- errors --------------------------------------------------------------------------------


def other_keys(body: Any) -> Any:
    return {"code": body.get("error"), "detail": body.get("message")}


def renamed_message(body: Any) -> Any:
    return {("msg" if k == "message" else k): v for k, v in body.items()}


mutant(
    "validation_without_details",
    "ERR-0",
    MUST,
    "422 bodies have no details",
    **middleware(rewrite_json(status_is(422), without("details"))),
)
mutant(
    "error_body_other_keys",
    "ERR-0",
    MUST,
    'errors say {"code", "detail"}',
    **middleware(rewrite_json(lambda _r, resp: resp.status >= 400, other_keys)),
)
mutant(
    "message_key_renamed",
    "ERR-0",
    MUST,
    'errors say "msg" instead of "message" (one wrong key in every error body)',
    **middleware(rewrite_json(lambda _r, resp: resp.status >= 400, renamed_message)),
)
mutant(
    "not_found_is_text",
    "ERR-1",
    SHOULD,
    "unknown routes answer plain text",
    **middleware(
        rewrite_response(
            status_is(404), lambda _r, resp: web.Response(status=404, text="404: Not Found")
        )
    ),
)


@web.middleware
async def crashes_on_bad_json(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method == "POST":
        try:
            json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "InternalError", "message": "crash"}, status=500)
    return await handler(request)


mutant(
    "bad_json_crashes",
    "ERR-2",
    MUST,
    "a body that is not JSON is a 500",
    **middleware(crashes_on_bad_json),
)


# --- hostile input (ERR-4, ERR-5): the reference server's own bugs before issue 9 ---------


def nesting(value: Any) -> int:
    """How deep a parsed JSON value nests (without recursion: it may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


def non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict | list):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False


def accepts_unservable(
    unservable: Callable[[Any], bool],
    serve: Callable[[web.Response, dict[str, Any], dict[str, Any]], web.Response],
) -> dict[str, Any]:
    """Stores a create whose metadata it cannot serve back, then fails every list page with it."""
    poisoned: dict[str, Any] = {}  # account id -> the metadata sent

    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        if on("POST", "/accounts")(request):
            try:
                sent = json.loads(await request.read())
            except (ValueError, RecursionError):
                sent = None
            if isinstance(sent, dict) and unservable(sent.get("metadata")):
                from reference_server.state import STORE

                identity = await require(request, ACTION_CREATE_ACCOUNT, accounts_resource)
                account = await request.app[STORE].create_account(
                    identity.organization_id, str(sent.get("name")), metadata={})
                poisoned[account["id"]] = sent["metadata"]
                return web.json_response(account, status=201)
            return await handler(request)
        response = await handler(request)
        body = json_body(response)
        if is_list(request) and isinstance(body, dict) and any(
            isinstance(item, dict) and item.get("id") in poisoned for item in body["results"]
        ):
            return serve(response, body, poisoned)
        return response

    return middleware(mw)


def crashes(_response: web.Response, _body: Any, _poisoned: Any) -> web.Response:
    return web.json_response({"error": "InternalError", "message": "crash"}, status=500)


def serves_as_stored(response: web.Response, body: dict[str, Any], poisoned: Any) -> web.Response:
    """The stored numbers written back as they are: 1e999 becomes a bare Infinity."""
    for item in body["results"]:
        if item.get("id") in poisoned:
            item["metadata"] = poisoned[item["id"]]
    return web.Response(text=json.dumps(body, allow_nan=True), content_type="application/json",
                        status=response.status)


@web.middleware
async def surrogate_crashes(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method == "POST" and re.search(rb"\\u[dD][89a-fA-F]", await request.read()):
        return web.json_response({"error": "InternalError", "message": "crash"}, status=500)
    return await handler(request)


mutant(
    "lone_surrogate_crashes",
    "ERR-4",
    MUST,
    "a lone surrogate escape in any body is a 500",
    **middleware(surrogate_crashes),
)
mutant(
    "infinity_served",
    "ERR-4",
    MUST,
    "1e999 is stored and served back as Infinity",
    **accepts_unservable(non_finite, serves_as_stored),
)
mutant(
    "deep_metadata_breaks_lists",
    "ERR-5",
    MUST,
    "metadata nested 950 deep is stored, then every page with it is a 500",
    **accepts_unservable(lambda metadata: nesting(metadata) > 64, crashes),
)


# --- one requirement, field by field (ACC-6, USER-1) --------------------------------------


def account_without(field: str) -> dict[str, Any]:
    """Accounts shown without `field`, in lists and create answers (the store's projection)."""
    kept = tuple(f for f in ACCOUNT_FIELDS if f != field)
    return {"store": type(f"AccountWithout_{field}", (Store,), {"account_fields": kept})}


def user_without(field: str) -> dict[str, Any]:
    kept = tuple(f for f in USER_FIELDS if f != field)
    return {"store": type(f"UserWithout_{field}", (Store,), {"user_fields": kept})}


for _field in ("id", "name", "organization_id", "is_default", "is_active", "created_at",
               "updated_at"):
    mutant(f"account_without_{_field}", "ACC-6", MUST, f"accounts carry no {_field}",
           **account_without(_field))
for _field in ("id", "email", "organization_id", "updated_at"):
    mutant(f"user_without_{_field}", "USER-1", MUST, f"users carry no {_field}",
           **user_without(_field))
for _field in ("is_active", "is_verified", "metadata", "last_login_at"):
    mutant(f"user_without_{_field}", "USER-1", SHOULD, f"users carry no {_field}",
           **user_without(_field))


# --- breaking exactly one requirement, judged by every scenario (issue 15) ----------------
# A full run against each of these must name its requirement and nothing else: a finding is
# charged to the requirement it breaks, not to the tags of the scenario that met it.

ONE_HOUR_EAST = timezone(timedelta(hours=1))


def in_plus_one_hour(value: Any) -> Any:
    """The same instant written in local time +01:00 (a server that forgot to convert)."""
    if not isinstance(value, str) or not value.endswith("Z"):
        return value
    stamp = datetime.fromisoformat(value[:-1] + "+00:00").astimezone(ONE_HOUR_EAST)
    return stamp.isoformat(timespec="microseconds")


def account_timestamps(change: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def edit(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            return {**body, "results": [edit(item) for item in body["results"]]}
        if isinstance(body, dict):
            return {k: change(v) if k in ("created_at", "updated_at") else v
                    for k, v in body.items()}
        return body

    return edit


def numeric_ids(body: Any, ids: dict[str, int]) -> Any:
    """Ids and organization ids as JSON numbers, as an auto-increment key serialised raw."""
    def number(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return ids.setdefault(value, len(ids) + 1)

    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return {**body, "results": [numeric_ids(item, ids) for item in body["results"]]}
    if isinstance(body, dict) and "organization_id" in body:
        return {**body, "id": number(body.get("id")),
                "organization_id": number(body["organization_id"])}
    return body


_NUMBERS: dict[str, int] = {}
EXCLUSIVE: dict[str, frozenset[str]] = {}  # mutant -> the only ids a full run may name


def exclusive(name: str, requirement: str, breaks: str, blames: tuple[str, ...],
              **parts: Any) -> None:
    mutant(name, requirement, MUST, breaks, **parts)
    EXCLUSIVE[name] = frozenset(blames)


exclusive(
    "timestamps_plus_one_hour", "ACC-6",
    "account timestamps in local time, +01:00 (the right instants)", ("ACC-6",),
    **middleware(rewrite_json(account_responses, account_timestamps(in_plus_one_hour))),
)
exclusive(
    "numeric_ids", "ACC-6", "ids and organization ids are JSON numbers",
    ("ACC-6", "USER-1"),
    **middleware(rewrite_json(lambda r, resp: r.path in ("/accounts", "/users")
                              and resp.status < 300,
                              lambda body: numeric_ids(body, _NUMBERS))),
)


# --- mass assignment in another notation (ACC-4) -------------------------------------------


def honours_created_at() -> dict[str, Any]:
    """Takes the client's created_at, and writes it back as +00:00 rather than as it came."""
    chosen: dict[str, str] = {}  # account id -> the created_at honoured

    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        wanted = None
        if on("POST", "/accounts")(request):
            try:
                sent = json.loads(await request.read())
            except (ValueError, RecursionError):
                sent = None
            if isinstance(sent, dict) and isinstance(sent.get("created_at"), str):
                wanted = sent.pop("created_at")
                request._read_bytes = json.dumps(sent).encode()  # the body the handler reads
        response = await handler(request)
        body = json_body(response)
        if not isinstance(response, web.Response) or body is None or response.status >= 300:
            return response
        if wanted is not None and isinstance(body, dict) and "id" in body:
            stamp = datetime.fromisoformat(wanted.replace("Z", "+00:00")).astimezone(UTC)
            chosen[body["id"]] = stamp.isoformat()  # 2001-01-01T00:00:00+00:00

        def edit(item: Any) -> Any:
            if isinstance(item, dict) and item.get("id") in chosen:
                return {**item, "created_at": chosen[item["id"]]}
            return item

        if request.path == "/accounts":
            if isinstance(body, dict) and isinstance(body.get("results"), list):
                return rebuilt(response, {**body, "results": [edit(i) for i in body["results"]]})
            return rebuilt(response, edit(body))
        return response

    return middleware(mw)


mutant(
    "created_at_honoured_other_notation", "ACC-4", MUST,
    "a client's created_at is kept, written back as +00:00 instead of Z",
    **honours_created_at(),
)


# --- HS256 key confusion where the JWK Set does not help (AUTH-15) -------------------------


def decoy_jwks(body: Any) -> Any:
    """Every published key replaced by a decoy under the same kid."""
    decoy = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(decoy_key().public_key()))
    return {"keys": [{**key, "n": decoy["n"], "e": decoy["e"]} for key in body.get("keys", [])]}


@functools.cache
def decoy_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


JWKS_PATH = "/.well-known/jwks.json"

mutant(
    "hs256_no_jwks", "AUTH-15", MUST,
    "no JWK Set, and HS256 keyed with the public key passes",
    tokens=AcceptsHS256PublicKey,
    **middleware(rewrite_response(lambda r, _: r.path == JWKS_PATH,
                                  as_status(404, "NotFound"))),
)
mutant(
    "hs256_decoy_jwks", "AUTH-15", MUST,
    "a decoy key under the real kid, and HS256 keyed with the real public key passes",
    tokens=AcceptsHS256PublicKey,
    **middleware(rewrite_json(lambda r, resp: r.path == JWKS_PATH and resp.status == 200,
                              decoy_jwks)),
)


# --- throttling only the users that exist (AUTH-7) -----------------------------------------


@web.middleware
async def throttles_known_users_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Failed logins of an email that exists are throttled; of one that does not, never.

    Not correct by the profile: AUTH-7 asks that repeated failed logins be throttled, whoever
    they name, and a throttle that only ever answers 429 for real emails tells them apart from
    unknown ones (CWE-204, the enumeration AUTH-5's SHOULD forbids).
    """
    response = await handler(request)
    if not (on("POST", "/authentication/login")(request) and response.status == 429):
        return response
    try:
        sent = json.loads(await request.read())
    except (ValueError, RecursionError):
        return response
    from reference_server.state import STORE

    if isinstance(sent, dict) and await request.app[STORE].find_login_user(
            str(sent.get("organization_slug", "")), str(sent.get("email", ""))) is None:
        return web.json_response({"error": "Unauthorized", "message": "Invalid credentials"},
                                 status=401)
    return response


mutant(
    "throttle_known_users_only", "AUTH-7", SHOULD,
    "only emails that exist are throttled", **middleware(throttles_known_users_only),
)


# --- ERR-1's bodies, status by status -----------------------------------------------------


def text_error(status: int) -> Any:
    return rewrite_response(
        status_is(status),
        lambda _r, resp: web.Response(status=resp.status, text=f"{resp.status}: {resp.reason}",
                                      headers={k: v for k, v in resp.headers.items()
                                               if k.lower() == "retry-after"}))


@web.middleware
async def unknown_paths_crash(request: web.Request, handler: Any) -> web.StreamResponse:
    """An unhandled error on an unknown path: a 500 with a plain-text traceback."""
    response = await handler(request)
    if response.status == 404 and request.path not in ("/accounts", "/users"):
        return web.Response(status=500, text="Traceback (most recent call last): KeyError")
    return response


for _status, _what in ((405, "a method not allowed"), (413, "a body too large"),
                       (429, "a throttled login")):
    mutant(f"error_{_status}_is_text", "ERR-1", SHOULD,
           f"{_what} answers {_status} in plain text", **middleware(text_error(_status)))
# A 415 answers a body that is not JSON, where ERR-2 (a MUST) already asks for a JSON error: the
# SHOULD part left to break is the name.
mutant("error_415_misnamed", "ERR-1", SHOULD,
       'an unsupported media type answers 415 "HTTPException"',
       **middleware(rewrite_json(status_is(415), lambda body: {**body,
                                                               "error": "HTTPException"})))
mutant("error_500_is_text", "ERR-1", SHOULD, "a crash answers a plain-text 500",
       **middleware(unknown_paths_crash))
