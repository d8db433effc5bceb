"""`/accounts` and `/accounts/{id}`, scoped to the caller's organization.

The policy is checked before an account is looked up, and a missing, foreign or deleted id is one
answer (404 `NotFound`, from the store's one `find_account`), so no answer tells one tenant what
another holds. Bodies are validated before the lookup too, for the same reason.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..authentication import authenticate, require
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..jsonio import json_response, list_response
from ..pagination import parse_list_params
from ..policy import (
    ACTION_CREATE_ACCOUNT,
    ACTION_DELETE_ACCOUNT,
    ACTION_GET_ACCOUNT,
    ACTION_LIST_ACCOUNTS,
    ACTION_LIST_DELETED_ACCOUNTS,
    ACTION_UPDATE_ACCOUNT,
    account_resource,
    accounts_resource,
)
from ..state import AUTHORIZE, STORE
from ..store import ACCOUNT_ORDER_FIELDS, AccountWrite
from ..tokens import Identity
from ..validation import FieldErrors, read_json_object

routes = web.RouteTableDef()

MAX_NAME_LENGTH = 200
MAX_METADATA_BYTES = 8 * 1024
#: longer ids are never ours: answered 404 without a lookup
MAX_ID_LENGTH = 200
WRITABLE = {"name", "is_default", "metadata"}
READ_ONLY = ("id", "organization_id", "created_at", "updated_at", "is_active")
READ_ONLY_ON_UPDATE = (*READ_ONLY, "deleted_at")
NOT_BLANK = "Must not be blank"


# --------------------------------------------------------------------------- the list


def include_deleted(request: web.Request) -> bool:
    """`include_deleted=true` or `false` (any case); anything else is a 422 naming it."""
    values = request.query.getall("include_deleted", [])
    if not values:
        return False
    if len(values) == 1 and values[0].lower() in ("true", "false"):
        return values[0].lower() == "true"
    raise ValidationError("Invalid query parameters",
                          details={"include_deleted": ["Must be true or false"]})


@routes.get("/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    identity = await require(request, ACTION_LIST_ACCOUNTS, accounts_resource)
    params = parse_list_params(request.query, ACCOUNT_ORDER_FIELDS)
    # Deleted accounts are for administrators; anyone else gets the default list (R leaves
    # the refusal free: this server filters rather than answering 403).
    deleted = include_deleted(request) and allowed(
        request, identity, ACTION_LIST_DELETED_ACCOUNTS, accounts_resource)
    store = request.app[STORE]
    if deleted:
        page = await store.list_accounts_with_deleted(identity.organization_id, params)
    else:
        page = await store.list_accounts(identity.organization_id, params)
    return list_response(page.total, params.page, page.results)


def allowed(request: web.Request, identity: Identity, action: str,
            resource_of: Any) -> bool:
    return request.app[AUTHORIZE](identity.statements, action,
                                  resource_of(identity.organization_id))


# --------------------------------------------------------------------------- bodies


def trimmed_name(errors: FieldErrors, body: dict[str, Any]) -> str | None:
    """The name as sent, length counted before trimming (what a JSON Schema maxLength states);
    surrounding whitespace is removed after, and a name of whitespace alone is refused."""
    name = errors.string(body, "name", max_length=MAX_NAME_LENGTH)
    if name is not None:
        name = name.strip()
        if not name:
            errors.add("name", NOT_BLANK)
            return None
    return name


def account_body(body: dict[str, Any], read_only: tuple[str, ...]) -> dict[str, Any]:
    """A whole account as POST and PUT take it: `name`, and `is_default` and `metadata` with
    their create defaults (false, {}) when left out. Raises the 422 naming every bad field."""
    errors = FieldErrors()
    errors.read_only(body, read_only)
    name = trimmed_name(errors, body)
    is_default = errors.boolean(body, "is_default", default=False)
    metadata = errors.json_object(body, "metadata", max_bytes=MAX_METADATA_BYTES)
    errors.unknown(body, WRITABLE | set(read_only))
    errors.raise_if_any()
    return {"name": name, "is_default": is_default, "metadata": metadata}


def patch_body(body: dict[str, Any]) -> dict[str, Any]:
    """Only the fields sent; each sent one must be valid (null is no value for any of them)."""
    errors = FieldErrors()
    errors.read_only(body, READ_ONLY_ON_UPDATE)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = trimmed_name(errors, body)
    if "is_default" in body:
        changes["is_default"] = errors.boolean(body, "is_default", default=False)
    if "metadata" in body:
        changes["metadata"] = errors.json_object(body, "metadata", max_bytes=MAX_METADATA_BYTES)
    errors.unknown(body, WRITABLE | set(READ_ONLY_ON_UPDATE))
    errors.raise_if_any()
    return changes


# --------------------------------------------------------------------------- create


@routes.post("/accounts")
async def create_account(request: web.Request) -> web.Response:
    identity = await require(request, ACTION_CREATE_ACCOUNT, accounts_resource)
    fields = account_body(await read_json_object(request), READ_ONLY)
    account = await request.app[STORE].create_account(identity.organization_id, **fields)
    return json_response(account, status=201)


# --------------------------------------------------------------------------- one account


def account_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > MAX_ID_LENGTH:
        raise NotFound("Account not found")
    return value


async def require_any(request: web.Request, actions: tuple[str, ...], resource_of: Any
                      ) -> Identity:
    """Authenticate, then allow the request if any of `actions` is allowed (else 403)."""
    identity = await authenticate(request)
    if not any(allowed(request, identity, a, resource_of) for a in actions):
        raise Forbidden()
    return identity


def answer(result: AccountWrite, status: int = 200) -> web.Response:
    if result.status == "absent":
        raise NotFound("Account not found")
    if result.status == "conflict":
        raise Conflict(result.reason)
    if status == 204:
        return web.Response(status=204)
    return json_response(result.account, status=status)


def account_filter(request: web.Request) -> str | None:
    """`?account_id=`, which lists of what belongs to an account (users, service accounts) take:
    None when absent, else one id of bounded length (422 otherwise)."""
    values = request.query.getall("account_id", [])
    if not values:
        return None
    if len(values) > 1 or not values[0] or len(values[0]) > MAX_ID_LENGTH:
        raise ValidationError("Invalid query parameters", details={"account_id": [
            f"Must be one account id of at most {MAX_ID_LENGTH} characters"]})
    return values[0]


@routes.get("/accounts/{id}")
async def get_account(request: web.Request) -> web.Response:
    wanted = account_id(request)
    # Whoever may list the organization's accounts may read one of them.
    identity = await require_any(request, (ACTION_GET_ACCOUNT, ACTION_LIST_ACCOUNTS),
                                 account_resource(wanted))
    account = await request.app[STORE].get_account(identity.organization_id, wanted)
    if account is None:
        raise NotFound("Account not found")
    return json_response(account)


@routes.put("/accounts/{id}")
async def replace_account(request: web.Request) -> web.Response:
    """The whole account: a field left out returns to its create default (so a PUT without
    `is_default` on the default account is an unset, refused with 409)."""
    wanted = account_id(request)
    identity = await require(request, ACTION_UPDATE_ACCOUNT, account_resource(wanted))
    fields = account_body(await read_json_object(request), READ_ONLY_ON_UPDATE)
    result = await request.app[STORE].update_account(identity.organization_id, wanted, fields)
    return answer(result)


@routes.patch("/accounts/{id}")
async def patch_account(request: web.Request) -> web.Response:
    """Only the top-level fields sent change; `metadata`, if sent, replaces the old one."""
    wanted = account_id(request)
    identity = await require(request, ACTION_UPDATE_ACCOUNT, account_resource(wanted))
    changes = patch_body(await read_json_object(request))
    result = await request.app[STORE].update_account(identity.organization_id, wanted, changes)
    return answer(result)


@routes.delete("/accounts/{id}")
async def delete_account(request: web.Request) -> web.Response:
    """A soft delete (204); a repeated delete finds nothing (404), like any absent id."""
    wanted = account_id(request)
    identity = await require(request, ACTION_DELETE_ACCOUNT, account_resource(wanted))
    result = await request.app[STORE].delete_account(identity.organization_id, wanted)
    return answer(result, status=204)
