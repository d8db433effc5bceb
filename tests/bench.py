"""Benchmark the reference server: login, list and create throughput and latency.

Run: python -m tests.bench [--concurrency 8] [--accounts 1000]
Starts the real server (--demo) on a free loopback port with a fresh temp data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from tests.support import free_port

ADMIN = {"email": "user@example.com", "password": "your-password", "organization_slug": "myorg"}


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited during startup")
        try:
            httpx.get(f"{base}/.well-known/jwks.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("server did not start in time")


async def run_load(
    n: int, concurrency: int, request: Callable[[int], Awaitable[httpx.Response]], expect: int
) -> tuple[float, list[float]]:
    """Issue n requests with `concurrency` workers; return (elapsed seconds, latencies in ms)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            r = await request(i)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code != expect:
                raise SystemExit(f"unexpected {r.status_code}: {r.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def row(name: str, n: int, elapsed: float, lat: list[float]) -> str:
    lat = sorted(lat)
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return f"| {name:<22} | {n:>5} | {n / elapsed:>8.1f} | {p50:>7.2f} | {p99:>7.2f} |"


async def bench(base: str, concurrency: int, accounts: int) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        token = (await client.post("/authentication/login", json=ADMIN)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def create(i: int) -> Awaitable[httpx.Response]:
            return client.post("/accounts", json={"name": f"bench-{i}"}, headers=headers)

        have = (await client.get("/accounts", headers=headers)).json()["total"]
        elapsed, _ = await run_load(max(0, accounts - have), concurrency, create, 201)
        total = (await client.get("/accounts", headers=headers)).json()["total"]
        print(f"seeded the admin's organization to {total} accounts in {elapsed:.1f} s")

        results = []
        n = 100
        elapsed, lat = await run_load(
            n,
            concurrency,
            lambda i: client.post("/authentication/login", json=ADMIN),
            200,
        )
        results.append(row("login", n, elapsed, lat))
        n = 500
        elapsed, lat = await run_load(
            n, concurrency, lambda i: client.get("/accounts", headers=headers), 200
        )
        results.append(row("list (GET /accounts)", n, elapsed, lat))
        n = 300
        elapsed, lat = await run_load(n, concurrency, lambda i: create(10_000 + i), 201)
        results.append(row("create (POST /accounts)", n, elapsed, lat))

    print(f"\nconcurrency {concurrency}, {total}+ accounts in the organization\n")
    print(f"| {'operation':<22} | {'n':>5} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    for line in results:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dpaas-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "reference_server", "--port", str(port), "--demo"]
        proc = subprocess.Popen(
            [*cmd, "--data-dir", str(Path(tmp) / "data")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(proc, base)
            asyncio.run(bench(base, args.concurrency, args.accounts))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
