"""The garbage collector kept out of the long-lived objects of the project's own test runs.

A run keeps hundreds of thousands of objects alive to its end (collected items, fixture
definitions, reports, the plugins of pytester's runs), and each full pass of the collector walked
them all again: 0.3 s a pass by the end of the test command, a dozen passes in a run, and more at
exit (pytest's own pass, then the interpreter's). `gc.freeze` moves every object that exists into
a generation that no pass walks (reference counting still frees them): once collection is done,
every `EVERY` tests after a pass over the young garbage, and once the session is over.
Measured on the test command's main process: 2.4 s in the collector and 3.5 s from pytest's
summary to the process's exit, then 0.9 s and 1.1 s.

Loaded by tests/conftest.py and by the mutation harness's processes (`-p tests.heap`).
"""

from __future__ import annotations

import gc

import pytest

#: tests between two freezes
EVERY = 100


class Freezer:
    def __init__(self) -> None:
        self.finished = 0

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        gc.collect()
        gc.freeze()

    def pytest_runtest_logfinish(self) -> None:
        self.finished += 1
        if self.finished % EVERY == 0:
            gc.collect(1)  # the young garbage first: what is frozen is never collected
            gc.freeze()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        gc.freeze()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Freezer(), "dpaas-heap-freezer")
