"""Starts the mutation harness as soon as collection ends, so that it runs beside the other tests.

The harness is two pytest processes of CPU work; most of the other tests wait on servers,
processes and argon2, so running them side by side fills the two cores instead of taking turns.
The mutation tests are moved to the end of the run and pick up the results there. Under
pytest-xdist the tests fetch the results themselves (see tests/test_mutation_score.py).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.mutants.runner import Results, run

HARNESS = pytest.StashKey["Future[Results]"]()
MODULE = "test_mutation_score.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == MODULE)  # stable: the rest keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    if any(item.path.name == MODULE for item in session.items):
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpaas-harness")
        config.stash[HARNESS] = executor.submit(run)
        executor.shutdown(wait=False)


def started(config: pytest.Config) -> Future[Results] | None:
    return config.stash.get(HARNESS, None)
