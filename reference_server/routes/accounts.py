"""`GET /accounts` and `POST /accounts`, scoped to the caller's organization."""

from __future__ import annotations

from aiohttp import web

from ..bearer import require
from ..jsonio import json_response, list_response
from ..pagination import parse_list_params
from ..policy import ACTION_CREATE_ACCOUNT, ACTION_LIST_ACCOUNTS, accounts_resource
from ..state import STORE
from ..store import ACCOUNT_ORDER_FIELDS
from ..validation import FieldErrors, read_json_object

routes = web.RouteTableDef()

MAX_NAME_LENGTH = 200
MAX_METADATA_BYTES = 8 * 1024
WRITABLE = {"name", "is_default", "metadata"}
READ_ONLY = ("id", "organization_id", "created_at", "updated_at", "is_active")


@routes.get("/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    identity = await require(request, ACTION_LIST_ACCOUNTS, accounts_resource)
    params = parse_list_params(request.query, ACCOUNT_ORDER_FIELDS)
    page = await request.app[STORE].list_accounts(identity.organization_id, params)
    return list_response(page.total, params.page, page.results)


@routes.post("/accounts")
async def create_account(request: web.Request) -> web.Response:
    identity = await require(request, ACTION_CREATE_ACCOUNT, accounts_resource)
    body = await read_json_object(request)
    errors = FieldErrors()
    errors.read_only(body, READ_ONLY)
    # The length counts the name as sent (what a JSON Schema maxLength can state); surrounding
    # whitespace is removed only after that, and a name of whitespace alone is refused.
    name = errors.string(body, "name", max_length=MAX_NAME_LENGTH)
    if name is not None:
        name = name.strip()
        if not name:
            errors.add("name", "Must not be blank")
    is_default = errors.boolean(body, "is_default", default=False)
    metadata = errors.json_object(body, "metadata", max_bytes=MAX_METADATA_BYTES)
    errors.unknown(body, WRITABLE | set(READ_ONLY))
    errors.raise_if_any()
    assert name is not None
    account = await request.app[STORE].create_account(
        identity.organization_id, name, is_default=is_default, metadata=metadata
    )
    return json_response(account, status=201)
