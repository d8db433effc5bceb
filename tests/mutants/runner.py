"""Runs the conformance suite against every variant, and judges each.

`pytest steps -p tests.mutants.plugin` serves its variants in turn (through the suite's
`pytest_dpaas_variants` hook, as a session-scoped parameter, so each variant's server starts
once), each against only the scenarios it selects, and reports through --dpaas-report. Two such
processes share the variants, balanced by the number of scenarios each selects (rather than
pytest-xdist, whose workers set a session fixture up twice when they start a group). Then:
- the reference server (the baseline) must pass every scenario;
- a MUST mutant is caught when a MUST scenario fails naming its requirement; a SHOULD mutant when
  a SHOULD scenario warns naming it, and it is "too strict" if it also fails a MUST scenario that
  the baseline passes;
- a correct variant must pass every scenario the baseline passes, warning on exactly the SHOULD
  ids it expects.
A scenario the baseline fails is the reference server's own fault, reported by the baseline and
not held against the variants built on it. When the test command runs every scenario against the
reference server anyway, that run is the baseline (see tests/mutants/background.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.mutants import BASELINE, CORRECT, MUST, MUTANT, WAITING, HarnessVariant, variants

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 900
SHM = Path("/dev/shm")
PASSED = ("must passed", "should passed")


@dataclass
class Judged:
    variant: HarnessVariant
    rows: list[dict[str, Any]] = field(default_factory=list)
    baseline_passes: set[str] = field(default_factory=set)

    def labelled(self, label: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["outcome"] == label]

    # --- mutants -------------------------------------------------------------------------

    @property
    def caught_by(self) -> list[dict[str, Any]]:
        label = "must failed" if self.variant.level == MUST else "should warned"
        return [r for r in self.labelled(label) if self.variant.requirement in r["blamed"]]

    @property
    def too_strict(self) -> list[dict[str, Any]]:
        return [r for r in self.labelled("must failed") if r["scenario"] in self.baseline_passes]

    @property
    def blamed(self) -> set[str]:
        """Every id the run named, at either level."""
        return {i for r in self.rows if r["outcome"] in ("must failed", "should warned")
                for i in r["blamed"]}

    @property
    def misblamed(self) -> list[dict[str, Any]]:
        """For a mutant that names its ids: the rows that name another, or judge nothing."""
        allowed = self.variant.blames
        return [r for r in self.rows if r["outcome"] == "inconclusive"
                or (r["outcome"] in ("must failed", "should warned")
                    and not set(r["blamed"]) <= allowed)]

    @property
    def verdict(self) -> str:
        if not self.rows:
            return "ERROR: no scenario ran"
        if self.variant.kind == MUTANT:
            if self.variant.level != MUST and self.too_strict:
                return "TOO STRICT: a SHOULD-only fault failed MUST scenarios"
            if self.variant.blames and self.misblamed:
                return "MISBLAMED: the run named other requirements, or judged none"
            if self.caught_by:
                return "caught"
            return "INCONCLUSIVE" if self.labelled("inconclusive") else "MISSED"
        if not self.unexpected and self.warned == set(self.variant.expected_warnings):
            return "ok"
        return "FAILS" if self.variant.kind == BASELINE else "FALSE FAILURE"

    # --- correct variants and the baseline -----------------------------------------------

    @property
    def judged_rows(self) -> list[dict[str, Any]]:
        if self.variant.kind == BASELINE:
            return self.rows
        return [r for r in self.rows if r["scenario"] in self.baseline_passes]

    @property
    def unexpected(self) -> list[dict[str, Any]]:
        expected = self.variant.expected_warnings
        return [
            r for r in self.judged_rows
            if r["outcome"] not in PASSED
            and not (r["outcome"] == "should warned" and set(r["blamed"]) <= expected)
            and not (r["outcome"] == "not run" and set(r["requirements"]) & self.variant.not_run)
        ]

    @property
    def warned(self) -> set[str]:
        return {i for r in self.judged_rows if r["outcome"] == "should warned"
                for i in r["blamed"]}

    def summary(self) -> str:
        must = sum(r["outcome"] == "must passed" for r in self.judged_rows)
        return (f"{len(self.judged_rows)} scenarios, {must} MUST passed, "
                f"{len(self.unexpected)} unexpected, SHOULD warnings: "
                f"{', '.join(sorted(self.warned)) or 'none'}")


@dataclass
class Results:
    judged: dict[str, Judged]
    error: str = ""
    seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)  # every variant's, as reported

    def of_kind(self, kind: str) -> list[Judged]:
        return [j for j in self.judged.values() if j.variant.kind == kind]

    @property
    def baseline(self) -> Judged | None:
        found = self.of_kind(BASELINE)
        return found[0] if found else None


def shards(chosen: list[str], everything: dict[str, HarnessVariant], workers: int
           ) -> list[list[str]]:
    """Variants split into `workers` groups of about equal work (scenarios selected)."""
    from tests.mutants import scenario_tags

    tags = scenario_tags()
    size = {n: sum(everything[n].selects(level, ids) for level, ids in tags) for n in chosen}
    groups: list[list[str]] = [[] for _ in range(max(1, workers))]
    load = [0] * len(groups)
    for name in sorted(chosen, key=lambda n: -size[n]):
        lightest = load.index(min(load))
        groups[lightest].append(name)
        load[lightest] += size[name]
    # in this order in each process (see tests/mutants/plugin.py): the waiting variants first
    return [sorted(g, key=lambda n: n not in WAITING) for g in groups if g]


def run(names: list[str] | None = None, workers: int = 2, baseline: bool = True,
        nice: int = 0) -> Results:
    """Every variant (or those named, plus the baseline), in `workers` pytest processes.

    Without `baseline`, the reference server is not run here: the caller has its rows already
    (the test command's own scenarios are exactly that run) and judges with `with_baseline`.
    `nice`: the processes' niceness, for a harness that runs beside other work (see
    tests/mutants/background.py).
    """
    everything = variants()
    chosen = list(everything) if not names else ["reference", *[n for n in names
                                                                  if n != "reference"]]
    if not baseline:
        chosen.remove("reference")
    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dpaas-harness-", dir=base) as tmp:
        procs = []
        for index, group in enumerate(shards(chosen, everything, workers)):
            report = Path(tmp) / f"report-{index}.json"
            proc = subprocess.Popen(
                command(report, Path(tmp) / f"pytest-{index}", group), cwd=ROOT, env=environment(),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if nice:
                os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
            procs.append((report, proc))
        rows, errors = [], []
        for report, proc in procs:
            output, _ = proc.communicate(timeout=RUN_TIMEOUT)
            if not report.exists():
                errors.append("no report: " + " | ".join(output.strip().splitlines()[-8:]))
                continue
            rows += json.loads(report.read_text())["scenarios"]
    if errors:
        return Results({}, "; ".join(errors))
    return Results(judge(rows, chosen), seconds=time.monotonic() - started, rows=rows)


def judge(rows: list[dict[str, Any]], chosen: list[str]) -> dict[str, Judged]:
    everything = variants()
    by_variant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_variant[row["variant"]].append(row)
    passes = {r["scenario"] for r in by_variant["reference"] if r["outcome"] in PASSED}
    return {n: Judged(everything[n], by_variant.get(n, []), passes) for n in chosen}


def with_baseline(results: Results, baseline: list[dict[str, Any]]) -> Results:
    """The results judged again against the reference server's rows from elsewhere."""
    if results.error:
        return results
    rows = [*results.rows, *({**r, "variant": "reference"} for r in baseline)]
    chosen = ["reference", *(n for n in results.judged if n != "reference")]
    return replace(results, judged=judge(rows, chosen), rows=rows)


def command(report: Path, basetemp: Path, names: list[str]) -> list[str]:
    # Only the plugins the suite needs: with autoloading on, pytest also rewrites the assertions
    # of every module of every installed plugin (all of faker's, for one).
    # The suite by its entry point's name; the harness's variants through the suite's hook.
    plugins = ["pytest_bdd.plugin", "pytest_base_url.plugin", "dpaas", "tests.mutants.plugin",
               "tests.heap"]
    # The run's own output is not read (the report is), so nothing is captured or logged.
    return [
        sys.executable, "-m", "pytest", "steps", "-q", "--tb=no", "-s", "-p", "no:cacheprovider",
        "-p", "no:logging", "-p", "no:junitxml", "-p", "no:unraisableexception",
        *[arg for p in plugins for arg in ("-p", p)],
        "-o", "addopts=", f"--dpaas-report={report}", "--basetemp", str(basetemp),
        *[f"--dpaas-variant={n}" for n in names],
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DPAAS_CONFIG"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def scenario_name(row: dict[str, Any]) -> str:
    return row["scenario"].split("::", 1)[-1].removeprefix("test_")


def mutation_table(results: Results) -> str:
    lines = [
        "| mutant | breaks | level | caught by (scenario) | verdict |",
        "|---|---|---|---|---|",
    ]
    mutants = results.of_kind(MUTANT)
    for j in mutants:
        by = j.caught_by
        shown = "-"
        if by:
            shown = scenario_name(by[0]) + (f" (+{len(by) - 1} more)" if len(by) > 1 else "")
        v = j.variant
        lines.append(f"| {v.name} | {v.requirement} | {v.level.upper()} | {shown} | {j.verdict} |")
    caught = sum(j.verdict == "caught" for j in mutants)
    lines += ["", f"mutation score: {caught}/{len(mutants)} caught "
                  f"({100 * caught / max(1, len(mutants)):.0f}%)"]
    return "\n".join(lines)


def correct_table(results: Results) -> str:
    lines = [
        "| correct variant | its choice | scenarios | MUST passed | SHOULD warnings | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for j in [*results.of_kind(BASELINE), *results.of_kind(CORRECT)]:
        must = sum(r["outcome"] == "must passed" for r in j.judged_rows)
        why = j.variant.why or "the reference server itself (the baseline)"
        lines.append(f"| {j.variant.name} | {why} | {len(j.judged_rows)} | {must} | "
                     f"{', '.join(sorted(j.warned)) or 'none'} | {j.verdict} |")
    return "\n".join(lines)


def problems(results: Results, kind: str | None = None) -> list[str]:
    """Everything that keeps the tables from being all caught and all ok (of one kind)."""
    if results.error:
        return [f"the harness did not run: {results.error}"]
    found = []
    for j in results.judged.values():
        if j.verdict in ("caught", "ok") or kind not in (None, j.variant.kind):
            continue
        v = j.variant
        what = f"{v.name} ({v.requirement} {v.level}: {v.breaks})" if v.kind == MUTANT else (
            f"{v.name} ({v.why or 'baseline'}): {j.summary()}")
        found.append(f"{what} -> {j.verdict}")
        shown = (j.unexpected if v.kind != MUTANT
                 else j.misblamed if v.blames else j.too_strict)
        for row in shown[:5]:
            found.append(f"    {row['outcome']}: {scenario_name(row)}: {row['reason'][:160]}")
    return found
