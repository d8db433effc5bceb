"""Steps every feature shares: who is logged in, sending requests, and checking responses.

"they" in a step means the principal who logged in last; "someone" means no principal at all.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from faker import Faker
from pytest_bdd import given, parsers, then, when

from steps.client import ApiClient
from steps.schemas import assert_valid
from steps.target import Principal, Target

fake = Faker()
TOKEN_KEYS = ("access_token", "refresh_token")


@dataclass
class Session:
    principal: Principal
    access_token: str
    refresh_token: str
    previous_refresh_token: str | None = None


@dataclass
class Scene:
    """What one scenario has done so far; a fresh one for every scenario."""

    sessions: dict[str, Session] = field(default_factory=dict)
    current: str | None = None
    responses: list[httpx.Response] = field(default_factory=list)
    sent: dict[str, Any] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    creator: dict[str, str] = field(default_factory=dict)  # account id -> principal name
    total_before: int | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)
    expected_ids: set[str] = field(default_factory=set)

    @property
    def session(self) -> Session:
        assert self.current is not None, "the scenario has not logged anyone in"
        return self.sessions[self.current]


@pytest.fixture
def scene() -> Scene:
    return Scene()


def unique_name(prefix: str = "") -> str:
    """Unique across workers and runs: faker for readability, random hex for uniqueness."""
    return f"{prefix}Conformance {fake.word().title()} {secrets.token_hex(4)}"


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        pytest.fail(
            f"expected a JSON body, got {response.headers.get('content-type')!r}: "
            f"{response.text[:200]!r}"
        )


def send(
    api: ApiClient, scene: Scene, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    response = api.request(method, path, **kwargs)
    scene.responses.append(response)
    return response


def log_in(api: ApiClient, scene: Scene, principal: Principal) -> httpx.Response:
    return send(api, scene, "POST", "/authentication/login", json=principal.credentials())


def start_session(api: ApiClient, scene: Scene, target: Target, name: str) -> Session:
    principal = target.principal(name)
    response = log_in(api, scene, principal)
    assert response.status_code == 200, (
        f"could not log in as the {name} principal ({principal.email} in "
        f"{principal.organization_slug}): {response.status_code} {response.text[:300]}"
    )
    body = body_of(response)
    assert_valid("token", body)
    session = Session(principal, body["access_token"], body["refresh_token"])
    scene.sessions[name] = session
    scene.current = name
    return session


def literal(text: str) -> Any:
    """A JSON value written in a step, such as 42, null, "text" or {"a": 1}."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"step value {text!r} is not JSON") from exc


# --- who is logged in ----------------------------------------------------------------------


@given(parsers.parse("the {name} user is logged in"))
def given_logged_in(api: ApiClient, scene: Scene, target: Target, name: str) -> None:
    start_session(api, scene, target, name)


# --- requests ------------------------------------------------------------------------------


@when(parsers.parse('someone fetches "{path}"'), target_fixture="response")
def someone_fetches(api: ApiClient, scene: Scene, path: str) -> httpx.Response:
    return send(api, scene, "GET", path)


@when(parsers.re(r'they send POST "(?P<path>[^"]+)" with the raw body (?P<body>.*)'),
      target_fixture="response")
def send_raw(api: ApiClient, scene: Scene, path: str, body: str) -> httpx.Response:
    return send(api, scene, "POST", path, content=body.encode(),
                headers={"Content-Type": "application/json"}, token=scene.session.access_token)


@when(parsers.re(r'they send (?P<method>[A-Z]+) "(?P<path>[^"]+)"'
                 r"(?P<extra>| with a body of 8 MiB| with a plain text body)"),
      target_fixture="response")
def send_request(
    api: ApiClient, scene: Scene, method: str, path: str, extra: str
) -> httpx.Response:
    kwargs: dict[str, Any] = {"token": scene.session.access_token}
    if extra == " with a body of 8 MiB":
        kwargs["json"] = {"name": "x" * (8 * 1024 * 1024)}
    elif extra == " with a plain text body":
        kwargs["content"] = b"name=Staging"
        kwargs["headers"] = {"Content-Type": "text/plain"}
    return send(api, scene, method, path, **kwargs)


# --- responses -----------------------------------------------------------------------------


@then(parsers.parse("the response status is {status:d}"))
def status_is(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (
        f"expected status {status}, got {response.status_code}: {response.text[:300]}"
    )


@then("the response status is a success")
def status_is_success(response: httpx.Response) -> None:
    assert 200 <= response.status_code < 300, (
        f"expected a 2xx status, got {response.status_code}: {response.text[:300]}"
    )


@then("the response is a client error with a JSON error body")
def client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (
        f"expected a 4xx status, got {response.status_code}: {response.text[:300]}"
    )
    assert_valid("error", body_of(response))


@then(parsers.parse('the response is a "{error}" error with status {status:d}'))
def named_error(response: httpx.Response, error: str, status: int) -> None:
    assert response.status_code == status, (
        f"expected a {status} {error} error, got {response.status_code}: {response.text[:300]}"
    )
    body = body_of(response)
    assert_valid("error", body)
    assert body["error"] == error, f'expected "error": "{error}", got {body["error"]!r}'


@then(parsers.parse('the error details name "{name}"'))
def details_name(response: httpx.Response, name: str) -> None:
    body = body_of(response)
    assert_valid("error", body)
    details = body.get("details") or {}
    assert name in details, f'expected "details" to name {name!r}, it names {sorted(details)}'
    assert details[name], f"details[{name!r}] should hold at least one message"


@then(parsers.parse('either the error details name "{name}" or the list has at most {n:d} results'))
def refused_or_clamped(response: httpx.Response, name: str, n: int) -> None:
    body = body_of(response)
    if response.status_code == 200:
        assert_valid("list", body)
        assert len(body["results"]) <= n, (
            f"asked for more than {n} items, got {len(body['results'])}: the cap was not applied"
        )
    else:
        assert response.status_code == 422, (
            f"expected 200 (clamped) or 422 (refused), got {response.status_code}"
        )
        details_name(response, name)


@then("the response carries no token")
def no_token(response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        return
    leaked = [k for k in TOKEN_KEYS if isinstance(body, dict) and k in body]
    assert not leaked, f"a refused request must not hand out tokens, found {leaked}"


@then(parsers.parse('the response header "{name}" includes "{text}"'))
def header_includes(response: httpx.Response, name: str, text: str) -> None:
    value = response.headers.get(name)
    assert value is not None, f"the response has no {name} header"
    assert text.lower() in value.lower(), f"{name}: {value!r} does not include {text!r}"


@then(parsers.parse('the response header "{name}" starts with "{text}"'))
def header_starts(response: httpx.Response, name: str, text: str) -> None:
    value = response.headers.get(name)
    assert value is not None, f"the response has no {name} header"
    assert value.lower().startswith(text.lower()), f"{name}: {value!r} should start {text!r}"


@then(parsers.parse('the response header "{name}" is a whole number of seconds'))
def header_seconds(response: httpx.Response, name: str) -> None:
    value = response.headers.get(name)
    assert value is not None, f"the response has no {name} header"
    assert value.strip().isdigit(), f"{name}: {value!r} is not a whole number of seconds"


@then(parsers.parse('the last {n:d} responses are the same "{error}" error with status {status:d}'))
def same_errors(scene: Scene, n: int, error: str, status: int) -> None:
    last = scene.responses[-n:]
    for response in last:
        named_error(response, error, status)
    # Compare what a client reads; a per-request id or timestamp may differ (extra fields are free).
    bodies = {json.dumps({k: body_of(r).get(k) for k in ("error", "message", "details")})
              for r in last}
    assert len(bodies) == 1, f"the {n} answers differ, which tells the causes apart: {bodies}"
