"""Correct servers that choose differently: each makes one choice the contract leaves open.

A false failure on one of these is as serious as a missed fault: it is the suite blaming a right
server. Each variant changes one thing the way another team (Django, Express, Spring, Go) might,
and `all_at_once` makes every compatible choice together. A variant may earn a SHOULD warning
only where the profile prefers the other choice; each such warning is listed in
`expected_warnings` and justified in docs/testing.md.

They are built through seams that do not depend on how the server stores data: middlewares that
rewrite requests and responses (rewrite.py), and overrides of the TokenService.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import secrets
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any

import jwt
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from reference_server.app import Components
from reference_server.config import Settings
from reference_server.tokens import TokenService, hash_refresh_token
from tests.mutants import CORRECT, HarnessVariant
from tests.mutants.rewrite import (
    is_list,
    json_body,
    on,
    rebuilt,
    rewrite_json,
    rewrite_request,
    rewrite_response,
    with_query,
)

# --- refresh and access tokens ---------------------------------------------------------------


class Tokens(TokenService):
    """Login and refresh as the reference server does them, with two seams: how a refresh token
    is minted, and what goes with it into a token response."""

    max_refresh_length = 4096

    def new_refresh_token(self) -> str:
        return secrets.token_urlsafe(32)

    def tokens_for(self, user_id: str, org_id: str, refresh: str, family: str) -> dict[str, Any]:
        return self._token_response(user_id, org_id, refresh)

    async def issue(self, user: Mapping[str, Any]) -> dict[str, Any]:
        refresh = self.new_refresh_token()
        now = self.settings.clock()
        family = str(uuid.uuid4())
        await self.store.insert_refresh_token({
            "hash": hash_refresh_token(refresh), "family_id": family, "parent_hash": None,
            "user_id": user["id"], "org_id": user["organization_id"], "issued_at": now,
            "expires_at": now + self.settings.refresh_token_ttl, "used_at": None,
            "revoked_at": None,
        })
        return self.tokens_for(user["id"], user["organization_id"], refresh, family)

    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        if not refresh_token or len(refresh_token) > self.max_refresh_length:
            return None
        try:
            token_hash = hash_refresh_token(refresh_token)
        except UnicodeEncodeError:
            return None
        successor = self.new_refresh_token()
        result = await self.store.rotate_refresh_token(
            token_hash, {"hash": hash_refresh_token(successor)})
        if result.status != "ok" or result.record is None:
            return None
        record = result.record
        return self.tokens_for(record["user_id"], record["org_id"], successor,
                               record["family_id"])


class JwtRefreshTokens(Tokens):
    """Refresh tokens that are HS256 JWTs (as Django REST framework SimpleJWT issues them)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.secret = secrets.token_bytes(32)

    def new_refresh_token(self) -> str:
        now = int(self.settings.clock())
        claims = {"token_type": "refresh", "jti": secrets.token_hex(16), "iat": now,
                  "exp": now + self.settings.refresh_token_ttl}
        return jwt.encode(claims, self.secret, algorithm="HS256")


class HexRefreshTokens(Tokens):
    """Refresh tokens of 64 lowercase hex characters (`secrets.token_hex(32)`)."""

    def new_refresh_token(self) -> str:
        return secrets.token_hex(32)


class RevokesOldAccess(Tokens):
    """AUTH-14's other choice: a refresh revokes the access token issued before it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.family_of: dict[str, str] = {}  # access token jti -> refresh token family
        self.current: dict[str, str] = {}  # family -> the jti of its newest access token

    def tokens_for(self, user_id: str, org_id: str, refresh: str, family: str) -> dict[str, Any]:
        tokens = super().tokens_for(user_id, org_id, refresh, family)
        jti = jwt.decode(tokens["access_token"], options={"verify_signature": False})["jti"]
        self.family_of[jti] = family
        self.current[family] = jti
        return tokens

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        claims = super().decode_access_token(token)
        if claims is None:
            return None
        family = self.family_of.get(str(claims.get("jti")))
        if family is not None and self.current.get(family) != claims.get("jti"):
            return None
        return claims


class RichAccessTokens(TokenService):
    """RFC 9068 access tokens: typ at+jwt, aud, scope, nbf, client and auth-time claims."""

    def create_access_token(self, user_id: str, organization_id: str) -> str:
        claims = jwt.decode(super().create_access_token(user_id, organization_id),
                            options={"verify_signature": False})
        claims.update(aud="dpaas-api", scope="accounts:read accounts:write users:read",
                      nbf=claims["iat"], client_id="dpaas-cli", auth_time=claims["iat"])
        key = self.keyring.active
        return jwt.encode(claims, key.private_key, algorithm="RS256",
                          headers={"typ": "at+jwt", "kid": key.kid})

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256" or header.get("typ") != "at+jwt":
                return None
            key = self.keyring.public_key(str(header.get("kid")))
            if key is None:
                return None
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience="dpaas-api",
                issuer=self.settings.issuer,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "require": ["exp", "iat", "sub", "org", "iss", "aud"]},
            )
        except Exception:  # any malformed input is a 401, never a 5xx
            return None
        return claims if self._claims_ok(claims) else None


# --- ids -------------------------------------------------------------------------------------


class IdMap:
    """Consistent public ids for the reference server's UUIDs, as another store would mint."""

    def __init__(self, mint: Callable[[str, int], str]) -> None:
        self.mint = mint
        self.ids: dict[str, str] = {}

    def public(self, kind: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value not in self.ids:
            self.ids[value] = self.mint(kind, len(self.ids) + 1)
        return self.ids[value]

    def edit(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            return {**body, "results": [self.edit(item) for item in body["results"]]}
        if isinstance(body, dict) and "organization_id" in body:
            kind = "usr" if "email" in body else "acc"
            return {**body, "id": self.public(kind, body.get("id")),
                    "organization_id": self.public("org", body["organization_id"])}
        return body


def id_middleware(mint: Callable[[str, int], str]) -> Middleware:
    ids = IdMap(mint)
    return rewrite_json(lambda r, resp: r.path in ("/accounts", "/users"), ids.edit)


def decimal_ids() -> Middleware:
    """Small decimal strings, as an auto-increment primary key gives: "1", "2", "17"."""
    return id_middleware(lambda kind, n: str(n))


def prefixed_ids() -> Middleware:
    """Prefixed ids like the guide's "acc-123": acc-…, usr-…, org-…."""
    return id_middleware(lambda kind, n: f"{kind}-{secrets.token_hex(5)}")


# --- timestamps and ordering -----------------------------------------------------------------

FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$")


def second_precision(value: Any) -> Any:
    match = FRACTION.match(value) if isinstance(value, str) else None
    return f"{match.group(1)}Z" if match else value


def zero_offset(value: Any) -> Any:
    """Python's datetime.isoformat(): microseconds and +00:00 instead of Z."""
    return value[:-1] + "+00:00" if isinstance(value, str) and FRACTION.match(value) else value


def timestamps(change: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def edit(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            return {**body, "results": [edit(item) for item in body["results"]]}
        if isinstance(body, dict):
            return {k: change(v) if k.endswith("_at") else v for k, v in body.items()}
        return body

    return edit


def sql_ordering(stamp: Callable[[Any], Any], fold_names: bool = False) -> Middleware:
    """Lists ordered the way `ORDER BY <field> <dir>, id ASC` orders a SQL table whose timestamps
    have whole seconds: many accounts share a created_at, and ties go by id, not by insertion.
    With `fold_names`, names compare case-insensitively, as a case-insensitive collation does.

    Every page is cut from the whole list, fetched from the reference server 100 at a time.
    """
    edit = timestamps(stamp)

    def key(field: str) -> Callable[[Mapping[str, Any]], Any]:
        def of(item: Mapping[str, Any]) -> Any:
            value = item.get(field)
            if fold_names and field == "name" and isinstance(value, str):
                return value.casefold()
            return "" if value is None else value

        return of

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        body = json_body(response)
        if not isinstance(response, web.Response) or body is None:
            return response
        if not (is_list(request) and response.status == 200):
            return rebuilt(response, edit(body))
        order = request.query.get("order_by", "-created_at")
        quantity = int(request.query.get("quantity", "20"))
        page = int(request.query.get("page", "1"))
        everything: list[Mapping[str, Any]] = []
        for sub in range(1, 10_000):
            part = json_body(await handler(with_query(request, page=str(sub), quantity="100")))
            if not (isinstance(part, dict) and isinstance(part.get("results"), list)):
                # a page this variant cannot fetch again (a signed request's signature covers
                # its query): the reference server's own page, its timestamps changed
                return rebuilt(response, edit(body))
            everything += part["results"]
            if len(part["results"]) < 100:
                break
        field, descending = order.lstrip("-"), order.startswith("-")
        rows = sorted((edit(item) for item in everything), key=lambda i: str(i.get("id")))
        rows.sort(key=key(field), reverse=descending)  # stable: ties stay in id order
        start = (page - 1) * quantity
        return rebuilt(response, {**body, "results": rows[start:start + quantity]})

    return middleware


# --- errors, messages and input --------------------------------------------------------------

GERMAN = {
    "Unauthorized": "Ungültige oder abgelaufene Anmeldedaten",
    "Forbidden": "Keine Berechtigung für diese Aktion",
    "ValidationError": "Ungültige Eingabe",
    "NotFound": "Nicht gefunden",
    "MethodNotAllowed": "Methode nicht erlaubt",
    "TooManyRequests": "Zu viele Versuche, bitte später erneut versuchen",
}


def german(body: Any) -> Any:
    """Messages and details in German; the `error` codes stay as the contract names them."""
    if not (isinstance(body, dict) and "error" in body and "message" in body):
        return body
    out = {**body, "message": GERMAN.get(str(body["error"]), "Anfrage abgelehnt")}
    if isinstance(body.get("details"), dict):
        out["details"] = {k: ["Dieses Feld ist ungültig oder fehlt"] for k in body["details"]}
    return out


def extra_fields(body: Any) -> Any:
    """Extra fields at every level: request ids, scopes, pagination hints, etags, names."""
    if not isinstance(body, dict):
        return body
    if "error" in body:
        return {**body, "request_id": secrets.token_hex(8), "documentation_url": "https://x.test"}
    if "access_token" in body:
        return {**body, "scope": "accounts users", "refresh_expires_in": 1209600}
    if isinstance(body.get("results"), list):
        return {**body, "quantity": len(body["results"]), "next": None,
                "results": [extra_fields(item) for item in body["results"]]}
    out = {**body, "etag": secrets.token_hex(4)}
    if "email" in body:
        out["display_name"] = str(body["email"]).split("@")[0]
    return out


def validation_for_bad_json(request: web.Request, response: web.Response) -> web.Response:
    """FastAPI's choice: a body that does not parse is a 422 naming the body."""
    body = json_body(response) or {}
    return rebuilt(response, {"error": "ValidationError",
                              "message": "Request body could not be parsed",
                              "details": {"body": [str(body.get("message", "invalid JSON"))]}},
                   422)


def retry_at_date(request: web.Request, response: web.Response) -> web.Response:
    """Retry-After as an HTTP-date (RFC 9110 10.2.3 allows either form)."""
    seconds = int(response.headers.get(hdrs.RETRY_AFTER, "1"))
    response.headers[hdrs.RETRY_AFTER] = formatdate(time.time() + seconds, usegmt=True)
    return response


def problem_json(request: web.Request, response: web.Response) -> web.Response:
    """Errors typed application/problem+json, as Spring's ProblemDetail sends them."""
    response.content_type = "application/problem+json"
    return response


WRITABLE = {"name", "is_default", "metadata"}


@web.middleware
async def ignore_unknown_fields(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown and read-only fields on create are dropped instead of refused (ACC-4 allows
    either): the handler then sees only the fields it knows."""
    if not on("POST", "/accounts")(request):
        return await handler(request)
    try:
        raw = await request.read()
        sent = json.loads(raw)
    except (web.HTTPException, ValueError, RecursionError):
        return await handler(request)
    if isinstance(sent, dict) and set(sent) - WRITABLE:
        kept = {k: v for k, v in sent.items() if k in WRITABLE}
        request._read_bytes = json.dumps(kept).encode()  # the body the handler will read
    return await handler(request)


def created_ok(request: web.Request, response: web.Response) -> web.Response:
    return rebuilt(response, json_body(response), 200)


def over_100(request: web.Request) -> bool:
    value = request.query.get("quantity", "")
    return is_list(request) and value.isdigit() and int(value) > 100


def is_error(request: web.Request, response: web.Response) -> bool:
    return response.status >= 400


def unsupported_as_validation(request: web.Request, response: web.Response) -> web.Response:
    """FastAPI's choice: a body of another media type is a 422 naming the body, not a 415."""
    return rebuilt(response, {"error": "ValidationError",
                              "message": "Input should be a valid dictionary",
                              "details": {"body": ["Input should be a valid dictionary"]}}, 422)


def without_body_limit(settings: Settings) -> Settings:
    """No size limit worth the name: an 8 MiB body is read and judged by its fields."""
    return dataclasses.replace(settings, max_body_bytes=64 * 1024 * 1024)


# --- login throttles that count differently ---------------------------------------------------

LOGIN = "/authentication/login"
THROTTLE_WINDOW = 15 * 60.0


def failure_window(limit: int, key_of: Callable[[web.Request, Any], Any]) -> Middleware:
    """express-rate-limit's way with `skipSuccessfulRequests`: failed logins (401s) of a key are
    counted in a 15-minute window, a success resets nothing, and once `limit` are counted every
    login of that key is refused with 429 until the oldest ages out, the right password too.
    One table per app, so that each server made of this variant starts afresh."""
    tables: weakref.WeakKeyDictionary[web.Application, dict[Any, deque[float]]] = (
        weakref.WeakKeyDictionary())

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not on("POST", LOGIN)(request):
            return await handler(request)
        try:
            sent = json.loads(await request.read())
        except (ValueError, RecursionError):
            sent = None
        key = key_of(request, sent)
        if key is None:
            return await handler(request)
        failures = tables.setdefault(request.app, {}).setdefault(key, deque())
        now = time.monotonic()
        while failures and failures[0] <= now - THROTTLE_WINDOW:
            failures.popleft()
        if len(failures) >= limit:
            wait = max(1, math.ceil(failures[0] + THROTTLE_WINDOW - now))
            return web.json_response(
                {"error": "TooManyRequests", "message": "Too many failed logins"}, status=429,
                headers={hdrs.RETRY_AFTER: str(wait)})
        response = await handler(request)
        if response.status == 401:
            failures.append(now)
        return response

    return middleware


def per_account(_request: web.Request, sent: Any) -> Any:
    if not isinstance(sent, dict):
        return None
    return (str(sent.get("organization_slug", "")).lower(), str(sent.get("email", "")).lower())


def per_address(request: web.Request, _sent: Any) -> Any:
    return request.remote


#: Failed logins a throttle counting per client address allows in its window: above what one run
#: spends before its throttling probe (docs/checking.md: six), below what the probe tries (30).
ADDRESS_LIMIT = 10


# --- the family ------------------------------------------------------------------------------


def clock_ahead(seconds: float) -> Callable[[Settings], Settings]:
    def change(settings: Settings) -> Settings:
        clock = settings.clock
        return dataclasses.replace(settings, clock=lambda: clock() + seconds)

    return change


def variant(name: str, why: str, *middlewares: Middleware, tokens: type[TokenService] =
            TokenService, warnings: tuple[str, ...] = (), **extra: Any) -> HarnessVariant:
    return HarnessVariant(name, CORRECT, Components(tokens=tokens, middlewares=middlewares),
                          expected_warnings=frozenset(warnings), why=why, **extra)


CLAMP = rewrite_request(over_100, lambda r: with_query(r, quantity="100"))
CREATED_200 = rewrite_response(
    lambda r, resp: on("POST", "/accounts")(r) and resp.status == 201, created_ok)
BAD_JSON_422 = rewrite_response(lambda r, resp: resp.status == 400, validation_for_bad_json)
RETRY_DATE = rewrite_response(lambda r, resp: resp.status == 429, retry_at_date)
PROBLEM_JSON = rewrite_response(is_error, problem_json)
UNSUPPORTED_422 = rewrite_response(lambda r, resp: resp.status == 415, unsupported_as_validation)

# The seven choices the issue names run every scenario. The others run the scenarios of the
# areas their choice changes (`reach`), and all_at_once makes them all and runs everything.
CORRECT_VARIANTS = [
    variant("jwt_refresh_tokens", "refresh tokens are HS256 JWTs", tokens=JwtRefreshTokens),
    variant("hex_refresh_tokens", "refresh tokens are 64 hex characters",
            tokens=HexRefreshTokens),
    variant("old_access_revoked", "a refresh revokes the access token issued before it "
            "(AUTH-14)", tokens=RevokesOldAccess),
    variant("rich_access_tokens", "RFC 9068 access tokens (typ at+jwt, aud, scope, nbf)",
            tokens=RichAccessTokens, reach=("AUTH", "USER")),
    variant("decimal_ids", "ids are small decimal strings", decimal_ids()),
    variant("prefixed_ids", 'ids like the guide\'s "acc-123"', prefixed_ids(),
            reach=("LIST", "ACC", "USER")),
    variant("second_timestamps", "whole-second timestamps, ties ordered by id",
            sql_ordering(second_precision)),
    variant("german_messages", "messages and details in German", rewrite_json(is_error, german)),
    variant("unknown_fields_ignored", "unknown and read-only fields on create are ignored",
            ignore_unknown_fields),
    # The choices the profile accepts with a SHOULD warning, each alone so that each warning
    # is known to come from its choice.
    variant("zero_offset_timestamps", "timestamps end in +00:00, not Z",
            rewrite_json(lambda r, resp: r.path in ("/accounts", "/users"),
                         timestamps(zero_offset)), warnings=("ACC-6",),
            reach=("LIST", "ACC", "USER")),
    variant("created_200", "create answers 200, not 201", CREATED_200, warnings=("ACC-2",),
            reach=("ACC", "ERR")),
    variant("quantity_clamped", "quantity above 100 is served as 100", CLAMP,
            warnings=("LIST-5",), reach=("LIST",)),
    # Issue 15: ERR-1 judges the error a target sends and never asks for a status.
    variant("error_415_as_422", "a body of another media type is a 422 ValidationError",
            UNSUPPORTED_422, reach=("ERR",)),
    variant("no_body_limit", "no body size limit: an 8 MiB body is judged by its fields",
            reach=("ERR",), settings=without_body_limit),
    # Issue 15: throttles that a run must survive whole (tests/test_throttling_runs.py runs
    # them twice in a row).
    variant("throttle_no_reset_on_success", "3 failed logins per account in 15 minutes, "
            "then 429 for every login of it; a success resets nothing",
            failure_window(3, per_account), reach=("AUTH",)),
    variant("throttle_per_address", f"{ADDRESS_LIMIT} failed logins per client address in 15 "
            "minutes, then 429 for every login from it", failure_window(ADDRESS_LIMIT,
                                                                    per_address),
            reach=("AUTH",)),
]


class EveryTokenChoice(RevokesOldAccess, JwtRefreshTokens, RichAccessTokens):
    """JWT refresh tokens, RFC 9068 access tokens, and old access tokens revoked on refresh."""


def both(*changes: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def change(value: Any) -> Any:
        for one in changes:
            value = one(value)
        return value

    return change


# Every choice above that can stand together (one id style, one refresh token style), plus
# choices tested only in this combination: extra fields everywhere, 422 for a body that does not
# parse, Retry-After as a date, problem+json errors, names ordered case-insensitively and a clock
# 30 s ahead. Outermost middleware first: the ones that only touch headers wrap the ones that
# rebuild bodies.
CORRECT_VARIANTS.append(variant(
    "all_at_once", "every compatible choice at once, and six more (see free.py)",
    RETRY_DATE, PROBLEM_JSON, rewrite_json(is_error, german),
    rewrite_json(lambda r, resp: True, extra_fields), BAD_JSON_422, UNSUPPORTED_422, CREATED_200,
    CLAMP,
    decimal_ids(), sql_ordering(both(second_precision, zero_offset), fold_names=True),
    ignore_unknown_fields,
    tokens=EveryTokenChoice, warnings=("ACC-2", "ACC-6", "LIST-5"), settings=clock_ahead(30),
))
