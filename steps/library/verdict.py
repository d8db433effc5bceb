"""The run's verdict: one of three, one exit status each, the same in the table and the report.

CONFORMANT (exit 0): every MUST scenario that ran passed (and, with --dpaas-strict, every SHOULD).
NOT CONFORMANT (exit 1): the target broke a requirement; the ids it broke are named.
INCONCLUSIVE (exit 4): the suite could not judge - a setup mistake found before any scenario, or
scenarios that ended in something other than an assertion about the target - and no requirement
is blamed on the target. 4 is pytest's own status for a usage error, which is the same verdict:
nothing was judged, fix the command or the setup and run again.

A partial run says so: the requirements no scenario checked (a missing principal, no [keys], a
requirement filter) are named beside the verdict, with the reason, and the JSON report lists them.

With an expectations file (--dpaas-expect), failures it lists are *expected*: the verdict still
says NOT CONFORMANT, since the target still breaks those requirements, but the exit status is 0
when the run turned out exactly as the file says - every failure listed, every listed entry that
was checked still failing, nothing inconclusive. An entry that now passes makes the exit status 1.

Collected on the controller (it works under xdist) from the typed results judging attaches to
each report (`results.ScenarioResult`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpaas_conformance.library import classes
from dpaas_conformance.library.classes import (
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
from dpaas_conformance.library.results import Failure, ScenarioResult
from dpaas_conformance.library.scenario import Identity

EXIT_STATUS = {CONFORMANT: 0, NOT_CONFORMANT: 1, VERDICT_INCONCLUSIVE: 4}
SHOWN_REASONS = 10
SHOWN_IDS = 8  # per reason, in the terminal; the JSON report lists every one
JUDGED = (PASSED, FAILED, WARNED, EXPECTED)
NOT_COLLECTED = "not collected: -k, a node id or --deselect"


@dataclass
class Row:
    """One scenario (one example, one variant) as the verdict sees it."""

    identity: Identity
    outcome: str = NOT_RUN  # passed, failed, warned, not run, inconclusive, expected failure
    judged_level: str = ""  # the level the outcome counts at (a MUST found in a SHOULD scenario)
    blamed: list[str] = field(default_factory=list)
    reason: str = ""
    expected: str = ""  # why the expectations file says it fails, for an expected failure
    failure: Failure | None = None

    @property
    def nodeid(self) -> str:
        return self.identity.nodeid

    @property
    def level(self) -> str:
        return self.identity.level

    @property
    def requirements(self) -> tuple[str, ...]:
        return self.identity.requirements

    @property
    def name(self) -> str | None:
        return self.identity.name

    @property
    def cls(self) -> str:
        return self.identity.cls

    @property
    def label(self) -> str:
        if self.outcome in (NOT_RUN, INCONCLUSIVE, EXPECTED):
            return self.outcome
        return f"{self.judged_level or self.level} {self.outcome}"

    def areas(self) -> set[str]:
        findings = (FAILED, WARNED, EXPECTED)
        ids = self.blamed if self.outcome in findings and self.blamed else self.requirements
        return {AREAS.get(i.split("-")[0], "other") for i in ids}

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "nodeid": self.nodeid, "level": self.level, "requirements": list(self.requirements),
            "outcome": self.label, "result": self.outcome, "judged_level": self.judged_level,
            "blamed": self.blamed, "reason": self.reason, "variant": self.identity.variant,
            "class": self.cls,
            "scenario": self.identity.scenario, "name": self.name, "expected": self.expected,
            "where": failure.where if failure else None,
            "step": failure.step if failure else None,
            "message": failure.message if failure else None,
            "exchanges": failure.exchanges if failure else None,
            "replay": failure.replay if failure else None,
        }


@dataclass(frozen=True)
class Grouping:
    """A way to break the verdict table down: a row per key (areas today)."""

    title: str
    keys: Callable[[Row], Iterable[str]]
    order: tuple[str, ...]  # the keys in the order the table shows them


AREA = Grouping("area", Row.areas, (*AREAS.values(), "other"))


def short_reason(reason: str) -> str:
    """ "not run: no "other" principal; add [principals.other] ..." -> 'no "other" principal'."""
    text = reason.removeprefix("Skipped: ").removeprefix("not run: ")
    return text.split(";")[0].strip() or "not run"


def decide(rows: Iterable[Row], strict: bool, stopped: bool) -> str:
    """The verdict of these rows (`stopped`: the run ended before judging everything)."""
    rows = list(rows)
    if any(breaks(r, strict) for r in rows):
        return NOT_CONFORMANT
    if stopped or any(r.outcome == INCONCLUSIVE for r in rows):
        return VERDICT_INCONCLUSIVE
    if any(r.outcome in (PASSED, WARNED, EXPECTED) for r in rows):
        return CONFORMANT
    return VERDICT_INCONCLUSIVE  # nothing was judged: every scenario was not run


def breaks(row: Row, strict: bool) -> bool:
    """Whether the row shows the target breaking a requirement, expected or not."""
    if row.outcome == FAILED:
        return True
    return row.outcome == EXPECTED and (row.judged_level == MUST or strict)


@dataclass(frozen=True)
class Coverage:
    """The requirements no scenario checked, and those some of whose scenarios did not run, each
    with the reasons."""

    not_checked: dict[str, tuple[str, ...]]
    partly_checked: dict[str, tuple[str, ...]]

    def __bool__(self) -> bool:
        return bool(self.not_checked or self.partly_checked)

    def text(self) -> str:
        parts = []
        if self.not_checked:
            parts.append(f"not checked: {by_reason(self.not_checked)}")
        if self.partly_checked:
            parts.append(f"partly checked: {by_reason(self.partly_checked)}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "not_checked": [{"requirement": i, "reasons": list(r)}
                            for i, r in self.not_checked.items()],
            "partly_checked": [{"requirement": i, "reasons": list(r)}
                               for i, r in self.partly_checked.items()],
        }


def by_reason(ids: Mapping[str, tuple[str, ...]]) -> str:
    """'ACC-1, USER-3 (no "other" principal); AUTH-15 (no [keys] signing_key)'."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for requirement, reasons in ids.items():
        groups[reasons].append(requirement)
    parts = []
    for reasons, members in groups.items():
        shown = ", ".join(members[:SHOWN_IDS])
        if len(members) > SHOWN_IDS:
            shown += f" and {len(members) - SHOWN_IDS} more"
        parts.append(f"{shown} ({'; '.join(reasons)})")
    return "; ".join(parts)


def first_name(row: Row) -> str:
    """The scenario's name with its example's values, as its failure shows it."""
    return row.failure.scenario if row.failure else row.name or row.nodeid


def requirement_order(requirement: str) -> tuple[int, str, int]:
    area, _, number = requirement.partition("-")
    areas = list(AREAS)
    return (areas.index(area) if area in areas else len(areas), area,
            int(number) if number.isdigit() else 0)


@dataclass
class Verdict:
    """Rows per scenario, plus what else decides the exit status."""

    strict: bool = False
    rows: dict[str, Row] = field(default_factory=dict)
    own_failures: int = 0  # the project's own tests (not scenarios) that failed
    interrupted: bool = False
    preflight: str | None = None
    expectations: Expectations | None = None
    #: Every scenario of the features (name -> requirement ids), to tell what was not checked;
    #: empty when that makes no sense (the mutation harness runs each variant on a subset).
    catalogue: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The scenarios of the catalogue left out on purpose, with the reason (a requirement filter).
    unselected: dict[str, str] = field(default_factory=dict)
    groupings: tuple[Grouping, ...] = (AREA,)
    #: What the target claims, and the classes the feature files have scenarios of (a claimed
    #: one with none selected in this run is "not selected").
    claimed: frozenset[str] = classes.DEFAULT_CLAIM
    known_classes: frozenset[str] = frozenset()

    # --- collecting ----------------------------------------------------------------------

    def record(self, result: ScenarioResult | None, failed: bool, when: str) -> None:
        """One report: a scenario's phase (with its result), or one of the project's own tests."""
        if result is None:
            if failed and when in ("setup", "call", "teardown"):
                self.own_failures += 1
            return
        row = self.rows.get(result.identity.nodeid)
        if row is None:
            row = self.rows[result.identity.nodeid] = Row(result.identity)
        if result.when == "teardown":
            if result.outcome == INCONCLUSIVE and row.outcome == PASSED:
                row.outcome, row.reason = INCONCLUSIVE, result.reason
            return
        if result.outcome is not None:
            row.outcome = result.outcome
            row.judged_level = result.judged_level
            row.blamed = list(result.blamed)
            row.reason = result.reason
            row.expected = result.expected
            row.failure = result.failure

    # --- deciding ------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return bool(self.preflight or self.interrupted)

    @property
    def verdict(self) -> str:
        """The run's verdict from the claimed classes' (PROFILE, "Conformance classes")."""
        if self.preflight:
            return VERDICT_INCONCLUSIVE
        return classes.overall(self.class_verdicts().values())

    # --- conformance classes -------------------------------------------------------------

    def counted_in(self, row: Row) -> set[str]:
        """The classes a row counts in (see `classes.judged_classes`)."""
        return {c if c in self.claimed else row.cls for c in classes.judged_classes(row)}

    def class_rows(self, cls: str) -> list[Row]:
        return [r for r in self.rows.values() if cls in self.counted_in(r)]

    def class_verdicts(self) -> dict[str, str]:
        verdicts = {}
        for cls in classes.in_order(self.claimed):
            rows = self.class_rows(cls)
            if not rows and cls in self.known_classes:
                verdicts[cls] = NOT_SELECTED
            else:
                verdicts[cls] = decide(rows, self.strict, self.stopped)
        return verdicts

    def class_grouping(self) -> Grouping:
        """The table's rows per claimed class: a finding counts in the class it blames."""
        return Grouping("class", lambda row: sorted(self.counted_in(row) & self.claimed),
                        tuple(classes.in_order(self.claimed)))

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
        unjudged = self.stopped or any(r.outcome == INCONCLUSIVE for r in rows)
        if self.verdict == VERDICT_INCONCLUSIVE or unjudged:
            return EXIT_STATUS[VERDICT_INCONCLUSIVE]
        return 0  # CONFORMANT, or NOT CONFORMANT exactly as the file expects

    def breaks(self, row: Row) -> bool:
        return breaks(row, self.strict)

    def coverage(self) -> Coverage:
        """What was not checked, from the catalogue of every scenario and the rows that ran."""
        if not self.catalogue or not self.rows:
            return Coverage({}, {})
        by_name: dict[str | None, list[Row]] = defaultdict(list)
        for row in self.rows.values():
            by_name[row.name].append(row)
        checked: set[str] = set()
        reasons: dict[str, set[str]] = defaultdict(set)  # why some scenario of the id did not run
        left_out: dict[str, set[str]] = defaultdict(set)  # why a scenario was not even selected
        for name, ids in self.catalogue.items():
            if classes.scenario_class(ids) not in self.claimed:
                continue  # a class the target does not claim: the class lines say so
            rows = by_name.get(name)
            if not rows:
                for i in ids:
                    left_out[i].add(self.unselected.get(name, NOT_COLLECTED))
                continue
            for row in rows:
                if row.outcome in JUDGED:
                    checked.update(ids)
                elif row.outcome == NOT_RUN:
                    for i in ids:
                        reasons[i].add(short_reason(row.reason))
        every = sorted({*reasons, *left_out} - checked, key=requirement_order)
        not_checked = {i: tuple(sorted(reasons[i] | left_out[i])) for i in every}
        partly = {i: tuple(sorted(reasons[i])) for i in sorted(reasons, key=requirement_order)
                  if i in checked}
        return Coverage(not_checked, partly)

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
        return sorted({i for r in self.rows.values() if r.label == label for i in r.blamed},
                      key=requirement_order)

    def broken_requirements(self) -> list[tuple[str, str, Row, int]]:
        """Each requirement the target broke once, unexpectedly: (level, id, the first row that
        found it, how many rows found it)."""
        first: dict[tuple[str, str], Row] = {}
        count: Counter[tuple[str, str]] = Counter()
        for row in self.rows.values():
            if row.outcome != FAILED:
                continue
            for requirement in row.blamed:
                key = (row.judged_level, requirement)
                first.setdefault(key, row)
                count[key] += 1
        order = sorted(first, key=lambda k: (k[0] != MUST, requirement_order(k[1])))
        return [(level, requirement, first[level, requirement], count[level, requirement])
                for level, requirement in order]

    # --- the table -----------------------------------------------------------------------

    def columns(self) -> list[str]:
        should = "should failed" if self.strict else "should warned"
        expected = [EXPECTED] if self.expectations is not None else []
        return ["must passed", "must failed", "should passed", should, *expected, NOT_RUN,
                INCONCLUSIVE]

    def counts(self, grouping: Grouping = AREA) -> dict[str, dict[str, int]]:
        """The verdict table: per key of the grouping (in its order), then "all scenarios"."""
        columns = self.columns()
        per_key: dict[str, Counter[str]] = defaultdict(Counter)
        total: Counter[str] = Counter()
        for row in self.rows.values():
            for key in grouping.keys(row):
                per_key[key][row.label] += 1
            total[row.label] += 1
        table = {key: {c: per_key[key][c] for c in columns}
                 for key in grouping.order if key in per_key}
        table["all scenarios"] = {c: total[c] for c in columns}
        return table

    def every_count(self) -> dict[str, dict[str, int]]:
        """The table per area, then per claimed class ("class CORE"), then "all scenarios": what
        the JSON and HTML reports show."""
        by_area = self.counts()
        total = by_area.pop("all scenarios")
        by_class = {f"class {key}": counts
                    for key, counts in self.counts(self.class_grouping()).items()
                    if key != "all scenarios"}
        return {**by_area, **by_class, "all scenarios": total}

    def table(self) -> list[str]:
        columns = self.columns()
        width = max(len(c) for c in columns) + 2
        lines: list[str] = []
        groupings = (*self.groupings, self.class_grouping())
        for n, grouping in enumerate(groupings):
            counts = self.counts(grouping)
            if n < len(groupings) - 1:
                counts.pop("all scenarios")
            lines += [""] if n else []
            lines.append(f"{grouping.title:<16}" + "".join(f"{c:>{width}}" for c in columns))
            lines += [f"{key:<16}" + "".join(f"{row[c]:>{width}}" for c in columns)
                      for key, row in counts.items()]
        return lines + self.summary()

    # --- the lines under the table -------------------------------------------------------

    def summary(self) -> list[str]:
        verdict = self.verdict
        inconclusive = [r for r in self.rows.values() if r.outcome == INCONCLUSIVE]
        coverage = self.coverage()
        lines = []
        if verdict == NOT_CONFORMANT:
            lines.append(self.not_conformant_line())
            lines += self.broken_lines()
        elif verdict == CONFORMANT:
            every = "MUST and SHOULD" if self.strict else "MUST"
            lines.append(f"CONFORMANT for the requirements checked; {coverage.text()}" if coverage
                         else f"CONFORMANT: every {every} scenario that ran passed")
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
        lines += self.class_lines()
        if coverage and verdict != CONFORMANT:
            lines.append(coverage.text())
        warned = self.ids(f"{SHOULD} {WARNED}")
        if warned:
            lines.append(f"SHOULD warnings (fail with --dpaas-strict): {', '.join(warned)}")
        lines += self.expectation_lines()
        lines += self.not_run_lines()
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
        must = sorted({i for r in rows if r.judged_level == MUST for i in r.blamed},
                      key=requirement_order)
        should = sorted({i for r in rows if r.judged_level == SHOULD for i in r.blamed},
                        key=requirement_order)
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

    def broken_lines(self) -> list[str]:
        """Each broken requirement once, with the first scenario that failed it."""
        found = self.broken_requirements()
        if not found:
            return []
        lines = ["each broken requirement, with the first scenario that failed it:"]
        for level, requirement, row, count in found:
            more = f" (and {count - 1} more)" if count > 1 else ""
            lines.append(f"  {requirement} ({level.upper()}): {first_name(row)}{more}")
        return lines

    def not_run_lines(self) -> list[str]:
        reasons = Counter(short_reason(r.reason) for r in self.rows.values()
                          if r.outcome == NOT_RUN)
        total = sum(reasons.values())
        if not total:
            return []
        why = "; ".join(f"{reason} ({n})" if len(reasons) > 1 else reason
                        for reason, n in reasons.most_common())
        return [f"{total} scenario{'s' if total > 1 else ''} not run: {why}"]

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

    # --- the JSON report -----------------------------------------------------------------

    def report(self, **context: Any) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_status": self.exit_status,
            "strict": self.strict,
            "preflight": self.preflight,
            **context,
            "table": self.every_count(),
            "classes": {"claimed": classes.in_order(self.claimed),
                        "verdicts": self.class_verdicts()},
            **self.coverage().to_json(),
            "broken": [{"requirement": i, "level": level, "first": first_name(row),
                        "scenarios": n} for level, i, row, n in self.broken_requirements()],
            "expectations": None if self.expectations is None else {
                "file": self.expectations.source,
                "entries": [{"kind": e.kind, "name": e.name, "reason": e.reason, "status": s}
                            for e, s in self.entry_status().items()],
            },
            "scenarios": [r.to_json() for r in self.rows.values()],
        }

    def write(self, path: Path, **context: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.report(**context), indent=2), encoding="utf-8")
