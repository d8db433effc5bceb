"""The mutation harness's side of the suite's plugin: it implements `pytest_dpaas_variants`.

The runner (tests/mutants/runner.py) loads it with `-p tests.mutants.plugin`, so it exists only in
the harness's own pytest processes: the product never imports the project's tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from dpaas_conformance.library.scenario import variant_of

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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each variant's scenarios together (so that its server starts once), the variants in the
    order `--dpaas-variant` gives them: the runner puts first those whose server waits
    (`WAITING`), while other work keeps the cores busy. Stable: within a variant, the order
    the other plugins chose."""
    order = {name: i for i, name in enumerate(config.getoption("dpaas_variant"))}
    if order:
        items.sort(key=lambda item: order.get(variant_of(item) or "", -1))
