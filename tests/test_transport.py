"""The cap on an answer's size, counted on the wire or taken from what the target declares.

tests/test_hostile.py meets a 20 MiB answer over a real socket; here the two ways a body is
found too large are told apart without one: a stream that keeps coming, and a Content-Length
that says so before a byte is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from dpaas_conformance.library.limits import Limits
from dpaas_conformance.library.outcomes import BrokenAnswer
from dpaas_conformance.library.transport import read_body

CAP = 1000


class Chunks(httpx.SyncByteStream):
    """`count` chunks of 100 bytes, counting how many were read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.read += 1
            yield b"x" * 100


def streamed(chunks: Chunks, **headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers, stream=chunks,
                          request=httpx.Request("GET", "http://t.test/accounts"))


def test_an_answer_within_the_cap_is_read_whole() -> None:
    assert read_body(streamed(Chunks(10)), Limits(body_cap=CAP), "GET /accounts") == b"x" * 1000


def test_a_stream_past_the_cap_is_cut_where_it_passes_it() -> None:
    chunks = Chunks(1_000)
    with pytest.raises(BrokenAnswer, match=f"is over {CAP} bytes: far more"):
        read_body(streamed(chunks), Limits(body_cap=CAP), "GET /accounts")
    assert chunks.read == 11  # the eleventh chunk passes the cap; no further one is read


def test_a_declared_length_past_the_cap_is_refused_before_a_byte_is_read() -> None:
    chunks = Chunks(1_000)
    with pytest.raises(BrokenAnswer, match=f"is over {CAP} bytes \\(100000 by its Content-Length"):
        read_body(streamed(chunks, **{"content-length": "100000"}), Limits(body_cap=CAP),
                  "GET /accounts")
    assert chunks.read == 0
