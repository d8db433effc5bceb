"""Fixtures for the tests that run the suite on a pytester project against the tiny target."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dpaas_conformance.library.embedded import ServedApp

from tests.tiny_project import Project
from tests.tiny_target import Behaviour, tiny_app


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
