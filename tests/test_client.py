"""The suite's client keeps nothing a target asks it to keep.

Every step says what its request carries. A cookie the target sets in one scenario must not ride
along on another's requests: a target that also accepts it as a session would then answer an
unauthenticated request as an authenticated one, and a scenario would judge what it did not send.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.embedded import ServedApp


def cookie_setter() -> web.Application:
    async def sets(request: web.Request) -> web.Response:
        response = web.json_response({"set": True})
        response.set_cookie("session", "s3ss10n", path="/")
        response.set_cookie("other", "x", max_age=3600)
        return response

    async def echoes(request: web.Request) -> web.Response:
        return web.json_response({"cookie": request.headers.get("Cookie")})

    app = web.Application()
    app.router.add_get("/sets", sets)
    app.router.add_get("/echoes", echoes)
    return app


@pytest.fixture
def api() -> Iterator[ApiClient]:
    with ServedApp(cookie_setter) as base:
        client = ApiClient(base)
        try:
            yield client
        finally:
            client.close()


def test_a_cookie_the_target_sets_is_not_sent_back(api: ApiClient) -> None:
    assert "session=s3ss10n" in api.request("GET", "/sets").headers["set-cookie"]
    assert api.request("GET", "/echoes").json() == {"cookie": None}


def test_a_sibling_client_sends_none_either(api: ApiClient) -> None:
    api.request("GET", "/sets")
    other = api.sibling()
    try:
        other.request("GET", "/sets")
        assert other.request("GET", "/echoes").json() == {"cookie": None}
        assert api.request("GET", "/echoes").json() == {"cookie": None}
    finally:
        other.close()
