"""The suite covers the contract: every MUST and SHOULD id has a scenario at that level, and no
scenario cites an id the registry lacks or forgets its level."""

from __future__ import annotations

from pathlib import Path

import pytest
from dpaas_conformance.library.classes import scenario_class
from dpaas_conformance.library.requirements import LEVELS, REQUIREMENTS, checked_pairs
from dpaas_conformance.library.selection import REQUIREMENT_TAG
from pytest_bdd.parser import FeatureParser

FEATURES = Path(__file__).parent.parent / "features"


def scenarios() -> list[tuple[str, set[str]]]:
    found = []
    for path in sorted(FEATURES.glob("*.feature")):
        feature = FeatureParser(str(FEATURES), path.name).parse()
        for scenario in feature.scenarios.values():
            found.append((f"{path.name}: {scenario.name}", set(scenario.tags) | feature.tags))
    return found


def test_there_are_scenarios() -> None:
    assert len(scenarios()) >= 40


@pytest.mark.parametrize(
    ("name", "tags"), scenarios(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_scenario_has_one_level_and_known_ids(name: str, tags: set[str]) -> None:
    levels = tags & set(LEVELS)
    assert len(levels) == 1, f"{name} must carry exactly one of @must/@should, has {levels}"
    ids = {t for t in tags if REQUIREMENT_TAG.match(t)}
    assert ids, f"{name} names no requirement id"
    unknown = ids - set(REQUIREMENTS)
    assert not unknown, f"{name} cites ids the registry lacks: {unknown}"
    assert tags <= ids | levels, f"{name} has tags that are neither ids nor levels"


def test_every_must_and_should_has_a_scenario_at_its_level() -> None:
    covered = set()
    for _, tags in scenarios():
        (level,) = tags & set(LEVELS)
        covered |= {(t, level) for t in tags if REQUIREMENT_TAG.match(t)}
    missing = checked_pairs() - covered
    assert not missing, f"requirement parts with no scenario: {sorted(missing)}"


def test_scenarios_cite_ids_only_at_levels_the_registry_gives() -> None:
    for name, tags in scenarios():
        (level,) = tags & set(LEVELS)
        for t in tags:
            if REQUIREMENT_TAG.match(t) and t in REQUIREMENTS:
                assert level in REQUIREMENTS[t].rules, f"{name}: {t} has no {level} part"


@pytest.mark.parametrize(
    ("name", "tags"), scenarios(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_scenario_belongs_to_one_conformance_class(name: str, tags: set[str]) -> None:
    """Its ids outside CORE share one class (ERR-7, in two, never names it alone)."""
    scenario_class(t for t in tags if REQUIREMENT_TAG.match(t))


def test_is_default_true_is_sent_only_by_scenarios_of_the_accounts_class() -> None:
    """Restoring the organization's default needs an update: only ACCOUNTS can put it back."""
    for path in sorted(FEATURES.glob("*.feature")):
        feature = FeatureParser(str(FEATURES), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = {t for t in set(scenario.tags) | feature.tags if REQUIREMENT_TAG.match(t)}
            steps = [s.name for s in [*(feature.background.steps if feature.background else []),
                                      *scenario.steps]]
            sends = [s for s in steps if '"is_default" set to true' in s
                     or '"is_default": true' in s or "made a new account the default" in s]
            if sends:
                assert scenario_class(tags) == "ACCOUNTS", f"{path.name}: {scenario.name}"
