"""tests/heap.py: what a run keeps is frozen out of the collector's passes, its garbage is not."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from tests import heap


class Node:
    def __init__(self) -> None:
        self.me: Any = self  # a cycle: only the collector frees it


def test_what_a_run_keeps_is_frozen_after_collection_and_every_hundred_tests() -> None:
    freezer = heap.Freezer()
    kept = [[] for _ in range(1000)]
    before = gc.get_freeze_count()
    freezer.pytest_collection_finish(session=None)  # type: ignore[arg-type]
    assert gc.get_freeze_count() >= before + len(kept)

    for _ in range(heap.EVERY - 1):
        freezer.pytest_runtest_logfinish()
    more = [[] for _ in range(1000)]
    before = gc.get_freeze_count()
    freezer.pytest_runtest_logfinish()
    assert gc.get_freeze_count() >= before + len(more)


def test_young_garbage_is_collected_before_a_freeze() -> None:
    freezer = heap.Freezer()
    for _ in range(heap.EVERY - 1):
        freezer.pytest_runtest_logfinish()
    gone = weakref.ref(Node())  # unreachable at once, alive until a pass finds its cycle
    freezer.pytest_runtest_logfinish()
    assert gone() is None
