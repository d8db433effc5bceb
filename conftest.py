"""Loads the conformance suite: its plugin (the library) and its step definitions.

The library (`steps/library/`) holds the plugin, the HTTP client, the target and its
configuration, the requirement registry, the schemas and the embedded server; `steps/` holds only
step definitions. Step modules are plugins, not star imports, so pytest rewrites their assertions
and each failure shows the values involved; the library's assertions are rewritten too.
"""

import pytest

pytest.register_assert_rewrite("dpaas_conformance.library")

pytest_plugins = [
    "pytester",  # the suite's own tests run small projects with it (tests/test_verdicts.py)
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
    "tests.mutants.background",  # starts the mutation harness beside the other tests
    "tests.schemathesis_run",  # starts the bounded Schemathesis run beside them too
]
