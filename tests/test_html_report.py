"""The HTML report (--html, pytest-html) opens with the verdict and shows each scenario's facts.

pytest-html writes the results as JSON inside the page and draws them with JavaScript; the
verdict table is plain HTML above them. Both are read back from the file here.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.tiny_project import HTML, LISTS, LOGIN_MUST, NEEDS_LIMITED, Project
from tests.tiny_target import PASSWORD, Behaviour


def results(page: str) -> dict[str, Any]:
    """pytest-html's test data: {"tests": {nodeid: [{"log": ..., "resultsTableRow": ...}]}}."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob, "no test data in the page"
    return json.loads(html.unescape(blob.group(1)))


def test_the_report_opens_with_the_verdict_and_shows_each_scenario(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.infinity_in_list = True
    result = project.run(LOGIN_MUST, LISTS, NEEDS_LIMITED, html="report.html", extra=HTML)
    assert result.ret == 1
    page = (project.pytester.path / "report.html").read_text()
    summary, rest = page.split('class="dpaas-verdict"', 1)[1], page
    assert rest.index('class="dpaas-verdict"') < rest.index('id="results-table"')
    assert "DPaaS conformance verdict: NOT CONFORMANT" in summary
    table = summary.split("</table>")[0]
    cells = re.findall(r"<t[dh]>([^<]*)</t[dh]>", table)
    columns = cells[1:cells.index("authentication")]
    report = project.report()
    for area, counts in report["table"].items():
        row = cells[cells.index(area) + 1:][:len(columns)]
        assert dict(zip(columns, map(int, row), strict=True)) == counts
    assert "NOT CONFORMANT: requirements failed: MUST ERR-4" in summary
    assert "exit status 1" in summary

    tests = results(page)["tests"]
    [listing] = next(v for k, v in tests.items() if k.endswith("test_the_admin_lists_accounts"))
    row = "".join(listing["resultsTableRow"])
    assert '<td class="col-level">must</td>' in row
    assert '<td class="col-requirements">LIST-1</td>' in row
    assert '<td class="col-dpaas">must failed</td>' in row
    log = html.unescape(listing["log"])
    assert "<b>blamed:</b> ERR-4" in log
    assert "HTTP exchanges (secrets masked)" in log and "> GET" in log
    assert "Replay: the requests as curl commands" in log
    assert '-H "Authorization: Bearer $ACCESS_TOKEN"' in log
    [not_run] = next(v for k, v in tests.items() if k.endswith("may_list_accounts"))
    assert '<td class="col-dpaas">not run</td>' in "".join(not_run["resultsTableRow"])
    assert PASSWORD not in page
