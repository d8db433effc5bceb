"""Loads the conformance suite: its plugin (the library) and its step definitions.

The library (`steps/library/`) holds the plugin, the HTTP client, the target and its
configuration, the requirement registry, the schemas and the embedded server; `steps/` holds only
step definitions. Step modules are plugins, not star imports, so pytest rewrites their assertions
and each failure shows the values involved; the library's assertions are rewritten too.
"""

import pytest

pytest.register_assert_rewrite("steps.library")

pytest_plugins = [
    "pytester",  # the suite's own tests run small projects with it (tests/test_verdicts.py)
    "steps.library.plugin",
    "steps.common",
    "steps.auth",
    "steps.lists",
    "steps.accounts",
    "steps.users",
    "steps.errors",
    "tests.mutants.background",  # starts the mutation harness beside the other tests
]
