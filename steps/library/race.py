"""Requests sent at the same instant: the races that refresh rotation (AUTH-9) and the one
default (ACC-18) must survive."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
from dpaas_conformance.library.client import ApiClient

#: What one racing request came to: its answer, what it raised (a finding the Then step judges,
#: or a transport error), or None if its thread never finished.
Outcome = httpx.Response | BaseException | None
TIMEOUT = 30.0  # seconds for the barrier and for each thread's end


def at_once(api: ApiClient, n: int, warm: Callable[[ApiClient, int], object],
            race: Callable[[ApiClient, int], httpx.Response]) -> list[Outcome]:
    """Request `i` on its own connection, opened by `warm(client, i)`, then all `race`d together
    through a barrier: without the warm-up, connecting would spread them out again."""
    barrier = threading.Barrier(n)
    results: list[Outcome] = [None] * n
    clients = [api.sibling() for _ in range(n)]

    def one(i: int) -> None:
        try:
            warm(clients[i], i)
            barrier.wait(timeout=TIMEOUT)
            results[i] = race(clients[i], i)
        except BaseException as exc:  # handed to the Then step, which judges it
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    for client in clients:
        client.close()
    return results
