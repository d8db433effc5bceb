"""What a scenario's outcome says about the target, decided from how the scenario ended.

The verdict is only worth anything if the suite never blames the target for its own trouble. So
only assertions count against the target: an `AssertionError` (or `pytest.fail`) raised by a step
is a finding about the target's answer. Everything else - a connection that dropped, a timeout, a
bug in a step - means the suite could not judge, and the scenario is *inconclusive*.

Which requirement a finding blames:
- A check whose requirement does not depend on the scenario names it (`TargetFailure`): a login
  that fails inside an accounts scenario broke AUTH-1, a body that is not valid JSON broke ERR-4
  wherever it turns up, an account that lacks a field broke ACC-6 whichever step read it. Such a
  finding counts at the level of the requirement it names, so a MUST broken inside a SHOULD
  scenario is a MUST failure, never a warning.
- A plain assertion in one of the scenario's own Then steps blames the scenario's own ids.
- A plain assertion in a Given or When step is not charged to the scenario's ids: preconditions
  name the requirement of the call they make (`charged_to`), so one that does not is the suite's
  own invariant breaking, and the scenario is inconclusive.
- An answer that cannot be read at all (`BrokenAnswer`: it stalled past the deadline, broke off
  mid-body, flooded its headers, was absurdly large, nested deeper than any parser reads) is a
  finding about the call that got it: the requirement a precondition names for it, or, for the
  scenario's own When and Then requests, the scenario's ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


GIVEN, WHEN, THEN = "given", "when", "then"


class TargetFailure(AssertionError):
    """The target broke `requirement` (at `level`), whatever the scenario that found it.

    `pinned` says whether the requirement holds wherever the check runs (ERR-4, USER-2, an
    account's fields) or is only the usual one for the call (a list that does not answer 200
    breaks LIST-1, unless it is a read that ERR-5 guards): `charged_to` renames only the latter.
    """

    def __init__(self, requirement: str, message: str, level: str = MUST,
                 pinned: bool = True) -> None:
        super().__init__(printable(f"{requirement} ({level.upper()}): {message}"))
        self.requirement = requirement
        self.level = level
        self.detail = message
        self.pinned = pinned


def call_failure(requirement: str, message: str, level: str = MUST) -> TargetFailure:
    """A finding about a call, in the requirement that call usually answers to."""
    return TargetFailure(requirement, message, level, pinned=False)


class BrokenAnswer(AssertionError):
    """The target's answer could not be read as an answer: a finding about the call."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@contextmanager
def charged_to(requirement: str, level: str = MUST) -> Iterator[None]:
    """Findings inside this block blame `requirement`, unless they name a pinned one.

    What a precondition finds wrong is about the call it makes ("Given they have created 3
    accounts": ACC-2), never about the scenario that needed it.
    """
    try:
        yield
    except TargetFailure as exc:
        if exc.pinned or exc.requirement == requirement:
            raise
        raise TargetFailure(requirement, exc.detail, level) from exc
    except AssertionError as exc:
        raise TargetFailure(requirement, first_line(exc), level) from exc


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
    step_type: str | None = None,
) -> Judgement:
    """Classify how a scenario ended (None: it passed); `step_type` is the kind of step that
    failed (given, when, then; None outside a step)."""
    if excinfo is None:
        return Judgement(PASSED, level)
    error = excinfo.value
    if isinstance(error, pytest.skip.Exception):
        return Judgement(NOT_RUN, level, reason=str(error.msg).removeprefix("Skipped: "))
    if isinstance(error, TargetFailure):
        level, blamed = error.level, (error.requirement,)
    elif not isinstance(error, AssertionError | pytest.fail.Exception):
        what = "the suite could not judge" if isinstance(error, Inconclusive) else (
            f"not a finding about the target ({type(error).__name__})"
        )
        return Judgement(INCONCLUSIVE, level, reason=f"{what}: {first_line(error)}")
    elif step_type == GIVEN or (step_type == WHEN and not isinstance(error, BrokenAnswer)):
        return Judgement(INCONCLUSIVE, level, reason=(
            f"a {step_type} step failed without naming a requirement (a precondition the suite "
            f"checks for itself): {first_line(error)}"))
    else:
        blamed = tuple(requirements)
    outcome = WARNED if level == SHOULD and not strict else FAILED
    return Judgement(outcome, level, blamed, first_line(error))


def first_line(error: BaseException) -> str:
    text = str(error.msg if isinstance(error, pytest.fail.Exception) else error).strip()
    return printable(text.splitlines()[0]) if text else type(error).__name__
