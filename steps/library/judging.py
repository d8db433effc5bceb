"""Judging: what each scenario's end says about the target, attached to its report.

Runs where the scenario ran (an xdist worker, or the only process). `outcomes.judge` decides the
outcome from how the scenario ended; here SHOULD failures become warnings unless --dpaas-strict,
failures the expectations file lists become expected ones, and a scenario that did not pass gets
its failure written for a person (`rendering`) with the HTTP exchanges and their replay. The typed
result (`results.ScenarioResult`) rides on the report to the controller, where the verdict and the
reports read it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import TerminalRepr
from _pytest._io import TerminalWriter
from dpaas_conformance.library import masking, rendering, replay
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.outcomes import (
    EXPECTED,
    FAILED,
    INCONCLUSIVE,
    NOT_RUN,
    PASSED,
    WARNED,
    TargetFailure,
    first_line,
    judge,
    printable,
)
from dpaas_conformance.library.paths import SUITE_DIR
from dpaas_conformance.library.results import Failure, ScenarioResult
from dpaas_conformance.library.run import CLIENT, FAILED_STEP, TARGET, FailedStep, run_of
from dpaas_conformance.library.scenario import Identity, identity, template_of
from dpaas_conformance.library.target import Target


def _plumbing_dirs() -> tuple[Path, ...]:
    """Frames of these packages are plumbing, never the reason a scenario failed."""
    import _pytest
    import pluggy
    import pytest_bdd

    return tuple(Path(m.__file__).resolve().parent for m in (_pytest, pluggy, pytest_bdd))


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                          **_: Any) -> None:
    request.node.stash[FAILED_STEP] = FailedStep(
        f"{step.keyword} {step.name} (line {step.line_number})", scenario.name,
        f"{Path(feature.filename).name}, line {scenario.line_number}", step.type)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    found = identity(item)
    if found is None:
        return (yield)  # not a scenario of the suite
    if call.when == "teardown":  # a teardown's failure keeps pytest's own traceback
        report = yield
    else:
        with lazy_pytest_traceback(item):
            report = yield
    result = judged(item, call, report, found)
    result = masking.scrub_report(report, result, item.stash.get(TARGET, None),
                                  item.stash.get(CLIENT, None))
    result.attach(report)
    if result.outcome is not None and report.when != "teardown":
        item.user_properties.append(("dpaas_outcome", result.label))
        report.user_properties.append(("dpaas_outcome", result.label))
    return report


class OnDemand(TerminalRepr):
    """pytest's own traceback of a failed scenario, written only if something prints it.

    The suite replaces it with its own account of the failure (`rendering`) in nearly every
    case; pytest would otherwise parse every source file of the traceback, pytest's own
    included, for each failing scenario, a second or so per ten failures, all thrown away.
    """

    def __init__(self, write: Callable[[], Any]) -> None:
        self._write: Callable[[], Any] | None = write
        self._written: Any = None

    def toterminal(self, tw: TerminalWriter) -> None:
        if self._write is not None:
            self._written, self._write = self._write(), None  # the frames go with the closure
        if isinstance(self._written, str):
            tw.line(self._written)
        else:
            self._written.toterminal(tw)


@contextmanager
def lazy_pytest_traceback(item: pytest.Item) -> Iterator[None]:
    """pytest's report of the scenario, while it is made, asks for its traceback lazily."""
    if not isinstance(item, pytest.Function):
        yield
        return
    full, py = item.repr_failure, item._repr_failure_py
    item.repr_failure = lambda excinfo, **kw: OnDemand(  # type: ignore[method-assign]
        lambda: full(excinfo, **kw))
    item._repr_failure_py = lambda excinfo, **kw: OnDemand(  # type: ignore[method-assign]
        lambda: py(excinfo, **kw))
    try:
        yield
    finally:
        del item.repr_failure, item._repr_failure_py


def judged(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
           found: Identity) -> ScenarioResult:
    if report.when == "setup" and report.passed:
        return ScenarioResult(found, "setup", None)
    if report.when == "teardown":
        if call.excinfo is None:
            return ScenarioResult(found, "teardown", None)
        return ScenarioResult(found, "teardown", INCONCLUSIVE,
                              reason=f"teardown failed: {first_line(call.excinfo.value)}")
    run = run_of(item.config)
    step = item.stash.get(FAILED_STEP, None)
    judgement = judge(call.excinfo, found.level, list(found.requirements), run.options.strict,
                      step.type if step is not None else None)
    result = ScenarioResult(found, report.when, judgement.outcome, judgement.level,
                            judgement.blamed, judgement.reason)
    expected = run.expectations
    if expected is not None and result.outcome in (FAILED, WARNED):
        entries = expected.covering(found.name, result.blamed)
        if entries:
            result = replace(result, outcome=EXPECTED,
                             expected="; ".join(e.reason for e in entries))
    if result.outcome in (PASSED, NOT_RUN) or call.excinfo is None:
        return result
    result = replace(result, failure=failure_of(item, call.excinfo, result))
    report.longrepr = rendering.full(result)
    if result.outcome == WARNED:
        report.outcome = "skipped"
        report.wasxfail = f"SHOULD not met (warning): {', '.join(result.blamed)}"
    elif result.outcome == EXPECTED:
        report.outcome = "skipped"
        report.wasxfail = f"expected failure ({expected.source if expected else ''}): " \
                          f"{result.expected}"
    return result


def failure_of(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException],
               result: ScenarioResult) -> Failure:
    client = item.stash.get(CLIENT, None)
    step = item.stash.get(FAILED_STEP, None)

    def mask(text: str) -> str:
        return printable(client.redact(text) if client is not None else text)

    where, name = step.where if step else "", step.scenario if step else ""
    if not name:
        template = template_of(item)
        name = template.name if template is not None else item.name
        where = (f"{Path(template.feature.filename).name}, line {template.line_number}"
                 if template is not None else "")
    callspec = getattr(item, "callspec", None)
    suffix = callspec.id if callspec is not None else ""  # the example's (and variant's) id
    exchanges = replay_text = ""
    replay_json = None
    if client is not None and client.exchanges:
        exchanges = client.report()
        commands = replay_of(client, item.stash[TARGET])
        replay_text, replay_json = commands.render(), commands.to_json()
    inconclusive = result.outcome == INCONCLUSIVE
    return Failure(
        scenario=f"{name} [{suffix}]" if suffix else name,
        where=where,
        step=step.text if step else "",
        message="" if inconclusive else mask(message_of(excinfo.value)),
        raised_at="" if inconclusive else raised_at(excinfo),
        traceback=mask(suite_traceback(excinfo)) if inconclusive else "",
        exchanges=exchanges,
        replay_text=replay_text,
        replay=replay_json,
    )


def message_of(error: BaseException) -> str:
    """The assertion's text: what was expected and what came back (the compared values too,
    since the suite's modules are rewritten by pytest)."""
    text = str(error.msg if isinstance(error, pytest.fail.Exception) else error).strip()
    if isinstance(error, TargetFailure):
        text = text.removeprefix(f"{error.requirement} ({error.level.upper()}): ")
    return text or type(error).__name__


def raised_at(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The suite's innermost frame where the finding was made: through `charged_to`, which
    re-raises it under its owner's name, to the check that failed."""
    error = excinfo.value
    while isinstance(error.__cause__, AssertionError) and error.__cause__.__traceback__:
        error = error.__cause__
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(SUITE_DIR):
            return f"{path.relative_to(SUITE_DIR.parent)}:{frame.lineno} in {frame.name}"
    return ""


def suite_traceback(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The traceback without the frames of pytest, pluggy and pytest-bdd."""
    plumbing = _plumbing_dirs()
    kept = excinfo.traceback.filter(
        lambda entry: not any(Path(entry.path).is_relative_to(p) for p in plumbing))
    excinfo.traceback = kept or excinfo.traceback
    return str(excinfo.getrepr(style="short", chain=True))


def replay_of(client: ApiClient, target: Target) -> replay.Replay:
    """The curl commands of what the client sent, checked once more for a password."""
    commands = replay.build(client.exchanges, target.config.principals.values(),
                            target.config.source)
    return replace(commands, commands=tuple(
        replace(c, text=printable(client.redact(c.text))) for c in commands.commands))


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    result = ScenarioResult.of(report)
    if result is not None and result.outcome == INCONCLUSIVE and report.failed:
        return "error", "I", "INCONCLUSIVE"
    return None
