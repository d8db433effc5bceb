"""What a scenario's outcome says about the target, decided from how the scenario ended.

The verdict is only worth anything if the suite never blames the target for its own trouble. So
only assertions count against the target: an `AssertionError` (or `pytest.fail`) raised by a step
is a finding about the target's answer. Everything else - a connection that dropped, a timeout, a
bug in a step - means the suite could not judge, and the scenario is *inconclusive*.

A step may also name the requirement its finding is about when that is not the scenario's own: a
login that fails inside an accounts scenario broke AUTH-1, and a body that is not valid JSON broke
ERR-4 wherever it turns up. Such a finding counts at the level of the requirement it names, so a
MUST broken inside a SHOULD scenario is a MUST failure, never a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from dpaas_conformance.library.requirements import MUST, SHOULD

PASSED = "passed"
FAILED = "failed"
WARNED = "warned"
NOT_RUN = "not run"
INCONCLUSIVE = "inconclusive"
EXPECTED = "expected failure"  # a failure the --dpaas-expect file lists (see `expectations`)


def printable(text: str) -> str:
    """Text any terminal, report file or xdist channel can carry: a lone surrogate that came
    from a hostile JSON body is written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class TargetFailure(AssertionError):
    """The target broke `requirement` (at `level`), whatever the scenario that found it."""

    def __init__(self, requirement: str, message: str, level: str = MUST) -> None:
        super().__init__(printable(f"{requirement} ({level.upper()}): {message}"))
        self.requirement = requirement
        self.level = level


class Inconclusive(Exception):
    """The suite cannot judge this scenario; nothing about it is held against the target."""


@dataclass(frozen=True)
class Judgement:
    """One scenario's outcome: what it says, at which level, and which requirements it blames."""

    outcome: str
    level: str
    blamed: tuple[str, ...] = ()
    reason: str = ""

    @property
    def label(self) -> str:
        """The verdict table's column: "must failed", "should warned", "inconclusive", ..."""
        if self.outcome in (NOT_RUN, INCONCLUSIVE, EXPECTED):
            return self.outcome
        return f"{self.level} {self.outcome}"


def judge(
    excinfo: pytest.ExceptionInfo[BaseException] | None,
    level: str,
    requirements: list[str],
    strict: bool,
) -> Judgement:
    """Classify how a scenario ended (None: it passed)."""
    if excinfo is None:
        return Judgement(PASSED, level)
    error = excinfo.value
    if isinstance(error, pytest.skip.Exception):
        return Judgement(NOT_RUN, level, reason=str(error.msg).removeprefix("Skipped: "))
    if isinstance(error, TargetFailure):
        level, blamed = error.level, (error.requirement,)
    elif isinstance(error, AssertionError | pytest.fail.Exception):
        blamed = tuple(requirements)
    else:
        what = "the suite could not judge" if isinstance(error, Inconclusive) else (
            f"not a finding about the target ({type(error).__name__})"
        )
        return Judgement(INCONCLUSIVE, level, reason=f"{what}: {first_line(error)}")
    outcome = WARNED if level == SHOULD and not strict else FAILED
    return Judgement(outcome, level, blamed, first_line(error))


def first_line(error: BaseException) -> str:
    text = str(error.msg if isinstance(error, pytest.fail.Exception) else error).strip()
    return printable(text.splitlines()[0]) if text else type(error).__name__
