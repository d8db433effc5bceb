"""What the parts of the plugin share during one run, kept in pytest's stash: one typed `Run`.

The parts (startup, selection, fixtures, judging, reports) each fill or read their share of it;
none keeps state of its own between hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from dpaas_conformance.library.options import Options

if TYPE_CHECKING:
    from dpaas_conformance.library.embedded import Variant
    from dpaas_conformance.library.expectations import Expectations
    from dpaas_conformance.library.target import Config
    from dpaas_conformance.library.verdict import Verdict


@dataclass
class FailedStep:
    """The step a scenario failed in, and where its scenario is written."""

    text: str  # "Then the response status is 200"
    scenario: str  # the scenario's name, example values filled in
    where: str  # "login.feature, line 12"
    type: str = ""  # given, when or then: who a plain assertion blames depends on it


@dataclass
class Run:
    options: Options
    config: Config | None = None  # the principals, once the startup has resolved them
    variants: dict[str, Variant] | None = None  # embedded variants (pytest_dpaas_variants)
    expectations: Expectations | None = None
    catalogue: dict[str, tuple[str, ...]] = field(default_factory=dict)  # scenario -> its ids
    verdict: Verdict | None = None  # on the controller only (see `reports`)


RUN = pytest.StashKey[Run]()
#: Per scenario (item stash): its client, its target and the step it failed in.
CLIENT = pytest.StashKey["ApiClient"]()
TARGET = pytest.StashKey["Target"]()
FAILED_STEP = pytest.StashKey[FailedStep]()


def is_controller(config: pytest.Config) -> bool:
    """The process that sees every report: not an xdist worker."""
    return not hasattr(config, "workerinput")


def run_of(config: pytest.Config) -> Run:
    found = config.stash.get(RUN, None)
    if found is None:
        found = config.stash[RUN] = Run(Options.of(config))
    return found
