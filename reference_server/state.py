"""Typed application state keys (`web.AppKey`), shared by the app factory and the routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .clients import ClientAddresses
from .config import Settings
from .passwords import Passwords
from .store import Store
from .throttle import LoginThrottle
from .tokens import Keyring, TokenService

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
