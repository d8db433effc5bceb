"""pytest-bdd's step lookup, remembered for the harness's pytest processes.

For every step of every scenario pytest-bdd asks pytest for the definitions of every fixture name
it knows (about a hundred) and tries each step parser on the step's text: about a sixth of the
harness's CPU time, which runs some three thousand scenarios. The answer depends only on the
step (its type and text) and on where the scenario sits (the definitions visible from its
parent node, fixed once collection ended): remembered under exactly that, it is the answer
pytest-bdd would give. The harness's processes (tests/mutants/plugin.py) and the test command's
own session (tests/conftest.py) load it; the suite as users get it runs pytest-bdd untouched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

Lookup = Callable[[Any, Any, Any], Iterable[Any]]
NAME = "find_fixturedefs_for_step"
#: the module, by name: the package's attribute `scenario` is its function of that name
bdd = importlib.import_module("pytest_bdd.scenario")
#: pytest-bdd's own lookup, as this module found it
ORIGINAL: Lookup = getattr(bdd, NAME, None)  # type: ignore[arg-type]


def remembered(lookup: Lookup) -> Lookup:
    found: dict[tuple[Any, ...], list[Any]] = {}

    def find_fixturedefs_for_step(step: Any, fixturemanager: Any, node: Any) -> Iterable[Any]:
        # The node's parent, not the node: the definitions registered on a scenario's own node
        # are pytest-bdd's target fixtures (never step definitions), and every scenario of a
        # module sees the same step definitions.
        key = (fixturemanager, node.parent, step.type, step.name)
        if key not in found:
            found[key] = list(lookup(step, fixturemanager, node))
        return iter(found[key])

    find_fixturedefs_for_step.remembers = lookup  # type: ignore[attr-defined]
    return find_fixturedefs_for_step


def listed_once() -> Lookup | None:
    """pytest-bdd's lookup, step for step, except that the step definitions a module sees are
    listed once per module: pytest-bdd asks pytest for every fixture name (about 150) for each
    new step text, which was most of what the memo above still cost. None if this pytest-bdd
    lacks a helper it uses."""
    try:
        from pytest_bdd.compat import get_fixture_names, getfixturedefs
        from pytest_bdd.steps import step_function_context_registry as registry
    except ImportError:
        return None
    visible: dict[tuple[Any, Any], list[tuple[Any, Any]]] = {}

    def find_fixturedefs_for_step(step: Any, fixturemanager: Any, node: Any) -> Iterable[Any]:
        key = (fixturemanager, node.parent)
        if key not in visible:
            visible[key] = [
                (fixturedef, context)
                for name in get_fixture_names(fixturemanager=fixturemanager)
                for fixturedef in getfixturedefs(fixturemanager, name, node) or []
                if (context := registry.get(fixturedef.func)) is not None
            ]
        for fixturedef, context in visible[key]:
            if context.type is not None and context.type != step.type:
                continue
            if context.parser.is_matching(step.name):
                yield fixturedef

    return find_fixturedefs_for_step


def install() -> None:
    """Idempotent; a pytest-bdd without this function is left as it is (and only slower)."""
    lookup = getattr(bdd, NAME, None)
    if lookup is not None and not hasattr(lookup, "remembers"):
        setattr(bdd, NAME, remembered(listed_once() or lookup))


def unremembered() -> Lookup:
    """pytest-bdd's own lookup, whether or not this session installed ours."""
    return ORIGINAL
