"""The run's verdict: one of three, one exit status each, the same in the table and the report.

CONFORMANT (exit 0): every MUST scenario that ran passed (and, with --dpaas-strict, every SHOULD).
NOT CONFORMANT (exit 1): the target broke a requirement; the ids it broke are named.
INCONCLUSIVE (exit 4): the suite could not judge - a setup mistake found before any scenario, or
scenarios that ended in something other than an assertion about the target - and no requirement
is blamed on the target. 4 is pytest's own status for a usage error, which is the same verdict:
nothing was judged, fix the command or the setup and run again.

With an expectations file (--dpaas-expect), failures it lists are *expected*: the verdict still
says NOT CONFORMANT, since the target still breaks those requirements, but the exit status is 0
when the run turned out exactly as the file says - every failure listed, every listed entry that
was checked still failing, nothing inconclusive. An entry that now passes makes the exit status 1.

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
from dpaas_conformance.library import classes
from dpaas_conformance.library.classes import (  # v2 classes: call site
    CONFORMANT,
    NOT_CONFORMANT,
    NOT_SELECTED,
    VERDICT_INCONCLUSIVE,
)
from dpaas_conformance.library.expectations import (
    FAILED_AS_EXPECTED,
    NOT_CHECKED,
    NOW_PASSES,
    Entry,
    Expectations,
)
from dpaas_conformance.library.outcomes import (
    EXPECTED,
    FAILED,
    INCONCLUSIVE,
    NOT_RUN,
    PASSED,
    WARNED,
)
from dpaas_conformance.library.requirements import AREAS, MUST, SHOULD

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
    name: str | None = None  # the scenario's name in its feature file
    expected: str = ""  # why the expectations file says it fails, for an expected failure
    replay: dict[str, Any] | None = None  # the curl commands of a scenario that did not pass
    cls: str = classes.CORE  # the scenario's conformance class (v2 classes: call site)

    @property
    def label(self) -> str:
        if self.outcome in (NOT_RUN, INCONCLUSIVE, EXPECTED):
            return self.outcome
        return f"{self.judged_level or self.level} {self.outcome}"

    def areas(self) -> set[str]:
        findings = (FAILED, WARNED, EXPECTED)
        ids = self.blamed if self.outcome in findings and self.blamed else self.requirements
        return {AREAS.get(i.split("-")[0], "other") for i in ids}


@dataclass
class Verdict:
    """Rows per scenario, plus what else decides the exit status."""

    strict: bool = False
    rows: dict[str, Row] = field(default_factory=dict)
    own_failures: int = 0  # the project's own tests (not scenarios) that failed
    interrupted: bool = False
    preflight: str | None = None
    expectations: Expectations | None = None
    # v2 classes: call site. What the target claims, and the classes the feature files have
    # scenarios of (a claimed one with none selected in this run is "not selected").
    claimed: frozenset[str] = classes.DEFAULT_CLAIM
    known_classes: frozenset[str] = frozenset()

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
                name=judgement.get("name"), cls=judgement.get("class", classes.CORE),
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
            row.expected = judgement.get("expected", "")
            row.replay = judgement.get("replay")

    # --- deciding ------------------------------------------------------------------------

    def breaks(self, row: Row) -> bool:
        """Whether the row shows the target breaking a requirement, expected or not."""
        if row.outcome == FAILED:
            return True
        return row.outcome == EXPECTED and (row.judged_level == MUST or self.strict)

    @property
    def verdict(self) -> str:
        """The run's verdict from the claimed classes' (PROFILE, "Conformance classes")."""
        if self.preflight:
            return VERDICT_INCONCLUSIVE
        return classes.overall(self.class_verdicts().values())  # v2 classes: call site

    # --- v2 classes: call sites ----------------------------------------------------------

    def counted_in(self, row: Row) -> set[str]:
        """The claimed classes a row counts in (see `classes.judged_classes`)."""
        return {c if c in self.claimed else row.cls for c in classes.judged_classes(row)}

    def class_rows(self, cls: str) -> list[Row]:
        return [r for r in self.rows.values() if cls in self.counted_in(r)]

    def class_verdicts(self) -> dict[str, str]:
        unjudged = bool(self.preflight or self.interrupted)
        verdicts = {}
        for cls in classes.in_order(self.claimed):
            rows = self.class_rows(cls)
            if not rows and cls in self.known_classes:
                verdicts[cls] = NOT_SELECTED
            else:
                verdicts[cls] = classes.class_verdict(rows, self.breaks, unjudged)
        return verdicts

    def class_lines(self) -> list[str]:
        lines = []
        for cls, verdict in self.class_verdicts().items():
            rows = self.class_rows(cls)
            why = ""
            if verdict == VERDICT_INCONCLUSIVE and not any(r.outcome != NOT_RUN for r in rows):
                why = (f" (none of its {len(rows)} scenarios could run: see their reasons with "
                       "-rs)" if rows else " (the suite has no scenario of this class yet)")
            elif verdict == NOT_SELECTED:
                why = " in this run"
            lines.append(f"class {cls}: {verdict}{why}")
        unclaimed = sorted({r.cls for r in self.rows.values()} - self.claimed,
                           key=classes.CLASSES.index)
        for cls in unclaimed:
            count = sum(r.cls == cls for r in self.rows.values())
            lines.append(f"class {cls}: not claimed (its {count} scenario"
                         f"{'s' if count > 1 else ''} not run)")
        return lines

    @property
    def exit_status(self) -> int:
        if self.own_failures:
            return 1  # the project's own tests failed, whatever the target did
        if self.expectations is None:
            return EXIT_STATUS[self.verdict]
        rows = self.rows.values()
        if any(r.outcome == FAILED for r in rows) or self.stale():
            return 1  # a failure nobody expected, or an expected one that is gone
        unjudged = self.preflight or self.interrupted or any(
            r.outcome == INCONCLUSIVE for r in rows)
        if self.verdict == VERDICT_INCONCLUSIVE or unjudged:
            return EXIT_STATUS[VERDICT_INCONCLUSIVE]
        return 0  # CONFORMANT, or NOT CONFORMANT exactly as the file expects

    def entry_status(self) -> dict[Entry, str]:
        """What became of each entry of the expectations file."""
        if self.expectations is None:
            return {}
        status = {}
        for entry in self.expectations.entries:
            mine = [r for r in self.rows.values()
                    if self.expectations.cites(entry, r.name, r.requirements)]
            covered = [r for r in self.rows.values() if r.outcome == EXPECTED
                       and entry in self.expectations.covering(r.name, r.blamed)]
            ran = [r for r in mine if r.outcome != NOT_RUN]
            if covered:
                status[entry] = FAILED_AS_EXPECTED
            elif ran and all(r.outcome == PASSED for r in ran):
                status[entry] = NOW_PASSES
            else:
                status[entry] = NOT_CHECKED
        return status

    def stale(self) -> list[Entry]:
        return [e for e, s in self.entry_status().items() if s == NOW_PASSES]

    def ids(self, label: str) -> list[str]:
        return sorted({i for r in self.rows.values() if r.label == label for i in r.blamed})

    def columns(self) -> list[str]:
        should = "should failed" if self.strict else "should warned"
        expected = [EXPECTED] if self.expectations is not None else []
        return ["must passed", "must failed", "should passed", should, *expected, NOT_RUN,
                INCONCLUSIVE]

    def counts(self) -> dict[str, dict[str, int]]:
        """The verdict table: per area (in the registry's order), then "all scenarios"."""
        columns = self.columns()
        per_area: dict[str, Counter[str]] = defaultdict(Counter)
        total: Counter[str] = Counter()
        for row in self.rows.values():
            for area in row.areas():
                per_area[area][row.label] += 1
            total[row.label] += 1
        table = {area: {c: per_area[area][c] for c in columns}
                 for area in [*AREAS.values(), "other"] if area in per_area}
        for cls in classes.in_order(self.claimed):  # v2 classes: call site, a row per class
            per_class = Counter(r.label for r in self.class_rows(cls))
            table[f"class {cls}"] = {c: per_class[c] for c in columns}
        table["all scenarios"] = {c: total[c] for c in columns}
        return table

    def table(self) -> list[str]:
        columns = self.columns()
        width = max(len(c) for c in columns) + 2
        lines = [f"{'area':<16}" + "".join(f"{c:>{width}}" for c in columns)]
        for area, counts in self.counts().items():
            lines.append(f"{area:<16}" + "".join(f"{counts[c]:>{width}}" for c in columns))
        return lines + self.summary()

    def summary(self) -> list[str]:
        verdict = self.verdict
        inconclusive = [r for r in self.rows.values() if r.outcome == INCONCLUSIVE]
        lines = []
        if verdict == NOT_CONFORMANT:
            lines.append(self.not_conformant_line())
        elif verdict == CONFORMANT:
            every = "MUST and SHOULD" if self.strict else "MUST"
            lines.append(f"CONFORMANT: every {every} scenario that ran passed")
        elif self.preflight:
            lines.append(f"INCONCLUSIVE: {self.preflight}")
        else:
            why = (f"{len(inconclusive)} scenario{'s' if len(inconclusive) > 1 else ''} could "
                   "not be judged" if inconclusive
                   else "the run was interrupted" if self.interrupted
                   else "no scenario ran" if not any(r.outcome != NOT_RUN
                                                     for r in self.rows.values())
                   else "a claimed class could not be judged")
            lines.append(f"INCONCLUSIVE: {why}; no requirement is blamed on the target")
        lines += self.class_lines()  # v2 classes: call site
        warned = self.ids(f"{SHOULD} {WARNED}")
        if warned:
            lines.append(f"SHOULD warnings (fail with --dpaas-strict): {', '.join(warned)}")
        lines += self.expectation_lines()
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

    def broken(self, outcome: str) -> str:
        """'MUST AUTH-1; SHOULD AUTH-6 (strict mode)' for the rows of that outcome that break."""
        rows = [r for r in self.rows.values() if r.outcome == outcome and self.breaks(r)]
        must = sorted({i for r in rows if r.judged_level == MUST for i in r.blamed})
        should = sorted({i for r in rows if r.judged_level == SHOULD for i in r.blamed})
        parts = [f"MUST {', '.join(must)}"] if must else []
        parts += [f"SHOULD {', '.join(should)} (strict mode)"] if should else []
        return "; ".join(parts)

    def not_conformant_line(self) -> str:
        unexpected, expected = self.broken(FAILED), self.broken(EXPECTED)
        source = self.expectations.source if self.expectations else ""
        if not expected:
            return f"NOT CONFORMANT: requirements failed: {unexpected}"
        if not unexpected:
            return (f"NOT CONFORMANT: requirements failed, each as {source} expects: {expected}")
        return (f"NOT CONFORMANT: requirements failed: {unexpected}; and as {source} expects: "
                f"{expected}")

    def expectation_lines(self) -> list[str]:
        if self.expectations is None:
            return []
        status = self.entry_status()
        source = self.expectations.source
        lines = [f"{source} lists {entry}, which {NOW_PASSES}"
                 for entry, s in status.items() if s == NOW_PASSES]
        expected = sum(r.outcome == EXPECTED for r in self.rows.values())
        unexpected = sum(r.outcome == FAILED for r in self.rows.values())
        what = f"{expected} expected failure{'s' if expected > 1 else ''}"
        if expected and not unexpected:
            why = (": the run passes while the failures are exactly those listed"
                   if self.exit_status == 0 else "")
            lines.append(f"{what}, each listed in {source}{why}")
        elif expected:
            lines.append(f"{what} (listed in {source}), and {unexpected} that it does not list")
        return lines

    def report(self, **context: Any) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_status": self.exit_status,
            "strict": self.strict,
            "preflight": self.preflight,
            **context,
            "table": self.counts(),
            "classes": {"claimed": classes.in_order(self.claimed),
                        "verdicts": self.class_verdicts()},
            "expectations": None if self.expectations is None else {
                "file": self.expectations.source,
                "entries": [{"kind": e.kind, "name": e.name, "reason": e.reason, "status": s}
                            for e, s in self.entry_status().items()],
            },
            "scenarios": [
                {**{k: v for k, v in asdict(r).items() if k != "cls"}, "class": r.cls,
                 "outcome": r.label, "result": r.outcome}
                for r in self.rows.values()
            ],
        }

    def write(self, path: str, **context: Any) -> None:
        Path(path).write_text(json.dumps(self.report(**context), indent=2), encoding="utf-8")
