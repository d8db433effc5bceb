"""Security headers on every response, whether a route, a middleware or the HTTP layer made it."""

from __future__ import annotations

from aiohttp import hdrs, web

#: The Server header: no Python or aiohttp version for an attacker to look up.
SERVER_NAME = "dpaas-reference-server"

#: Nothing may load, run or frame: every API response is data, never a page.
API_CSP = "default-src 'none'; frame-ancestors 'none'"

#: Responses from these paths carry tokens: never cached anywhere (RFC 6749 §5.1).
TOKEN_PATHS = frozenset({"/authentication/login", "/authentication/refresh"})


def add_security_headers(response: web.StreamResponse, path: str) -> None:
    """nosniff everywhere; the API's CSP and `no-store` unless the handler chose its own.

    Only the docs page sets its own CSP (it runs Swagger UI); JWKS and static assets are cacheable.
    """
    response.headers[hdrs.SERVER] = SERVER_NAME
    response.headers[hdrs.X_CONTENT_TYPE_OPTIONS] = "nosniff"
    response.headers.setdefault(hdrs.CONTENT_SECURITY_POLICY, API_CSP)
    if path in TOKEN_PATHS:
        response.headers[hdrs.CACHE_CONTROL] = "no-store"
        response.headers[hdrs.PRAGMA] = "no-cache"
    else:
        response.headers.setdefault(hdrs.CACHE_CONTROL, "no-store")
