"""The harness's remembered step lookup (tests/mutants/steplookup.py) finds what pytest-bdd finds:
a module's own step definition before the conftest's, each step text parsed on its own."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.mutants import steplookup

CONFTEST = """
from pytest_bdd import given, parsers, then


@given("a value", target_fixture="value")
def conftest_value():
    return 1


@then(parsers.parse("it is {n:d}"))
def it_is(value, n):
    assert value == n
"""

OWN_STEP = """
from pytest_bdd import given, scenarios

scenarios("{feature}")


@given("a value", target_fixture="value")
def own_value():
    return 2
"""

FEATURE = """Feature: {name}
  Scenario Outline: {name} <n>
    Given a value
    Then it is {expected}

    Examples:
      | n |
      | 1 |
      | 2 |
      | 3 |
"""


@pytest.mark.parametrize("inner", ["pytest-bdd's", "listed once per module"])
def test_each_scenario_gets_the_step_definitions_its_module_sees(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, inner: str
) -> None:
    bdd = importlib.import_module("pytest_bdd.scenario")
    original = steplookup.unremembered() if inner == "pytest-bdd's" else steplookup.listed_once()
    assert original is not None
    asked: list[Any] = []

    def counted(step: Any, fixturemanager: Any, node: Any) -> Any:
        asked.append(step.name)
        return original(step, fixturemanager, node)

    monkeypatch.setattr(bdd, steplookup.NAME, steplookup.remembered(counted))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".feature", own=FEATURE.format(name="own", expected=2),
                      shared=FEATURE.format(name="shared", expected=1))
    pytester.makepyfile(test_own=OWN_STEP.format(feature="own.feature"),
                        test_shared='from pytest_bdd import scenarios\n\n'
                                    'scenarios("shared.feature")\n')
    result = pytester.runpytest("-p", "pytest_bdd.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    # Two steps in each of two modules, asked once each: six scenarios ran twelve steps.
    assert sorted(asked) == ["a value", "a value", "it is 1", "it is 2"]


def test_a_step_that_no_definition_parses_still_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    bdd = importlib.import_module("pytest_bdd.scenario")
    lookup = steplookup.listed_once()
    assert lookup is not None
    monkeypatch.setattr(bdd, steplookup.NAME, steplookup.remembered(lookup))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".feature", shared=FEATURE.format(name="shared", expected="one"))
    pytester.makepyfile(test_shared='from pytest_bdd import scenarios\n\n'
                                    'scenarios("shared.feature")\n')
    result = pytester.runpytest("-p", "pytest_bdd.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*StepDefinitionNotFoundError*it is one*"])
