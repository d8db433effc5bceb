"""Helpers the tests and scripts share: a hand-set clock, a free loopback port, waiting for a
server process, raw HTTP, the suite's client in front of a handler instead of a server."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from dpaas_conformance.library.client import ApiClient

# The suite's in-process runner, imported here once for the server tests that need it.
from dpaas_conformance.library.embedded import ServedApp

__all__ = [
    "TLS", "FakeClock", "RawResponse", "ServedApp", "ServerDidNotStart", "free_port",
    "mocked_api", "raw_exchange", "wait_ready",
]

#: One TLS context for the tests' one-off httpx calls (`httpx.get(..., verify=TLS)`): they speak
#: plain HTTP to loopback, and httpx would otherwise build a context and load the CA bundle into
#: it for every call, some 20 ms each, polling included.
TLS = ssl.create_default_context()

START_TIMEOUT = 30.0


def mocked_api(handler: Callable[[httpx.Request], httpx.Response],
               passwords: Iterable[str] = ()) -> ApiClient:
    """The suite's client, every request answered by `handler` (no server, no network)."""
    return ApiClient("http://t.test", passwords=passwords, transport=httpx.MockTransport(handler))


class FakeClock:
    """Set by hand, so time-based rules are tested without waiting."""

    def __init__(self, start: float = 1_759_226_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    """A loopback port nobody listens on right now, for servers started as processes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerDidNotStart(AssertionError):
    """The server process exited, or did not answer in time."""


def wait_ready(proc: subprocess.Popen[str] | subprocess.Popen[bytes], base_url: str,
               timeout: float = START_TIMEOUT) -> None:
    """Poll the server with a bounded deadline (never a fixed sleep) until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.communicate()[1] if proc.stderr is not None else ""
            raise ServerDidNotStart(f"server exited early: {stderr}")
        try:
            httpx.get(f"{base_url}/.well-known/jwks.json", timeout=1, verify=TLS)
            return
        except httpx.TransportError:
            time.sleep(0.05)  # polling a port that is not open yet
    raise ServerDidNotStart("server did not start in time")


@dataclass
class RawResponse:
    """An HTTP/1.x response read off a raw socket."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_exchange(
    base_url: str, data: bytes, *, source: str = "127.0.0.1", timeout: float = 10.0
) -> RawResponse | None:
    """Send `data` as is on a new connection from `source`; the response, or None if the
    server closed without answering. For requests httpx refuses to send (bad request lines,
    oversized headers, odd methods)."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    with socket.create_connection((host, port), timeout=timeout, source_address=(source, 0)) as s:
        if data:
            s.sendall(data)
        received = b""
        while True:
            head, sep, rest = received.partition(b"\r\n\r\n")
            if sep:
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "-1"))
                if 0 <= length <= len(rest):
                    return RawResponse(int(lines[0].split()[1]), headers, rest[:length])
            chunk = s.recv(65536)
            if not chunk:
                return None if not received else RawResponse(0, {}, received)
            received += chunk
