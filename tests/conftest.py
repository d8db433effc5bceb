"""The project's own tests: the mutation harness beside them, and the fixtures of the tests that
run the suite on a pytester project against the tiny target.

pytest loads this file whenever tests/ is a testpath, even when none of its tests is collected
(a --base-url run): so it imports nothing from the [dev] extra, at module level or in its hooks.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import dpaas_conformance.library
import pytest
from dpaas_conformance.library.embedded import ServedApp

from tests import browser_flows, heap, schemathesis_run
from tests.mutants import background, steplookup
from tests.tiny_project import Project
from tests.tiny_target import Behaviour, tiny_app


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(background, "dpaas-mutation-harness")
    config.pluginmanager.register(schemathesis_run, "dpaas-schemathesis-run")
    config.pluginmanager.register(browser_flows, "dpaas-docs-flows")
    config.pluginmanager.register(heap, "dpaas-heap")
    steplookup.install()  # this session's scenarios, and its pytester runs, as the harness's
    import_the_suites_library()


def import_the_suites_library() -> None:
    """Every module of the suite's library, imported before any pytester run.

    An in-process pytester run drops from `sys.modules` the modules it imported first, but their
    package keeps each as an attribute: a later run imports the module anew, while `from
    dpaas_conformance.library import expectations` in another module hands it the old one. Two
    `ConfigError` classes then meet, and the run ends in an INTERNALERROR where the suite stops
    with its one line (tests/test_expectations.py alone failed so; in the whole run, earlier
    tests had imported the modules)."""
    library = dpaas_conformance.library
    for module in pkgutil.iter_modules(library.__path__, f"{library.__name__}."):
        importlib.import_module(module.name)


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
