"""The public JWK Set, so clients can verify access tokens."""

from __future__ import annotations

from aiohttp import hdrs, web

from ..jsonio import json_response
from ..state import KEYRING, SETTINGS

routes = web.RouteTableDef()


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    max_age = request.app[SETTINGS].jwks_max_age
    return json_response(
        request.app[KEYRING].jwks(),
        headers={hdrs.CACHE_CONTROL: f"public, max-age={max_age}"},
    )
