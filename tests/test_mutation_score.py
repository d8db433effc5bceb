"""The suite's power, measured: it must catch every broken variant and pass the FREE one.

Each variant runs the scenarios of its area in its own pytest process (two at a time); the whole
table takes a few minutes on two cores. `python -m tests.mutants` prints the same table.
"""

from __future__ import annotations

import pytest

from tests.mutants.catalog import MUTANTS
from tests.mutants.runner import Result, judge_free_variant, run_all, table


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    found = run_all()
    print(table(found))
    return {r.name: r for r in found}


def test_there_are_enough_mutants_in_every_area() -> None:
    areas = {m.area for m in MUTANTS.values()}
    assert len(MUTANTS) >= 30
    assert areas == {"AUTH", "LIST", "ACC", "USER", "ERR"}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(results: dict[str, Result], name: str) -> None:
    result = results[name]
    assert result.verdict == "caught", (
        f"{name} ({result.requirement} {result.level}: {result.breaks}) -> {result.verdict}"
    )


def test_free_variant_passes_every_must() -> None:
    verdict = judge_free_variant()
    assert verdict.ok, f"{verdict.summary()}: {verdict.unexpected}"
