"""Who is calling a protected endpoint: the one entry point every route uses.

It tries the scheme the `Authorization` header names: `HMAC` (any case) is a service account's
signed request (`hmac_auth.py`); anything else, no header included, is a user's bearer token
(`bearer.py`), whose 401 says `WWW-Authenticate: Bearer` as before. Then the caller's policy
statements decide, the same way for both (`require`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from . import bearer
from .errors import Forbidden
from .hmac_auth import is_signed
from .state import AUTHORIZE, HMAC
from .tokens import Identity

#: the caller, once a request's credentials were checked
CALLER: web.RequestKey[Identity] = web.RequestKey("caller", Identity)


async def authenticate(request: web.Request) -> Identity:
    """The caller: a service account for a signed request, else the bearer token's user.
    Checked once per request: a signed request's check uses up its nonce, so a second check
    (a middleware's, then the route's) would refuse it as a replay."""
    known = request.get(CALLER)
    if known is not None:
        return known
    if is_signed(request) and HMAC in request.app:
        identity = await request.app[HMAC].authenticate(request)
    else:
        identity = await bearer.authenticate(request)
    request[CALLER] = identity
    return identity


def allowed(request: web.Request, identity: Identity, action: str,
            resource_of: Callable[[str], str]) -> bool:
    return request.app[AUTHORIZE](identity.statements, action,
                                  resource_of(identity.organization_id))


async def require(request: web.Request, action: str, resource_of: Callable[[str], str]
                  ) -> Identity:
    """Authenticate, then check `action` on the caller's organization resource (else 403)."""
    return await require_any(request, (action,), resource_of)


async def require_any(request: web.Request, actions: Sequence[str],
                      resource_of: Callable[[str], str]) -> Identity:
    """Authenticate, then allow the request if any of `actions` is allowed (else 403)."""
    identity = await authenticate(request)
    if not any(allowed(request, identity, a, resource_of) for a in actions):
        raise Forbidden()
    return identity
