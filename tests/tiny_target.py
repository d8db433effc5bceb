"""A tiny DPaaS target whose every answer a test can choose, to check the suite's verdicts.

Just enough of the API for small features (login, list and create accounts), with knobs that
break one thing at a time: the suite's own tests run it in-process and point the suite at it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

EMAIL, PASSWORD, ORG = "admin@tiny.test", "tiny-Password-1", "tiny"
CONFIG = f"""
[principals.admin]
email = "{EMAIL}"
password = "{PASSWORD}"
organization_slug = "{ORG}"
"""


@cache
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Behaviour:
    """What the tiny target does; each knob breaks one thing."""

    login_status: int = 200
    expires_in: int = 900
    no_store: bool = True
    echo_password: bool = False
    infinity_in_list: bool = False
    drop_connection_on_list: bool = False
    accounts: list[dict[str, Any]] = field(default_factory=list)


BEHAVIOUR = web.AppKey("behaviour", Behaviour)


def error(status: int, name: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": name, "message": message, **extra}, status=status)


async def login(request: web.Request) -> web.Response:
    behaviour = request.app[BEHAVIOUR]
    body = await request.json()
    if behaviour.login_status >= 500:
        return error(behaviour.login_status, "InternalError", "boom")
    if body.get("email") != EMAIL or body.get("password") != PASSWORD:
        extra = {"password": body.get("password")} if behaviour.echo_password else {}
        return error(401, "Unauthorized", "Invalid credentials", **extra)
    now = int(time.time())
    token = jwt.encode({"sub": "u1", "org": "o1", "iat": now, "exp": now + 900},
                       signing_key(), algorithm="RS256", headers={"kid": "k1"})
    response = web.json_response({"access_token": token, "refresh_token": uuid.uuid4().hex,
                                  "token_type": "Bearer", "expires_in": behaviour.expires_in},
                                 status=behaviour.login_status)
    if behaviour.no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


def authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    try:
        jwt.decode(header.removeprefix("Bearer "), signing_key().public_key(),
                   algorithms=["RS256"])
    except jwt.PyJWTError:
        return False
    return True


async def list_accounts(request: web.Request) -> web.StreamResponse:
    behaviour = request.app[BEHAVIOUR]
    if not authorized(request):
        return error(401, "Unauthorized", "Invalid or expired token")
    if behaviour.drop_connection_on_list:
        assert request.transport is not None
        request.transport.close()
        raise ConnectionResetError("the tiny target hung up")
    if behaviour.infinity_in_list:
        text = '{"total": 1, "page": 1, "results": [{"metadata": {"v": Infinity}}]}'
        return web.Response(text=text, content_type="application/json")
    results = behaviour.accounts
    return web.json_response({"total": len(results), "page": 1, "results": results})


def tiny_app(behaviour: Behaviour) -> web.Application:
    app = web.Application()
    app[BEHAVIOUR] = behaviour
    app.router.add_post("/authentication/login", login)
    app.router.add_get("/accounts", list_accounts)
    return app
