"""`/service-accounts` and their keys (the SERVICE class), scoped to the caller's organization.

Users manage them with their bearer tokens; a service account with the rights may too, with a
signed request (every route authenticates through `authentication.py`). As for accounts, the
policy is checked and the body validated before anything is looked up, and a missing, foreign or
deleted id is one answer (404 `NotFound`, from the store's one `find_service_account`).

A key's `secret_key` is in the answer that issues it and nowhere else: it is sealed before the
store sees it (`service_keys.py`) and no answer shows it again.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..authentication import require, require_any
from ..errors import NotFound, ValidationError
from ..jsonio import json_response, list_response
from ..pagination import parse_list_params
from ..policy import (
    ACTION_CREATE_SERVICE_ACCOUNT,
    ACTION_DELETE_SERVICE_ACCOUNT,
    ACTION_GET_SERVICE_ACCOUNT,
    ACTION_ISSUE_KEY,
    ACTION_LIST_KEYS,
    ACTION_LIST_SERVICE_ACCOUNTS,
    ACTION_REVOKE_KEY,
    ACTION_UPDATE_SERVICE_ACCOUNT,
    service_account_resource,
    service_accounts_resource,
)
from ..service_keys import new_access_key, new_secret_key
from ..state import SECRET_BOX, SETTINGS, STORE
from ..store import KEY_ORDER_FIELDS, SERVICE_ACCOUNT_ORDER_FIELDS, ServiceWrite
from ..validation import FieldErrors, read_json_object
from .accounts import (
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    account_filter,
    trimmed_name,
)

routes = web.RouteTableDef()

MAX_DESCRIPTION_LENGTH = 1000
MAX_ALLOWLIST = 32
MAX_CIDR_LENGTH = 64
WRITABLE = {"name", "description", "metadata", "account_id"}
READ_ONLY = ("id", "organization_id", "is_active", "created_at", "updated_at", "last_used_at")
UPDATABLE = {"name", "description", "metadata", "is_active"}
READ_ONLY_ON_UPDATE = ("id", "organization_id", "account_id", "created_at", "updated_at",
                       "last_used_at", "deleted_at")
KEY_WRITABLE = {"description", "expires_at", "ip_allowlist"}
KEY_READ_ONLY = ("id", "access_key", "secret_key", "service_account_id", "is_active",
                 "created_at", "last_used_at")
NO_ACCOUNT = "Must be the id of an account of your organization"


def one_id(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if len(value) > MAX_ID_LENGTH:
        raise NotFound("Service account not found" if name == "id" else "Key not found")
    return value


def boolean_query(request: web.Request, name: str) -> bool:
    """`true` or `false` (any case); anything else is a 422 naming the parameter."""
    values = request.query.getall(name, [])
    if not values:
        return False
    if len(values) == 1 and values[0].lower() in ("true", "false"):
        return values[0].lower() == "true"
    raise ValidationError("Invalid query parameters", details={name: ["Must be true or false"]})



def answer(result: ServiceWrite, status: int = 200, what: str = "Service account"
           ) -> web.Response:
    if result.status == "absent":
        raise NotFound(f"{what} not found")
    if status == 204:
        return web.Response(status=204)
    return json_response(result.document, status=status)


# --------------------------------------------------------------------------- bodies


def create_body(body: dict[str, Any]) -> dict[str, Any]:
    errors = FieldErrors()
    errors.read_only(body, READ_ONLY)
    fields = {
        "name": trimmed_name(errors, body),
        "account_id": errors.string(body, "account_id", max_length=MAX_ID_LENGTH),
        "description": errors.string(body, "description", required=False,
                                     max_length=MAX_DESCRIPTION_LENGTH, allow_empty=True),
        "metadata": errors.json_object(body, "metadata", max_bytes=MAX_METADATA_BYTES),
    }
    errors.unknown(body, WRITABLE | set(READ_ONLY))
    errors.raise_if_any()
    return fields


def update_body(body: dict[str, Any]) -> dict[str, Any]:
    """Only the fields sent; `description` may be null, the others need a value."""
    errors = FieldErrors()
    errors.read_only(body, READ_ONLY_ON_UPDATE)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = trimmed_name(errors, body)
    if "description" in body:
        changes["description"] = errors.string(body, "description", required=False,
                                               max_length=MAX_DESCRIPTION_LENGTH,
                                               allow_empty=True)
    if "metadata" in body:
        changes["metadata"] = errors.json_object(body, "metadata", max_bytes=MAX_METADATA_BYTES)
    if "is_active" in body:
        changes["is_active"] = errors.boolean(body, "is_active", default=True)
    errors.unknown(body, UPDATABLE | set(READ_ONLY_ON_UPDATE))
    errors.raise_if_any()
    return changes


def expiry(errors: FieldErrors, body: dict[str, Any], now: float) -> tuple[str, float] | None:
    """`expires_at`: an ISO 8601 time with its offset, in the future (the server's clock);
    shown back in UTC with `Z`."""
    value = body.get("expires_at")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        errors.add("expires_at", "Must be an ISO 8601 date and time with its offset, or null")
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        errors.add("expires_at", "Must be an ISO 8601 date and time with its offset, e.g. "
                                 "2030-01-01T00:00:00Z")
        return None
    when = when.astimezone(UTC)
    if when.timestamp() <= now:
        errors.add("expires_at", "Must be in the future")
        return None
    shown = when.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{when.microsecond:06d}".rstrip("0") if when.microsecond else "") + "Z"
    return shown, when.timestamp()


def allowlist(errors: FieldErrors, body: dict[str, Any]) -> list[str]:
    """CIDR blocks (an address alone is its own block), at most MAX_ALLOWLIST."""
    value = body.get("ip_allowlist")
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ALLOWLIST:
        errors.add("ip_allowlist", f"Must be a list of at most {MAX_ALLOWLIST} CIDR blocks")
        return []
    networks = []
    for entry in value:
        try:
            if not isinstance(entry, str) or len(entry) > MAX_CIDR_LENGTH:
                raise ValueError(entry)
            networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            errors.add("ip_allowlist", "Every entry must be a CIDR block such as 192.0.2.0/24")
            return []
    return networks


def key_body(body: dict[str, Any], now: float) -> dict[str, Any]:
    errors = FieldErrors()
    errors.read_only(body, KEY_READ_ONLY)
    description = errors.string(body, "description", required=False,
                                max_length=MAX_DESCRIPTION_LENGTH, allow_empty=True)
    expires = expiry(errors, body, now)
    networks = allowlist(errors, body)
    errors.unknown(body, KEY_WRITABLE | set(KEY_READ_ONLY))
    errors.raise_if_any()
    return {"description": description,
            "expires_at": expires[0] if expires else None,
            "expires_ts": expires[1] if expires else None,
            "ip_allowlist": networks}


# --------------------------------------------------------------------------- service accounts


@routes.get("/service-accounts")
async def list_service_accounts(request: web.Request) -> web.Response:
    """Active service accounts, newest first; `include_inactive=true` adds the deactivated,
    `account_id` keeps one account's (an id that is no live account of the caller's
    organization lists none)."""
    identity = await require(request, ACTION_LIST_SERVICE_ACCOUNTS, service_accounts_resource)
    params = parse_list_params(request.query, SERVICE_ACCOUNT_ORDER_FIELDS)
    page = await request.app[STORE].list_service_accounts(
        identity.organization_id, params, include_inactive=boolean_query(request,
                                                                         "include_inactive"),
        account_id=account_filter(request))
    return list_response(page.total, params.page, page.results)


@routes.post("/service-accounts")
async def create_service_account(request: web.Request) -> web.Response:
    """A new service account, with no rights of its own (its policy is set by other means)."""
    identity = await require(request, ACTION_CREATE_SERVICE_ACCOUNT, service_accounts_resource)
    fields = create_body(await read_json_object(request))
    result = await request.app[STORE].create_service_account(identity.organization_id, fields)
    if result.status == "no_account":
        raise ValidationError(details={"account_id": [NO_ACCOUNT]})
    return json_response(result.document, status=201)


@routes.get("/service-accounts/{id}")
async def get_service_account(request: web.Request) -> web.Response:
    wanted = one_id(request)
    identity = await require_any(
        request, (ACTION_GET_SERVICE_ACCOUNT, ACTION_LIST_SERVICE_ACCOUNTS),
        service_account_resource(wanted))
    found = await request.app[STORE].get_service_account(identity.organization_id, wanted)
    if found is None:
        raise NotFound("Service account not found")
    return json_response(found)


@routes.patch("/service-accounts/{id}")
async def update_service_account(request: web.Request) -> web.Response:
    """`is_active: false` deactivates it: its keys stop authenticating with this write."""
    wanted = one_id(request)
    identity = await require(request, ACTION_UPDATE_SERVICE_ACCOUNT,
                             service_account_resource(wanted))
    changes = update_body(await read_json_object(request))
    result = await request.app[STORE].update_service_account(identity.organization_id, wanted,
                                                             changes)
    return answer(result)


@routes.delete("/service-accounts/{id}")
async def delete_service_account(request: web.Request) -> web.Response:
    """A soft delete (204): its keys stop authenticating, its id then gets 404."""
    wanted = one_id(request)
    identity = await require(request, ACTION_DELETE_SERVICE_ACCOUNT,
                             service_account_resource(wanted))
    result = await request.app[STORE].delete_service_account(identity.organization_id, wanted)
    return answer(result, status=204)


# --------------------------------------------------------------------------- keys


@routes.post("/service-accounts/{id}/keys")
async def issue_key(request: web.Request) -> web.Response:
    """A new key: its `secret_key` is in this answer and nowhere else, ever."""
    wanted = one_id(request)
    identity = await require(request, ACTION_ISSUE_KEY, service_account_resource(wanted))
    fields = key_body(await read_json_object(request), request.app[SETTINGS].clock())
    secret = new_secret_key()
    key = {"id": str(uuid.uuid4()), "access_key": new_access_key(),
           "secret": request.app[SECRET_BOX].seal(secret), **fields}
    result = await request.app[STORE].issue_key(identity.organization_id, wanted, key)
    if result.status != "ok" or result.document is None:
        raise NotFound("Service account not found")
    return json_response({**result.document, "secret_key": secret}, status=201)


@routes.get("/service-accounts/{id}/keys")
async def list_keys(request: web.Request) -> web.Response:
    """Every key of the service account, revoked ones too (inactive), newest first; never a
    secret."""
    wanted = one_id(request)
    identity = await require(request, ACTION_LIST_KEYS, service_account_resource(wanted))
    params = parse_list_params(request.query, KEY_ORDER_FIELDS)
    page = await request.app[STORE].list_keys(identity.organization_id, wanted, params)
    if page is None:
        raise NotFound("Service account not found")
    return list_response(page.total, params.page, page.results)


@routes.delete("/service-accounts/{id}/keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    """The key stops authenticating with this write (204); it stays listed, inactive."""
    wanted = one_id(request)
    identity = await require(request, ACTION_REVOKE_KEY, service_account_resource(wanted))
    result = await request.app[STORE].revoke_key(identity.organization_id, wanted,
                                                 one_id(request, "key_id"))
    return answer(result, status=204, what="Key")
