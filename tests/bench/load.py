"""Closed-loop load: N clients, each sending its share of requests one after the other."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: request(client, i) sends request number i of client `client` and returns the HTTP status.
Request = Callable[[int, int], Awaitable[int]]


@dataclass
class Sample:
    """What one operation measured: its throughput and latency distribution."""

    operation: str
    accounts: int
    clients: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    elapsed_s: float = 0.0
    note: str = ""

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    @property
    def req_s(self) -> float:
        return self.n / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def p99(self) -> float:
        """Nearest-rank 99th percentile (with under 100 samples this is the slowest one)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["latencies_ms"]
        out.update(n=self.n, req_s=self.req_s, p50_ms=self.p50, p99_ms=self.p99)
        return out


class UnexpectedStatus(Exception):
    """A request did not get the status the benchmark needs: its numbers would mean nothing."""


async def run_load(
    sample: Sample, total: int, request: Request, expect: int, cap_s: float
) -> Sample:
    """Send `total` requests spread over `sample.clients` clients, stopping early after `cap_s`.

    The cap keeps a run bounded on a slow server (the "before" figures); `n` says how many ran.
    """
    per_client = [total // sample.clients + (k < total % sample.clients)
                  for k in range(sample.clients)]
    start = time.perf_counter()
    deadline = start + cap_s

    async def client(k: int) -> None:
        for i in range(per_client[k]):
            if time.perf_counter() > deadline:
                sample.note = f"stopped after {cap_s:.0f} s"
                return
            t0 = time.perf_counter()
            status = await request(k, i)
            sample.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if status != expect:
                raise UnexpectedStatus(f"{sample.operation}: got {status}, expected {expect}")

    await asyncio.gather(*(client(k) for k in range(sample.clients)))
    sample.elapsed_s = time.perf_counter() - start
    return sample
