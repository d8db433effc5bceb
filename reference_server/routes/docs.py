"""`GET /docs`, interactive docs of `/openapi.json`, and `GET /`, where a visitor starts.

Swagger UI's files come from the swagger-ui-bundle package, so the page needs nothing but this
server: no CDN, no network. The page's Content-Security-Policy allows exactly that (scripts,
styles and images from this server, the icons Swagger UI inlines as data URIs, calls to this
server's API); every other response keeps the API's `default-src 'none'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import hdrs, web
from swagger_ui_bundle import swagger_ui_path

routes = web.RouteTableDef()

PAGE_DIR = Path(__file__).resolve().parent.parent / "docs"
SWAGGER_UI_DIR = Path(swagger_ui_path)
#: The Swagger UI files the page loads; nothing else of the bundle is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
ASSET_CACHE = "public, max-age=3600"

DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

#: Where to go from `/`: for API clients that ask for JSON (or for anything).
INDEX: dict[str, Any] = {
    "docs": "/docs",
    "openapi": "/openapi.json",
    "jwks": "/.well-known/jwks.json",
    "endpoints": {
        "login": "POST /authentication/login",
        "refresh": "POST /authentication/refresh",
        "list_accounts": "GET /accounts",
        "create_account": "POST /accounts",
        "get_account": "GET /accounts/{id}",
        "replace_account": "PUT /accounts/{id}",
        "update_account": "PATCH /accounts/{id}",
        "delete_account": "DELETE /accounts/{id}",
        "list_users": "GET /users",
        "get_user": "GET /users/{id}",
    },
}


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.FileResponse:
    headers = {
        hdrs.CONTENT_TYPE: "text/html; charset=utf-8",
        hdrs.CONTENT_SECURITY_POLICY: DOCS_CSP,
    }
    return web.FileResponse(PAGE_DIR / "index.html", headers=headers)


@routes.get("/docs/init.js")
async def docs_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE_DIR / "init.js", headers={hdrs.CACHE_CONTROL: ASSET_CACHE})


@routes.get("/docs/assets/{name}")
async def docs_asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.FileResponse(SWAGGER_UI_DIR / name, headers={hdrs.CACHE_CONTROL: ASSET_CACHE})


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """A browser (it prefers HTML) is sent to the docs; anything else gets the JSON index."""
    vary = {hdrs.VARY: "Accept"}
    if prefers_html(request.headers.get(hdrs.ACCEPT, "")):
        return web.Response(status=302, headers={hdrs.LOCATION: "/docs", **vary})
    return web.json_response(INDEX, headers=vary)


def prefers_html(accept: str) -> bool:
    """Whether the Accept header ranks text/html above application/json.

    Ties go to JSON, so `*/*` (curl, httpx) and a missing header get the index.
    """
    return _quality(accept, "text", "html") > _quality(accept, "application", "json")


def _quality(accept: str, kind: str, subtype: str) -> float:
    """The q-value Accept gives a media type: its most specific matching range wins."""
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        main, _, sub = media.lower().partition("/")
        if (main, sub) == (kind, subtype):
            specificity = 2
        elif (main, sub) == (kind, "*"):
            specificity = 1
        elif (main, sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also NaN
                    q = 0.0
        best = max(best, (specificity, q), key=lambda pair: pair[0])
    return best[1]
