"""Scenarios that must run alone: those that change the organization's default account or
delete accounts, when several pytest-xdist workers share one target.

Changing the default (ACC-18 to ACC-21) is the one organization-wide change the suite makes, and
a delete makes a list shift under another scenario's walk, or its total drop while another
counts. Such a scenario takes an exclusive turn; every other scenario takes a shared one. The
turn is a file lock (`flock`) in the directory the workers of one run share, so it costs nothing
without xdist, and nothing against the embedded server, where each worker has its own.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: ids whose scenarios delete accounts or change the default account
ALONE = frozenset({"ACC-14", "ACC-15", "ACC-16", "ACC-17", "ACC-18", "ACC-19", "ACC-20",
                   "ACC-21"})
LOCK_NAME = "dpaas-turns.lock"


def alone(ids: Iterable[str]) -> bool:
    return not ALONE.isdisjoint(ids)


@contextmanager
def turn(lock: Path | None, exclusive: bool) -> Iterator[None]:
    """Hold a shared or an exclusive turn for the scenario's whole run (no lock: no-op).

    Blocking locks, not a polling loop: a holder releases its turn when its scenario ends, and
    every scenario is bounded by the client's timeouts. A gate lock in front keeps an exclusive
    turn from waiting forever behind shared ones that keep overlapping: whoever waits for the
    exclusive turn holds the gate, so no new shared turn starts meanwhile.
    """
    if lock is None:
        yield
        return
    gate_path = lock.with_name(lock.name + ".gate")
    with open(gate_path, "a+b") as gate, open(lock, "a+b") as handle:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
