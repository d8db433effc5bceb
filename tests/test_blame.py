"""A finding names the requirement it breaks, never the scenario's tags by default.

The checks are called here as a scenario would call them, with answers that break exactly one
requirement, and must name that one. The mutation harness proves the same over whole runs
(`timestamps_plus_one_hour` and `numeric_ids` in tests/mutants/catalog.py must be blamed on their
requirement alone, scenario by scenario).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import dpaas_conformance.accounts as accounts
import dpaas_conformance.auth as auth
import dpaas_conformance.common as common
import dpaas_conformance.errors as errors
import dpaas_conformance.lists as lists
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dpaas_conformance.library import calls, keys
from dpaas_conformance.library.calls import Actors, Session
from dpaas_conformance.library.outcomes import (
    FAILED,
    INCONCLUSIVE,
    BrokenAnswer,
    Inconclusive,
    TargetFailure,
    judge,
)
from dpaas_conformance.library.target import Config, Target

from tests.test_then_steps import (
    ADMIN,
    TARGET,
    account,
    answers,
    api,
    error,
    page,
    resp,
    tokens,
    user,
)
from tests.test_then_steps import token as access_token
from tests.tiny_project import Project
from tests.tiny_target import signing_key


def session() -> Session:
    """The admin's session, its access token issued now (a long run must not age it)."""
    return Session(ADMIN, access_token(), "r" * 43, "p" * 43)


def actors() -> Actors:
    return Actors({"admin": session()}, "admin")


def blamed(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """(requirement, level) of the TargetFailure the call raises."""
    with pytest.raises(TargetFailure) as caught:
        call(*args, **kwargs)
    return caught.value.requirement, caught.value.level


# --- who a finding blames, by where it was raised ---------------------------------------------


def outcome_of(error: BaseException, step_type: str | None) -> tuple[str, tuple[str, ...]]:
    try:
        raise error
    except BaseException:
        info = pytest.ExceptionInfo.from_current()
    judgement = judge(info, "must", ["ACC-4"], strict=False, step_type=step_type)
    return judgement.outcome, judgement.blamed


@pytest.mark.parametrize("step_type", ["given", "when", "then", None])
def test_a_finding_that_names_its_requirement_blames_it_wherever_it_was_raised(
    step_type: str | None,
) -> None:
    assert outcome_of(TargetFailure("ACC-6", "no created_at"), step_type) == (
        FAILED, ("ACC-6",))


def test_a_plain_assertion_blames_the_scenario_only_in_its_own_then_steps() -> None:
    assert outcome_of(AssertionError("honoured"), "then") == (FAILED, ("ACC-4",))
    assert outcome_of(AssertionError("honoured"), None) == (FAILED, ("ACC-4",))
    for step_type in ("given", "when"):
        outcome, blame = outcome_of(AssertionError("a precondition"), step_type)
        assert (outcome, blame) == (INCONCLUSIVE, ())


def test_an_unreadable_answer_to_the_scenarios_own_request_blames_the_scenario() -> None:
    assert outcome_of(BrokenAnswer("stalled"), "when") == (FAILED, ("ACC-4",))
    assert outcome_of(BrokenAnswer("stalled"), "given")[0] == INCONCLUSIVE  # preconditions name


PLAIN_GIVEN = """
  @must @ACC-4
  Scenario: A precondition of the suite's own trips
    Given the suite's own precondition does not hold
    When they list accounts
    Then the response status is 200
"""
GIVEN_STEP = '''

@given("the suite's own precondition does not hold")
def precondition():
    assert 1 + 1 == 3, "the suite's own bookkeeping is off"
'''


def test_a_plain_assertion_in_a_given_step_is_inconclusive_and_blames_nothing(
    project: Project,
) -> None:
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text().replace("from pytest_bdd import then",
                                                     "from pytest_bdd import given, then")
                        + GIVEN_STEP)
    result = project.run(PLAIN_GIVEN)
    assert result.ret == 4
    [row] = project.report()["scenarios"]
    assert (row["outcome"], row["blamed"]) == ("inconclusive", [])
    assert "a given step failed without naming a requirement" in row["reason"]
    assert "ACC-4" not in result.stdout.str().split("DPaaS conformance verdict")[1]


# --- schema checks carry their requirement (item 1, 10) ----------------------------------------


def test_an_accounts_fields_are_acc_6_in_any_scenario() -> None:
    local = account(created_at="2025-09-30T11:00:00.000000+01:00")
    numeric = account(id=17)
    for body in (local, numeric):
        sent = {"name": "n", "id": "mine"}
        assert blamed(accounts.refused_or_ignored, resp(201, body, sent=sent), "id") == (
            "ACC-6", "must")  # ACC-4's scenario
        assert blamed(lists.list_of, resp(200, page([body])), "accounts") == ("ACC-6", "must")
        assert blamed(accounts.is_account, resp(201, body)) == ("ACC-6", "must")


def test_a_users_fields_are_user_1_and_an_envelope_list_1() -> None:
    assert blamed(lists.list_of, resp(200, page([user(id=5)])), "users") == ("USER-1", "must")
    assert blamed(lists.list_of, resp(200, {"page": 1, "results": []}), "users") == (
        "LIST-1", "must")


def test_a_create_that_does_not_answer_an_account_is_acc_2() -> None:
    assert blamed(accounts.is_account, error(500, "InternalError")) == ("ACC-2", "must")
    sent = {"name": "S", "is_default": True}
    assert blamed(accounts.as_sent, resp(201, account(name="S"), sent=sent)) == ("ACC-2", "must")


def test_login_and_refresh_bodies_blame_auth_1_and_auth_8_and_the_jwt_auth_2() -> None:
    login = httpx.Request("POST", "http://t.test/authentication/login")
    refresh = httpx.Request("POST", "http://t.test/authentication/refresh")
    bad = {**tokens(), "expires_in": 3600}
    assert blamed(auth.token_response, httpx.Response(200, json=bad, request=login)) == (
        "AUTH-1", "must")
    assert blamed(auth.token_response, httpx.Response(200, json=bad, request=refresh)) == (
        "AUTH-8", "must")
    opaque = httpx.Response(200, json={**tokens(), "access_token": "opaque"}, request=login)
    assert blamed(auth.access_token_is_jwt, opaque, "sub", "exp") == ("AUTH-2", "must")


# --- preconditions name the requirement of their call ----------------------------------------


def test_each_precondition_names_the_requirement_of_its_call() -> None:
    crash = answers(500, {"error": "InternalError", "message": "m"})
    assert blamed(calls.start_session, api({"POST /authentication/login": crash}), ADMIN) == (
        "AUTH-1", "must")
    assert blamed(calls.new_account, api({"POST /accounts": crash}), session(), "n") == (
        "ACC-2", "must")
    lacking = answers(201, {k: v for k, v in account().items() if k != "updated_at"})
    assert blamed(calls.new_account, api({"POST /accounts": lacking}), session(), "n") == (
        "ACC-6", "must")
    assert blamed(calls.account_total, api({"GET /accounts": crash}), session()) == (
        "LIST-1", "must")
    assert blamed(auth.have_refreshed, api({"POST /authentication/refresh": crash}), actors()) == (
        "AUTH-8", "must")


def test_a_read_that_fails_after_hostile_writes_is_err_5_and_invalid_json_stays_err_4() -> None:
    crash = answers(500, {"error": "InternalError", "message": "m"})
    login = answers(200, tokens())
    assert blamed(errors.every_page_valid, api({"POST /authentication/login": login,
                                                "GET /accounts": crash}), TARGET) == (
        "ERR-5", "must")
    nan = lambda _r: httpx.Response(  # noqa: E731
        200, text='{"total": 1, "page": 1, "results": [NaN]}',
        headers={"content-type": "application/json"})
    assert blamed(errors.every_page_valid, api({"POST /authentication/login": login,
                                                "GET /accounts": nan}), TARGET) == (
        "ERR-4", "must")


# --- ERR-1 judges the error a target sends, never a status (item 2) ---------------------------


def test_err_1_judges_the_body_of_the_error_sent_and_never_asks_for_a_status() -> None:
    common.error_shape_for_status(resp(201, account()))  # no size limit: nothing to judge
    common.error_shape_for_status(error(422, "ValidationError", body=["not JSON"]))  # FastAPI
    common.error_shape_for_status(error(401, "Unauthorized"))
    common.error_shape_for_status(error(503, "Unavailable"))  # not ERR-1's list: shape only
    assert blamed(common.error_shape_for_status, resp(415, text="Unsupported")) == (
        "ERR-1", "should")
    assert blamed(common.error_shape_for_status, error(413, "TooLarge")) == ("ERR-1", "should")
    assert blamed(common.error_shape_for_status, resp(422, {"detail": "x"})) == ("ERR-0", "must")


def test_the_shape_of_an_error_body_blames_its_owner_not_the_rule_that_asked_for_the_status(
) -> None:
    """AUTH-15 got its 401 from a server whose bodies say "msg": only ERR-0 is broken. A 404's
    shape is ERR-7's; a 409's or a 400's is ERR-1's SHOULD, the MUST being a JSON object."""
    msg = {"error": "Unauthorized", "msg": "m"}
    assert blamed(common.named_error, resp(401, msg), "Unauthorized", 401) == ("ERR-0", "must")
    assert blamed(common.named_error, error(401, "Denied"), "Unauthorized", 401) == (
        "ERR-0", "must")
    assert blamed(common.client_error, resp(422, {"error": "ValidationError"})) == (
        "ERR-0", "must")
    assert blamed(common.client_error, resp(404, {"error": "NotFound", "msg": "m"})) == (
        "ERR-7", "must")
    assert blamed(common.client_error, resp(409, {"error": "Conflict", "detail": "d"})) == (
        "ERR-1", "should")
    common.client_error(error(409, "Conflict"))
    for not_a_json_error in (resp(400, ["an", "array"]), resp(400, text="bad")):
        with pytest.raises(AssertionError) as caught:  # the scenario's own MUST (ERR-2, ...)
            common.client_error(not_a_json_error)
        assert not isinstance(caught.value, TargetFailure)
    with pytest.raises(AssertionError) as caught:  # the wrong status stays the scenario's
        common.named_error(error(403, "Forbidden"), "Unauthorized", 401)
    assert not isinstance(caught.value, TargetFailure)


def test_no_429_blames_auth_7_alone() -> None:
    assert blamed(common.throttled, error(401, "Unauthorized")) == ("AUTH-7", "should")


# --- instants, not strings (item 3) ------------------------------------------------------------


@pytest.mark.parametrize("written", ["2001-01-01T00:00:00+00:00", "2001-01-01T00:00:00.000Z",
                                     "2001-01-01T00:00:00.000000-0000"])
def test_a_created_at_honoured_in_another_notation_is_mass_assignment(written: str) -> None:
    sent = {"name": "n", "created_at": "2001-01-01T00:00:00Z"}
    with pytest.raises(AssertionError, match="mass assignment"):
        accounts.refused_or_ignored(resp(201, account(created_at=written), sent=sent),
                                    "created_at")


def test_instants_are_compared_whatever_the_offset_or_its_absence() -> None:
    chosen = "2001-01-01T00:00:00Z"
    for written in ("2001-01-01T01:00:00+01:00", "2001-01-01 00:00:00", "2000-12-31T19:00-05:00"):
        assert accounts.honoured("created_at", written, chosen)
    assert not accounts.honoured("created_at", "2025-09-30T10:00:00Z", chosen)
    assert not accounts.honoured("created_at", "yesterday", chosen)


# --- bounded walks (item 7) ------------------------------------------------------------------


def test_a_list_that_claims_endless_items_is_walked_only_while_it_brings_new_ones() -> None:
    seen: list[str] = []

    def endless(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        quantity = int(request.url.params.get("quantity", "20"))
        number = int(request.url.params.get("page", "1"))
        return httpx.Response(200, json=page([account(n) for n in range(quantity)],
                                             total=10**15, number=number))

    client = api({"GET /accounts": endless})
    walk = calls.walk(client, session(), "accounts")
    assert len(seen) == 4  # the total, page 1, then two pages with nothing new: not 10^13
    with pytest.raises(AssertionError, match="came back more than once"):
        lists.each_once(walk, ())
    seen.clear()
    assert calls.find(client, session(), "accounts", "id", "nowhere") is None
    assert len(seen) == 3


# --- HS256 key confusion: keys shown to verify (item 4) --------------------------------------


@cache
def another_key() -> rsa.RSAPrivateKey:
    """A key that is not the target's (a decoy, a wrongly configured one)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(public: Any, kid: str = "k1") -> dict[str, Any]:
    import json

    return {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public)), "kid": kid,
                      "use": "sig", "alg": "RS256"}]}


def test_only_keys_that_verify_the_targets_token_are_forged_with(tmp_path: Any) -> None:
    decoy = another_key()
    real = signing_key()
    token = session().access_token
    found = keys.target_keys(api({"GET /.well-known/jwks.json": answers(
        200, jwks_of(decoy.public_key()))}), token, None)
    assert not found.verified and len(found.published_unverified) == 1
    assert "no key of its JWK Set verifies" in found.notes[0]
    pem = tmp_path / "key.pem"
    pem.write_bytes(real.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    found = keys.target_keys(api({"GET /.well-known/jwks.json": answers(404, {
        "error": "NotFound", "message": "m"})}), token, pem)
    assert len(found.verified) == 1  # derived from the configured key, the set being absent


def test_without_a_verifying_key_the_hs256_check_is_not_run_saying_why() -> None:
    no_set = api({"GET /.well-known/jwks.json": answers(404, {"error": "NotFound",
                                                               "message": "m"})})
    with pytest.raises(pytest.skip.Exception, match=r"publishes no JWK Set.*signing_key"):
        auth.hs256_forgeries(no_set, TARGET, session().access_token)


def test_a_configured_key_that_does_not_verify_is_a_setup_error(tmp_path: Any) -> None:
    other = another_key()
    pem = tmp_path / "key.pem"
    pem.write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    target = Target("http://t.test", Config(principals=TARGET.config.principals,
                                            signing_key=pem))
    no_set = api({"GET /.well-known/jwks.json": answers(404, {"error": "NotFound",
                                                               "message": "m"})})
    with pytest.raises(Inconclusive, match="does not verify"):
        auth.hs256_forgeries(no_set, target, session().access_token)
