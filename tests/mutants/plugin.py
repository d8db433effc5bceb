"""The mutation harness's side of the suite's plugin: it implements `pytest_dpaas_variants`.

The runner (tests/mutants/runner.py) loads it with `-p tests.mutants.plugin`, so it exists only in
the harness's own pytest processes: the product never imports the project's tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.mutants import HarnessVariant, steplookup, variants


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("dpaas").addoption(
        "--dpaas-variant", action="append", default=[], metavar="NAME",
        help="check this embedded variant of the mutation harness (repeatable; default: all)")


def pytest_configure(config: pytest.Config) -> None:
    steplookup.install()  # the harness runs thousands of scenarios: see steplookup.py


def pytest_dpaas_variants(config: pytest.Config) -> Mapping[str, HarnessVariant]:
    found = variants()
    wanted = config.getoption("dpaas_variant")
    unknown = set(wanted) - set(found)
    if unknown:
        raise pytest.UsageError(f"unknown variants {sorted(unknown)}; known: {sorted(found)}")
    return {n: v for n, v in found.items() if not wanted or n in wanted}
