"""The suite's power, measured: it must catch every broken variant and pass the FREE one.

Each variant runs the scenarios of its area in its own pytest process (two at a time); the whole
table takes about two minutes on two cores. `python -m tests.mutants` prints the same table. One
test runs them all, so that under pytest-xdist no two workers repeat the work.
"""

from __future__ import annotations

from tests.mutants.catalog import MUTANTS
from tests.mutants.runner import judge_free_variant, run_all, table


def test_there_are_enough_mutants_in_every_area() -> None:
    areas = {m.area for m in MUTANTS.values()}
    assert len(MUTANTS) >= 30
    assert areas == {"AUTH", "LIST", "ACC", "USER", "ERR"}


def test_every_mutant_is_caught() -> None:
    results = run_all()
    missed = [f"{r.name} ({r.requirement} {r.level}: {r.breaks}) -> {r.verdict}"
              for r in results if r.verdict != "caught"]
    assert not missed, "the suite misses:\n  " + "\n  ".join(missed) + "\n\n" + table(results)


def test_free_variant_passes_every_must() -> None:
    verdict = judge_free_variant()
    assert verdict.ok, f"{verdict.summary()}: {verdict.unexpected}"
