import pytest

# tests/browser_flows.py holds the docs page's flows and their assertions (imported by the
# conftest, before pytest would rewrite it on its own): pytest rewrites them as a test's.
pytest.register_assert_rewrite("tests.browser_flows")
