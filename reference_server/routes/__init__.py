"""HTTP routes, one `RouteTableDef` per module."""

from __future__ import annotations

from aiohttp import web

from . import accounts, auth, docs, jwks, openapi, users


def setup_routes(app: web.Application) -> None:
    for module in (auth, accounts, users, jwks, openapi, docs):
        app.router.add_routes(module.routes)
