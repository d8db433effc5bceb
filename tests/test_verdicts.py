"""The suite's verdict, tested the way pytest-bdd tests itself: pytester runs small features
with the suite's real plugin and steps against a tiny target whose answers each test chooses.

Each test writes a project (conftest loading the suite, a feature, a config) into a temporary
directory and runs pytest on it in-process, then reads the verdict table, the exit status, the
JSON report and the JUnit file (the project and its scenarios: `tests/tiny_project.py`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from dpaas_conformance.library.outcomes import NOT_RUN, PASSED, TargetFailure
from dpaas_conformance.library.scenario import Identity
from dpaas_conformance.library.verdict import Row, Verdict

from tests.support import free_port
from tests.tiny_project import (
    LISTS,
    LOGIN_MUST,
    NEEDS_LIMITED,
    NO_STORE_SHOULD,
    SUITE_BUG,
    WRONG_PASSWORD_SHOULD,
    Project,
    column,
    verdict_lines,
)
from tests.tiny_target import CONFIG, PASSWORD, Behaviour

# --- the three verdicts ----------------------------------------------------------------------


def test_a_conformant_target_exits_0_and_says_why_a_scenario_did_not_run(
    project: Project,
) -> None:
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, NEEDS_LIMITED)
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        '*CONFORMANT for the requirements checked; not checked: ACC-5 (no "limited" principal)',
        '*1 scenario not run: no "limited" principal',
        "*exit status 0*",
        'SKIPPED*not run: no "limited" principal; add [[]principals.limited[]]*',
    ])
    assert column(result, "must passed") == 1
    assert column(result, "should passed") == 1
    assert column(result, "not run") == 1
    report = project.report()
    assert (report["verdict"], report["exit_status"]) == ("CONFORMANT", 0)
    not_run = [r for r in report["scenarios"] if r["outcome"] == "not run"]
    assert [r["requirements"] for r in not_run] == [["ACC-5"]]
    assert 'no "limited" principal' in not_run[0]["reason"]
    assert report["not_checked"] == [{"requirement": "ACC-5",
                                      "reasons": ['no "limited" principal']}]


def test_a_broken_must_exits_1_naming_the_requirement(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.expires_in = 3600
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "Scenario: Logging in returns a bearer token (tiny.feature, line *)",
        "Step: And the response body is a token response (line *)",
        "Requirement broken:",
        "  AUTH-1 (MUST): login answers 200*",
        "Expected and got:",
        "  the body is not a valid token: expires_in: 900 was expected",
        "*NOT CONFORMANT: requirements failed: MUST AUTH-1*",
        "*exit status 1*",
    ])
    assert project.report()["verdict"] == "NOT CONFORMANT"
    assert project.outcomes() == {
        "test_logging_in_returns_a_bearer_token": "must failed",
        "test_a_login_response_is_never_cached": "should passed",
    }


def test_a_suite_error_is_inconclusive_never_a_failure(project: Project) -> None:
    result = project.run(LOGIN_MUST, SUITE_BUG)
    assert result.ret == 4
    result.stdout.fnmatch_lines([
        "*INCONCLUSIVE: 1 scenario could not be judged; no requirement is blamed on the target",
        "*inconclusive: *a_step_of_the_suite_is_broken: not a finding about the target (KeyError)*",
        "*exit status 4*",
    ])
    assert column(result, "must failed") == 0
    assert column(result, "inconclusive") == 1
    report = project.report()
    assert (report["verdict"], report["exit_status"]) == ("INCONCLUSIVE", 4)
    assert "LIST-1" not in result.stdout.str().split("DPaaS conformance verdict")[1].split(
        "inconclusive:")[0]


def test_a_connection_lost_mid_run_is_inconclusive(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.drop_connection_on_list = True
    result = project.run(LOGIN_MUST, LISTS)
    assert result.ret == 4
    assert project.outcomes()["test_the_admin_lists_accounts"] == "inconclusive"
    result.stdout.fnmatch_lines(["*RemoteProtocolError*", "*exit status 4*"])


def test_a_finding_about_another_requirement_counts_at_its_level(
    project: Project, behaviour: Behaviour
) -> None:
    """A password echoed inside a SHOULD scenario breaks USER-2, a MUST: no mere warning."""
    behaviour.echo_password = True
    result = project.run(WRONG_PASSWORD_SHOULD)
    assert result.ret == 1
    rows = project.report()["scenarios"]
    assert [(r["outcome"], r["blamed"]) for r in rows] == [("must failed", ["USER-2"])]
    assert PASSWORD not in result.stdout.str()


def test_invalid_json_in_any_response_breaks_err_4(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.infinity_in_list = True
    result = project.run(LISTS)
    assert result.ret == 1
    assert project.report()["scenarios"][0]["blamed"] == ["ERR-4"]
    result.stdout.fnmatch_lines(["*Infinity is not a JSON value*"])


# --- strict mode -----------------------------------------------------------------------------


def test_a_should_failure_warns_and_the_run_passes(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.no_store = False
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD)
    assert result.ret == 0
    assert column(result, "should warned") == 1
    result.stdout.fnmatch_lines([
        "*CONFORMANT: every MUST scenario that ran passed*",
        "*SHOULD warnings (fail with --dpaas-strict): AUTH-6*",
    ])
    assert project.report()["verdict"] == "CONFORMANT"


def test_strict_mode_fails_a_should_in_its_own_column_and_everywhere_else(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.no_store = False
    result = project.run(LOGIN_MUST, NO_STORE_SHOULD, dpaas_strict=True)
    assert result.ret == 1
    assert column(result, "should failed") == 1
    assert "should warned" not in verdict_lines(result)[0]
    result.stdout.fnmatch_lines([
        "*NOT CONFORMANT: requirements failed: SHOULD AUTH-6 (strict mode)*",
        "*exit status 1*",
    ])
    report = project.report()
    assert (report["verdict"], report["exit_status"], report["strict"]) == (
        "NOT CONFORMANT", 1, True)
    assert project.outcomes()["test_a_login_response_is_never_cached"] == "should failed"


# --- preflight -------------------------------------------------------------------------------


def test_no_config_is_inconclusive_with_one_line(project: Project) -> None:
    result = project.run(LOGIN_MUST, config=False)
    assert result.ret == 4
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: DPaaS verdict INCONCLUSIVE: no DPaaS config given")
    assert "AUTH-1" not in result.stdout.str()
    assert project.report()["verdict"] == "INCONCLUSIVE"


def test_a_refused_principal_is_inconclusive(project: Project) -> None:
    (project.pytester.path / "dpaas.toml").write_text(CONFIG.replace(PASSWORD, "wrong-one"))
    result = project.run(LOGIN_MUST)
    assert result.ret == 4
    result.stderr.fnmatch_lines([
        "ERROR: DPaaS verdict INCONCLUSIVE: the admin principal (admin@tiny.test in tiny) cannot "
        "log in: 401 (\"Invalid credentials\"); check its email, password and organization_slug*"
    ])
    assert "wrong-one" not in result.stderr.str()


def test_nothing_listening_is_inconclusive(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(pytester, f"http://127.0.0.1:{free_port()}", monkeypatch)
    result = project.run(LOGIN_MUST)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: DPaaS verdict INCONCLUSIVE: nothing answers at *: start "
                                 "the server or correct --base-url"])


def test_a_login_that_answers_500_is_the_targets_failure(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.login_status = 500
    result = project.run(LOGIN_MUST, LISTS)
    assert result.ret == 1
    rows = {r["nodeid"].split("::")[-1]: r for r in project.report()["scenarios"]}
    assert rows["test_logging_in_returns_a_bearer_token"]["blamed"] == ["AUTH-1"]
    assert rows["test_the_admin_lists_accounts"]["blamed"] == ["AUTH-1"]  # its login failed


def test_a_login_with_a_broken_body_is_the_targets_failure(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.expires_in = 60
    result = project.run(LISTS)
    assert result.ret == 1
    assert project.report()["scenarios"][0]["blamed"] == ["AUTH-1"]


def test_the_header_names_the_target_config_principals_mode_and_keyed_checks(
    project: Project,
) -> None:
    result = project.run(LOGIN_MUST, dpaas_strict=True)
    result.stdout.fnmatch_lines([
        f"DPaaS target: {project.url}",
        "DPaaS config: *dpaas.toml",
        "DPaaS principals: admin (missing: limited, other; their scenarios are not run)",
        "DPaaS classes claimed: CORE (the others' scenarios are not run)",
        "DPaaS strict mode: on",
        "DPaaS keyed checks: off (no [[]keys] signing_key*",
    ])


# --- reports ---------------------------------------------------------------------------------


def test_junit_carries_level_requirements_and_outcome(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.no_store = False
    behaviour.expires_in = 1
    project.run(LOGIN_MUST, NO_STORE_SHOULD, NEEDS_LIMITED, junitxml="junit.xml")
    cases = {c.get("name"): c for c in ET.parse(project.pytester.path / "junit.xml").iter(
        "testcase")}
    props = {name: {p.get("name"): p.get("value") for p in case.iter("property")}
             for name, case in cases.items()}
    must = props["test_logging_in_returns_a_bearer_token"]
    assert must == {"dpaas_level": "must", "dpaas_requirements": "AUTH-1",
                    "dpaas_class": "CORE", "dpaas_outcome": "must failed"}
    assert cases["test_logging_in_returns_a_bearer_token"].find("failure") is not None
    should = cases["test_a_login_response_is_never_cached"]
    assert props["test_a_login_response_is_never_cached"]["dpaas_outcome"] == "should warned"
    assert "AUTH-6" in (should.find("skipped").get("message") or "")
    assert props["test_the_limited_user_may_list_accounts"]["dpaas_outcome"] == "not run"


def test_the_exchange_log_masks_secrets(project: Project, behaviour: Behaviour) -> None:
    behaviour.expires_in = 1
    result = project.run(LOGIN_MUST)
    out = result.stdout.str()
    section = out.split("HTTP exchanges (secrets masked)")[1]
    assert "> POST" in section and "/authentication/login" in section
    assert '"password": "tiny-P…-1 (15 chars, masked)"' in section
    assert '"access_token": "eyJ' in section and "chars, masked)" in section
    assert PASSWORD not in out
    token = section.split('"access_token": "')[1].split('"')[0]
    assert len(token) < 60, "the access token is shown in full"


def test_failure_messages_mask_secrets_too(project: Project, behaviour: Behaviour) -> None:
    behaviour.login_status = 201  # tokens with the wrong status: the message quotes the body
    result = project.run(LOGIN_MUST)
    out = result.stdout.str()
    assert "expected status 200, got 201" in out
    quoted = out.split("expected status 200, got 201")[1].splitlines()[0]
    assert '"access_token": "eyJ' in quoted and "chars, masked)" in quoted
    assert not re.search(r"eyJ[\w-]{40,}", out), "a token is shown in full somewhere"


def test_target_failure_names_its_requirement() -> None:
    failure = TargetFailure("ERR-4", "lone surrogate \ud800 in a body")
    assert isinstance(failure, AssertionError)
    assert str(failure) == "ERR-4 (MUST): lone surrogate \\ud800 in a body"


# --- what a partial run did not check --------------------------------------------------------


def row(name: str, ids: tuple[str, ...], outcome: str, reason: str = "") -> Row:
    return Row(Identity(f"t.py::{name}", "must", ids, f"t.py::{name}", name), outcome,
               reason=reason)


def test_a_requirement_is_not_checked_or_partly_checked_with_its_reasons() -> None:
    no_other = 'not run: no "other" principal; add [principals.other] to the DPaaS config (x)'
    verdict = Verdict(
        catalogue={"a": ("ACC-1",), "b": ("ACC-1", "USER-3"), "c": ("AUTH-15",),
                   "d": ("AUTH-15",), "e": ("LIST-1",)},
        unselected={"e": "not selected by --dpaas-requirements=ACC,AUTH,USER"})
    for r in (row("a", ("ACC-1",), PASSED), row("b", ("ACC-1", "USER-3"), NOT_RUN, no_other),
              row("c", ("AUTH-15",), PASSED),
              row("d", ("AUTH-15",), NOT_RUN, "not run: no [keys] signing_key; set it")):
        verdict.rows[r.nodeid] = r
    coverage = verdict.coverage()
    assert coverage.not_checked == {
        "LIST-1": ("not selected by --dpaas-requirements=ACC,AUTH,USER",),
        "USER-3": ('no "other" principal',)}
    assert coverage.partly_checked == {"AUTH-15": ("no [keys] signing_key",),
                                       "ACC-1": ('no "other" principal',)}
    assert verdict.summary()[0] == (
        'CONFORMANT for the requirements checked; not checked: LIST-1 (not selected by '
        '--dpaas-requirements=ACC,AUTH,USER); USER-3 (no "other" principal); partly checked: '
        'AUTH-15 (no [keys] signing_key); ACC-1 (no "other" principal)')


def test_nothing_left_out_is_a_plain_conformant() -> None:
    verdict = Verdict(catalogue={"a": ("ACC-1",)})
    verdict.rows["t.py::a"] = row("a", ("ACC-1",), PASSED)
    assert not verdict.coverage()
    assert verdict.summary()[0] == "CONFORMANT: every MUST scenario that ran passed"
