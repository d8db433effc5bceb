"""The suite as an installed pytest plugin: inert in other runs, its options parsed before the
command line, a failure a person can read (the compared values, no pytest frames, one cause
shown in full once), a partial run that says what it left out, and the command that runs it.

The wheel itself is checked by .ci/run (built, installed without [dev] in a fresh environment,
run from an empty directory that holds a `steps/` package of its own).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dpaas_conformance.library import cli
from dpaas_conformance.library.paths import EXAMPLE_CONFIG, SCENARIOS_MODULE, SUITE_DIR

from tests.support import free_port
from tests.tiny_project import LISTS, LOGIN_MUST, SUITE_BUG, Project, verdict_lines
from tests.tiny_target import Behaviour

ROOT = Path(__file__).resolve().parents[1]
UNRELATED = """
def test_passes():
    assert 1 + 1 == 2


def test_fails():
    assert [1, 2] == [1, 3]
"""
PLUMBING = ("_pytest/", "/pluggy/", "pytest_bdd/", "call_fixture_func")


def login_named(name: str) -> str:
    return LOGIN_MUST.replace("Logging in returns a bearer token", name)


# --- inert unless its scenarios run ----------------------------------------------------------


def entry_point_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                    *args: str) -> pytest.RunResult:
    """pytest with the suite loaded by its entry point, as in every run of an environment that
    has it installed (only the plugins it needs: autoloading them all is slow)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest("-p", "dpaas", "-p", "pytest_bdd.plugin", "-p",
                              "pytest_base_url.plugin", "-p", "no:cacheprovider", *args)


def test_the_plugin_stays_inert_in_a_run_of_other_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's own tests, with the suite installed: no preflight, no verdict, no option error,
    even with --base-url (pytest-base-url is theirs too) and a --dpaas option."""
    pytester.makepyfile(test_theirs=UNRELATED)
    result = entry_point_run(pytester, monkeypatch, "--base-url",
                             f"http://127.0.0.1:{free_port()}", "--dpaas-config", "nowhere.toml")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    assert "DPaaS" not in result.stdout.str() + result.stderr.str()


def test_its_options_exist_before_pytest_parses_the_command_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--dpaas-config PATH` with a space, a path outside the run's directory, the pure-pytest
    form from any directory: the suite reads the option (and refuses it without --base-url)."""
    config = tmp_path / "elsewhere" / "dpaas.toml"
    config.parent.mkdir()
    config.write_text(EXAMPLE_CONFIG.read_text())
    result = entry_point_run(pytester, monkeypatch, "--pyargs", "dpaas_conformance",
                             "--dpaas-config", str(config))
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"ERROR: DPaaS verdict INCONCLUSIVE: --dpaas-config={config} "
                                 "given without --base-url*"])


def test_a_base_url_run_of_the_checkout_collects_only_the_scenarios(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own tests (some import [dev] packages) are not even collected."""
    import conftest

    tests = conftest.TESTS
    monkeypatch.setattr(pytestconfig.option, "base_url", "http://127.0.0.1:1", raising=False)
    assert conftest.pytest_ignore_collect(tests / "test_server_input.py", pytestconfig)
    assert not conftest.pytest_ignore_collect(SCENARIOS_MODULE, pytestconfig)
    monkeypatch.setattr(pytestconfig.option, "base_url", None)
    assert not conftest.pytest_ignore_collect(tests / "test_server_input.py", pytestconfig)


def test_the_projects_conftest_imports_nothing_from_dev() -> None:
    """pytest loads tests/conftest.py for the testpath even in a --base-url run."""
    probe = ("import sys, tests.conftest; dev = {'hypothesis', 'schemathesis', "
             "'openapi_spec_validator'}; print(sorted(m for m in sys.modules "
             "if m.split('.')[0] in dev))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# --- failures a person can read --------------------------------------------------------------


def test_the_suites_modules_are_rewritten_by_pytest() -> None:
    """In this run the suite came through its entry point, as in a user's: its modules are
    marked by the package itself, since an editable install's RECORD names none of them (the
    wheel's case is checked by .ci/run)."""
    import dpaas_conformance.common
    import dpaas_conformance.library.schemas
    from _pytest.assertion.rewrite import AssertionRewritingHook

    for module in (dpaas_conformance.common, dpaas_conformance.library.schemas):
        assert isinstance(module.__loader__, AssertionRewritingHook), module.__name__


def test_a_failing_step_shows_the_compared_values_and_no_pytest_frames(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.login_status = 201
    result = project.run(LOGIN_MUST)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "Scenario: Logging in returns a bearer token (tiny.feature, line *)",
        "Step: Then the response status is 200 (line *)",
        "Requirement broken:",
        "  AUTH-1 (MUST): *",
        "Expected and got:",
        "  expected status 200, got 201: *",
        "  assert 201 == 200",
        "  (found at steps/common.py:* in status_is)",
        "* HTTP exchanges (secrets masked) *",
        "> POST */authentication/login",
        "* Replay: the requests as curl commands *",
        "curl *",
    ])
    out = result.stdout.str()
    assert not [p for p in PLUMBING if p in out], "pytest's own frames are shown"


def test_failures_of_one_cause_show_in_full_once(project: Project, behaviour: Behaviour) -> None:
    behaviour.login_status = 201
    result = project.run(login_named("First login"), login_named("Second login"),
                         login_named("Third login"))
    assert result.ret == 1
    out = result.stdout.str()
    assert out.count("HTTP exchanges (secrets masked)") == 1
    assert out.count('Same cause as "First login", shown in full above') == 2
    result.stdout.fnmatch_lines([
        "(2 more failures below had the same cause; they are shown in short)",
        "*NOT CONFORMANT: requirements failed: MUST AUTH-1",
        "each broken requirement, with the first scenario that failed it:",
        "  AUTH-1 (MUST): First login (and 2 more)",
    ])
    report = project.report()
    assert all(row["exchanges"] and row["replay"] for row in report["scenarios"])
    assert report["broken"] == [{"requirement": "AUTH-1", "level": "must",
                                 "first": "First login", "scenarios": 3}]


def test_every_failure_in_full_on_request(project: Project, behaviour: Behaviour) -> None:
    behaviour.login_status = 201
    result = project.run(login_named("First login"), login_named("Second login"),
                         dpaas_details="all")
    assert result.stdout.str().count("HTTP exchanges (secrets masked)") == 2
    assert "Same cause" not in result.stdout.str()


def test_an_inconclusive_scenario_shows_the_suites_frames_only(project: Project) -> None:
    result = project.run(SUITE_BUG)
    assert result.ret == 4
    result.stdout.fnmatch_lines([
        "Scenario: A step of the suite is broken (tiny.feature, line *)",
        "Step: Then the suite trips over its own feet (line *)",
        "Inconclusive, not held against the target:",
        "  not a finding about the target (KeyError): *",
        "* the suite's traceback (pytest's own frames cut) *",
        "*conftest.py:*in trips*",
        "E   KeyError: 'no such key'",
    ])
    assert not [p for p in PLUMBING if p in result.stdout.str()]


# --- partial runs ----------------------------------------------------------------------------


def test_a_requirement_filter_names_what_it_left_out(project: Project) -> None:
    result = project.run(LOGIN_MUST, LISTS, dpaas_requirements="AUTH-1")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "CONFORMANT for the requirements checked; not checked: LIST-1 (not selected by "
        "--dpaas-requirements=AUTH-1)",
    ])
    assert project.report()["not_checked"] == [
        {"requirement": "LIST-1", "reasons": ["not selected by --dpaas-requirements=AUTH-1"]}]


def test_a_full_run_says_plainly_conformant(project: Project) -> None:
    result = project.run(LOGIN_MUST, LISTS)
    assert "CONFORMANT: every MUST scenario that ran passed" in verdict_lines(result)
    report = project.report()
    assert (report["not_checked"], report["partly_checked"]) == ([], [])


# --- the command -----------------------------------------------------------------------------


def test_the_command_runs_only_the_installed_scenarios_in_isolation() -> None:
    args = cli.pytest_args("http://x.test", "dpaas.toml", ["-n", "2", "--junitxml", "j.xml"])
    assert args[:7] == [str(SCENARIOS_MODULE), "-c", os.devnull, "--rootdir", str(SUITE_DIR),
                        "-p", "no:cacheprovider"]
    assert args[7:] == ["--base-url=http://x.test", "--dpaas-config=dpaas.toml", "-n", "2",
                        "--junitxml", "j.xml"]
    assert cli.pytest_args(None, None, []) == args[:7]


def test_the_command_prints_the_example_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--example-config"]) == 0
    assert capsys.readouterr().out == EXAMPLE_CONFIG.read_text()


def test_a_value_sent_as_a_token_is_masked_but_never_in_the_scenarios_name(
        project: Project) -> None:
    """The refresh token "an unknown one" is masked in what was sent, not in the scenario's id:
    masked there, the verdict filed the failure apart and called the scenario "not run"."""
    result = project.run('''
  @must @AUTH-11
  Scenario Outline: An unknown refresh token is refused
    When someone refreshes with the refresh token <token>
    Then the response is a client error with a JSON error body

    Examples:
      | token            |
      | "an unknown one" |
''')
    assert result.ret == 1
    rows = project.report()["scenarios"]
    assert [(r["nodeid"].split("[")[-1], r["outcome"]) for r in rows] == [
        ('"an unknown one"]', "must failed")]
    assert not re.search(r"\d+ scenarios? not run", result.stdout.str())


def test_pytests_own_traceback_is_written_once_and_only_when_printed() -> None:
    """judging.OnDemand: the suite replaces pytest's traceback of a failed scenario, so pytest
    must not spend the time to write it unless something prints it."""
    from dpaas_conformance.library.judging import OnDemand

    written: list[str] = []

    def write() -> str:
        written.append("once")
        return "pytest's traceback"

    lazy = OnDemand(write)
    assert written == []
    assert str(lazy).strip() == str(lazy).strip() == "pytest's traceback"
    assert written == ["once"]
