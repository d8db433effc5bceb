"""Bearer-token authentication and policy authorization for protected endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import hdrs, web

from .errors import Forbidden, Unauthorized
from .state import AUTHORIZE, TOKENS
from .tokens import Identity

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_INVALID_TOKEN = 'Bearer error="invalid_token"'
_INVALID_REQUEST = 'Bearer error="invalid_request"'


async def authenticate(request: web.Request) -> Identity:
    """The caller of a protected endpoint, or a 401 with `WWW-Authenticate: Bearer`.

    Two Authorization headers are refused rather than the first believed: a proxy or client
    that adds its own would otherwise decide silently which identity the request carries.
    """
    headers = request.headers.getall(hdrs.AUTHORIZATION, [])
    if not headers:
        raise Unauthorized(headers={hdrs.WWW_AUTHENTICATE: "Bearer"})
    if len(headers) > 1:
        raise Unauthorized(
            "Exactly one Authorization header is allowed",
            headers={hdrs.WWW_AUTHENTICATE: _INVALID_REQUEST},
        )
    header = headers[0]
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(headers={hdrs.WWW_AUTHENTICATE: "Bearer"})
    token = token.strip()
    if not _B64TOKEN.fullmatch(token):
        raise Unauthorized(headers={hdrs.WWW_AUTHENTICATE: _INVALID_TOKEN})
    identity = await request.app[TOKENS].verify_access_token(token)
    if identity is None:
        raise Unauthorized(headers={hdrs.WWW_AUTHENTICATE: _INVALID_TOKEN})
    return identity


async def require(request: web.Request, action: str, resource_of: Callable[[str], str]) -> Identity:
    """Authenticate, then check `action` on the caller's organization resource (else 403)."""
    identity = await authenticate(request)
    resource = resource_of(identity.organization_id)
    if not request.app[AUTHORIZE](identity.statements, action, resource):
        raise Forbidden()
    return identity
