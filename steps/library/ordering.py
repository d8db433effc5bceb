"""The order scenarios run in, so that none spoils another's answers: a guest's manners.

Three kinds of scenario change what the target answers to everything after them, and run last,
in this order:
- ERR-5's hostile creates, which may leave the target unable to serve a list;
- AUTH-5's wrong credentials, which spend failed logins of configured principals (a throttle
  that a success does not reset counts them until its window ends);
- AUTH-7's throttling probe, which fails to log in until the target throttles: a target that
  throttles per client address then refuses every login from this client for a while.

Ordering the collected items is enough in one process. Under pytest-xdist, a worker runs what it
is sent in order but other workers keep running theirs, so the probe also waits, before it
starts, until every other scenario of the run has finished on every worker (each worker marks
what it finished in a directory the controller creates and hands to the workers). The probe is
the last scenario sent, so what it waits for is never queued behind it. The wait is bounded by the
run's budget, and by progress: when no other scenario has finished for STALLED_DEADLINES request
deadlines (the others stopped, say, after `-x`), the probe stops waiting. Either way it is then
inconclusive, saying why.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from dpaas_conformance.library.limits import RUN_ENDS_KEY, from_config
from dpaas_conformance.library.outcomes import Inconclusive

HOSTILE = "ERR-5"
SPENDS_LOGINS = "AUTH-5"
THROTTLES = "AUTH-7"
LAST = (HOSTILE, SPENDS_LOGINS, THROTTLES)  # in the order they run, after everything else
WORKER_INPUT = "dpaas_finished_dir"
POLL = 0.1  # seconds between looks at what the other workers finished
STALLED_DEADLINES = 4  # request deadlines without another scenario finishing: stop waiting


def rank(requirements: Sequence[str]) -> int:
    """0 for most scenarios; 1, 2, 3 for those that run last (see the module's docstring)."""
    return max((LAST.index(r) + 1 for r in requirements if r in LAST), default=0)


def _mark(nodeid: str) -> str:
    return hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()


def _is_scenario(item: pytest.Item) -> bool:
    return any(item.iter_markers("level"))


def _requirements(item: pytest.Item) -> set[str]:
    return {m.args[0] for m in item.iter_markers("requirement")}


class Ordering:
    """Marks finished scenarios (xdist workers) and holds the probe until the others are done."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        workerinput = getattr(config, "workerinput", None)
        self.owned: Path | None = None
        if workerinput is None:
            self.finished: Path | None = None
        else:
            value = workerinput.get(WORKER_INPUT)
            self.finished = Path(value) if value else None
        self.items: list[pytest.Item] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """(xdist, on the controller) one directory for the whole run, handed to each worker."""
        if self.owned is None:
            self.owned = Path(tempfile.mkdtemp(prefix="dpaas-finished-"))
        node.workerinput[WORKER_INPUT] = str(self.owned)

    def pytest_unconfigure(self) -> None:
        if self.owned is not None:
            shutil.rmtree(self.owned, ignore_errors=True)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        if self.finished is not None:
            (self.finished / _mark(nodeid)).touch()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.finished is None or THROTTLES not in _requirements(item):
            return
        __tracebackhide__ = True  # the reason says it all
        others = {_mark(i.nodeid) for i in self.items
                  if _is_scenario(i) and THROTTLES not in _requirements(i)}
        ends = self.config.stash.get(RUN_ENDS_KEY, None)
        patience = STALLED_DEADLINES * from_config(self.config).request_deadline
        done: set[str] = set()
        progress = time.time()
        while ends is None or time.time() < ends:
            now_done = {p.name for p in self.finished.iterdir()} & others
            if now_done == others:
                return
            if now_done != done:
                done, progress = now_done, time.time()
            elif time.time() - progress > patience:
                raise Inconclusive(
                    f"the throttling probe waited for the other scenarios (it may throttle their "
                    f"logins), and none finished for {patience:g} s: {len(others - done)} have "
                    "not finished")
            time.sleep(POLL)  # other workers' scenarios are still running
        raise Inconclusive(
            "the throttling probe waited for the other scenarios (it may throttle their logins) "
            "until the run's budget was spent")


def install(config: pytest.Config) -> None:
    """Registers the ordering's hooks (a call site in the plugin's pytest_configure)."""
    if not config.pluginmanager.has_plugin("dpaas-ordering"):
        config.pluginmanager.register(Ordering(config), "dpaas-ordering")
