"""The application factory and its replaceable parts (`Components`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from . import demo, policy, protocol, service
from .clients import ClientAddresses
from .config import Settings
from .errors import error_middleware
from .headers import add_security_headers
from .hmac_auth import HmacVerifier
from .inflight import InFlight
from .passwords import Passwords
from .routes import setup_routes
from .state import (
    AUTHORIZE,
    CLIENTS,
    DEMO_SEEDED,
    KEYRING,
    PASSWORDS,
    SETTINGS,
    STORE,
    THROTTLE,
    TOKENS,
)
from .store import Store
from .throttle import LoginThrottle
from .tokens import Keyring, TokenService


@dataclass(frozen=True)
class Components:
    """The server's replaceable parts.

    Tests (never the product) substitute them to build broken variants.
    """

    store: type[Store] = Store
    tokens: type[TokenService] = TokenService
    passwords: type[Passwords] = Passwords
    authorize: Callable[[Sequence[Mapping[str, Any]], str, str], bool] = policy.is_allowed
    middlewares: tuple[Middleware, ...] = ()
    #: how the signing keys are loaded from the data dir (the mutation harness loads its one
    #: key once per process: checking an RSA key as it is loaded costs ~0.1 s)
    keyring: Callable[[Path], Keyring] = Keyring.load_or_create
    #: how signed requests (service-account keys, HMAC) are checked
    hmac: type[HmacVerifier] = HmacVerifier


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """nosniff everywhere; the API's CSP and `no-store` unless the handler chose its own.

    Only the docs page sets its own CSP (it runs Swagger UI); JWKS and static assets are cacheable.
    """
    response = await handler(request)
    add_security_headers(response, request.path)
    return response


def create_app(settings: Settings, components: Components = Components()) -> web.Application:
    """Build the app; storage, keys and thread pools are opened in its `cleanup_ctx`."""
    settings.check()
    in_flight = InFlight()
    app = web.Application(
        middlewares=[in_flight.middleware, *components.middlewares, security_headers_middleware,
                     error_middleware],
        client_max_size=settings.max_body_bytes,
        handler_args=protocol.handler_args(settings),
    )
    protocol.install(app, settings)
    app[SETTINGS] = settings
    app[AUTHORIZE] = components.authorize
    app[THROTTLE] = LoginThrottle(
        settings.clock,
        settings.login_max_failures,
        settings.login_failure_window,
        settings.login_throttle_max_keys,
        address_burst=settings.login_address_burst,
        address_refill=settings.login_address_refill,
        known_ttl=settings.login_known_ttl,
    )
    app[CLIENTS] = ClientAddresses(settings.trusted_proxies)
    app[DEMO_SEEDED] = False

    async def resources(app: web.Application) -> AsyncIterator[None]:
        store = components.store(settings)
        try:
            await store.open()
        except BaseException:
            await store.close()  # releases the lock and the store thread
            raise
        passwords: Passwords | None = None
        try:
            loop = asyncio.get_running_loop()
            keyring = await loop.run_in_executor(None, components.keyring, settings.data_dir)
            passwords = await loop.run_in_executor(None, components.passwords, settings)
            store.sync_on_loop_when(in_flight.alone)
            app[STORE] = store
            app[KEYRING] = keyring
            app[PASSWORDS] = passwords
            app[TOKENS] = components.tokens(settings, store, keyring)
            if settings.demo:
                app[DEMO_SEEDED] = await demo.seed(store, passwords, settings.clock)
            yield
        finally:
            if passwords is not None:
                passwords.close()
            await store.close()

    app.cleanup_ctx.append(resources)
    service.install(app, settings, components.hmac)  # after the store: SERVICE's part
    setup_routes(app)
    return app
