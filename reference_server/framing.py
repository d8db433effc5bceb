"""How a request frames its body, checked before any route runs; and `100 Continue`, owed until
the handler reads the body.

aiohttp reads a `Transfer-Encoding: gzip, chunked` body as chunked and ignores the gzip; it
decodes `Content-Encoding` gzip or deflate but reads any other coding (`compress`, `gzip, gzip`)
as if there were none; and it answers an `Expect` other than `100-continue` with a text/plain 417
of its own, and `100-continue` with `100 Continue` at once, before the handler has checked the
caller's credentials or the body's size. So `gate` wraps the application's request handler
(see `protocol.install`) and refuses such requests with the profile's JSON error:
- a transfer coding other than `chunked` alone: 400 (RFC 9112 §6.1 suggests 501; but for the
  profile a body the server cannot read is a client error, ERR-2);
- a content coding other than one of `gzip`, `deflate` or `identity`: 415 with
  `Accept-Encoding` (RFC 9110 §15.5.16, RFC 7694); a body that is not what its coding says is a
  400 when the handler reads it (`validation.read_json_object`);
- an expectation other than `100-continue` (HTTP/1.1 and later): 417 (RFC 9110 §10.1.1);
- `100-continue` for a path or method no route serves: the 404 or 405 at once, no `100`.

Every route is registered with `defer_continue` as its expect handler (`routes.setup_routes`):
the `100 Continue` is sent by `send_continue`, which the body reader calls once the handler has
authenticated the caller and checked the declared size, right before reading.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11
from aiohttp.web_routedef import AbstractRouteDef, RouteDef

from .errors import error_response
from .headers import add_security_headers

#: Content codings aiohttp decodes whatever extras are installed (it decodes `br` and `zstd`
#: only when their packages are there; this server does not depend on those).
CONTENT_CODINGS = ("gzip", "deflate")
#: Request key: the route's expect handler deferred a `100 Continue` to the first body read.
CONTINUE_OWED = "dpaas.continue_owed"

RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def _members(values: Iterable[str]) -> list[str]:
    """The comma-separated members of a list-valued header, lower-cased, empty ones dropped."""
    return [m.strip().lower() for value in values for m in value.split(",") if m.strip()]


def _content_coding_ok(values: list[str]) -> bool:
    """No coding, `identity`, or exactly one header naming one coding aiohttp decodes."""
    codings = [c for c in _members(values) if c != "identity"]
    if not codings:
        return True
    return len(values) == 1 and codings == [values[0].strip().lower()] and (
        codings[0] in CONTENT_CODINGS
    )


def _refused(request: web.BaseRequest, status: int, message: str | None = None,
             **headers: str) -> web.Response:
    response = error_response(status, message, **headers)
    add_security_headers(response, request.path)
    response.force_close()  # the body, if any, was not read
    return response


async def refusal(app: web.Application, request: web.BaseRequest) -> web.Response | None:
    """The JSON error for a request whose framing or expectation this server refuses, or None."""
    headers = request.headers
    transfer = headers.getall(hdrs.TRANSFER_ENCODING, [])
    if transfer and _members(transfer) != ["chunked"]:
        return _refused(request, 400, "Transfer-Encoding other than chunked is not supported")
    if not _content_coding_ok(headers.getall(hdrs.CONTENT_ENCODING, [])):
        return _refused(
            request, 415, "Content-Encoding must be gzip, deflate or identity",
            **{hdrs.ACCEPT_ENCODING: ", ".join(CONTENT_CODINGS)},
        )
    expectations = _members(headers.getall(hdrs.EXPECT, []))
    if not expectations or request.version < HttpVersion11:
        return None  # HTTP/1.0 ignores Expect (RFC 9110 §10.1.1), as aiohttp does
    if set(expectations) != {"100-continue"}:
        return _refused(request, 417, "The only expectation supported is 100-continue")
    match = await app.router.resolve(request)  # type: ignore[arg-type]
    missing = match.http_exception
    if missing is not None:
        kept = {k: v for k, v in missing.headers.items() if k == hdrs.ALLOW}
        return _refused(request, missing.status, None, **kept)
    return None


def gate(app: web.Application, handler: RequestHandler) -> RequestHandler:
    """`handler` (the application's), behind the checks of `refusal`."""

    async def gated(request: web.BaseRequest) -> web.StreamResponse:
        refused = await refusal(app, request)
        return refused if refused is not None else await handler(request)

    return gated


async def defer_continue(request: web.Request) -> None:
    """A route's expect handler: no `100 Continue` yet, only a note that one is owed."""
    request[CONTINUE_OWED] = True


def deferring_continue(routes: Iterable[AbstractRouteDef]) -> list[AbstractRouteDef]:
    """`routes` with `defer_continue` as every route's expect handler."""
    return [
        RouteDef(r.method, r.path, r.handler, {"expect_handler": defer_continue, **r.kwargs})
        if isinstance(r, RouteDef) else r
        for r in routes
    ]


async def send_continue(request: web.Request) -> None:
    """Send the `100 Continue` a route deferred, if any: the handler is about to read the body."""
    if request.pop(CONTINUE_OWED, False):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response itself has not started (as aiohttp does)
