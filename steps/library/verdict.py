"""The run's verdict: one of three, one exit status each, the same in the table and the report.

CONFORMANT (exit 0): every MUST scenario that ran passed (and, with --dpaas-strict, every SHOULD).
NOT CONFORMANT (exit 1): the target broke a requirement; the ids it broke are named.
INCONCLUSIVE (exit 4): the suite could not judge - a setup mistake found before any scenario, or
scenarios that ended in something other than an assertion about the target - and no requirement
is blamed on the target. 4 is pytest's own status for a usage error, which is the same verdict:
nothing was judged, fix the command or the setup and run again.

Collected on the controller (it works under xdist), from the judgement the plugin attaches to
each report.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from steps.library.outcomes import FAILED, INCONCLUSIVE, NOT_RUN, PASSED, WARNED
from steps.library.requirements import AREAS, MUST, SHOULD

CONFORMANT = "CONFORMANT"
NOT_CONFORMANT = "NOT CONFORMANT"
VERDICT_INCONCLUSIVE = "INCONCLUSIVE"
EXIT_STATUS = {CONFORMANT: 0, NOT_CONFORMANT: 1, VERDICT_INCONCLUSIVE: 4}
SHOWN_REASONS = 10


@dataclass
class Row:
    """One scenario (one example, one variant) as the verdict sees it."""

    nodeid: str
    level: str
    requirements: list[str]
    outcome: str = NOT_RUN  # passed, failed, warned, not run, inconclusive
    judged_level: str = ""  # the level the outcome counts at (a MUST found in a SHOULD scenario)
    blamed: list[str] = field(default_factory=list)
    reason: str = ""
    variant: str | None = None
    scenario: str = ""  # the node id without the variant

    @property
    def label(self) -> str:
        if self.outcome in (NOT_RUN, INCONCLUSIVE):
            return self.outcome
        return f"{self.judged_level or self.level} {self.outcome}"

    def areas(self) -> set[str]:
        ids = self.blamed if self.outcome in (FAILED, WARNED) and self.blamed else self.requirements
        return {AREAS.get(i.split("-")[0], "other") for i in ids}


@dataclass
class Verdict:
    """Rows per scenario, plus what else decides the exit status."""

    strict: bool = False
    rows: dict[str, Row] = field(default_factory=dict)
    own_failures: int = 0  # the project's own tests (not scenarios) that failed
    interrupted: bool = False
    preflight: str | None = None

    # --- collecting ----------------------------------------------------------------------

    def record(self, report: pytest.TestReport) -> None:
        judgement = getattr(report, "dpaas", None)
        if judgement is None:
            if report.failed and report.when in ("setup", "call", "teardown"):
                self.own_failures += 1
            return
        row = self.rows.get(report.nodeid)
        if row is None:
            row = self.rows[report.nodeid] = Row(
                report.nodeid, judgement["level"], judgement["requirements"],
                variant=judgement.get("variant"), scenario=judgement.get("scenario", ""),
            )
        if report.when == "teardown":
            if report.failed and row.outcome == PASSED:
                row.outcome, row.reason = INCONCLUSIVE, f"teardown failed: {judgement['reason']}"
            return
        if "outcome" in judgement:
            row.outcome = judgement["outcome"]
            row.judged_level = judgement["judged_level"]
            row.blamed = judgement["blamed"]
            row.reason = judgement["reason"]

    # --- deciding ------------------------------------------------------------------------

    @property
    def verdict(self) -> str:
        rows = self.rows.values()
        if any(r.outcome == FAILED for r in rows):
            return NOT_CONFORMANT
        if self.preflight or self.interrupted or any(r.outcome == INCONCLUSIVE for r in rows):
            return VERDICT_INCONCLUSIVE
        if any(r.outcome in (PASSED, WARNED) for r in rows):
            return CONFORMANT
        return VERDICT_INCONCLUSIVE  # nothing was judged: every scenario was not run

    @property
    def exit_status(self) -> int:
        if self.own_failures:
            return 1  # the project's own tests failed, whatever the target did
        return EXIT_STATUS[self.verdict]

    def ids(self, label: str) -> list[str]:
        return sorted({i for r in self.rows.values() if r.label == label for i in r.blamed})

    def columns(self) -> list[str]:
        should = "should failed" if self.strict else "should warned"
        return ["must passed", "must failed", "should passed", should, NOT_RUN, INCONCLUSIVE]

    def table(self) -> list[str]:
        columns = self.columns()
        per_area: dict[str, Counter[str]] = defaultdict(Counter)
        total: Counter[str] = Counter()
        for row in self.rows.values():
            for area in row.areas():
                per_area[area][row.label] += 1
            total[row.label] += 1
        width = max(len(c) for c in columns) + 2
        lines = [f"{'area':<16}" + "".join(f"{c:>{width}}" for c in columns)]
        for area in [*AREAS.values(), "other"]:
            if area in per_area:
                counts = per_area[area]
                lines.append(f"{area:<16}" + "".join(f"{counts[c]:>{width}}" for c in columns))
        lines.append(f"{'all scenarios':<16}" + "".join(f"{total[c]:>{width}}" for c in columns))
        return lines + self.summary()

    def summary(self) -> list[str]:
        verdict = self.verdict
        must, should = self.ids(f"{MUST} {FAILED}"), self.ids(f"{SHOULD} {FAILED}")
        inconclusive = [r for r in self.rows.values() if r.outcome == INCONCLUSIVE]
        lines = []
        if verdict == NOT_CONFORMANT:
            broken = [f"MUST {', '.join(must)}"] if must else []
            broken += [f"SHOULD {', '.join(should)} (strict mode)"] if should else []
            lines.append(f"NOT CONFORMANT: requirements failed: {'; '.join(broken)}")
        elif verdict == CONFORMANT:
            every = "MUST and SHOULD" if self.strict else "MUST"
            lines.append(f"CONFORMANT: every {every} scenario that ran passed")
        elif self.preflight:
            lines.append(f"INCONCLUSIVE: {self.preflight}")
        else:
            why = (f"{len(inconclusive)} scenario{'s' if len(inconclusive) > 1 else ''} could "
                   "not be judged" if inconclusive
                   else "the run was interrupted" if self.interrupted
                   else "no scenario ran")
            lines.append(f"INCONCLUSIVE: {why}; no requirement is blamed on the target")
        warned = self.ids(f"{SHOULD} {WARNED}")
        if warned:
            lines.append(f"SHOULD warnings (fail with --dpaas-strict): {', '.join(warned)}")
        not_run = sum(r.outcome == NOT_RUN for r in self.rows.values())
        if not_run:
            lines.append(f"{not_run} scenario{'s' if not_run > 1 else ''} not run: "
                         "see their reasons with -rs")
        for row in inconclusive[:SHOWN_REASONS]:
            lines.append(f"inconclusive: {row.nodeid}: {row.reason}")
        if len(inconclusive) > SHOWN_REASONS:
            lines.append(f"... and {len(inconclusive) - SHOWN_REASONS} more inconclusive")
        if self.own_failures:
            lines.append(f"the project's own tests failed ({self.own_failures})")
        lines.append(f"exit status {self.exit_status}")
        return lines

    def report(self, **context: Any) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_status": self.exit_status,
            "strict": self.strict,
            "preflight": self.preflight,
            **context,
            "scenarios": [
                {**asdict(r), "outcome": r.label, "result": r.outcome}
                for r in self.rows.values()
            ],
        }

    def write(self, path: str, **context: Any) -> None:
        Path(path).write_text(json.dumps(self.report(**context), indent=2), encoding="utf-8")
