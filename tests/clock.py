"""A clock the server's own tests set by hand, so time-based rules are tested without waiting."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1_759_226_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
