"""The controller's side: every report into the verdict, and the verdict out - the terminal's
verdict section, the exit status, the JSON report (--dpaas-report) and the HTML one (--html).

Runs in the process that sees every report (under xdist, the controller). In the terminal a
failure is shown in full once per cause and in five lines after that (`rendering`), unless
--dpaas-details=all; the reports keep every failure in full.
"""

from __future__ import annotations

from typing import Any

import pytest
from dpaas_conformance.library import rendering
from dpaas_conformance.library.results import ScenarioResult
from dpaas_conformance.library.run import run_of
from dpaas_conformance.library.verdict import Verdict

NAME = "dpaas-reports"


def register(config: pytest.Config) -> None:
    run = run_of(config)
    run.verdict = Verdict(strict=run.options.strict)
    config.pluginmanager.register(Reports(config), NAME)
    if hasattr(config.hook, "pytest_html_results_summary"):  # pytest-html is active
        from dpaas_conformance.library.html import HtmlReport

        config.pluginmanager.register(HtmlReport(run.verdict), "dpaas-html")


def context(config: pytest.Config) -> dict[str, Any]:
    run = run_of(config)
    return {
        "target": run.options.base_url or "embedded",
        "config": run.config.source if run.config else run.options.config_file,
        "principals": sorted(run.config.principals) if run.config else [],
    }


def write_report(config: pytest.Config) -> None:
    run = run_of(config)
    if run.options.report is not None and run.verdict is not None:
        run.verdict.write(run.options.report, **context(config))


class Reports:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        verdict = run_of(config).verdict
        assert verdict is not None
        self.verdict: Verdict = verdict

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = ScenarioResult.of(report)
        self.verdict.record(result, report.failed, report.when)
        if result is not None and result.failure is not None and isinstance(report.longrepr, str):
            report.longrepr = rendering.full(result)  # it came from an xdist worker as text

    def pytest_keyboard_interrupt(self) -> None:
        self.verdict.interrupted = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.verdict.rows:
            return
        if session.shouldstop or session.shouldfail:
            self.verdict.interrupted = True  # stopped early (-x): what did not run is unjudged
        session.exitstatus = self.verdict.exit_status
        write_report(self.config)
        if run_of(self.config).options.details == "first":
            self.shorten_repeats()

    def shorten_repeats(self) -> None:
        """Failures the terminal is about to show: in full once per cause, then in short."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        first: dict[tuple[str, str], tuple[pytest.TestReport, ScenarioResult]] = {}
        repeats: dict[tuple[str, str], int] = {}
        for report in [*terminal.stats.get("error", []), *terminal.stats.get("failed", [])]:
            result = ScenarioResult.of(report)
            if result is None or result.failure is None:
                continue
            cause = rendering.cause(result)
            if cause in first:
                report.longrepr = rendering.compact(result, first[cause][1])
                repeats[cause] += 1
            else:
                first[cause], repeats[cause] = (report, result), 0
        for cause, (report, result) in first.items():
            report.longrepr = rendering.full(result, same_cause=repeats[cause])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdict.rows:
            terminalreporter.section("DPaaS conformance verdict")
            for line in self.verdict.table():
                terminalreporter.write_line(line)
