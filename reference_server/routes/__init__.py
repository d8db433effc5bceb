"""HTTP routes, one `RouteTableDef` per module."""

from __future__ import annotations

from aiohttp import web

from ..framing import deferring_continue
from . import accounts, auth, docs, jwks, openapi, service_accounts, users


def setup_routes(app: web.Application) -> None:
    for module in (auth, accounts, users, service_accounts, jwks, openapi, docs):
        # `100 Continue` waits until the handler reads the body (framing.py)
        app.router.add_routes(deferring_continue(module.routes))
