"""Conformance classes (profile v2): which class each id and scenario belongs to, which classes a
target claims, and how the per-class verdicts make the run's verdict.

CORE is all of profile v1 and always claimed; ACCOUNTS (the whole accounts resource), USERS
(users by account and more user fields) and SERVICE (service accounts, keys, HMAC signing) are
claimed in the configuration's `[target] classes`. A scenario's class follows from its ids: the
one class all its ids outside CORE share (ERR-7 is in ACCOUNTS and SERVICE, so a scenario citing
it names the class by another id). A scenario of a class the target does not claim is *not run*,
with that reason. Each claimed class gets a verdict by the usual rules; the run is NOT CONFORMANT
if any claimed class is, else INCONCLUSIVE if any is, else CONFORMANT.

The suite's other modules call in here from small marked call sites (plugin, verdict, target,
requirements), so the plugin's structure stays its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from dpaas_conformance.library.outcomes import (
    EXPECTED,
    FAILED,
    WARNED,
)

CORE = "CORE"
ACCOUNTS = "ACCOUNTS"
USERS = "USERS"
SERVICE = "SERVICE"
CLASSES = (CORE, ACCOUNTS, USERS, SERVICE)
#: what a target claims when its configuration says nothing
DEFAULT_CLAIM = frozenset({CORE})

CONFORMANT = "CONFORMANT"
NOT_CONFORMANT = "NOT CONFORMANT"
VERDICT_INCONCLUSIVE = "INCONCLUSIVE"
#: a claimed class none of whose scenarios this run selected (--dpaas-requirements, -k)
NOT_SELECTED = "not selected"


def _ids(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(first, last + 1)]


#: Every id outside CORE, with its classes (PROFILE, "Conformance classes").
_CLASSES_OF: dict[str, frozenset[str]] = {
    **{i: frozenset({ACCOUNTS}) for i in [*_ids("ACC", 7, 23), "ERR-6"]},
    "ERR-7": frozenset({ACCOUNTS, SERVICE}),
    **{i: frozenset({USERS}) for i in _ids("USER", 4, 9)},
    **{i: frozenset({SERVICE}) for i in ["AUTH-18", *_ids("SA", 1, 8), *_ids("KEY", 1, 11),
                                         *_ids("HMAC", 1, 14)]},
}


def classes_of(requirement: str) -> frozenset[str]:
    """The classes a requirement id belongs to (CORE for every v1 id)."""
    return _CLASSES_OF.get(requirement, frozenset({CORE}))


def scenario_class(ids: Iterable[str]) -> str:
    """The class of a scenario citing `ids`; ValueError when they name none or several."""
    shared: set[str] | None = None
    for i in ids:
        found = classes_of(i)
        if found == {CORE}:
            continue
        shared = set(found) if shared is None else shared & found
    if shared is None:
        return CORE
    if len(shared) != 1:
        raise ValueError(f"the ids {sorted(ids)} name no single conformance class "
                         f"({sorted(shared) or 'none in common'})")
    return next(iter(shared))


# --- what a target claims --------------------------------------------------------------------


def parse_classes(value: Any, where: str) -> frozenset[str]:
    """`[target] classes` as written in the config; ValueError says what to fix."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: [target] classes must be a list of class names, "
                         f"e.g. [\"CORE\", \"ACCOUNTS\"]")
    unknown = sorted({v for v in value if v not in CLASSES})
    if unknown:
        raise ValueError(f"{where}: [target] classes names unknown classes {unknown}; known: "
                         f"{', '.join(CLASSES)}")
    return frozenset({CORE, *value})  # CORE is claimed whether listed or not


def in_order(classes: Iterable[str]) -> list[str]:
    return sorted(classes, key=CLASSES.index)


def not_run_reason(cls: str, source: str) -> str:
    return (f"not run: the target does not claim the {cls} class; add \"{cls}\" to "
            f"[target] classes in the DPaaS config ({source}) to check it")


# --- the verdict -----------------------------------------------------------------------------

FINDINGS = (FAILED, WARNED, EXPECTED)


class RowLike(Protocol):
    outcome: str
    blamed: list[str]
    cls: str


def judged_classes(row: RowLike) -> set[str]:
    """Where a row counts: a finding counts in the class of the ids it blames (a login failing
    inside an ACCOUNTS scenario breaks CORE), anything else in the scenario's own class."""
    if row.outcome not in FINDINGS or not row.blamed:
        return {row.cls}
    found = set()
    for i in row.blamed:
        options = classes_of(i)
        found.add(row.cls if row.cls in options else in_order(options)[0])
    return found


def overall(verdicts: Iterable[str]) -> str:
    """NOT CONFORMANT if any claimed class is, else INCONCLUSIVE if any is, else CONFORMANT
    (classes not selected in this run count for nothing; none judged is INCONCLUSIVE)."""
    judged = [v for v in verdicts if v != NOT_SELECTED]
    if NOT_CONFORMANT in judged:
        return NOT_CONFORMANT
    if not judged or VERDICT_INCONCLUSIVE in judged:
        return VERDICT_INCONCLUSIVE
    return CONFORMANT
