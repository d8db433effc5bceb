"""`GET /openapi.json`: the profile as an OpenAPI 3.1 document, open to everyone.

The committed document is served as it is (`reference_server/openapi.py` builds it; a test
keeps it in step with the suite's schemas), so serving needs no building.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()


@cache
def document_bytes() -> bytes:
    return (resources.files("reference_server") / "openapi.json").read_bytes()


@routes.get("/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=document_bytes(), content_type="application/json", charset="utf-8")
