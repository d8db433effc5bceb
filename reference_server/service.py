"""The SERVICE class's part of the app: the sealed secrets' key, the check of signed requests,
and the demo's service account; opened after the store (`app.create_app` registers it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from . import demo
from .config import Settings
from .hmac_auth import HmacVerifier
from .service_keys import SecretBox
from .state import CLIENTS, DEMO_KEY, DEMO_SEEDED, HMAC, SECRET_BOX, STORE


def install(app: web.Application, settings: Settings,
            verifier: type[HmacVerifier] = HmacVerifier) -> None:
    """Registers the part's cleanup context, after the one that opens the store."""

    async def service(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        box = await loop.run_in_executor(None, SecretBox.load_or_create, settings.data_dir)
        await loop.run_in_executor(None, box.warm, await app[STORE].sealed_secrets())
        app[SECRET_BOX] = box
        app[HMAC] = verifier(settings, app[STORE], box, app[CLIENTS])
        app[DEMO_KEY] = None
        if settings.demo and app[DEMO_SEEDED]:
            seeded = await demo.seed_service_account(app[STORE], box, settings.clock)
            if seeded is not None:
                app[DEMO_KEY] = (seeded.access_key, seeded.secret_key)
        yield

    app.cleanup_ctx.append(service)
