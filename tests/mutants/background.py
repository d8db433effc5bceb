"""Starts the mutation harness as soon as collection ends, so that it runs beside the other tests.

The harness is two pytest processes of CPU work, run at a lower priority (`NICE`); the other
tests often wait on servers, processes and the browser, so running them side by side fills the
two cores instead of taking turns.
When the session runs every scenario against the reference server, those runs are the harness's
baseline, and the harness does not run them a second time.
The mutation tests are moved to the end of the run and pick up the results there. Under
pytest-xdist the tests fetch the results themselves (see tests/test_mutation_score.py).
"""

from __future__ import annotations

from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from tests.mutants.runner import Results, run

HARNESS = pytest.StashKey["Future[Results]"]()
#: the session's own scenarios are the baseline (every one, against the reference server)
SESSION_BASELINE = pytest.StashKey[bool]()
MODULE = "test_mutation_score.py"
#: The harness's two processes yield to the other tests: they take the second core and whatever
#: the tests leave idle of the first (waiting on servers, processes, the browser), and the whole
#: core once the tests are done. At the same priority, three processes took turns on two cores
#: and the test command ended some ten seconds later (66 s against 57 s, measured).
NICE = 10


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    """Last, after every other plugin ordered the items (the suite runs some scenarios last):
    the mutation tests read this session's scenarios as the harness's baseline. Stable: the
    rest keep their order."""
    yield
    items.sort(key=lambda item: item.path.name == MODULE)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    if any(item.path.name == MODULE for item in session.items):
        baseline_here = runs_every_scenario(session)
        config.stash[SESSION_BASELINE] = baseline_here
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpaas-harness")
        config.stash[HARNESS] = executor.submit(partial(run, baseline=not baseline_here,
                                                        nice=NICE))
        executor.shutdown(wait=False)


def runs_every_scenario(session: pytest.Session) -> bool:
    """Whether this session runs every scenario against the embedded reference server: then
    those runs are the harness's baseline, and the harness need not run them again."""
    from dpaas_conformance.library.run import run_of
    from dpaas_conformance.library.scenario import marks

    from tests.mutants import scenario_tags

    config = session.config
    run = run_of(config)
    if run.options.base_url or run.variants is not None or run.options.strict:
        return False
    ours = [i for i in session.items if marks(i)[0] is not None]
    return len(ours) == len(scenario_tags())


def session_baseline(config: pytest.Config) -> list[dict[str, Any]] | None:
    """The reference server's rows of this session, as the harness reports rows."""
    if not config.stash.get(SESSION_BASELINE, False):
        return None
    from dpaas_conformance.library.run import run_of

    verdict = run_of(config).verdict
    if verdict is None:
        return None
    return [{"scenario": r.identity.scenario or r.nodeid, "outcome": r.label,
             "blamed": list(r.blamed), "reason": r.reason, "requirements": list(r.requirements),
             "level": r.level} for r in verdict.rows.values()]


def started(config: pytest.Config) -> Future[Results] | None:
    return config.stash.get(HARNESS, None)
