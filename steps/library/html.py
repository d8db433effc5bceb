"""The HTML report (`--html=report.html`, pytest-html): the verdict first, then each scenario.

pytest-html builds the page on the controller (under xdist too) from the same reports the verdict
reads, so this plugin only adds to it through pytest-html's hooks: the verdict table and lines
above the results (the very numbers the terminal and the JSON report give), and for each scenario
its level, requirement ids and DPaaS outcome as columns, and above its log what it blamed and
why. The log itself holds, for a scenario that did not pass, the failure in full as `rendering`
writes it: the step, the broken rule, what was expected and what came back, the HTTP exchanges
and the replay commands - for every failure, not only the first of each cause.

Registered only when pytest-html is installed and active (see `reports.register`).
"""

from __future__ import annotations

from html import escape
from typing import Any

from dpaas_conformance.library.results import ScenarioResult
from dpaas_conformance.library.verdict import Verdict

COLUMNS = (("level", "Level"), ("requirements", "Requirements"), ("dpaas", "DPaaS outcome"))
STYLE = """<style>
.dpaas-verdict table { border-collapse: collapse; margin: 8px 0; }
.dpaas-verdict th, .dpaas-verdict td { border: 1px solid #999; padding: 3px 10px; }
.dpaas-verdict td { text-align: right; } .dpaas-verdict td:first-child { text-align: left; }
.dpaas-verdict li:first-child { font-weight: bold; }
.dpaas-scenario { background: #f4f4f4; padding: 4px; margin-bottom: 6px; }
.logwrapper .log { overflow-wrap: anywhere; }
</style>"""


class HtmlReport:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.report: Any = None

    def pytest_html_report_title(self, report: Any) -> None:
        self.report = report  # its title is set with the verdict, when the verdict is known
        report.title = "DPaaS conformance report"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: Any) -> None:
        if not self.verdict.rows:
            return
        if self.report is not None:
            self.report.title = f"DPaaS conformance: {self.verdict.verdict}"
        prefix.append(STYLE + verdict_html(self.verdict))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[1:1] = [f'<th class="sortable" data-column-type="{key}">{title}</th>'
                      for key, title in COLUMNS]

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        result = ScenarioResult.of(report)
        values = ("", "", "") if result is None else (
            result.identity.level, " ".join(result.identity.requirements),
            result.label if result.outcome is not None else "")
        cells[1:1] = [f'<td class="col-{key}">{escape(value)}</td>'
                      for (key, _), value in zip(COLUMNS, values, strict=True)]

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        result = ScenarioResult.of(report)
        if result is None or result.outcome is None:
            return
        facts = [("level", result.identity.level),
                 ("requirements", ", ".join(result.identity.requirements)),
                 ("outcome", result.label)]
        if result.blamed:
            facts.append(("blamed", ", ".join(result.blamed)))
        if result.reason:
            facts.append(("reason", result.reason))
        if result.expected:
            facts.append(("expected because", result.expected))
        block = "".join(f"<b>{escape(k)}:</b> {escape(str(v))}<br>" for k, v in facts)
        data[:0] = [f'<div class="dpaas-scenario">{block}</div>']


def verdict_html(verdict: Verdict) -> str:
    """The verdict table and its lines, as the terminal prints them, in HTML."""
    columns = verdict.columns()
    head = "".join(f"<th>{escape(c)}</th>" for c in ["area", *columns])
    rows = "".join(
        "<tr>" + f"<td>{escape(area)}</td>" + "".join(f"<td>{counts[c]}</td>" for c in columns)
        + "</tr>"
        for area, counts in verdict.every_count().items()
    )
    lines = "".join(f"<li>{escape(line)}</li>" for line in verdict.summary())
    return (
        '<div class="dpaas-verdict">'
        f"<h2>DPaaS conformance verdict: {escape(verdict.verdict)}</h2>"
        '<table class="dpaas-verdict-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f"<ul>{lines}</ul></div>"
    )
