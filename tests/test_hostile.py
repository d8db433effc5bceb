"""The suite against hostile targets (tests/hostile.py): each run ends in bounded time, with a
verdict about the target where its answer is itself a breach, and prints no secret.

Bounded time comes from the deadline per request (given short here) and the caps per answer,
never from a timeout of the test; nothing here measures time (see docs/testing.md, "Hostile
targets", for the measured runs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from dpaas_conformance.library.embedded import ServedApp

from tests.hostile import with_hostile, with_menagerie
from tests.tiny_project import HTML, LISTS, LOGIN_MUST, Project
from tests.tiny_target import CONFIG, PASSWORD, Behaviour, tiny_app

DEADLINE = "1"  # second per request: ample on loopback, short enough for a drip


@pytest.fixture
def hostile_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[Callable[..., Project]]:
    """A project against the tiny target behind a hostile middleware."""
    servers: list[ServedApp] = []

    def make(mode: str, paths: tuple[str, ...] = ("/accounts",),
             behaviour: Behaviour | None = None) -> Project:
        served = ServedApp(lambda: with_hostile(tiny_app(behaviour or Behaviour()), mode, paths))
        servers.append(served)
        return Project(pytester, served.start(), monkeypatch)

    yield make
    for served in servers:
        served.stop()


def blamed(project: Project) -> dict[str, tuple[str, list[str]]]:
    return {r["nodeid"].split("::")[-1]: (r["outcome"], r["blamed"])
            for r in project.report()["scenarios"]}


#: What each hostile answer must be reported as: a finding, with these words in its reason.
SAYS = {
    "drip": "bytes of an answer within the request's deadline of 1 s: the target stalls",
    "stall": "no answer within the request's deadline of 1 s: the target stalls",
    "inflate": "inflates (gzip) to more than 16777216 bytes",
    "inflate_nested": "inflates (gzip) to more than 16777216 bytes",
    "flood": "cannot be read as HTTP",
    "cut": "broke off or cannot be read as HTTP",
    "deep": "nests more than 10000 levels deep",
    "huge": "is over 16777216 bytes",
    "crowded": "JSON values: far more than any answer of this API",
}
FETCHES = "".join(f"""
  @must @LIST-1
  Scenario: The {mode} answer
    When someone fetches "/hostile/{mode}"
    Then the response status is 200
""" for mode in SAYS)


def test_an_answer_that_cannot_be_read_is_a_finding_about_the_call(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run meets every hostile answer (tests/hostile.py's menagerie), each at its own path,
    and a login that floods its headers: each scenario fails naming the call's requirement and
    what was wrong, in bounded time. The flooded login is not "nothing answers" at the preflight:
    the login scenario fails it, and a scenario that needs a login blames AUTH-1."""
    def app() -> web.Application:
        return with_hostile(with_menagerie(tiny_app(Behaviour())), "flood",
                            ("/authentication/login",))

    with ServedApp(app) as url:
        project = Project(pytester, url, monkeypatch)
        result = project.run(FETCHES, LOGIN_MUST, LISTS, dpaas_request_deadline=DEADLINE)
    assert result.ret == 1
    assert "nothing answers" not in result.stdout.str() + result.stderr.str()
    rows = {r["name"]: r for r in project.report()["scenarios"]}
    for mode, says in SAYS.items():
        row = rows[f"The {mode} answer"]
        assert (row["outcome"], row["blamed"]) == ("must failed", ["LIST-1"]), row
        assert says in row["reason"], (mode, row["reason"])
    for name in ("Logging in returns a bearer token", "The admin lists accounts"):
        assert (rows[name]["outcome"], rows[name]["blamed"]) == ("must failed", ["AUTH-1"])
    assert PASSWORD not in result.stdout.str() + project.report_text()


def test_a_run_budget_ends_a_dripping_run_inconclusive_saying_why(
    hostile_project: Callable[..., Project],
) -> None:
    """The preflight's list drips past the budget: nothing is judged, and the verdict says so."""
    project = hostile_project("drip")
    result = project.run(LOGIN_MUST, LISTS, dpaas_request_deadline="30",
                         dpaas_run_budget="0.5")
    assert result.ret == 4
    rows = project.report()["scenarios"]
    assert {r["outcome"] for r in rows} == {"inconclusive"}
    assert all("--dpaas-run-budget" in r["reason"] for r in rows)
    result.stdout.fnmatch_lines(["*INCONCLUSIVE: 2 scenarios could not be judged*"])
    assert PASSWORD not in result.stdout.str() + project.report_text()


def test_a_password_the_target_echoes_is_never_printed(
    hostile_project: Callable[..., Project],
) -> None:
    """In the preflight's line: the target answers the configured (wrong) password back."""
    project = hostile_project("echo")
    (project.pytester.path / "dpaas.toml").write_text(CONFIG.replace(PASSWORD, "wrong-one-pw"))
    result = project.run(LOGIN_MUST)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: DPaaS verdict INCONCLUSIVE: the admin principal * "
                                 "cannot log in: 401 (\"Invalid password 'wrong-*masked)'\")*"])
    assert "wrong-one-pw" not in result.stdout.str() + result.stderr.str()
    assert "wrong-one-pw" not in (project.pytester.path / "report.json").read_text()


SESSION_STEP = '''

@then("the suite looks at their session and fails")
def looks_at_session(actors, target, api):
    assert actors.they.access_token == "something else"
'''
ECHOED_FAILURE = """
  @must @AUTH-1
  Scenario: A step fails with the session among its arguments
    Given the admin user is logged in
    Then the suite looks at their session and fails

  @must @AUTH-4
  Scenario: A login with a wrongly typed email is refused
    When the admin user logs in with "email" set to 42
    Then the response is a "ValidationError" error with status 422
"""


def test_a_failing_step_prints_no_password_or_token_in_any_report(
    hostile_project: Callable[..., Project],
) -> None:
    """The target echoes the real password into a 422, and a step fails with the session among
    its arguments: with long tracebacks and locals, the terminal, JUnit, HTML and JSON reports
    show neither the password nor a token."""
    project = hostile_project("echo")
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + SESSION_STEP)
    result = project.run(ECHOED_FAILURE, junitxml="junit.xml", html="report.html",
                         extra=[*HTML, "--tb=long", "-l"])
    assert result.ret == 1
    out = result.stdout.str() + result.stderr.str()
    # The compared token is shown (the step's assertion is rewritten), masked by its repr.
    assert re.search(r"assert 'eyJ[\w-]{0,6}…", out), out[-3000:]
    files = [(project.pytester.path / name).read_text()
             for name in ("junit.xml", "report.html", "report.json")]
    for text in [out, *files]:
        assert PASSWORD not in text
        assert not re.search(r"eyJ[\w-]{40,}", text), "an access token is shown in full"
        assert not re.search(r"\b[0-9a-f]{32}\b", text), "a refresh token is shown in full"
    assert [r["blamed"] for r in project.report()["scenarios"]] == [
        ["AUTH-1"], ["USER-2"]]  # the echo is a leak
