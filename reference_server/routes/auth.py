"""`POST /authentication/login` and `POST /authentication/refresh`."""

from __future__ import annotations

from aiohttp import web

from ..errors import ApiError
from ..jsonio import json_response
from ..passwords import MAX_PASSWORD_LENGTH
from ..state import CLIENTS, PASSWORDS, STORE, THROTTLE, TOKENS
from ..validation import FieldErrors, read_json_object

routes = web.RouteTableDef()

MAX_EMAIL_LENGTH = 320
MAX_SLUG_LENGTH = 100


class InvalidCredentials(ApiError):
    """The one answer for unknown org, unknown email, wrong password or disabled user."""

    status, error, message = 401, "Unauthorized", "Invalid credentials"


class InvalidRefreshToken(ApiError):
    """The one answer for unknown, malformed, reused, revoked or expired refresh tokens."""

    status, error, message = 401, "Unauthorized", "Invalid or expired refresh token"


@routes.post("/authentication/login")
async def login(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    errors = FieldErrors()
    email = errors.string(body, "email", max_length=MAX_EMAIL_LENGTH, strip=True)
    password = errors.string(body, "password", max_length=MAX_PASSWORD_LENGTH, allow_empty=True)
    slug = errors.string(body, "organization_slug", max_length=MAX_SLUG_LENGTH, strip=True)
    errors.raise_if_any()
    assert email is not None and password is not None and slug is not None

    app = request.app
    passwords = app[PASSWORDS]
    client = app[CLIENTS].of(request)
    async with app[THROTTLE].attempt(client, slug, email) as attempt:
        user = await app[STORE].find_login_user(slug, email)
        stored_hash = user.get("password_hash") if user else None
        ok = await passwords.verify(
            stored_hash, password, client=client, priority=attempt.known
        )
        if not ok or user is None or user.get("is_active") is not True:
            attempt.failed()
            raise InvalidCredentials()
        attempt.succeeded()

    new_hash = None
    if stored_hash and passwords.needs_rehash(stored_hash):
        new_hash = await passwords.hash(password, client=client, priority=True)
    await app[STORE].record_login(user["id"], new_hash)
    return json_response(await app[TOKENS].issue(user))


@routes.post("/authentication/refresh")
async def refresh(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    errors = FieldErrors()
    token = errors.string(body, "refresh_token", max_length=1_000_000, allow_empty=True)
    errors.raise_if_any()
    assert token is not None
    tokens = await request.app[TOKENS].rotate(token)
    if tokens is None:
        raise InvalidRefreshToken()
    return json_response(tokens)
