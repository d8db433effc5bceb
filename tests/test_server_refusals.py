"""Refusals the HTTP layer makes (issue 18, items 1, 2 and 5): each is the profile's JSON error
with the security headers and no version, never a 500, and each is one access-log line and no
traceback. Against the server as `dpaas-reference-server --demo` runs it (a process), so the
log is the one an operator reads."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from reference_server.demo import DEMO_PRINCIPALS
from tests.support import TLS, RawResponse, free_port, wait_ready

SECRET = "s3cr3t-expect-marker"
ADMIN = DEMO_PRINCIPALS["admin"]
LOGIN_BODY = json.dumps({"email": ADMIN.email, "password": ADMIN.password,
                         "organization_slug": ADMIN.organization_slug}).encode()
LOG_TIMEOUT = 10.0


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.base)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("refusals")
    port = free_port()
    log = tmp / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reference_server", "--demo", "--port", str(port),
             "--data-dir", str(tmp / "data")],
            stdout=subprocess.DEVNULL, stderr=err, text=True,
        )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        yield Server(proc, f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def bearer(server: Server) -> str:
    r = httpx.post(f"{server.base}/authentication/login", content=LOGIN_BODY,
                   headers={"Content-Type": "application/json"}, timeout=10, verify=TLS)
    assert r.status_code == 200, r.text
    return f"Bearer {r.json()['access_token']}"


# --- raw HTTP --------------------------------------------------------------------------------


def request(method: str, target: str, *headers: str, body: bytes = b"",
            close: bool = True) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_responses(data: bytes) -> list[RawResponse]:
    """Every whole response in `data`, in order (interim 1xx responses included)."""
    out = []
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return out
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return out
        out.append(RawResponse(int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]


def exchange(server: Server, data: bytes, timeout: float = 10.0) -> list[RawResponse]:
    """Send `data` on a new connection; every response until the server closes it."""
    with socket.create_connection(server.address, timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return parse_responses(received)


def assert_json_error(r: RawResponse, status: int, error: str) -> dict[str, object]:
    assert r.status == status, (r.status, r.body[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = json.loads(r.body)
    assert body["error"] == error and isinstance(body["message"], str), body
    assert r.headers["server"] == "dpaas-reference-server", "no Python or aiohttp version"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert SECRET.encode() not in r.body, "the request is echoed"
    return body


# --- the log ---------------------------------------------------------------------------------


def access_lines(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if "aiohttp.access" in line and needle in line]


def wait_for_line(server: Server, needle: str, start: int) -> str:
    deadline = time.monotonic() + LOG_TIMEOUT
    while not access_lines(text := server.log.read_text()[start:], needle):
        assert time.monotonic() < deadline, f"no access log line with {needle!r}"
        time.sleep(0.02)  # polling the log file, not waiting for a fixed time
    return text


@pytest.fixture
def quiet_log(server: Server) -> Iterator[list[str]]:
    """The test sends requests and names, in the list, what its access lines contain; then the
    log since the test began must hold exactly one access line per name, no traceback and no
    error. A fence request after them makes sure whatever they logged is in the file."""
    start = len(server.log.read_text())
    expected: list[str] = []
    yield expected
    for needle in expected:
        wait_for_line(server, needle, start)
    fence = f"/fence-{time.monotonic_ns()}"
    httpx.get(f"{server.base}{fence}", timeout=10, verify=TLS)
    text = wait_for_line(server, fence, start)
    assert "Traceback" not in text and " ERROR " not in text, text
    lines = [line for line in text.splitlines() if fence not in line]
    assert all("aiohttp.access" in line for line in lines), lines
    for needle in set(expected):
        found = access_lines(text, needle)
        assert len(found) == expected.count(needle), (needle, found)


# --- item 1: bodies that are not what their coding says --------------------------------------


def test_a_body_labelled_gzip_that_is_not_gzip_is_a_400(
    server: Server, quiet_log: list[str]
) -> None:
    [r] = exchange(server, request(
        "POST", "/authentication/login", "Content-Type: application/json",
        "Content-Encoding: gzip", "Content-Length: 8", body=b"not gzip"))
    assert_json_error(r, 400, "BadRequest")
    quiet_log.append('"POST /authentication/login" 400')


def test_twenty_undecodable_bodies_write_twenty_lines(server: Server, quiet_log: list[str]) -> None:
    for _ in range(20):
        r = httpx.post(f"{server.base}/authentication/login", content=b"not gzip",
                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                       timeout=10, verify=TLS)
        assert r.status_code == 400 and r.json()["error"] == "BadRequest"
        quiet_log.append('"POST /authentication/login" 400')


def test_a_truncated_deflate_body_is_a_400(server: Server, quiet_log: list[str]) -> None:
    body = zlib.compress(LOGIN_BODY)[:-6]
    [r] = exchange(server, request(
        "POST", "/authentication/login", "Content-Type: application/json",
        "Content-Encoding: deflate", f"Content-Length: {len(body)}", body=body))
    assert_json_error(r, 400, "BadRequest")
    # The parser finds out at the end of the message, and refuses the message as a whole: the
    # access line says "UNKNOWN /" rather than the route.
    quiet_log.append('" 400 ')


@pytest.mark.parametrize("coding", ["compress", "gzip, gzip", "br", "x-gzip", "gzip, identity"])
def test_a_content_coding_the_server_does_not_decode_is_a_415(
    server: Server, quiet_log: list[str], coding: str
) -> None:
    [r] = exchange(server, request(
        "POST", "/authentication/login", "Content-Type: application/json",
        f"Content-Encoding: {coding}", f"Content-Length: {len(LOGIN_BODY)}", body=LOGIN_BODY))
    assert_json_error(r, 415, "UnsupportedMediaType")
    assert r.headers["accept-encoding"] == "gzip, deflate"
    quiet_log.append('" 415 ')  # br: aiohttp's parser refuses it before routing (UNKNOWN /)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "identity", "GZIP"])
def test_a_body_in_a_coding_the_server_decodes_is_read(server: Server, coding: str) -> None:
    body = {"gzip": gzip.compress, "deflate": zlib.compress}.get(
        coding.lower(), lambda b: b)(LOGIN_BODY)
    r = httpx.post(f"{server.base}/authentication/login", content=body, timeout=10, verify=TLS,
                   headers={"Content-Type": "application/json", "Content-Encoding": coding})
    assert r.status_code == 200, r.text


def test_gzip_then_chunked_transfer_coding_is_refused_not_read_as_chunked(
    server: Server, quiet_log: list[str]
) -> None:
    # The chunks hold plain JSON: read as if the gzip were not there, this would log in.
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(LOGIN_BODY), LOGIN_BODY)
    [r] = exchange(server, request(
        "POST", "/authentication/login", "Content-Type: application/json",
        "Transfer-Encoding: gzip, chunked", body=chunked))
    assert_json_error(r, 400, "BadRequest")
    assert b"access_token" not in r.body
    quiet_log.append('"POST /authentication/login" 400')


def test_plain_chunked_bodies_are_still_read(server: Server) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(LOGIN_BODY), LOGIN_BODY)
    [r] = exchange(server, request(
        "POST", "/authentication/login", "Content-Type: application/json",
        "Transfer-Encoding: chunked", body=chunked))
    assert r.status == 200 and b"access_token" in r.body


# --- item 2: Expect, request lines, pipelining -----------------------------------------------


@pytest.mark.parametrize("value", [SECRET, "100-continue, " + SECRET])
def test_an_unknown_expectation_is_a_json_417(
    server: Server, quiet_log: list[str], value: str
) -> None:
    [r] = exchange(server, request("GET", "/openapi.json", f"Expect: {value}"))
    assert_json_error(r, 417, "ExpectationFailed")
    quiet_log.append('"GET /openapi.json" 417')


def continue_then_answer(server: Server, head: bytes, body: bytes,
                         timeout: float = 10.0) -> tuple[bytes, list[RawResponse]]:
    """Send `head` (with `Expect: 100-continue`), wait for the server's first answer; if it is
    `100 Continue`, send `body`. The first status line, and every response up to the final one
    (not waiting for the close: after a refusal the server lingers a while for a body)."""
    with socket.create_connection(server.address, timeout=timeout) as s:
        s.sendall(head)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = s.recv(65536)
            assert chunk, "closed without an answer"
            received += chunk
        first = received.split(b"\r\n", 1)[0]
        if b" 100 " in first + b" ":
            s.sendall(body)
        while not any(r.status >= 200 for r in parse_responses(received)):
            chunk = s.recv(65536)
            assert chunk, "closed without a final answer"
            received += chunk
    return first, parse_responses(received)


def test_100_continue_comes_only_once_the_request_would_be_accepted(
    server: Server, bearer: str
) -> None:
    body = json.dumps({"name": "Expecting"}).encode()
    common = ("Content-Type: application/json", "Expect: 100-continue")

    # No credentials: the 401 at once, never a 100 first.
    first, responses = continue_then_answer(server, request(
        "POST", "/accounts", *common, f"Content-Length: {len(body)}"), body)
    assert b" 401 " in first, first
    assert_json_error(responses[0], 401, "Unauthorized")

    # Credentials but a declared size over the cap: the 413 at once.
    first, responses = continue_then_answer(server, request(
        "POST", "/accounts", *common, f"Authorization: {bearer}",
        f"Content-Length: {10 * 1024 * 1024}"), b"")
    assert b" 413 " in first, first
    assert_json_error(responses[0], 413, "PayloadTooLarge")

    # A path no route serves, and a method the route does not take: no 100 either.
    first, responses = continue_then_answer(server, request(
        "POST", "/nowhere", *common, f"Content-Length: {len(body)}"), body)
    assert b" 404 " in first, first
    assert_json_error(responses[0], 404, "NotFound")
    first, responses = continue_then_answer(server, request(
        "PUT", "/accounts", *common, f"Content-Length: {len(body)}"), body)
    assert b" 405 " in first, first
    assert_json_error(responses[0], 405, "MethodNotAllowed")
    assert "POST" in responses[0].headers["allow"]

    # Everything in order: 100 Continue, then the body is read and the account created.
    first, responses = continue_then_answer(server, request(
        "POST", "/accounts", *common, f"Authorization: {bearer}",
        f"Content-Length: {len(body)}"), body)
    assert first.startswith(b"HTTP/1.1 100"), first
    assert [r.status for r in responses] == [100, 201], responses
    assert json.loads(responses[1].body)["name"] == "Expecting"

    # A login has no credentials to check before its body: the size and type are checked.
    first, responses = continue_then_answer(server, request(
        "POST", "/authentication/login", *common, f"Content-Length: {len(LOGIN_BODY)}"),
        LOGIN_BODY)
    assert [r.status for r in responses] == [100, 200], responses
    first, responses = continue_then_answer(server, request(
        "POST", "/authentication/login", "Content-Type: text/plain", "Expect: 100-continue",
        f"Content-Length: {len(LOGIN_BODY)}"), LOGIN_BODY)
    assert b" 415 " in first, first


@pytest.mark.parametrize("line", [b"GARBAGE", b"GET", b"G@T / HTTP/1.1", b"GET / HTTP/1.1 x"])
def test_a_malformed_request_line_is_a_400(
    server: Server, quiet_log: list[str], line: bytes
) -> None:
    [r] = exchange(server, line + b"\r\n\r\n")
    assert_json_error(r, 400, "BadRequest")
    quiet_log.append('"UNKNOWN /" 400')


def test_an_unknown_method_in_a_good_request_line_is_still_a_405(server: Server) -> None:
    [r] = exchange(server, request("BREW", "/accounts"))
    assert_json_error(r, 405, "MethodNotAllowed")
    assert "POST" in r.headers["allow"]


def test_garbage_after_a_good_request_in_one_write_gets_its_own_400(server: Server) -> None:
    good = request("GET", "/openapi.json", close=False)
    for garbage in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1 junk\r\n\r\n",
                    request("BREW", "/accounts")):
        responses = exchange(server, good + garbage)
        assert [r.status for r in responses][:1] == [200], responses
        assert json.loads(responses[0].body)["openapi"].startswith("3.")
        assert len(responses) == 2, responses
        assert_json_error(responses[1], 405 if b"BREW" in garbage else 400,
                          "MethodNotAllowed" if b"BREW" in garbage else "BadRequest")


def test_pipelined_good_requests_are_all_answered_in_order(server: Server) -> None:
    requests = [request("GET", f"/nope-{i}", close=False) for i in range(5)]
    responses = exchange(server, b"".join(requests) + request("GET", "/openapi.json"))
    assert [r.status for r in responses] == [404] * 5 + [200]


# --- item 5: a client that goes away mid-body ------------------------------------------------


def test_a_client_that_disconnects_mid_body_leaves_one_line_and_no_traceback(
    server: Server, quiet_log: list[str]
) -> None:
    with socket.create_connection(server.address, timeout=10) as s:
        s.sendall(request("POST", "/authentication/login", "Content-Type: application/json",
                          "Content-Length: 100", body=b'{"email":'))
    quiet_log.append('"POST /authentication/login"')


def test_a_client_that_disconnects_before_100_continue_leaves_one_line(
    server: Server, quiet_log: list[str]
) -> None:
    with socket.create_connection(server.address, timeout=10) as s:
        s.sendall(request("POST", "/authentication/login", "Content-Type: application/json",
                          "Expect: 100-continue", "Content-Length: 100"))
        assert s.recv(64).startswith(b"HTTP/1.1 100")
    quiet_log.append('"POST /authentication/login"')
