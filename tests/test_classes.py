"""Conformance classes: each id's and scenario's class, what a configuration claims, the verdict
per class and overall, the not-run reason; plus the never-existing ids and the turns that let
the default-account scenarios run alone."""

from __future__ import annotations

import fcntl
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from dpaas_conformance.library import classes, turns
from dpaas_conformance.library.calls import Session
from dpaas_conformance.library.calls_v2 import never_existing_id, variants_of
from dpaas_conformance.library.outcomes import FAILED, INCONCLUSIVE, NOT_RUN, PASSED, Inconclusive
from dpaas_conformance.library.target import ConfigError, load_config
from dpaas_conformance.library.verdict import decide
from dpaas_conformance.users_by_account import foreign_user_unread

from tests.test_then_steps import ADMIN, api, error, resp, token
from tests.tiny_project import LOGIN_MUST, Project, column, verdict_lines
from tests.tiny_target import CONFIG

ACCOUNTS_MUST = """
  @must @ACC-7
  Scenario: An accounts-class scenario
    Given the admin user is logged in
    When they list accounts
    Then the response status is 200
"""
ACCOUNTS_BROKEN = """
  @must @ACC-7
  Scenario: An accounts-class scenario the target fails
    Given the admin user is logged in
    When they list accounts
    Then the response status is 201
"""
USERS_MUST = """
  @must @USER-4
  Scenario: A users-class scenario that needs the membership fixture
    Given the admin user is logged in
    When they walk every page of the users of the membership fixture's account
    Then the total counts exactly the users seen
"""


# --- the classes of ids and scenarios --------------------------------------------------------


@pytest.mark.parametrize(("ids", "cls"), [
    (["AUTH-1"], "CORE"), (["ACC-6", "LIST-3"], "CORE"), (["ACC-7"], "ACCOUNTS"),
    (["ACC-8", "ERR-7"], "ACCOUNTS"), (["ERR-5", "ACC-10"], "ACCOUNTS"), (["ERR-6"], "ACCOUNTS"),
    (["USER-4", "USER-1"], "USERS"), (["HMAC-3", "ERR-7"], "SERVICE"),
])
def test_a_scenario_has_the_one_class_its_ids_share(ids: list[str], cls: str) -> None:
    assert classes.scenario_class(ids) == cls


@pytest.mark.parametrize("ids", [["ERR-7"], ["ACC-7", "USER-4"]])
def test_ids_that_share_no_single_class_are_a_suite_defect(ids: list[str]) -> None:
    with pytest.raises(ValueError, match="no single conformance class"):
        classes.scenario_class(ids)


def test_core_is_claimed_whether_listed_or_not() -> None:
    assert classes.parse_classes(["ACCOUNTS"], "x") == {"CORE", "ACCOUNTS"}
    assert classes.parse_classes([], "x") == {"CORE"}
    with pytest.raises(ValueError, match=r"unknown classes \['ACCOUNT'\]"):
        classes.parse_classes(["ACCOUNT"], "x")
    with pytest.raises(ValueError, match="must be a list"):
        classes.parse_classes("CORE", "x")


def row(outcome: str, cls: str = "CORE", blamed: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(outcome=outcome, cls=cls, blamed=list(blamed), judged_level="must")


def test_the_overall_verdict_follows_the_claimed_classes() -> None:
    # One class's verdict is the usual rule on its rows; one where nothing could run is
    # INCONCLUSIVE.
    assert decide([row(PASSED)], False, False) == classes.CONFORMANT
    assert decide([row(NOT_RUN)], False, False) == classes.VERDICT_INCONCLUSIVE
    assert decide([], False, False) == classes.VERDICT_INCONCLUSIVE
    assert decide([row(PASSED), row(INCONCLUSIVE)], False, False) == classes.VERDICT_INCONCLUSIVE
    assert decide([row(INCONCLUSIVE), row(FAILED)], False, False) == classes.NOT_CONFORMANT
    assert classes.overall([classes.CONFORMANT, classes.NOT_SELECTED]) == classes.CONFORMANT
    assert classes.overall([classes.VERDICT_INCONCLUSIVE, classes.NOT_CONFORMANT]) == (
        classes.NOT_CONFORMANT)
    assert classes.overall([classes.CONFORMANT, classes.VERDICT_INCONCLUSIVE]) == (
        classes.VERDICT_INCONCLUSIVE)
    assert classes.overall([classes.NOT_SELECTED]) == classes.VERDICT_INCONCLUSIVE


def test_a_finding_counts_in_the_class_of_what_it_blames() -> None:
    assert classes.judged_classes(row(FAILED, "ACCOUNTS", ("AUTH-1",))) == {"CORE"}
    assert classes.judged_classes(row(FAILED, "ACCOUNTS", ("ERR-7",))) == {"ACCOUNTS"}
    assert classes.judged_classes(row(PASSED, "USERS")) == {"USERS"}


# --- the configuration -----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dpaas.toml"
    path.write_text(CONFIG + text)
    return path


def test_the_config_claims_classes_and_names_the_membership_fixture(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, """
[target]
classes = ["CORE", "ACCOUNTS", "USERS"]
hmac_skew_seconds = 300

[fixtures.membership]
account_id = "acc-1"
members = ["admin@tiny.test"]
non_members = ["viewer@tiny.test"]

[paths]
key_issue = "/sa/{id}/keys"
"""))
    assert loaded.classes == {"CORE", "ACCOUNTS", "USERS"}
    assert loaded.membership is not None and loaded.membership.account_id == "acc-1"
    assert loaded.hmac_skew_seconds == 300
    assert load_config(write(tmp_path, "")).classes == {"CORE"}


@pytest.mark.parametrize(("text", "message"), [
    ('[target]\nclasses = ["CORE", "BILLING"]\n', "unknown classes"),
    ("[target]\nclasses = \"ACCOUNTS\"\n", "must be a list"),
    ("[target]\ncolour = 1\n", "unknown keys"),
    ("[fixtures.membership]\nmembers = [\"a@b.c\"]\n", "needs account_id"),
    ("[fixtures.membership]\naccount_id = \"x\"\nmembers = []\n", "at least one member"),
    ("[fixtures.membership]\naccount_id = \"x\"\nmembers = [\"a@b.c\"]\n"
     "non_members = [\"A@b.c\"]\n", "both a member and a non-member"),
    ("[fixtures.other]\nx = 1\n", "unknown fixtures"),
])
def test_a_wrong_v2_table_is_a_configuration_error(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


# --- runs of the suite against the tiny target -----------------------------------------------


def claiming(project: Project, *names: str) -> None:
    listed = ", ".join(f'"{n}"' for n in names)
    config = CONFIG + f"\n[target]\nclasses = [{listed}]\n"
    (project.pytester.path / "dpaas.toml").write_text(config)


def test_scenarios_of_an_unclaimed_class_are_not_run_with_the_reason(project: Project) -> None:
    result = project.run(LOGIN_MUST, ACCOUNTS_MUST)
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*class CORE: CONFORMANT*",
        "*class ACCOUNTS: not claimed (its 1 scenario not run)*",
        "SKIPPED*not run: the target does not claim the ACCOUNTS class; add \"ACCOUNTS\" to "
        "[[]target[]] classes*",
    ])
    report = project.report()
    assert report["classes"] == {"claimed": ["CORE"], "verdicts": {"CORE": "CONFORMANT"}}
    rows = {r["class"]: r["outcome"] for r in report["scenarios"]}
    assert rows == {"CORE": "must passed", "ACCOUNTS": "not run"}


def test_each_claimed_class_gets_a_verdict_and_one_failing_class_fails_the_run(
    project: Project,
) -> None:
    claiming(project, "ACCOUNTS")
    result = project.run(LOGIN_MUST, ACCOUNTS_BROKEN)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*NOT CONFORMANT: requirements failed: MUST ACC-7*",
        "*class CORE: CONFORMANT*",
        "*class ACCOUNTS: NOT CONFORMANT*",
    ])
    lines = verdict_lines(result)
    assert any(line.startswith("class ACCOUNTS") for line in lines)
    assert column(result, "must failed") == 1
    assert project.report()["classes"]["verdicts"] == {"CORE": "CONFORMANT",
                                                       "ACCOUNTS": "NOT CONFORMANT"}


def test_a_claimed_class_none_of_whose_scenarios_can_run_is_inconclusive(
    project: Project,
) -> None:
    claiming(project, "USERS")
    result = project.run(LOGIN_MUST, USERS_MUST)
    assert result.ret == 4
    result.stdout.fnmatch_lines([
        "*class CORE: CONFORMANT*",
        "*class USERS: INCONCLUSIVE (none of its 1 scenarios could run*",
        "SKIPPED*not run: needs [[]fixtures.membership[]]*",
    ])
    assert project.report()["verdict"] == "INCONCLUSIVE"


def test_a_claimed_class_not_selected_in_this_run_counts_for_nothing(project: Project) -> None:
    claiming(project, "ACCOUNTS")
    result = project.run(LOGIN_MUST, ACCOUNTS_MUST, dpaas_requirements="AUTH")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*class ACCOUNTS: not selected in this run*"])


def test_an_unknown_class_is_inconclusive_with_one_line(project: Project) -> None:
    claiming(project, "CORE", "BILLING")
    result = project.run(LOGIN_MUST)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: DPaaS verdict INCONCLUSIVE: *unknown classes "
                                 "[[]'BILLING'[]]*"])


# --- ids that never existed ------------------------------------------------------------------


def test_a_never_existing_id_keeps_the_shape_of_a_real_one() -> None:
    uuid = "5a0f959d-af66-5710-b1f2-7ef63609441d"
    first = next(variants_of(uuid))
    assert first[:-1] == uuid[:-1] and first[-1] in "0123456789abcdef" and first != uuid
    assert next(variants_of("17")) == "10"
    assert next(variants_of("acc-Zq")) == "acc-Za"
    assert all(len(v) == len("acc-123") for v in variants_of("acc-123"))


def session() -> Session:
    return Session(ADMIN, token(), "r" * 43, "p" * 43)


def test_a_never_existing_id_is_one_a_get_does_not_find() -> None:
    taken = {"/accounts/10", "/accounts/11"}

    def get(request: httpx.Request) -> httpx.Response:
        return resp(200, {}) if request.url.path in taken else error(404, "NotFound")

    paths = [f"GET /accounts/{n:02d}" for n in range(100)]
    client = api(dict.fromkeys(paths, get))
    assert never_existing_id(client, session(), "17") == "12"
    everything = api(dict.fromkeys(paths, lambda _r: resp(200, {})))
    with pytest.raises(Inconclusive, match="could not make an id"):
        never_existing_id(everything, session(), "17")


def test_user_by_id_is_not_run_where_the_target_does_not_serve_it() -> None:
    with pytest.raises(pytest.skip.Exception, match="does not serve it"):
        foreign_user_unread([error(404, "NotFound"), resp(200, {})], {"other": {}})


# --- turns -----------------------------------------------------------------------------------


def probe(lock: Path, kind: int) -> bool:
    """Whether another holder could take this kind of lock now (never waits)."""
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_a_scenario_that_runs_alone_shuts_out_every_other(tmp_path: Path) -> None:
    lock = tmp_path / turns.LOCK_NAME
    with turns.turn(lock, exclusive=True):
        assert not probe(lock, fcntl.LOCK_SH)
    with turns.turn(lock, exclusive=False):
        assert probe(lock, fcntl.LOCK_SH) and not probe(lock, fcntl.LOCK_EX)
    assert probe(lock, fcntl.LOCK_EX)
    assert turns.alone(["ACC-20", "ERR-6"]) and not turns.alone(["ACC-7"])
    with turns.turn(None, exclusive=True):
        pass  # no lock: nothing shared


def test_the_example_config_names_the_demo_membership_fixture() -> None:
    """examples/reference-demo.toml judges `--demo` in every class out of the box."""
    from reference_server.demo import (
        DEMO_ACCOUNT_IDS,
        DEMO_MEMBERS,
        DEMO_PRINCIPALS,
        DEMO_READER,
    )

    loaded = load_config(Path(__file__).parents[1] / "examples" / "reference-demo.toml")
    assert loaded.classes == {"CORE", "ACCOUNTS", "USERS", "SERVICE"}
    reader = loaded.service_keys["reader"]
    assert (reader.access_key, reader.secret_key, reader.service_account_id) == (
        DEMO_READER.access_key, DEMO_READER.secret_key, DEMO_READER.service_account_id)
    assert loaded.membership is not None
    account = next(k for k, v in DEMO_ACCOUNT_IDS.items() if v == loaded.membership.account_id)
    members = {DEMO_PRINCIPALS[n].email for n in DEMO_MEMBERS[account]}
    assert set(loaded.membership.members) == members
    assert not set(loaded.membership.non_members) & members
