"""Which scenarios run, against what, and in what order.

- The Gherkin tags become markers: `@must`/`@should` the `level`, `@AUTH-9` a `requirement`.
- With embedded variants (`pytest_dpaas_variants`), each scenario is parametrized over the
  variants that select it, one session-scoped `target` per variant.
- `--dpaas-requirements` keeps the scenarios citing those ids or prefixes; the others are
  deselected, and the verdict names the requirements they would have checked.
- Scenarios that change what the target answers after them run last (`ordering.rank`).

To leave a scenario out with a reason the verdict reports, skip it (a `skip` marker here, or
`pytest.skip` in a step) with a reason written "not run: WHY; WHAT TO DO": it counts as not run,
and the verdict names the requirements left unchecked by WHY (`verdict.short_reason`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from dpaas_conformance.library import ordering
from dpaas_conformance.library.requirements import MUST, SHOULD
from dpaas_conformance.library.run import Run, run_of
from dpaas_conformance.library.scenario import identity, marks, variant_of

REQUIREMENT_TAG = re.compile(r"^[A-Z]+-\d+$")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "level(name): the scenario's level, must or should")
    config.addinivalue_line("markers", "requirement(id): a requirement id the scenario checks")


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    if tag in (MUST, SHOULD):
        pytest.mark.level(tag)(function)
        # Every scenario uses the target, so embedded variants can parametrize it.
        pytest.mark.usefixtures("target")(function)
        # Its class claimed, else not run; its turn, alone for those that must run alone.
        pytest.mark.usefixtures("dpaas_scenario")(function)
        return True
    if REQUIREMENT_TAG.match(tag):
        pytest.mark.requirement(tag)(function)
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    variants = run_of(metafunc.config).variants
    if variants is None or "dpaas_variant" not in metafunc.fixturenames:
        return
    level, ids = marks(metafunc.definition)
    names = [n for n, v in variants.items() if level and v.selects(level, ids)]
    params = [pytest.param(n, id=f"@{n}", marks=pytest.mark.xdist_group(n)) for n in names]
    metafunc.parametrize("dpaas_variant", params or [pytest.param(None, id="no-variant")],
                         indirect=True, scope="session")


def wanted(requirements: Sequence[str], prefixes: Sequence[str]) -> bool:
    """Whether a scenario citing these ids passes the --dpaas-requirements filter."""
    return not prefixes or any(
        i == p or i.startswith(f"{p}-") for i in requirements for p in prefixes)


def unselected(run: Run) -> dict[str, str]:
    """The scenarios of the catalogue the requirement filter leaves out, with that reason."""
    prefixes = run.options.requirements
    why = f"not selected by --dpaas-requirements={','.join(prefixes)}"
    return {name: why for name, ids in run.catalogue.items() if not wanted(ids, prefixes)}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = run_of(config)
    prefixes = run.options.requirements
    keep, drop = [], []
    for item in items:
        found = identity(item)
        if found is not None:
            item.user_properties.append(("dpaas_level", found.level))
            item.user_properties.append(("dpaas_requirements", " ".join(found.requirements)))
            item.user_properties.append(("dpaas_class", found.cls))
            if found.variant:
                item.user_properties.append(("dpaas_variant", found.variant))
        if found is None:
            selected = not prefixes  # a filtered run is about scenarios only
        else:
            selected = wanted(found.requirements, prefixes) and not (
                run.variants is not None and found.variant is None)
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # Keep each variant's scenarios together (one server each), ranks in order within.
    groups = {v: i for i, v in enumerate(dict.fromkeys(variant_of(i) for i in keep))}
    keep.sort(key=lambda i: (groups[variant_of(i)], ordering.rank(marks(i)[1])))
    items[:] = keep
