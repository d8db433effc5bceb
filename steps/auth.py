"""Steps for logging in, refreshing, bearer access and the published signing keys."""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from dpaas_conformance.common import literal
from dpaas_conformance.library import forgery, keys
from dpaas_conformance.library.calls import (
    LOGIN,
    REFRESH,
    Actors,
    fake,
    list_page,
    log_in,
    refresh,
    sent_json,
    token_body,
)
from dpaas_conformance.library.client import ApiClient, BearerAuth, body_of, excerpt
from dpaas_conformance.library.outcomes import Inconclusive, TargetFailure, charged_to
from dpaas_conformance.library.race import Outcome, at_once
from dpaas_conformance.library.schemas import assert_valid
from dpaas_conformance.library.target import ACCESS_TOKEN_TTL, Target
from pytest_bdd import given, parsers, then, when

#: Seconds the suite will wait, once, when a target throttles its bad-credential checks.
THROTTLE_PATIENCE = 10
CLOCK_TOLERANCE = 120  # seconds between the target's clock and ours that we do not hold against it

# --- logging in ----------------------------------------------------------------------------


@when(parsers.parse("the {name} user logs in"), target_fixture="response")
def logs_in(api: ApiClient, target: Target, name: str) -> httpx.Response:
    return log_in(api, target.principal(name))


@when(parsers.parse('the {name} user logs in without "{field}"'), target_fixture="response")
def logs_in_without(api: ApiClient, target: Target, name: str, field: str) -> httpx.Response:
    body = target.principal(name).credentials()
    body.pop(field)
    return api.request("POST", LOGIN, json=body)


@when(parsers.parse('the {name} user logs in with "{field}" set to {value}'),
      target_fixture="response")
def logs_in_with(
    api: ApiClient, target: Target, name: str, field: str, value: str
) -> httpx.Response:
    body: dict[str, Any] = dict(target.principal(name).credentials())
    body[field] = literal(value)
    return api.request("POST", LOGIN, json=body)


def wrong(credential: str) -> str:
    return {
        "password": fake.password(length=20),
        "email": f"nobody-{secrets.token_hex(6)}@{fake.domain_name()}",
        "organization_slug": f"no-org-{secrets.token_hex(6)}",
    }[credential]


@when(parsers.re(r"the (?P<name>\w+) user logs in with a wrong (?P<credential>\w+)$"),
      target_fixture="response")
def logs_in_wrong(api: ApiClient, target: Target, name: str, credential: str) -> httpx.Response:
    body = target.principal(name).credentials()
    body[credential] = wrong(credential)
    return api.request("POST", LOGIN, json=body)


#: Whose password the SHOULD comparison gets wrong: not the admin's when another principal is
#: configured, since the MUST rows already spend one of the admin's (see docs/checking.md).
COMPARED = ("limited", "other", "admin")


@when("a principal other than the admin logs in with a wrong password, then a wrong email, then "
      "a wrong organization_slug", target_fixture="responses")
def another_logs_in_wrong_each(api: ApiClient, target: Target) -> list[httpx.Response]:
    """Spread over the principals, so that a throttle that never forgets a failure until its
    window ends (one that a success does not reset) sees one failure per principal and run."""
    name = next(n for n in COMPARED if n in target.config.principals)
    return logs_in_wrong_each(api, target, name)


def logs_in_wrong_each(api: ApiClient, target: Target, name: str) -> list[httpx.Response]:
    """Three bad logins; if the target throttles them, honour its Retry-After once and retry.

    Another run of the suite against the same target (or this run's other workers) may just have
    spent the account's failure budget. Waiting as the target asks is what any client does; past
    THROTTLE_PATIENCE seconds the comparison is left inconclusive by the Then step.
    """
    def attempt() -> list[httpx.Response]:
        # A good login first: targets commonly reset an account's failure count on a success, so
        # failures that other runs left behind do not add up with these three.
        log_in(api, target.principal(name))
        return [logs_in_wrong(api, target, name, c)
                for c in ("password", "email", "organization_slug")]

    answers = attempt()
    waits = [retry_after(r) for r in answers if r.status_code == 429]
    if waits and all(w is not None and w <= THROTTLE_PATIENCE for w in waits):
        time.sleep(max(w for w in waits if w is not None))
        answers = attempt()
    return answers


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP-date), or None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@when(parsers.parse("someone keeps failing to log in as one unknown user, at most {n:d} times"),
      target_fixture="response")
def keeps_failing(api: ApiClient, target: Target, n: int) -> httpx.Response:
    # A made-up email in the admin's organization: throttling it can never lock out a real user.
    body = target.principal("admin").credentials()
    body["email"] = f"throttle-{secrets.token_hex(6)}@{fake.domain_name()}"
    for _ in range(max(1, n)):
        body["password"] = fake.password(length=16)
        response = api.request("POST", LOGIN, json=body)
        if response.status_code == 429:
            break
    return response


@then("the response body is a token response")
def token_response(response: httpx.Response) -> None:
    """200 with the token body: AUTH-1 for a login, AUTH-8 for a refresh (see token_body)."""
    token_body(response)


def claims_of(token: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWT, or an assertion error saying why it is not one."""
    try:
        return jwt.get_unverified_header(token), jwt.decode(
            token, options={"verify_signature": False})
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise AssertionError(f"the access token is not a JWT: {exc}") from exc


@then(parsers.parse('the access token is an RS256 JWT with the claims "{first}" and "{second}"'))
def access_token_is_jwt(response: httpx.Response, first: str, second: str) -> None:
    token = token_body(response)["access_token"]
    with charged_to("AUTH-2"):
        header, claims = claims_of(token)
        assert header.get("alg") == "RS256", (
            f"token header alg is {header.get('alg')!r}, not RS256")
        for claim in (first, second):
            assert claim in claims, f"the access token has no {claim!r} claim: {sorted(claims)}"


@then("the access token expires 900 seconds after it was issued, and was issued just now")
def lifetime(response: httpx.Response) -> None:
    _, claims = claims_of(token_body(response)["access_token"])
    iat, exp = claims.get("iat"), claims.get("exp")
    assert isinstance(iat, int | float), f"the access token's iat is {iat!r}, not a time"
    assert isinstance(exp, int | float), f"the access token's exp is {exp!r}, not a time"
    assert exp - iat == ACCESS_TOKEN_TTL, f"exp - iat is {exp - iat}, not {ACCESS_TOKEN_TTL}"
    skew = abs(iat - time.time())
    assert skew < CLOCK_TOLERANCE, f"iat is {skew:.0f} s away from now"


# --- refreshing ----------------------------------------------------------------------------


@given("they have refreshed their token", target_fixture="actors")
def have_refreshed(api: ApiClient, actors: Actors) -> Actors:
    session = actors.they
    response = refresh(api, session.refresh_token)
    if response.status_code != 200:
        raise TargetFailure("AUTH-8", f"refreshing answered {response.status_code}: "
                                      f"{excerpt(response, 200)}")
    return actors.with_session(session.rotated(token_body(response)))


@when("they refresh their token", target_fixture="response")
def they_refresh(api: ApiClient, actors: Actors) -> httpx.Response:
    return refresh(api, actors.they.refresh_token)


@when("they refresh with their previous refresh token", target_fixture="response")
def refresh_previous(api: ApiClient, actors: Actors) -> httpx.Response:
    previous = actors.they.previous_refresh_token
    if previous is None:
        raise RuntimeError("the scenario has not refreshed yet")
    return refresh(api, previous)


@when(parsers.parse("someone refreshes with the refresh token {token}"), target_fixture="response")
def refresh_with(api: ApiClient, token: str) -> httpx.Response:
    value = secrets.token_urlsafe(32) if token == "a random unknown token" else literal(token)
    return refresh(api, value)


@when("someone refreshes without a refresh token", target_fixture="response")
def refresh_without(api: ApiClient) -> httpx.Response:
    return api.request("POST", REFRESH, json={})


@when(parsers.parse("they refresh their token {n:d} times at once"), target_fixture="responses")
def refresh_at_once(api: ApiClient, actors: Actors, n: int) -> list[Outcome]:
    token = actors.they.refresh_token
    return at_once(api, n, lambda client, _: client.request("GET", "/accounts"),
                   lambda client, _: client.request("POST", REFRESH,
                                                    json={"refresh_token": token}))


@then(parsers.parse(
    "exactly {n:d} of those refreshes succeeds and none fails with a server error"))
def one_winner(responses: list[Outcome], n: int) -> None:
    for outcome in responses:
        if isinstance(outcome, AssertionError):
            raise outcome  # a finding about one answer (an invalid body, say)
        if not isinstance(outcome, httpx.Response):
            # A refresh that never came back (a connection error) tells nothing about the target.
            raise RuntimeError(f"a concurrent refresh did not complete: {outcome!r}")
    statuses = [r.status_code for r in responses if isinstance(r, httpx.Response)]
    assert all(s < 500 for s in statuses), f"a concurrent refresh crashed the server: {statuses}"
    winners = [s for s in statuses if s == 200]
    assert len(winners) == n, f"{len(winners)} of {len(statuses)} refreshes won: {statuses}"


@then("the new refresh token differs from the one sent")
def differs(response: httpx.Response) -> None:
    new = token_body(response)["refresh_token"]
    with charged_to("AUTH-8"):
        assert new != sent_json(response)["refresh_token"], (
            "the refresh token was not rotated: the same token came back"
        )


@then("the new access token lets them list accounts")
def new_access_works(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    session = actors.they.rotated(token_body(response))
    with charged_to("AUTH-10"):
        listed = list_page(api, session, "accounts")
        assert listed.status_code == 200, (
            f"the refreshed access token was refused: {listed.status_code} "
            f"{excerpt(listed, 200)}"
        )


@then("the new refresh token can be refreshed once more")
def new_refresh_works(api: ApiClient, response: httpx.Response) -> None:
    token = token_body(response)["refresh_token"]
    with charged_to("AUTH-10"):
        again = refresh(api, token)
        assert again.status_code == 200, (
            f"the refreshed refresh token was refused: {again.status_code} "
            f"{excerpt(again, 200)}"
        )


# --- bearer access -------------------------------------------------------------------------


HS256 = "their access token re-signed with HS256 and the public key"


def hs256_forgeries(api: ApiClient, target: Target, token: str) -> list[str]:
    """HS256 forgeries keyed with every public key shown to verify the target's own token (from
    its JWK Set, or from the configured signing key), plus its published keys that do not.

    With no key shown to verify, the check is not run (the reason says what would let it run),
    unless a forgery with a published key got in anyway; a configured key that does not verify
    the target's token is a setup error, and the scenario inconclusive.
    """
    found = keys.target_keys(api, token, target.config.signing_key)
    forged = [forgery.hs256_signed(token, pem) for key in found.verified
              for pem in forgery.public_pems(key)]
    forged += [forgery.hs256_signed(token, forgery.public_pems(key)[0])
               for key in found.published_unverified]
    if found.verified:
        return forged
    for attempt in forged:
        answer = api.request("GET", "/accounts", auth=BearerAuth(attempt))
        if 200 <= answer.status_code < 300:
            return [attempt]  # accepted with a published key: the Then step fails it
    why = "; ".join(found.notes)
    if found.configured_unverified is not None:
        raise Inconclusive(f"no public key to forge with: {why}; check [keys] in "
                           f"{target.config.source}")
    pytest.skip(f"not run: no public key shown to verify the target's access token ({why}); "
                "set [keys] signing_key in the DPaaS config to check HS256 key confusion")
    raise AssertionError("unreachable")  # pytest.skip raises


def credentials_for(api: ApiClient, actors: Actors, target: Target, credentials: str
                    ) -> list[httpx.Auth | None]:
    """The credentials to try, one or (for the HS256 forgeries) several."""
    if credentials == "no Authorization header":
        return [None]
    if credentials.startswith("the Authorization header "):
        return [BearerAuth(raw=literal(credentials.removeprefix("the Authorization header ")))]
    token = actors.they.access_token
    with charged_to("AUTH-2"):
        claims_of(token)
    if credentials == HS256:
        return [BearerAuth(t) for t in hs256_forgeries(api, target, token)]
    variants = {
        "their access token with a tampered payload": forgery.tampered_payload,
        "their access token with a forged signature": forgery.forged_signature,
        "their access token with its signature removed": forgery.without_signature,
        "their access token re-signed with alg none": forgery.alg_none,
        "their access token re-signed with another RSA key": forgery.signed_by_stranger,
    }
    return [BearerAuth(variants[credentials](token))]


@when(parsers.re(r"they list accounts with (?P<credentials>no Authorization header|"
                 r"the Authorization header .+|their access token .+)"),
      target_fixture="response")
def list_with_credentials(api: ApiClient, actors: Actors, target: Target, credentials: str
                          ) -> httpx.Response:
    """Each credential in turn; the first answer that is not a 401 (the one to judge), else the
    last."""
    response = None
    for auth in credentials_for(api, actors, target, credentials):
        response = api.request("GET", "/accounts", auth=auth)
        if response.status_code != 401:
            break
    if response is None:
        raise RuntimeError(f"no credentials to try for {credentials!r}")
    return response


@when("someone lists accounts without a token", target_fixture="response")
def list_without_token(api: ApiClient) -> httpx.Response:
    return api.request("GET", "/accounts")


@given("their access token has expired", target_fixture="actors")
def token_expired(api: ApiClient, actors: Actors, target: Target) -> Actors:
    reason = target.can_expire_tokens
    if reason:
        pytest.skip(reason)
    session = actors.they
    with charged_to("LIST-1"):
        response = list_page(api, session, "accounts")
    if response.status_code != 200:
        raise TargetFailure("AUTH-15", f"a fresh access token was refused: "
                                       f"{response.status_code} {excerpt(response, 200)}")
    if target.clock is not None:
        target.clock.advance(ACCESS_TOKEN_TTL + CLOCK_TOLERANCE)
        return actors
    key = keys.private_key(Path(target.config.signing_key or ""))
    if not keys.verifies(session.access_token, key.public_key()):
        # A copy signed with another key is refused for its signature, whatever its expiry.
        raise Inconclusive(f"the configured [keys] signing_key ({target.config.signing_key}) "
                           "does not verify the target's access token, so an expired copy "
                           f"signed with it proves nothing; check [keys] in "
                           f"{target.config.source}")
    expired = forgery.expired_copy(session.access_token, key, target.config.signing_kid)
    return actors.with_session(replace(session, access_token=expired))


# --- published keys ------------------------------------------------------------------------


@then("the response body is a JSON Web Key Set with only public RSA keys")
def jwks_body(response: httpx.Response) -> None:
    assert_valid("jwks", body_of(response))


@then("their access token names a kid from that set and verifies with its key")
def verifies(response: httpx.Response, actors: Actors) -> None:
    token = actors.they.access_token
    with charged_to("AUTH-2"):
        header, _ = claims_of(token)
    kid = header.get("kid")
    assert kid, "the access token header has no kid"
    body = body_of(response)
    assert_valid("jwks", body)
    published = {k["kid"]: k for k in body["keys"]}
    assert kid in published, f"kid {kid!r} is not in the published set {sorted(published)}"
    try:
        key = jwt.PyJWK(published[kid]).key
        # Only the signature is in question here; the target's clock may differ from ours.
        jwt.decode(token, key, algorithms=["RS256"], leeway=CLOCK_TOLERANCE,
                   options={"verify_aud": False, "verify_iss": False})
    except jwt.PyJWTError as exc:
        raise AssertionError(f"the access token does not verify with published key {kid!r}: "
                             f"{exc}") from exc
