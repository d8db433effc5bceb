"""Building blocks for broken variants: middlewares placed outside the server's own.

They see the final response (errors included) and may rewrite it, or answer a request themselves
the way a buggy handler would. They live in the tests; the product has no fault switches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

Match = Callable[[web.Request, web.Response], bool]
SKIPPED_HEADERS = {hdrs.CONTENT_TYPE.lower(), hdrs.CONTENT_LENGTH.lower()}


def json_body(response: web.StreamResponse) -> Any:
    if not isinstance(response, web.Response) or response.body is None:
        return None
    try:
        return json.loads(bytes(response.body))  # type: ignore[arg-type]
    except ValueError:
        return None


def rebuilt(response: web.Response, body: Any, status: int | None = None) -> web.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in SKIPPED_HEADERS}
    return web.json_response(body, status=status or response.status, headers=headers)


def rewrite_json(match: Match, edit: Callable[[Any], Any]) -> Middleware:
    """Pass the JSON body of matching responses through `edit` (which may mutate and return)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        body = json_body(response)
        if body is None or not isinstance(response, web.Response) or not match(request, response):
            return response
        return rebuilt(response, edit(body))

    return middleware


def rewrite_response(
    match: Match, change: Callable[[web.Request, web.Response], web.StreamResponse]
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if isinstance(response, web.Response) and match(request, response):
            return change(request, response)
        return response

    return middleware


def rewrite_request(
    match: Callable[[web.Request], bool], change: Callable[[web.Request], web.Request]
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(change(request) if match(request) else request)

    return middleware


def with_query(request: web.Request, **params: str | None) -> web.Request:
    query = dict(request.query)
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return request.clone(rel_url=request.rel_url.with_query(query))


def on(method: str, path: str) -> Callable[..., bool]:
    return lambda request, *_: request.method == method and request.path == path


def status_is(status: int) -> Match:
    return lambda _request, response: response.status == status


def is_list(request: web.Request, *_: Any) -> bool:
    return request.method == "GET" and request.path in ("/accounts", "/users")
