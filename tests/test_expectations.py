"""The expectations file (--dpaas-expect): known failures keep CI green, strict both ways.

Run against the tiny target with small features, as the verdict tests are: a listed failure is
an "expected failure" and the run passes while the verdict still says NOT CONFORMANT; a listed
entry that passes fails the run; an entry that names no scenario stops the run at start.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.tiny_project import (
    HTML,
    LISTS,
    LOGIN_MUST,
    NO_STORE_SHOULD,
    Project,
    column,
    verdict_lines,
)
from tests.tiny_target import Behaviour

LOGIN_NAME = "Logging in returns a bearer token"  # LOGIN_MUST's name in the feature


def expect(project: Project, text: str, name: str = "expect.toml") -> str:
    (project.pytester.path / name).write_text(text)
    return name


def test_listed_failures_are_expected_and_the_run_passes(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.expires_in = 3600  # breaks AUTH-1 in the login scenario and in the list's login
    behaviour.no_store = False  # a SHOULD warning, listed too
    path = expect(project, '[requirements]\nAUTH-1 = "we answer 3600 until v2 (TICKET-7)"\n'
                           'AUTH-6 = "the gateway rewrites Cache-Control"\n')
    result = project.run(LOGIN_MUST, LISTS, NO_STORE_SHOULD, dpaas_expect=path)
    assert result.ret == 0
    assert column(result, "expected failure") == 3
    assert column(result, "must failed") == 0
    result.stdout.fnmatch_lines([
        "DPaaS expected failures: 2 entries in expect.toml",
        "*NOT CONFORMANT: requirements failed, each as expect.toml expects: MUST AUTH-1",
        "*3 expected failures, each listed in expect.toml: the run passes while the failures "
        "are exactly those listed",
        "*exit status 0",
    ])
    result.assert_outcomes(xfailed=3)
    report = project.report()
    assert (report["verdict"], report["exit_status"]) == ("NOT CONFORMANT", 0)
    assert {r["outcome"] for r in report["scenarios"]} == {"expected failure"}
    reasons = {r["name"]: r["expected"] for r in report["scenarios"]}
    assert reasons[LOGIN_NAME] == "we answer 3600 until v2 (TICKET-7)"
    assert [e["status"] for e in report["expectations"]["entries"]] == ["failed as expected"] * 2
    assert report["table"]["all scenarios"]["expected failure"] == 3


def test_a_failure_the_file_does_not_list_still_fails(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.expires_in = 3600
    behaviour.no_store = False
    path = expect(project, '{"requirements": {"AUTH-6": "the gateway"}}', "expect.json")
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, dpaas_expect=path)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*NOT CONFORMANT: requirements failed: MUST AUTH-1",
        "*1 expected failure (listed in expect.json), and 1 that it does not list",
        "*exit status 1",
    ])
    assert project.outcomes() == {"test_logging_in_returns_a_bearer_token": "must failed",
                                  "test_a_login_response_is_never_cached": "expected failure"}


def test_a_listed_entry_that_passes_fails_the_run(project: Project) -> None:
    path = expect(project, f'[requirements]\nAUTH-6 = "no-store missing"\n\n'
                           f'[scenarios]\n"{LOGIN_NAME}" = "expires_in wrong"\n')
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, dpaas_expect=path)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*CONFORMANT: every MUST scenario that ran passed",
        "*expect.toml lists AUTH-6, which passed: remove it from the expectations",
        f"*expect.toml lists scenario '{LOGIN_NAME}', which passed: remove it from the "
        "expectations",
        "*exit status 1",
    ])
    report = project.report()
    assert (report["verdict"], report["exit_status"]) == ("CONFORMANT", 1)
    assert {e["status"] for e in report["expectations"]["entries"]} == {
        "passed: remove it from the expectations"}


def test_an_entry_whose_scenarios_did_not_run_is_not_held_against_the_file(
    project: Project,
) -> None:
    path = expect(project, '[requirements]\nAUTH-6 = "no-store missing"\n')
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, dpaas_expect=path,
                         dpaas_requirements="AUTH-1")
    assert result.ret == 0
    assert project.report()["expectations"]["entries"][0]["status"].startswith("not checked")


@pytest.mark.parametrize(("text", "problem"), [
    ('[requirements]\nAUTH-99 = "a typo"\n', "no scenario is named or cites AUTH-99"),
    ('[scenarios]\n"Logging in returns a token" = "renamed"\n',
     "no scenario is named or cites scenario 'Logging in returns a token'"),
    ('[requirements]\nAUTH-1 = ""\n', "requirement 'AUTH-1' needs a reason"),
    ("[requirements\n", "is not valid TOML"),
    ('[known]\nAUTH-1 = "x"\n', "expected only the tables requirements, scenarios"),
], ids=["unknown-id", "unknown-scenario", "no-reason", "not-toml", "unknown-table"])
def test_a_wrong_entry_is_inconclusive_at_start_with_one_line(
    project: Project, text: str, problem: str
) -> None:
    path = expect(project, text)
    result = project.run(LOGIN_MUST, dpaas_expect=path)
    assert result.ret == 4
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: DPaaS verdict INCONCLUSIVE: ")
    assert problem in errors[0]
    assert "passed" not in result.stdout.str()  # no scenario ran
    assert project.report()["verdict"] == "INCONCLUSIVE"


def test_under_xdist_the_verdict_json_and_html_agree(
    project: Project, behaviour: Behaviour
) -> None:
    """Two workers judge the scenarios, the controller reads the file and writes both reports."""
    behaviour.expires_in = 3600
    path = expect(project, f'[scenarios]\n"{LOGIN_NAME}" = "expires_in is 3600"\n')
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, dpaas_expect=path, html="report.html",
                         extra=[*HTML, "-p", "xdist.plugin", "-n", "2"])
    assert result.ret == 0
    lines = verdict_lines(result)
    assert "NOT CONFORMANT: requirements failed, each as expect.toml expects: MUST AUTH-1" in \
        " ".join(lines)
    report = project.report()
    assert (report["verdict"], report["exit_status"]) == ("NOT CONFORMANT", 0)
    assert project.outcomes() == {"test_logging_in_returns_a_bearer_token": "expected failure",
                                  "test_a_login_response_is_never_cached": "should passed"}
    page = html.unescape((project.pytester.path / "report.html").read_text())
    table = page.split('class="dpaas-verdict-table"')[1].split("</table>")[0]
    cells = re.findall(r"<t[dh]>([^<]*)</t[dh]>", table)
    columns = cells[1:cells.index("authentication")]
    total = cells[cells.index("all scenarios") + 1:][:len(columns)]
    assert dict(zip(columns, map(int, total), strict=True)) == report["table"]["all scenarios"]
    assert "expected because:</b> expires_in is 3600" in page
    assert json.loads(json.dumps(report["table"]))["authentication"]["expected failure"] == 1
