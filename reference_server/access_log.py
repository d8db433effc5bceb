"""The access log: one line per request, never the query string.

aiohttp's default line has the whole request line and the Referer, so a token sent as
`?access_token=` (which this API ignores, but clients send anyway) would sit in the log.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_MAX_PATH = 200


class AccessLog(AbstractAccessLogger):
    """`peer "METHOD /path" status bytes ms`: the raw path only, shortened."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.rel_url.raw_path  # still percent-encoded: no line breaks to forge lines
        if len(path) > _MAX_PATH:
            path = path[:_MAX_PATH] + "..."
        self.logger.info(
            '%s "%s %s" %d %d %.1fms',
            request.remote,
            request.method,
            path,
            response.status,
            response.body_length,
            time * 1000,
        )
