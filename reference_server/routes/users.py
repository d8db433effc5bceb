"""`GET /users`: the caller's organization's users, never any secret."""

from __future__ import annotations

from aiohttp import web

from ..bearer import require
from ..jsonio import list_response
from ..pagination import parse_list_params
from ..policy import ACTION_LIST_USERS, users_resource
from ..state import STORE
from ..store import USER_ORDER_FIELDS

routes = web.RouteTableDef()


@routes.get("/users")
async def list_users(request: web.Request) -> web.Response:
    identity = await require(request, ACTION_LIST_USERS, users_resource)
    params = parse_list_params(request.query, USER_ORDER_FIELDS)
    page = await request.app[STORE].list_users(identity.organization_id, params)
    return list_response(page.total, params.page, page.results)
