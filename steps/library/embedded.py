"""Runs an aiohttp application in a background thread on a free loopback port.

With no --base-url the suite checks the bundled reference server this way, with a clock the suite
controls, so that the expired-token scenario runs for real instead of waiting fifteen minutes.
The server's own tests use the same runner.

A plugin implementing the suite's `pytest_dpaas_variants` hook names embedded *variants* instead:
differently built apps (the mutation harness's broken and differently-correct servers), each
served in turn and checked with only the scenarios it selects.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Protocol

from aiohttp import web

START_TIMEOUT = 30.0


class ManualClock:
    """Wall-clock time plus an offset the suite can move forward and back."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0


class Variant(Protocol):
    """One embedded app the suite can be run against, and the scenarios it is judged by."""

    def make_app(self, settings: Any) -> web.Application:
        """Build the app from the reference server's Settings (data dir, clock, demo)."""
        ...

    def selects(self, level: str, requirements: Sequence[str]) -> bool:
        """Whether the scenario of that level citing those ids runs against this variant."""
        ...


class ServedApp:
    """One app on 127.0.0.1 in its own thread and event loop; a context manager too."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self._make_app = make_app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._port = 0  # a free one at the first start; the same one after a restart
        self.base_url = ""

    def start(self) -> str:
        started: Future[str] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._main(started))
            except BaseException as exc:  # surfaced to the caller of start()
                if not started.done():
                    started.set_exception(exc)
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="dpaas-embedded", daemon=True)
        self._thread.start()
        self.base_url = started.result(timeout=START_TIMEOUT)
        return self.base_url

    async def _main(self, started: Future[str]) -> None:
        """Serve until stop() sets the event; an event (not loop.stop) so that a stop() that
        comes right after start() cannot be lost."""
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self._make_app(), access_log=None)
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await site.start()
            host, port = self._runner.addresses[0][:2]
            self._port = port
            started.set_result(f"http://{host}:{port}")
            await self._stopping.wait()
        finally:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=START_TIMEOUT)

    def restart(self) -> None:
        """Stop the app (a clean shutdown: its store closes) and serve a new one made the same
        way, on the same address: what a server keeps across a restart, it keeps from disk."""
        self.stop()
        self.start()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
