"""Steps for logging in, refreshing, bearer access and the published signing keys."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from pytest_bdd import given, parsers, then, when

from steps import forgery
from steps.client import ApiClient, BearerAuth
from steps.common import Scene, body_of, fake, literal, log_in, send
from steps.schemas import assert_valid
from steps.target import ACCESS_TOKEN_TTL, Target

CLOCK_TOLERANCE = 120  # seconds between the target's clock and ours that we do not hold against it
CONCURRENT_TIMEOUT = 30.0

# --- logging in ----------------------------------------------------------------------------


@when(parsers.parse("the {name} user logs in"), target_fixture="response")
def logs_in(api: ApiClient, scene: Scene, target: Target, name: str) -> httpx.Response:
    return log_in(api, scene, target.principal(name))


@when(parsers.parse('the {name} user logs in without "{field}"'), target_fixture="response")
def logs_in_without(
    api: ApiClient, scene: Scene, target: Target, name: str, field: str
) -> httpx.Response:
    body = target.principal(name).credentials()
    body.pop(field)
    return send(api, scene, "POST", "/authentication/login", json=body)


@when(parsers.parse('the {name} user logs in with "{field}" set to {value}'),
      target_fixture="response")
def logs_in_with(
    api: ApiClient, scene: Scene, target: Target, name: str, field: str, value: str
) -> httpx.Response:
    body: dict[str, Any] = dict(target.principal(name).credentials())
    body[field] = literal(value)
    return send(api, scene, "POST", "/authentication/login", json=body)


@when(parsers.parse("the {name} user logs in with a wrong {credential}"), target_fixture="response")
def logs_in_wrong(
    api: ApiClient, scene: Scene, target: Target, name: str, credential: str
) -> httpx.Response:
    body = target.principal(name).credentials()
    wrong = {
        "password": fake.password(length=20),
        "email": f"nobody-{secrets.token_hex(6)}@{fake.domain_name()}",
        "organization_slug": f"no-org-{secrets.token_hex(6)}",
    }
    body[credential] = wrong[credential]
    return send(api, scene, "POST", "/authentication/login", json=body)


@when(parsers.parse("someone keeps failing to log in as one unknown user, at most {n:d} times"),
      target_fixture="response")
def keeps_failing(api: ApiClient, scene: Scene, target: Target, n: int) -> httpx.Response:
    # A made-up email in the admin's organization: throttling it can never lock out a real user.
    body = target.principal("admin").credentials()
    body["email"] = f"throttle-{secrets.token_hex(6)}@{fake.domain_name()}"
    response = None
    for _ in range(n):
        body["password"] = fake.password(length=16)
        response = send(api, scene, "POST", "/authentication/login", json=body)
        if response.status_code == 429:
            break
    assert response is not None
    return response


@then("the response body is a token response")
def token_response(response: httpx.Response) -> None:
    assert_valid("token", body_of(response))


@then(parsers.parse('the access token is an RS256 JWT with the claims "{first}" and "{second}"'))
def access_token_is_jwt(response: httpx.Response, first: str, second: str) -> None:
    token = body_of(response)["access_token"]
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        pytest.fail(f"the access token is not a JWT: {exc}")
    assert header.get("alg") == "RS256", f"token header alg is {header.get('alg')!r}, not RS256"
    for claim in (first, second):
        assert claim in claims, f"the access token has no {claim!r} claim: {sorted(claims)}"


@then("the access token expires 900 seconds after it was issued, and was issued just now")
def lifetime(response: httpx.Response) -> None:
    claims = jwt.decode(body_of(response)["access_token"], options={"verify_signature": False})
    assert "iat" in claims, "the access token has no iat claim"
    assert claims["exp"] - claims["iat"] == ACCESS_TOKEN_TTL, (
        f"exp - iat is {claims['exp'] - claims['iat']}, not {ACCESS_TOKEN_TTL}"
    )
    skew = abs(claims["iat"] - time.time())
    assert skew < CLOCK_TOLERANCE, f"iat is {skew:.0f} s away from now"


# --- refreshing ----------------------------------------------------------------------------


def refresh(api: ApiClient, scene: Scene, token: Any) -> httpx.Response:
    return send(api, scene, "POST", "/authentication/refresh", json={"refresh_token": token})


def rotate(scene: Scene, response: httpx.Response) -> None:
    """Keep the current session's tokens in step with a successful refresh."""
    if response.status_code == 200:
        body = response.json()
        session = scene.session
        session.previous_refresh_token = session.refresh_token
        session.access_token = body["access_token"]
        session.refresh_token = body["refresh_token"]


@given("they have refreshed their token")
def have_refreshed(api: ApiClient, scene: Scene) -> None:
    response = refresh(api, scene, scene.session.refresh_token)
    assert response.status_code == 200, f"refresh failed: {response.status_code} {response.text}"
    rotate(scene, response)


@when("they refresh their token", target_fixture="response")
def they_refresh(api: ApiClient, scene: Scene) -> httpx.Response:
    sent = scene.session.refresh_token
    response = refresh(api, scene, sent)
    scene.sent = {"refresh_token": sent}
    rotate(scene, response)
    return response


@when("they refresh with their previous refresh token", target_fixture="response")
def refresh_previous(api: ApiClient, scene: Scene) -> httpx.Response:
    previous = scene.session.previous_refresh_token
    assert previous, "the scenario has not refreshed yet"
    return refresh(api, scene, previous)


@when(parsers.parse("someone refreshes with the refresh token {token}"), target_fixture="response")
def refresh_with(api: ApiClient, scene: Scene, token: str) -> httpx.Response:
    value = secrets.token_urlsafe(32) if token == "a random unknown token" else literal(token)
    return refresh(api, scene, value)


@when("someone refreshes without a refresh token", target_fixture="response")
def refresh_without(api: ApiClient, scene: Scene) -> httpx.Response:
    return send(api, scene, "POST", "/authentication/refresh", json={})


@when(parsers.parse("they refresh their token {n:d} times at once"), target_fixture="responses")
def refresh_at_once(api: ApiClient, scene: Scene, n: int) -> list[httpx.Response | None]:
    """Each request on its own warmed-up connection, released together by a barrier."""
    token = scene.session.refresh_token
    barrier = threading.Barrier(n)
    results: list[httpx.Response | None] = [None] * n
    clients = [api.sibling() for _ in range(n)]

    def one(i: int) -> None:
        clients[i].request("GET", "/accounts")  # opens the connection before the race
        barrier.wait(timeout=CONCURRENT_TIMEOUT)
        results[i] = clients[i].request(
            "POST", "/authentication/refresh", json={"refresh_token": token}
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=CONCURRENT_TIMEOUT)
    for client in clients:
        client.close()
    return results


@then(parsers.parse(
    "exactly {n:d} of those refreshes succeeds and none fails with a server error"))
def one_winner(responses: list[httpx.Response | None], n: int) -> None:
    assert all(r is not None for r in responses), "some refreshes did not complete in time"
    statuses = [r.status_code for r in responses if r is not None]
    assert all(s < 500 for s in statuses), f"a concurrent refresh crashed the server: {statuses}"
    winners = [s for s in statuses if s == 200]
    assert len(winners) == n, f"{len(winners)} of {len(statuses)} refreshes won: {statuses}"


@then("the new refresh token differs from the one sent")
def differs(response: httpx.Response, scene: Scene) -> None:
    assert body_of(response)["refresh_token"] != scene.sent["refresh_token"], (
        "the refresh token was not rotated: the same token came back"
    )


@then("the new access token lets them list accounts")
def new_access_works(api: ApiClient, scene: Scene) -> None:
    response = send(api, scene, "GET", "/accounts", token=scene.session.access_token)
    assert response.status_code == 200, (
        f"the refreshed access token was refused: {response.status_code} {response.text[:200]}"
    )


@then("the new refresh token can be refreshed once more")
def new_refresh_works(api: ApiClient, scene: Scene) -> None:
    response = refresh(api, scene, scene.session.refresh_token)
    assert response.status_code == 200, (
        f"the refreshed refresh token was refused: {response.status_code} {response.text[:200]}"
    )


# --- bearer access -------------------------------------------------------------------------


def public_key(api: ApiClient, scene: Scene, token: str) -> Any:
    """The target's signing key, from its JWK Set, matched by the token's kid."""
    response = send(api, scene, "GET", "/.well-known/jwks.json")
    if response.status_code != 200:
        pytest.skip("not run: the target publishes no JWK Set, so the suite has no public key")
    kid = jwt.get_unverified_header(token).get("kid")
    keys = body_of(response).get("keys", [])
    match = [k for k in keys if k.get("kid") == kid] or keys
    assert match, "the JWK Set is empty"
    return jwt.PyJWK(match[0]).key


def credentials_for(api: ApiClient, scene: Scene, credentials: str) -> httpx.Auth | None:
    if credentials == "no Authorization header":
        return None
    if credentials.startswith("the Authorization header "):
        return BearerAuth(raw=literal(credentials.removeprefix("the Authorization header ")))
    token = scene.session.access_token
    variants = {
        "their access token with a tampered payload": forgery.tampered_payload,
        "their access token with a forged signature": forgery.forged_signature,
        "their access token with its signature removed": forgery.without_signature,
        "their access token re-signed with alg none": forgery.alg_none,
        "their access token re-signed with another RSA key": forgery.signed_by_stranger,
        "their access token re-signed with HS256 and the public key": lambda t: (
            forgery.hs256_with_public_key(t, public_key(api, scene, t))
        ),
    }
    return BearerAuth(variants[credentials](token))


@when(parsers.re(r"they list accounts with (?P<credentials>no Authorization header|"
                 r"the Authorization header .+|their access token .+)"),
      target_fixture="response")
def list_with_credentials(api: ApiClient, scene: Scene, credentials: str) -> httpx.Response:
    return send(api, scene, "GET", "/accounts", auth=credentials_for(api, scene, credentials))


@when("someone lists accounts without a token", target_fixture="response")
def list_without_token(api: ApiClient, scene: Scene) -> httpx.Response:
    return send(api, scene, "GET", "/accounts")


@given("their access token has expired")
def token_expired(api: ApiClient, scene: Scene, target: Target) -> None:
    reason = target.can_expire_tokens
    if reason:
        pytest.skip(reason)
    response = send(api, scene, "GET", "/accounts", token=scene.session.access_token)
    assert response.status_code == 200, "the access token did not work even before it expired"
    if target.clock is not None:
        target.clock.advance(ACCESS_TOKEN_TTL + CLOCK_TOLERANCE)
        return
    key_path = Path(target.config.signing_key or "")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    scene.session.access_token = forgery.expired_copy(
        scene.session.access_token, key, target.config.signing_kid
    )


# --- published keys ------------------------------------------------------------------------


@then("the response body is a JSON Web Key Set with only public RSA keys")
def jwks_body(response: httpx.Response) -> None:
    assert_valid("jwks", body_of(response))


@then("their access token names a kid from that set and verifies with its key")
def verifies(response: httpx.Response, scene: Scene) -> None:
    token = scene.session.access_token
    kid = jwt.get_unverified_header(token).get("kid")
    assert kid, "the access token header has no kid"
    keys = {k["kid"]: k for k in body_of(response)["keys"]}
    assert kid in keys, f"kid {kid!r} is not in the published set {sorted(keys)}"
    try:
        jwt.decode(token, jwt.PyJWK(keys[kid]).key, algorithms=["RS256"],
                   options={"verify_aud": False})
    except jwt.PyJWTError as exc:
        pytest.fail(f"the access token does not verify with published key {kid!r}: {exc}")
