"""What judging hands the verdict and the reports: one typed result per scenario and phase.

Made where the scenario ran (an xdist worker, or the only process) and attached to its report as a
plain dict, the only form xdist carries between processes; the controller reads it back with
`ScenarioResult.of(report)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from dpaas_conformance.library.outcomes import EXPECTED, INCONCLUSIVE, NOT_RUN
from dpaas_conformance.library.scenario import Identity

ATTRIBUTE = "dpaas"  # the report attribute that carries the dict


@dataclass(frozen=True)
class Failure:
    """What a person needs to read a scenario that did not pass, in the order it is shown."""

    scenario: str  # the scenario's name, with its example's values
    where: str  # "login.feature, line 12"
    step: str  # the step it failed in, "" when it failed outside any step
    message: str  # what was expected and what came back (the assertion's text, secrets masked)
    raised_at: str = ""  # where in the suite the finding was raised
    traceback: str = ""  # an inconclusive scenario's traceback, pytest's own frames cut
    exchanges: str = ""  # the HTTP exchanges, secrets masked
    replay_text: str = ""  # the requests as curl commands
    replay: dict[str, Any] | None = None  # the same, as the JSON report holds them


@dataclass(frozen=True)
class ScenarioResult:
    identity: Identity
    when: str  # "setup", "call" or "teardown"
    outcome: str | None  # None: this phase decided nothing (a setup that passed)
    judged_level: str = ""  # the level the outcome counts at (a MUST found in a SHOULD scenario)
    blamed: tuple[str, ...] = ()
    reason: str = ""
    expected: str = ""  # why the expectations file says it fails, for an expected failure
    failure: Failure | None = None

    @property
    def label(self) -> str:
        """The verdict table's column: "must failed", "should warned", "not run", ..."""
        if self.outcome is None or self.outcome in (NOT_RUN, INCONCLUSIVE, EXPECTED):
            return self.outcome or NOT_RUN
        return f"{self.judged_level or self.identity.level} {self.outcome}"

    def attach(self, report: pytest.TestReport) -> None:
        # Field by field, not `asdict`: that deep-copies the replay's JSON, for three reports
        # of every scenario. What is shared is never changed.
        data = dict(vars(self))
        data["identity"] = dict(vars(self.identity))
        data["failure"] = None if self.failure is None else dict(vars(self.failure))
        setattr(report, ATTRIBUTE, data)

    @classmethod
    def of(cls, report: pytest.TestReport) -> ScenarioResult | None:
        data = getattr(report, ATTRIBUTE, None)
        if not data:
            return None
        failure = data.get("failure")
        return cls(
            identity=Identity(**{**data["identity"],
                                 "requirements": tuple(data["identity"]["requirements"])}),
            when=data["when"],
            outcome=data["outcome"],
            judged_level=data["judged_level"],
            blamed=tuple(data["blamed"]),
            reason=data["reason"],
            expected=data["expected"],
            failure=Failure(**failure) if failure else None,
        )
