"""What the suite knows about one collected scenario: its level, its requirement ids, its name in
the feature file and the embedded variant it runs against.

Scenarios carry their level (@must or @should) and requirement ids (@AUTH-9) as Gherkin tags;
`selection` turns the tags into the `level` and `requirement` markers read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from dpaas_conformance.library import classes
from dpaas_conformance.library.requirements import MUST, SHOULD
from pytest_bdd.feature import get_features
from pytest_bdd.scenario import scenario_wrapper_template_registry


@dataclass(frozen=True)
class Identity:
    """One scenario (one example, one variant) as the reports name it."""

    nodeid: str
    level: str
    requirements: tuple[str, ...]
    scenario: str  # the node id without the variant: the same scenario against every variant
    name: str | None  # the scenario's name as its feature file writes it
    variant: str | None = None
    cls: str = classes.CORE  # its conformance class, from its ids (see `classes`)


def marks(item: pytest.Item | Any) -> tuple[str | None, list[str]]:
    """The level (None: not a scenario of the suite) and the requirement ids."""
    level = next((m.args[0] for m in item.iter_markers("level")), None)
    ids = sorted({m.args[0] for m in item.iter_markers("requirement")})
    return level, ids


def variant_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("dpaas_variant") if callspec is not None else None


def template_of(item: pytest.Item) -> Any:
    """pytest-bdd's scenario template of the item (it keeps them by function), or None."""
    try:
        return scenario_wrapper_template_registry.get(item.obj)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # not a function, or not one weak references reach
        return None


def name_of(item: pytest.Item) -> str | None:
    """The scenario's name as its feature file writes it."""
    template = template_of(item)
    return template.name if template is not None else None


def identity(item: pytest.Item) -> Identity | None:
    level, ids = marks(item)
    if level is None:
        return None
    variant = variant_of(item)
    scenario = item.nodeid
    if variant is not None:
        tag = f"@{variant}"
        scenario = scenario.replace(f"[{tag}]", "").replace(f"-{tag}", "").replace(f"{tag}-", "")
    return Identity(item.nodeid, level, tuple(ids), scenario, name_of(item), variant,
                    class_of(item, ids))


def class_of(item: pytest.Item | Any, ids: Iterable[str]) -> str:
    """The scenario's conformance class; ids that name none (or several) are the suite's own
    mistake in a feature file, a usage error."""
    try:
        return classes.scenario_class(ids)
    except ValueError as exc:
        raise pytest.UsageError(f"{getattr(item, 'nodeid', item)}: {exc}") from exc


def catalogue(directories: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every scenario of the feature files, by name, with the requirement ids its tags cite."""
    return {
        name: tuple(sorted(t for t in {*template.tags, *feature.tags}
                           if t not in (MUST, SHOULD) and t[:1].isupper()))
        for feature in get_features([str(d) for d in directories])
        for name, template in feature.scenarios.items()
    }
