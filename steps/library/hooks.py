"""The hooks the suite's plugin defines, for other plugins to implement (pluggy hook specs).

Registered by the plugin's `pytest_addhooks`, as pytest-bdd registers its own. The project's
mutation harness implements `pytest_dpaas_variants` (tests/mutants/plugin.py), so that the
product never imports the project's tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the hooks load in every pytest run: nothing heavy at import
    from dpaas_conformance.library.embedded import Variant


@pytest.hookspec(firstresult=True)
def pytest_dpaas_variants(config: pytest.Config) -> Mapping[str, Variant] | None:
    """The embedded apps to check instead of the reference server, by name, or None.

    Only without --base-url. Each variant is served in turn (a session-scoped parameter of the
    `target` fixture) against the scenarios its `selects` accepts; every report row names it.
    """
