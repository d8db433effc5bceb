"""The profile's error bodies and the one middleware that turns every failure into one of them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from .jsonio import json_response

log = logging.getLogger("reference_server")

#: Error code used in the body for statuses aiohttp raises itself (parser, router, body reader).
ERROR_NAMES: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    409: "Conflict",
    413: "PayloadTooLarge",
    414: "URITooLong",
    415: "UnsupportedMediaType",
    417: "ExpectationFailed",
    422: "ValidationError",
    429: "TooManyRequests",
    431: "RequestHeaderFieldsTooLarge",
    500: "InternalError",
    503: "ServiceUnavailable",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "Bad request",
    404: "Resource not found",
    405: "Method not allowed",
    408: "The request was not received in time",
    413: "Request body too large",
    414: "Request URL too long",
    415: "Unsupported media type",
    417: "Expectation failed",
    431: "Request headers too large",
    500: "Internal server error",
    503: "Server busy, try again later",
}

#: Headers of an aiohttp HTTPException worth keeping on the JSON error response.
_KEPT_HEADERS = (hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.WWW_AUTHENTICATE)

Details = Mapping[str, Sequence[str]]


class ApiError(Exception):
    """An error the API reports to the client as `{"error", "message", "details"?}`."""

    status = 500
    error = "InternalError"
    message = "Internal server error"
    #: Close the connection after answering (the request's body may still be arriving).
    close_connection = False

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Details | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = {k: list(v) for k, v in details.items()} if details else None
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out

    def response(self) -> web.Response:
        response = json_response(self.body(), status=self.status, headers=self.headers)
        if self.close_connection:
            response.force_close()
        return response


class BadRequest(ApiError):
    status, error, message = 400, "BadRequest", "Request body must be a JSON object"


class BodyUnreadable(BadRequest):
    """A body that does not decode (its Content-Encoding) or breaks off: the rest is not read."""

    message = "Request body could not be read"
    close_connection = True


class Unauthorized(ApiError):
    status, error, message = 401, "Unauthorized", "Invalid or expired token"


class Forbidden(ApiError):
    status, error, message = 403, "Forbidden", "Insufficient permissions"


class NotFound(ApiError):
    status, error, message = 404, "NotFound", "Resource not found"


class Conflict(ApiError):
    status, error, message = 409, "Conflict", "The request conflicts with the resource's state"


class UnsupportedMediaType(ApiError):
    status, error, message = 415, "UnsupportedMediaType", "Content-Type must be application/json"


class PayloadTooLarge(ApiError):
    status, error, message = 413, "PayloadTooLarge", "Request body too large"
    close_connection = True  # the body is not read


class ValidationError(ApiError):
    status, error, message = 422, "ValidationError", "Invalid input"


class RequestTimeout(ApiError):
    status, error, message = 408, "RequestTimeout", "The request body was not received in time"
    close_connection = True


class TooManyRequests(ApiError):
    status, error, message = 429, "TooManyRequests", "Too many failed attempts, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={hdrs.RETRY_AFTER: str(max(1, int(retry_after)))})


class ServiceUnavailable(ApiError):
    status, error, message = 503, "ServiceUnavailable", "Server busy, try again later"

    def __init__(self, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(message, headers={hdrs.RETRY_AFTER: str(max(1, int(retry_after)))})


def error_response(status: int, message: str | None = None, **headers: str) -> web.Response:
    """A JSON error body for a status with no dedicated ApiError class."""
    body = {
        "error": ERROR_NAMES.get(status, HTTPStatus(status).phrase.replace(" ", "")),
        "message": message or DEFAULT_MESSAGES.get(status, HTTPStatus(status).phrase),
    }
    return json_response(body, status=status, headers=headers)


async def _answered(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ApiError, aiohttp's HTTP exceptions and crashes into the profile's JSON error body."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {k: v for k, v in exc.headers.items() if k in _KEPT_HEADERS}
        # aiohttp's own texts ("Maximum request body size ... exceeded") are fine to show,
        # but the defaults are shorter and uniform.
        return error_response(exc.status, None, **kept)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)


#: A body a refusal left unread is read up to this size (and for at most this long) before the
#: answer goes out; a larger one, or one that does not come, closes the connection instead.
SETTLE_BYTES = 64 * 1024
SETTLE_SECONDS = 2.0


async def settle_body(request: web.Request, response: web.StreamResponse) -> None:
    """The rest of a body the handler did not read (a 403 before the body was looked at).

    Left to aiohttp's lingering read, with the one-message parser queue of protocol.py, the
    next request on that keep-alive connection was sometimes never answered (1 in a few hundred
    POST-403-then-GET pairs, tests/test_server_protocol.py). Reading it here keeps the
    connection in step; when that cannot be done quickly, the connection is closed
    (`Connection: close`), never left waiting. A client that waits for `100 Continue` is not
    asked for a body that was refused: its connection is closed."""
    if not request.body_exists or request.content.is_eof() or response.keep_alive is False:
        return  # nothing left, or the connection closes anyway (a 408, a 413, a framing refusal)
    waits_for_continue = request.headers.get(hdrs.EXPECT, "").lower() == "100-continue"
    declared = request.content_length
    if waits_for_continue or declared is None or declared > SETTLE_BYTES:
        response.force_close()
        return
    try:
        async with asyncio.timeout(SETTLE_SECONDS):
            await request.read()
    except Exception:  # timed out, broke off, would not decode: the answer stands
        response.force_close()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The profile's JSON error body for whatever went wrong (`_answered`), the request's body
    settled before the answer goes out (`settle_body`)."""
    response = await _answered(request, handler)
    await settle_body(request, response)
    return response
