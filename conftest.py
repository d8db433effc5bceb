"""The project's test command (`pytest` at the root): the suite's scenarios against the embedded
reference server, then the project's own tests (tests/conftest.py starts the mutation harness).

The suite loads through its pytest11 entry point, which the editable install registers, exactly
as it does from a wheel: nothing here is needed to run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent / "tests"  # not config.rootpath: see docs/checking.md

pytest_plugins = ["pytester"]  # the project's tests run small projects with it (tests/)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Against someone else's server (--base-url) only the scenarios make sense: the project's
    own tests are not even collected, so none of their imports (some need [dev]) happens."""
    if config.getoption("base_url", None) and collection_path.is_relative_to(TESTS):
        return True
    return None
