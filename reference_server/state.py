"""Typed application state keys (`web.AppKey`), shared by the app factory and the routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .clients import ClientAddresses
from .config import Settings
from .passwords import Passwords
from .store import Store
from .throttle import LoginThrottle
from .tokens import Keyring, TokenService

if TYPE_CHECKING:  # hmac_auth reads request bodies through validation, which reads SETTINGS
    from .hmac_auth import HmacVerifier
    from .service_keys import SecretBox

Authorize = Callable[[Sequence[Mapping[str, Any]], str, str], bool]

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
TOKENS = web.AppKey("tokens", TokenService)
KEYRING = web.AppKey("keyring", Keyring)
PASSWORDS = web.AppKey("passwords", Passwords)
THROTTLE = web.AppKey("throttle", LoginThrottle)
CLIENTS = web.AppKey("clients", ClientAddresses)
AUTHORIZE: web.AppKey[Authorize] = web.AppKey("authorize")
DEMO_SEEDED = web.AppKey("demo_seeded", bool)
#: SERVICE: the sealed secrets of service-account keys, and the check of signed requests
SECRET_BOX: web.AppKey[SecretBox] = web.AppKey("secret_box")
HMAC: web.AppKey[HmacVerifier] = web.AppKey("hmac")
#: the demo's service-account key, when this start seeded the demo (printed with the principals)
DEMO_KEY: web.AppKey[tuple[str, str] | None] = web.AppKey("demo_key")
