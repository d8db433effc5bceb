"""Helpers the server's own tests share: a hand-set clock and a free loopback port."""

from __future__ import annotations

import socket


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
