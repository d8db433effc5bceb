"""The suite's power, measured: it must catch every broken variant and pass every correct one.

Two pytest processes run every variant (see tests/mutants/runner.py), started as soon as
collection ends so that they run beside the other tests (tests/mutants/background.py);
`python -m tests.mutants` prints the same tables. Under pytest-xdist the run still happens once
per test session: the first worker to get here runs it under a file lock and leaves the results
for the others.
"""

from __future__ import annotations

import fcntl
import json
from types import SimpleNamespace

import pytest
from dpaas_conformance.library.requirements import checked_pairs

from tests.mutants import (
    BASELINE,
    CORRECT,
    EVERY_SCENARIO,
    MUST,
    MUTANT,
    WAITING,
    plugin,
    tables,
    variants,
)
from tests.mutants.background import session_baseline, started
from tests.mutants.runner import (
    Judged,
    Results,
    correct_table,
    mutation_table,
    problems,
    run,
    shards,
    with_baseline,
)


@pytest.fixture(scope="session")
def results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Results:
    background = started(request.config)
    if background is not None:  # started when collection ended (tests/mutants/background.py)
        baseline = session_baseline(request.config)
        found = background.result()
        return found if baseline is None else with_baseline(found, baseline)
    if not hasattr(request.config, "workerinput"):
        return run()  # one process: the fixture's own caching runs it once
    # Under xdist the workers' base temp dirs share a parent unique to this test run.
    shared = tmp_path_factory.getbasetemp().parent
    saved = shared / "dpaas-harness.json"
    with open(shared / "dpaas-harness.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            data = json.loads(saved.read_text())
            known = variants()
            return Results({n: Judged(known[n], j["rows"], set(j["baseline_passes"]))
                            for n, j in data["judged"].items()}, data["error"])
        found = run()
        saved.write_text(json.dumps({
            "error": found.error,
            "judged": {n: {"rows": j.rows, "baseline_passes": sorted(j.baseline_passes)}
                       for n, j in found.judged.items()},
        }))
        return found


def report(results: Results, kind: str) -> str:
    table = mutation_table(results) if kind == MUTANT else correct_table(results)
    return "\n".join(problems(results, kind)) + "\n\n" + table


def test_there_are_enough_variants_in_every_area() -> None:
    found = variants().values()
    mutants = [v for v in found if v.kind == MUTANT]
    assert len(mutants) >= 30
    assert {v.area for v in mutants} == {"AUTH", "LIST", "ACC", "USER", "ERR", "SA", "KEY",
                                         "HMAC"}
    assert len([v for v in found if v.kind == CORRECT]) >= 8


def test_every_scenario_mode_runs_correct_variants_on_every_scenario_and_mutants_as_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    found = variants()
    narrow, other = found["global_nonces"], found["revoked_keys_unlisted"]
    signing = next(v for v in found.values() if v.kind == MUTANT and v.requirement == "HMAC-2")
    elsewhere = ["ACC-2"]  # a CORE scenario: no SERVICE variant's choice touches it
    monkeypatch.delenv(EVERY_SCENARIO, raising=False)
    assert not narrow.selects(MUST, elsewhere) and not other.selects(MUST, elsewhere)
    monkeypatch.setenv(EVERY_SCENARIO, "1")
    assert narrow.selects(MUST, elsewhere) and other.selects(MUST, elsewhere)
    assert not signing.selects(MUST, elsewhere)  # a mutant's selection never widens


def test_the_waiting_variants_run_first_in_each_process() -> None:
    """Their servers sleep to widen a race: run last, they left the cores idle at the end of the
    test command (tests/mutants/__init__.py: WAITING)."""
    found = variants()
    assert set(WAITING) <= set(found)
    groups = shards([n for n in found if n != "reference"], found, 2)
    assert sorted(n for g in groups for n in g if n in WAITING) == sorted(WAITING)
    for group in groups:
        waiting = [n for n in group if n in WAITING]
        assert group[: len(waiting)] == waiting


def test_a_harness_process_runs_the_variants_in_the_order_given() -> None:
    """Each variant's scenarios together, the variants in --dpaas-variant's order, and within a
    variant the order the other plugins chose."""
    def item(variant: str, n: int) -> SimpleNamespace:
        return SimpleNamespace(callspec=SimpleNamespace(params={"dpaas_variant": variant}), n=n)

    items = [item("b", 0), item("a", 1), item("b", 2), item("c", 3), item("a", 4)]
    config = SimpleNamespace(getoption=lambda name: ["c", "a", "b"])
    plugin.pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    assert [(i.callspec.params["dpaas_variant"], i.n) for i in items] == [
        ("c", 3), ("a", 1), ("a", 4), ("b", 0), ("b", 2)]


def test_every_must_and_should_part_has_a_mutant() -> None:
    """A requirement no mutant breaks is one the suite may not check at all."""
    broken = {(v.requirement, v.level) for v in variants().values() if v.kind == MUTANT}
    assert sorted(checked_pairs() - broken) == []


def test_every_mutant_is_caught(results: Results) -> None:
    assert not results.error, results.error
    missed = [j for j in results.of_kind(MUTANT) if j.verdict != "caught"]
    assert not missed, "the suite misses or is too strict:\n" + report(results, MUTANT)


def test_every_correct_variant_passes_every_must(results: Results) -> None:
    assert not results.error, results.error
    wrong = [j for j in results.of_kind(CORRECT) if j.verdict != "ok"]
    assert not wrong, "the suite fails a correct server:\n" + report(results, CORRECT)


def test_the_reference_server_passes_every_scenario(results: Results) -> None:
    assert not results.error, results.error
    baseline = results.baseline
    assert baseline is not None and baseline.rows, "the baseline did not run"
    assert baseline.verdict == "ok", "the reference server fails:\n" + report(results, BASELINE)


def test_the_docs_tables_are_this_runs(results: Results) -> None:
    assert not results.error, results.error
    assert tables.committed() == tables.tables(results), (
        f"the tables of docs/testing.md are not this run's: run `{tables.COMMAND}` and commit "
        "docs/testing.md (new mutants or correct variants, a merge included, change them)")
