"""The HTTP layer (issue 9): what aiohttp's parser refuses before any route is still the JSON
error body with the security headers, never an echo of the request; big tokens fit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from reference_server.app import create_app
from reference_server.config import Settings
from tests.support import FakeClock, RawResponse, ServedApp, raw_exchange
from tests.test_server_api import auth, login

SECRET = "s3cr3t-t0ken-material"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("protocol"), demo=True, clock=FakeClock())
    with ServedApp(lambda: create_app(settings)) as base:
        yield base


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_json_error(r: RawResponse | None, status: int, error: str) -> dict[str, str]:
    assert r is not None, "the server closed the connection without an answer"
    assert r.status == status, (r.status, r.body[:200])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = json.loads(r.body)
    assert body["error"] == error and isinstance(body["message"], str), body
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert SECRET.encode() not in r.body and b"BREW" not in r.body, "the request is echoed"
    return body


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (request("GET", f"/accounts?access_token={SECRET}&pad={'a' * 9000}"), 414, "URITooLong"),
        (request("GET", "/accounts", f"X-Big: {SECRET}{'b' * 17_000}"),
         431, "RequestHeaderFieldsTooLarge"),
        (request("GET", "/accounts", *(f"X-H{i}: {SECRET}" for i in range(80))),
         431, "RequestHeaderFieldsTooLarge"),
        (request("BREW", f"/accounts?t={SECRET}"), 405, "MethodNotAllowed"),
        (request("GET", f"/accounts?t={SECRET} HTTP/1.1 junk"), 400, "BadRequest"),
        (request("POST", "/authentication/login", "Content-Length: 5",
                 "Transfer-Encoding: chunked", body=b"0\r\n\r\n"), 400, "BadRequest"),
        (request("GET", "/accounts", f"X-Bad\x01: {SECRET}"), 400, "BadRequest"),
        (f"\x16\x03\x01\x02\x00{SECRET}\r\n\r\n".encode(), 400, "BadRequest"),
    ],
    ids=["url-9000", "header-17k", "80-headers", "unknown-method", "bad-request-line", "cl-te",
         "bad-header-char", "tls-on-http"],
)
def test_a_request_refused_before_routing_gets_the_json_error_body(
    server_url: str, raw: bytes, status: int, error: str
) -> None:
    r = raw_exchange(server_url, raw)
    assert_json_error(r, status, error)
    if status == 405:
        assert r is not None and "POST" in r.headers["allow"]


def test_bearer_tokens_and_headers_up_to_16_kib_are_read(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as c:
        h = auth(login(c))
        padding = {f"X-Pad-{i}": "p" * 3000 for i in range(4)}  # 12 KiB of other headers
        assert c.get("/accounts", headers={**h, **padding}).status_code == 200
        r = c.get("/accounts", headers={"Authorization": "Bearer " + "a" * 16_000})
        assert r.status_code == 401 and r.json()["error"] == "Unauthorized", "routed, not refused"


def test_no_response_names_python_or_aiohttp_versions(server_url: str) -> None:
    refused = raw_exchange(server_url, request("BREW", "/accounts"))
    with httpx.Client(base_url=server_url, timeout=10) as c:
        served = [c.get("/.well-known/jwks.json"), c.get("/accounts"), c.get("/nope")]
    for server in [refused.headers["server"] if refused else ""] + [
        r.headers["server"] for r in served
    ]:
        assert server == "dpaas-reference-server", server


def test_two_authorization_headers_are_refused_not_first_wins(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as c:
        valid = auth(login(c))["Authorization"]
        for pair in ([valid, "Bearer junk"], ["Bearer junk", valid], [valid, valid]):
            r = c.get("/accounts", headers=[("Authorization", v) for v in pair])
            assert r.status_code == 401 and r.json()["error"] == "Unauthorized", pair
            assert 'error="invalid_request"' in r.headers["www-authenticate"]
        assert c.get("/accounts", headers={"Authorization": valid}).status_code == 200


def test_a_refusal_before_the_body_was_read_keeps_the_connection_answering(
        server_url: str) -> None:
    """POST 403 (its body never read by the handler), then GET, on one keep-alive connection:
    every GET is answered. With aiohttp's lingering read and the one-message parser queue, one
    pair in a few hundred left the GET unanswered until the client gave up."""
    with httpx.Client(base_url=server_url, timeout=5) as client:
        bearer = auth(login(client, "limited"))
        for _ in range(1500):
            refused = client.post("/accounts", headers=bearer, json={"name": "x" * 50})
            assert refused.status_code == 403
            assert client.get("/accounts", headers=bearer).status_code == 200
