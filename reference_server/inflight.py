"""Requests in flight: how many the server is handling at this moment.

A write whose request is the only one in flight is made durable on the event loop itself
(`Store.sync_on_loop_when`): nobody else waits for the loop meanwhile, and there is no hop to the
store thread and back. With more requests in flight, writes go to the store thread as before,
so that the loop keeps serving and concurrent writes share one sync (group commit).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler


class InFlight:
    """A count of the requests between the start and the end of their handler."""

    def __init__(self) -> None:
        self.count = 0

    def alone(self) -> bool:
        """Whether the request asking is the only one in flight."""
        return self.count <= 1

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.count += 1
        try:
            return await handler(request)
        finally:
            self.count -= 1
