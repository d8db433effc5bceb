"""What one target may cost the suite: time per request and per run, bytes and values per answer.

No target can hang the suite or exhaust its memory, whatever it sends:
- every request has a total deadline (connect, send, headers and body together, not per read),
  so a target that drips one byte every few seconds is cut off like one that never answers;
- a run may be given a wall-clock budget (`--dpaas-run-budget`): a request in flight when it runs
  out is cut off without blaming the target, and the scenarios that have not started by then end
  inconclusive, saying so;
- an answer is read up to `body_cap` bytes, on the wire and after decompression (each layer of a
  Content-Encoding is inflated a bounded piece at a time), and parsed only if it holds at most
  `value_cap` JSON values: no answer of this API comes near either (a page holds at most 100
  items), so one that does is a finding about the call, never a crash.

The budget's end is a wall-clock time taken on the controller and handed to every xdist worker,
so that the preflight and every worker count from the same start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from dpaas_conformance.library.outcomes import Inconclusive

REQUEST_DEADLINE = 30.0  # seconds for one whole request
READ_TIMEOUT = 15.0  # seconds one read may wait (within the deadline)
RUN_BUDGET = 1800.0  # seconds for a whole run, unless --dpaas-run-budget says otherwise
BODY_CAP = 16 * 1024 * 1024  # bytes of one answer, on the wire and decompressed
VALUE_CAP = 2_000_000  # JSON values (counted as brackets, braces and commas) in one answer
RUN_ENDS_KEY = pytest.StashKey[float | None]()
WORKER_INPUT = "dpaas_run_ends_at"


@dataclass(frozen=True)
class Limits:
    request_deadline: float = REQUEST_DEADLINE
    read_timeout: float = READ_TIMEOUT
    run_ends_at: float | None = None  # time.time() at which the run's budget is spent
    body_cap: int = BODY_CAP
    value_cap: int = VALUE_CAP

    def budget_spent(self) -> bool:
        return self.run_ends_at is not None and time.time() >= self.run_ends_at


def add_options(group: Any) -> None:
    group.addoption(
        "--dpaas-request-deadline",
        type=float,
        default=REQUEST_DEADLINE,
        metavar="SECONDS",
        help=f"total time one request may take, answer included (default {REQUEST_DEADLINE:g}); "
        "an answer not complete by then is a finding about the target",
    )
    group.addoption(
        "--dpaas-run-budget",
        type=float,
        default=RUN_BUDGET,
        metavar="SECONDS",
        help=f"wall-clock time the whole run may take (default {RUN_BUDGET:g}; 0: no limit); "
        "scenarios that have not started by then end inconclusive",
    )


def from_config(config: pytest.Config) -> Limits:
    deadline = float(config.getoption("dpaas_request_deadline", REQUEST_DEADLINE))
    if deadline <= 0:
        raise pytest.UsageError("--dpaas-request-deadline must be a positive number of seconds")
    return Limits(request_deadline=deadline, read_timeout=min(READ_TIMEOUT, deadline),
                  run_ends_at=config.stash.get(RUN_ENDS_KEY, None))


class RunBudget:
    """The run's wall-clock budget: set on the controller, shared with the workers, enforced
    before each scenario (and inside each request, through `Limits.run_ends_at`)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        budget = float(config.getoption("dpaas_run_budget", RUN_BUDGET) or 0)
        if budget < 0:
            raise pytest.UsageError("--dpaas-run-budget must be 0 (no limit) or a number of "
                                    "seconds")
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and WORKER_INPUT in workerinput:
            ends: float | None = workerinput[WORKER_INPUT]
        else:
            ends = time.time() + budget if budget > 0 else None
        self.budget = budget
        config.stash[RUN_ENDS_KEY] = ends

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """(xdist, on the controller) every worker counts from the controller's start."""
        node.workerinput[WORKER_INPUT] = self.config.stash.get(RUN_ENDS_KEY, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        ends = self.config.stash.get(RUN_ENDS_KEY, None)
        if ends is None or time.time() < ends or not any(item.iter_markers("level")):
            return
        __tracebackhide__ = True  # the reason says it all
        raise Inconclusive(
            f"the run's budget of {self.budget:g} s (--dpaas-run-budget) was spent before this "
            "scenario started"
        )


def install(config: pytest.Config) -> None:
    """Registers the run budget (a call site in the plugin's pytest_configure)."""
    if not config.pluginmanager.has_plugin("dpaas-run-budget"):
        config.pluginmanager.register(RunBudget(config), "dpaas-run-budget")
    from_config(config)  # a deadline that makes no sense is a usage error, before anything runs
