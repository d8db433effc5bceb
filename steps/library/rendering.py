"""A scenario that did not pass, written for a person: what failed, why it matters, how to see it.

In this order: the scenario and the step, the requirement blamed, what was expected and what came
back, the HTTP exchanges, the replay. No frames of pytest or pytest-bdd: a finding about the
target is an assertion about its answer, and its traceback would only show the suite's plumbing.
An inconclusive scenario keeps the suite's own frames, since there the bug may be the suite's.

The terminal shows a failure in full once per cause; a later failure with the same cause (the same
outcome and the same message, ids and tokens aside) is shown in two lines that point at the first.
The JSON and HTML reports keep every failure in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dpaas_conformance.library.outcomes import EXPECTED, INCONCLUSIVE, WARNED
from dpaas_conformance.library.requirements import REQUIREMENTS
from dpaas_conformance.library.results import ScenarioResult

WIDTH = 80
MESSAGE_LINES = 40  # of one assertion's text, in full
#: Not part of a cause: masked secrets, and ids, timestamps and tokens (words with digits).
VOLATILE = re.compile(r"\S*…\S* \(\d+ chars, masked\)|(?=[\w-]*\d)[\w-]{8,}")


@dataclass(frozen=True)
class Crash:
    """What pytest's one-line summaries (`FAILED ... - message`, --tb=line, JUnit) read."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


class Rendered:
    """A report's longrepr: the lines, written as they are to the terminal and to the files."""

    def __init__(self, lines: list[str], crash: Crash) -> None:
        self.lines = lines
        self.reprcrash = crash

    def toterminal(self, tw: Any) -> None:
        for line in self.lines:
            tw.line(line)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def heading(title: str) -> str:
    return f" {title} ".center(WIDTH, "-")


def scenario_line(result: ScenarioResult) -> str:
    failure = result.failure
    name = failure.scenario if failure else result.identity.name or result.identity.nodeid
    where = f" ({failure.where})" if failure and failure.where else ""
    return f"Scenario: {name}{where}"


def step_line(result: ScenarioResult) -> str:
    step = result.failure.step if result.failure else ""
    return f"Step: {step}" if step else "Step: none (it stopped before its first step)"


def message_lines(result: ScenarioResult) -> list[str]:
    text = result.failure.message if result.failure else result.reason
    lines = text.splitlines() or [""]
    if len(lines) > MESSAGE_LINES:
        more = len(lines) - MESSAGE_LINES
        lines = [*lines[:MESSAGE_LINES], f"... ({more} more lines: see the JSON or HTML report)"]
    return lines


def blame_lines(result: ScenarioResult) -> list[str]:
    level = result.judged_level or result.identity.level
    if result.outcome == INCONCLUSIVE:
        return ["Inconclusive, not held against the target:", f"  {result.reason}"]
    title = {WARNED: "Requirement not met (a SHOULD: a warning)",
             EXPECTED: f"Requirement broken, as expected ({result.expected})"}.get(
        result.outcome or "", "Requirement broken")
    rules = [f"  {i} ({level.upper()}): {REQUIREMENTS[i].rule(level)}" if i in REQUIREMENTS
             else f"  {i}" for i in result.blamed]
    return [f"{title}:", *rules]


def cause(result: ScenarioResult) -> tuple[str, str]:
    """What failures of one cause share: the outcome and the message, ids and tokens aside."""
    text = result.failure.message if result.failure else result.reason
    return result.outcome or "", VOLATILE.sub("…", "\n".join(text.splitlines()[:3]))


def crash(result: ScenarioResult) -> Crash:
    blamed = ", ".join(result.blamed)
    first = (message_lines(result)[0] if result.outcome != INCONCLUSIVE
             else f"inconclusive: {result.reason}")
    level = (result.judged_level or result.identity.level).upper()
    message = f"{blamed} ({level}): {first}" if blamed else first
    return Crash(result.identity.nodeid.split("::")[0], 0, message)


def full(result: ScenarioResult, same_cause: int = 0) -> Rendered:
    """Everything, in the order a person reads it."""
    failure = result.failure
    lines = [scenario_line(result), step_line(result), *blame_lines(result)]
    if result.outcome == INCONCLUSIVE:
        if failure and failure.traceback:
            lines += [heading("the suite's traceback (pytest's own frames cut)"),
                      *failure.traceback.splitlines()]
    else:
        lines += ["Expected and got:", *(f"  {line}" for line in message_lines(result))]
        if failure and failure.raised_at:
            lines.append(f"  (found at {failure.raised_at})")
    if failure and failure.exchanges:
        lines += [heading("HTTP exchanges (secrets masked)"), *failure.exchanges.splitlines()]
    if failure and failure.replay_text:
        lines += [heading("Replay: the requests as curl commands"),
                  *failure.replay_text.splitlines()]
    if same_cause:
        lines.append(f"({same_cause} more failure{'s' if same_cause > 1 else ''} below had the "
                     "same cause; they are shown in short)")
    return Rendered(lines, crash(result))


def compact(result: ScenarioResult, first: ScenarioResult) -> Rendered:
    """Two lines for a failure whose cause an earlier one showed in full: where, and what it
    blames. Its message is the cause's, so it is not repeated."""
    level = (result.judged_level or result.identity.level).upper()
    what = (f"breaks {', '.join(result.blamed)} ({level})" if result.outcome != INCONCLUSIVE
            else "inconclusive, not held against the target")
    name = first.failure.scenario if first.failure else first.identity.nodeid
    step = result.failure.step if result.failure else "before its first step"
    return Rendered([
        f"{scenario_line(result)}, at {step}",
        f'Same cause as "{name}", shown in full above: {what}. This one\'s exchanges and replay: '
        "the --dpaas-report JSON, the --html report, or --dpaas-details=all.",
    ], crash(result))
