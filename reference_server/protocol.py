"""The HTTP connection layer: refusals before any route runs, deadlines, connection limits.

aiohttp's parser refuses an oversized URL or header, an unknown method or a malformed message
before the application sees it, and answers with a text/plain 400 that echoes part of the
request and skips every middleware. aiohttp has no public hook for that answer (aio-libs/aiohttp
#3287), so the app's server is given a `RequestHandler` subclass whose `handle_error` answers
with the profile's JSON error body instead. The same server bounds open connections, in all and
per client address, so that no client can take every file descriptor; a connection over the
bound gets a JSON 503 (or 429 for its address) and is closed. Deadlines: a client has
`header_timeout` to send its headers (aiohttp's keep-alive timer, which also closes idle
connections) and `body_timeout` for its body (validation.py, and the lingering read below).

Pipelined requests: aiohttp's parser reads every request of one network read at once, and when
one of them is malformed it drops the good ones before it (their answers never come). So each
connection's parser stops after every request (its message queue holds one), and the next is
parsed only once the previous one is taken: a good request is answered, then the malformed one
after it gets its own 400. What a client does wrong (a body that cannot be decoded, a
disconnection mid-body) is logged as one debug line, never as a traceback; the access log has
the request's line. The application's handler runs behind `framing.gate` (Transfer-Encoding,
Content-Encoding, Expect).

`install` and `ApiRequestHandler.__init__` are the places that rely on aiohttp internals
(`Application._make_handler`, the protocol's `_parser` and message-queue bounds);
tests/test_server_protocol.py and tests/test_server_refusals.py pin the behaviour, so an
aiohttp upgrade that moves them fails loudly.
"""

from __future__ import annotations

import ast
import asyncio
import ipaddress
import logging
import re
import resource
import time
from collections import Counter
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http import HttpRequestParser
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadHttpMethod,
    ContentEncodingError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from . import framing
from .clients import parse_networks
from .config import Settings
from .errors import ERROR_NAMES, error_response
from .headers import SERVER_NAME, add_security_headers
from .jsonio import dumps

log = logging.getLogger("reference_server")

#: Every method some route of the API serves; a 405 must name what the target accepts.
API_METHODS = "GET, HEAD, POST"
#: File descriptors kept free of connections (database, keys, logs, the listening socket).
RESERVED_FILES = 64
#: How long aiohttp keeps reading a body the handler did not read, so the client sees the answer.
LINGERING_SECONDS = 2.0
#: Seconds between two log lines about refused connections.
REPORT_EVERY = 10.0


#: Exceptions a client causes (a body that cannot be decoded, a disconnection): no traceback.
CLIENT_FAULTS = (RequestPayloadError, ConnectionError)

#: A request line with a method token, a target and a version (RFC 9112 §3): an unknown method
#: in such a line is a 405; anything else that fails to parse as a request line is a 400.
_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\s]+ HTTP/[0-9]\.[0-9]")
#: Where llhttp's error message quotes the line it failed on: `...:\n\n  b'LINE'\n   ^`.
_QUOTED_LINE = re.compile(r"\n\n  (b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\")\n")


def quoted_request_line(exc: BaseException) -> bytes | None:
    """The request line the parser quotes in its error message, if it quotes one."""
    match = _QUOTED_LINE.search(getattr(exc, "message", "") or "")
    if match is None:
        return None
    try:
        line = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
    return line if isinstance(line, bytes) else None


def refusal_status(exc: BaseException | None, status: int, max_url_bytes: int) -> int:
    """The ERR-1 status for an error aiohttp raised outside any route (it says 400 for all)."""
    if isinstance(exc, LineTooLong):
        # The parser checks the URL against max_line_size, each header against max_field_size.
        return 414 if exc.args[1:2] == (max_url_bytes,) else 431
    if isinstance(exc, BadHttpMethod):
        # llhttp knows a fixed list of methods and stops at the first byte that fits none, so
        # `BREW /x HTTP/1.1` and `GARBAGE` fail alike: the quoted line tells them apart.
        line = quoted_request_line(exc)
        return 405 if line is not None and _REQUEST_LINE.fullmatch(line) else 400
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return 431
    if isinstance(exc, ContentEncodingError) and "install" in exc.message:
        return 415  # a coding aiohttp would decode with a package this server does not have
    return status


class ApiRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol, with JSON answers for the errors it raises itself."""

    __slots__ = ()

    def __init__(self, manager: web.Server, *, loop: asyncio.AbstractEventLoop,
                 **kwargs: Any) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        # One request at a time out of the parser (see the module docstring): a parser that
        # pauses after each message, and a queue that holds one, so that taking a message
        # from it parses the next (aiohttp's own flow control for pipelining).
        self._parser = HttpRequestParser(
            self,
            loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=RequestPayloadError,
            auto_decompress=kwargs.get("auto_decompress", True),
            max_msg_queue_size=1,
        )
        self._max_msg_queue_size = 1
        self._msg_queue_resume_size = 0

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A client's fault (a body read after it failed to decode, a lost connection) is one
        debug line; anything else is the server's and keeps its traceback."""
        exc = kw.get("exc_info")
        if isinstance(exc, CLIENT_FAULTS):
            log.debug("connection closed after a client error: %s", type(exc).__name__)
            return
        super().log_exception(*args, **kw)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        if not isinstance(server, ApiServer):
            return
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        status = server.limits.admit(self, address)
        if status is not None:
            server.limits.report_refusal(address, status)
            if self.transport is not None:
                self.transport.write(refusal(status))
            self.force_close()

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
            # The access log has the status; this says why, with no request bytes (the URL or
            # a header may hold a token), at debug level so that a flood of garbage is one
            # line per request, not two.
            log.debug("refused a request from %s before routing: %d %s",
                      request.remote, status, type(exc).__name__)
        headers = {hdrs.ALLOW: API_METHODS} if status == 405 else {}
        if status == 415:
            headers[hdrs.ACCEPT_ENCODING] = ", ".join(framing.CONTENT_CODINGS)
        response = error_response(status, None, **headers)
        add_security_headers(response, "")
        response.force_close()
        return response


class ConnectionLimits:
    """Open connections in all and per peer address; trusted proxies are not limited per address."""

    def __init__(self, total: int, per_address: int, trusted_proxies: tuple[str, ...]) -> None:
        self.total = total
        self.per_address = per_address
        self._trusted = parse_networks(trusted_proxies)
        self._peers: dict[RequestHandler, str] = {}
        self._counts: Counter[str] = Counter()
        self._refused: Counter[int] = Counter()
        self._reported_at = -REPORT_EVERY

    def _is_trusted(self, address: str) -> bool:
        try:
            return any(ipaddress.ip_address(address) in net for net in self._trusted)
        except ValueError:
            return False

    def admit(self, handler: RequestHandler, address: str) -> int | None:
        """Count the connection; the refusal status if it is one too many, else None."""
        self._peers[handler] = address
        self._counts[address] += 1
        if len(self._peers) > self.total:
            return 503
        if self._counts[address] > self.per_address and not self._is_trusted(address):
            return 429
        return None

    def report_refusal(self, address: str, status: int) -> None:
        """Log refusals at most every REPORT_EVERY seconds, so a flood cannot flood the log."""
        self._refused[status] += 1
        now = time.monotonic()
        if now - self._reported_at >= REPORT_EVERY:
            log.warning("refused connections (latest from %s): %s; %d open",
                        address, dict(self._refused), len(self._peers))
            self._refused.clear()
            self._reported_at = now

    def release(self, handler: RequestHandler) -> None:
        address = self._peers.pop(handler, None)
        if address is not None:
            self._counts[address] -= 1
            if not self._counts[address]:
                del self._counts[address]

    def __len__(self) -> int:
        return len(self._peers)


def refusal(status: int) -> bytes:
    """A whole HTTP response for a connection refused before reading it, then closed."""
    message = ("Too many connections from this address" if status == 429
               else "Server busy, try again later")
    body = dumps({"error": ERROR_NAMES[status], "message": message})
    reason = "Too Many Requests" if status == 429 else "Service Unavailable"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        f"Server: {SERVER_NAME}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ApiServer(web.Server):
    """aiohttp's connection factory, making `ApiRequestHandler`s and keeping `limits`."""

    limits: ConnectionLimits

    def __call__(self) -> RequestHandler:
        return ApiRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self.limits.release(handler)


def connection_bound(settings: Settings) -> int:
    """`max_connections`, lowered to what the open-files limit can hold."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return settings.max_connections
    return max(1, min(settings.max_connections, soft - RESERVED_FILES))


def handler_args(settings: Settings) -> dict[str, Any]:
    """The parser limits and deadlines. URLs as long as common servers take; headers large
    enough for big bearer tokens (one header up to `max_header_bytes`), a bounded number of
    them; the keep-alive timer, which also bounds the time to send the headers."""
    return {
        "max_line_size": settings.max_url_bytes,
        "max_field_size": settings.max_header_bytes,
        "max_headers": settings.max_headers,
        "keepalive_timeout": settings.header_timeout,
        "lingering_time": min(LINGERING_SECONDS, settings.body_timeout),
    }


def install(app: web.Application, settings: Settings) -> None:
    """Make every runner of `app` (`run_app`, the tests' `AppRunner`) serve it with ApiServer."""
    make_handler = app._make_handler

    def make_api_handler(**kwargs: Any) -> web.Server:
        server = make_handler(**kwargs)
        server.__class__ = ApiServer  # same state, a few overridden methods
        server.request_handler = framing.gate(app, server.request_handler)
        server.limits = ConnectionLimits(
            connection_bound(settings),
            settings.max_connections_per_address,
            settings.trusted_proxies,
        )
        return server

    app._make_handler = make_api_handler  # type: ignore[method-assign]


