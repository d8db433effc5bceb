"""The HTTP connection layer: answers for requests refused before any route runs.

aiohttp's parser refuses an oversized URL or header, an unknown method or a malformed message
before the application sees it, and answers with a text/plain 400 that echoes part of the
request and skips every middleware. aiohttp has no public hook for that answer (aio-libs/aiohttp
#3287), so the app's server is given a `RequestHandler` subclass whose `handle_error` answers
with the profile's JSON error body instead. `install` is the one place that relies on aiohttp
internals (`Application._make_handler`); tests/test_server_protocol.py pins the behaviour, so an
aiohttp upgrade that moves it fails loudly.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from .config import Settings
from .errors import error_response
from .headers import add_security_headers

log = logging.getLogger("reference_server")

#: Every method some route of the API serves; a 405 must name what the target accepts.
API_METHODS = "GET, HEAD, POST"


def refusal_status(exc: BaseException | None, status: int, max_url_bytes: int) -> int:
    """The ERR-1 status for an error aiohttp raised outside any route (it says 400 for all)."""
    if isinstance(exc, LineTooLong):
        # The parser checks the URL against max_line_size, each header against max_field_size.
        return 414 if exc.args[1:2] == (max_url_bytes,) else 431
    if isinstance(exc, BadHttpMethod):
        return 400 if "HTTPS" in exc.message else 405
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return 431
    return status


class ApiRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol, with JSON answers for the errors it raises itself."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The profile's JSON error body; nothing of the request is echoed."""
        if request.writer.output_size > 0:
            # Same contract as the base class: the response is already on its way.
            raise ConnectionError("response already started, cannot send an error")
        status = refusal_status(exc, status, self.max_line_size)
        if status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            # One line, no request bytes: the URL or a header may hold a token.
            log.info("refused a request from %s before routing: %d %s",
                     request.remote, status, type(exc).__name__)
        headers = {hdrs.ALLOW: API_METHODS} if status == 405 else {}
        response = error_response(status, None, **headers)
        add_security_headers(response, "")
        response.force_close()
        return response


class ApiServer(web.Server):
    """aiohttp's connection factory, making `ApiRequestHandler`s."""

    def __call__(self) -> RequestHandler:
        return ApiRequestHandler(self, loop=self._loop, **self._kwargs)


def handler_args(settings: Settings) -> dict[str, Any]:
    """The parser limits: URLs as long as common servers take, headers large enough for big
    bearer tokens (a single header up to `max_header_bytes`), a bounded number of them."""
    return {
        "max_line_size": settings.max_url_bytes,
        "max_field_size": settings.max_header_bytes,
        "max_headers": settings.max_headers,
    }


def install(app: web.Application) -> None:
    """Make every runner of `app` (`run_app`, the tests' `AppRunner`) serve it with ApiServer."""
    make_handler = app._make_handler

    def make_api_handler(**kwargs: Any) -> web.Server:
        server = make_handler(**kwargs)
        server.__class__ = ApiServer  # same state, one overridden method
        return server

    app._make_handler = make_api_handler  # type: ignore[method-assign]

