"""The client's HTTP transport: each request within its deadline, each answer within its caps.

httpx's timeouts bound each socket operation, not a request: a target that drips one byte every
few seconds never trips a 15-second read timeout and holds the suite forever. So every socket
operation of a request (connect, each send, each read, TLS) gets at most the time the request has
left (`Guard`, set for the duration of one request by `guarded`), through httpcore's pluggable
network backend.

Answers are read raw and inflated here rather than by httpx, a bounded piece at a time, because
httpx inflates a whole network chunk at once: 64 KiB of gzip can hold 64 MiB, and two stacked
encodings far more. Only gzip and deflate are asked for (Accept-Encoding), and only they are
inflated; another encoding is left as sent, which the JSON checks then report.
"""

from __future__ import annotations

import ssl
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx
from dpaas_conformance.library.limits import Limits
from dpaas_conformance.library.outcomes import BrokenAnswer

ACCEPT_ENCODING = "gzip, deflate"
WRITE_CHUNK = 16 * 1024  # sent one piece at a time, so that each send has the time left
PIECE = 1024 * 1024  # bytes a layer inflates at a time
EXPIRY_SLACK = 0.01  # seconds: a timeout that fires this close to the deadline is the deadline


class Guard:
    """One request's deadline, and what came back before it failed."""

    def __init__(self, limits: Limits) -> None:
        now = time.monotonic()
        self.limits = limits
        self.deadline = now + limits.request_deadline
        self.cut_by_run = False
        if limits.run_ends_at is not None:
            left = limits.run_ends_at - time.time()
            if left < limits.request_deadline:
                self.deadline, self.cut_by_run = now + max(0.0, left), True
        self.received = 0

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline - EXPIRY_SLACK

    def clamp(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the request's deadline has passed")
        return left if timeout is None else min(timeout, left)


CURRENT: ContextVar[Guard | None] = ContextVar("dpaas_request_guard", default=None)


@contextmanager
def guarded(limits: Limits) -> Iterator[Guard]:
    guard = Guard(limits)
    token = CURRENT.set(guard)
    try:
        yield guard
    finally:
        CURRENT.reset(token)


class GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        guard = CURRENT.get()
        if guard is None:
            return self._inner.read(max_bytes, timeout)
        data = self._inner.read(max_bytes, guard.clamp(timeout, httpcore.ReadTimeout))
        guard.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        guard = CURRENT.get()
        if guard is None:
            self._inner.write(buffer, timeout)
            return
        for start in range(0, len(buffer), WRITE_CHUNK):
            self._inner.write(buffer[start:start + WRITE_CHUNK],
                              guard.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        guard = CURRENT.get()
        if guard is not None:
            timeout = guard.clamp(timeout, httpcore.ConnectTimeout)
        return GuardedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None
                    ) -> httpcore.NetworkStream:
        guard = CURRENT.get()
        if guard is not None:
            timeout = guard.clamp(timeout, httpcore.ConnectTimeout)
        return GuardedStream(self._inner.connect_tcp(host, port, timeout, local_address,
                                                     socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        guard = CURRENT.get()
        if guard is not None:
            timeout = guard.clamp(timeout, httpcore.ConnectTimeout)
        return GuardedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over the guarded network backend.

    httpx does not take a network backend, so the connection pool it built is replaced by the
    same pool over ours (`_pool` is the one attribute of httpx's that this relies on; the
    client's tests fail loudly if that changes).
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )


# --- reading an answer -------------------------------------------------------------------------


class _TooLarge(Exception):
    """Inside the reader only: the caller raises BrokenAnswer from a frame without the buffers."""


class _Layer:
    """Inflates one Content-Encoding, PIECE bytes at a time, never more than `cap` in all."""

    def __init__(self, name: str, cap: int) -> None:
        self.name, self.cap, self.out = name, cap, 0
        self.raw_deflate = False
        self._d: Any = self._decompressor()

    def _decompressor(self) -> Any:
        if self.name in ("gzip", "x-gzip"):
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        if self.name == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if self.raw_deflate else zlib.MAX_WBITS)
        return None  # identity, or an encoding the suite did not ask for: left as sent

    def feed(self, data: bytes, what: str) -> Iterator[bytes]:
        if self._d is None:
            yield self._count(data, what)
            return
        while not self._d.eof:
            try:
                piece = self._d.decompress(data, PIECE)
            except zlib.error as exc:
                if self.name == "deflate" and not self.raw_deflate and self.out == 0:
                    self.raw_deflate = True  # "deflate" sent without its zlib header, as some do
                    self._d = self._decompressor()
                    yield from self.feed(data, what)
                    return
                raise BrokenAnswer(f"the answer to {what} is not valid {self.name}: {exc}") from exc
            yield self._count(piece, what)
            data = self._d.unconsumed_tail
            if not data and len(piece) < PIECE:
                return  # all of the input in, all of its output out

    def flush(self, what: str) -> bytes:
        return self._count(self._d.flush(), what) if self._d is not None else b""

    def _count(self, piece: bytes, what: str) -> bytes:
        self.out += len(piece)
        if self.out > self.cap:
            raise _TooLarge(
                f"the answer to {what} inflates ({self.name}) to more than {self.cap} bytes: "
                "far more than any answer of this API, so the suite stopped reading it")
        return piece


def too_large(what: str, cap: int, said: str = "") -> str:
    return (f"the answer to {what} is over {cap} bytes{said}: far more than any answer of this "
            "API, so the suite stopped reading it")


def read_body(response: httpx.Response, limits: Limits, what: str) -> bytes:
    """The whole body of a streamed response, decoded, within the caps (else BrokenAnswer).

    The finding is raised from here, once the buffers are dropped: a traceback keeps its frames,
    and nothing of up to `body_cap` bytes stays alive in them.
    """
    if response.is_stream_consumed:  # already read by whoever made it (a test's mock transport)
        return response.content
    encodings = [e.strip().lower() for e in
                 response.headers.get("content-encoding", "").split(",") if e.strip()]
    layers = [_Layer(name, limits.body_cap) for name in reversed(encodings)]
    pieces: list[bytes] = []
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.body_cap:  # said so: nothing to read
        raise BrokenAnswer(too_large(what, limits.body_cap, f" ({declared} by its Content-Length)"))
    try:
        wire = 0
        for chunk in response.iter_raw():
            wire += len(chunk)
            if wire > limits.body_cap:
                raise _TooLarge(too_large(what, limits.body_cap))
            pieces.extend(_through(layers, chunk, what))
        pieces.extend(_through(layers, b"", what, final=True))
    except _TooLarge as exc:
        message = str(exc)
    else:
        return b"".join(pieces)
    pieces.clear()
    raise BrokenAnswer(message)


def _through(layers: list[_Layer], data: bytes, what: str, final: bool = False
             ) -> Iterator[bytes]:
    """The data through every layer, outermost encoding first, a piece at a time."""
    if not layers:
        yield data
        return
    first, rest = layers[0], layers[1:]
    for piece in first.feed(data, what):
        if piece:
            yield from _through(rest, piece, what)
    if final:
        yield from _through(rest, first.flush(what), what, final=True)
