"""The project's own tests: the mutation harness beside them, and the fixtures of the tests that
run the suite on a pytester project against the tiny target.

pytest loads this file whenever tests/ is a testpath, even when none of its tests is collected
(a --base-url run): so it imports nothing from the [dev] extra, at module level or in its hooks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dpaas_conformance.library.embedded import ServedApp

from tests import browser_flows, schemathesis_run
from tests.mutants import background, steplookup
from tests.tiny_project import Project
from tests.tiny_target import Behaviour, tiny_app


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(background, "dpaas-mutation-harness")
    config.pluginmanager.register(schemathesis_run, "dpaas-schemathesis-run")
    config.pluginmanager.register(browser_flows, "dpaas-docs-flows")
    steplookup.install()  # this session's scenarios, and its pytester runs, as the harness's


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


@pytest.fixture
def tiny(behaviour: Behaviour) -> Iterator[str]:
    with ServedApp(lambda: tiny_app(behaviour)) as url:
        yield url


@pytest.fixture
def project(pytester: pytest.Pytester, tiny: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    return Project(pytester, tiny, monkeypatch)
