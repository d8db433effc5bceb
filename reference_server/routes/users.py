"""`GET /users` (optionally the members of one account) and `GET /users/{id}`: the caller's
organization's users only, never any secret."""

from __future__ import annotations

from aiohttp import web

from ..authentication import require
from ..errors import NotFound
from ..jsonio import json_response, list_response
from ..pagination import parse_list_params
from ..policy import ACTION_GET_USER, ACTION_LIST_USERS, users_resource
from ..state import STORE
from ..store import USER_ORDER_FIELDS
from .accounts import MAX_ID_LENGTH, account_filter, require_any

routes = web.RouteTableDef()



@routes.get("/users")
async def list_users(request: web.Request) -> web.Response:
    """With `account_id`, that account's members; an id that is no live account of the
    caller's organization (foreign, deleted or never existing) lists nobody."""
    identity = await require(request, ACTION_LIST_USERS, users_resource)
    params = parse_list_params(request.query, USER_ORDER_FIELDS)
    account_id = account_filter(request)
    store = request.app[STORE]
    if account_id is None:
        page = await store.list_users(identity.organization_id, params)
    else:
        page = await store.list_members(identity.organization_id, account_id, params)
    return list_response(page.total, params.page, page.results)


@routes.get("/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    wanted = request.match_info["id"]
    identity = await require_any(request, (ACTION_GET_USER, ACTION_LIST_USERS), users_resource)
    user = None
    if len(wanted) <= MAX_ID_LENGTH:
        user = await request.app[STORE].get_user(identity.organization_id, wanted)
    if user is None:
        raise NotFound("User not found")
    return json_response(user)
