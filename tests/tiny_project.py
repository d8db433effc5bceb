"""A small pytester project that runs the suite's real plugin and steps against the tiny target.

The suite's own tests (verdicts, replay, HTML report, expectations) write a conftest loading the
suite, a feature made of the scenarios below, and a config into a temporary directory, and run
pytest on it in-process; `tests/conftest.py` gives them the fixtures.

pytester forgets the modules an inline run imported; httpx maps httpcore's exceptions to its own
through a table it fills once, so httpcore must be imported before the first inline run or a
later run's connection errors would escape that table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpcore  # noqa: F401 - imported before any inline run (see above)
import pytest

from tests.tiny_target import CONFIG

CONFTEST = '''
import pytest
from pytest_bdd import then

pytest_plugins = [
    "dpaas_conformance.library.plugin",
    "dpaas_conformance.common",
    "dpaas_conformance.auth",
    "dpaas_conformance.lists",
    "dpaas_conformance.accounts",
    "dpaas_conformance.users",
    "dpaas_conformance.errors",
    "dpaas_conformance.account_by_id",
    "dpaas_conformance.account_updates",
    "dpaas_conformance.account_deletion",
    "dpaas_conformance.default_account",
    "dpaas_conformance.users_by_account",
]


@then("the suite trips over its own feet")
def trips() -> None:
    {}["no such key"]
'''

LOGIN_MUST = """
  @must @AUTH-1
  Scenario: Logging in returns a bearer token
    When the admin user logs in
    Then the response status is 200
    And the response body is a token response
"""
NO_STORE_SHOULD = """
  @should @AUTH-6
  Scenario: A login response is never cached
    When the admin user logs in
    Then the response header "Cache-Control" includes "no-store"
"""
NEEDS_LIMITED = """
  @must @ACC-5
  Scenario: The limited user may list accounts
    Given the limited user is logged in
    When they list accounts
    Then the response status is 200
"""
LISTS = """
  @must @LIST-1
  Scenario: The admin lists accounts
    Given the admin user is logged in
    When they list accounts
    Then the response status is 200
"""
SUITE_BUG = """
  @must @LIST-1
  Scenario: A step of the suite is broken
    Given the admin user is logged in
    When they list accounts
    Then the suite trips over its own feet
"""
WRONG_PASSWORD_SHOULD = """
  @should @AUTH-5
  Scenario: A wrong password is refused
    When the admin user logs in with a wrong password
    Then the response is a "Unauthorized" error with status 401
"""

# pytest-html and the plugin it needs, for runs without plugin autoloading.
HTML = ("-p", "pytest_metadata.plugin", "-p", "pytest_html.plugin")


class Project:
    """A pytester project that runs the suite's plugin and steps on the given scenarios.

    Only the plugins the suite needs are loaded: with autoloading, each inline run would rewrite
    the assertions of every module of every installed plugin again (faker's hundreds).
    """

    def __init__(self, pytester: pytest.Pytester, url: str, env: pytest.MonkeyPatch) -> None:
        env.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        self.pytester = pytester
        self.url = url
        pytester.makeconftest(CONFTEST)
        pytester.makeini("[pytest]\nbdd_features_base_dir = features/\n")
        pytester.makepyfile(test_tiny="from pytest_bdd import scenarios\n\nscenarios('.')\n")
        pytester.mkdir("features")
        (pytester.path / "dpaas.toml").write_text(CONFIG)

    def run(self, *scenarios: str, config: bool = True, extra: Sequence[str] = (),
            **options: Any) -> pytest.RunResult:
        """Runs the scenarios; `options` are the suite's (dpaas_strict=True), `extra` any other
        arguments ("-p", "xdist.plugin", "-n", "2")."""
        feature = "Feature: Tiny\n" + "".join(scenarios)
        (self.pytester.path / "features" / "tiny.feature").write_text(feature)
        args = ["--base-url", self.url, "--dpaas-report=report.json", "-rs", "-p",
                "no:cacheprovider", "-p", "pytest_bdd.plugin", "-p", "pytest_base_url.plugin"]
        if config:
            args.append("--dpaas-config=dpaas.toml")
        args += [f"--{k.replace('_', '-')}" + ("" if v is True else f"={v}")
                 for k, v in options.items()]
        return self.pytester.runpytest(*args, *extra)

    def report(self) -> dict[str, Any]:
        return json.loads((self.pytester.path / "report.json").read_text())

    def outcomes(self) -> dict[str, str]:
        return {row["nodeid"].split("::")[-1]: row["outcome"]
                for row in self.report()["scenarios"]}


def verdict_lines(result: pytest.RunResult) -> list[str]:
    out = result.outlines
    start = next(i for i, line in enumerate(out) if "DPaaS conformance verdict" in line)
    return [line for line in out[start + 1:] if line.strip()]


def column(result: pytest.RunResult, name: str) -> int:
    """The 'all scenarios' count in the verdict table's column `name`."""
    lines = verdict_lines(result)
    header, total = lines[0], next(line for line in lines if line.startswith("all scenarios"))
    names = [c.strip() for c in header.removeprefix("area").split("  ") if c.strip()]
    return int(total.removeprefix("all scenarios").split()[names.index(name)])
