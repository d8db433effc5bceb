"""Steps every feature shares: who is logged in, sending requests, and checking responses.

"they" in a step means the principal who logged in last; "someone" means no principal at all.
State flows from step to step through `target_fixture` (see `library.calls`): `actors`
(who is logged in), `response` or `responses` (what came back), `created` and `walk`.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from dpaas_conformance.library.calls import TOKEN_KEYS, Actors, Created, start_session
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.outcomes import Inconclusive, charged_to
from dpaas_conformance.library.requirements import SHOULD
from dpaas_conformance.library.schemas import assert_valid
from dpaas_conformance.library.target import Target
from pytest_bdd import given, parsers, then, when


def literal(text: str) -> Any:
    """A JSON value written in a step, such as 42, null, "text" or {"a": 1}."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"step value {text!r} is not JSON") from exc


@pytest.fixture
def actors() -> Actors:
    """Nobody has logged in yet; each login step hands on a new `Actors`."""
    return Actors()


@pytest.fixture
def created() -> tuple[Created, ...]:
    """No account created yet; steps that create hand on a longer tuple."""
    return ()


# --- who is logged in ----------------------------------------------------------------------


@given(parsers.parse("the {name} user is logged in"), target_fixture="actors")
def given_logged_in(api: ApiClient, actors: Actors, target: Target, name: str) -> Actors:
    return actors.with_session(start_session(api, target.principal(name)))


# --- requests ------------------------------------------------------------------------------


@when(parsers.parse('someone fetches "{path}"'), target_fixture="response")
def someone_fetches(api: ApiClient, path: str) -> httpx.Response:
    return api.request("GET", path)


@when(parsers.re(r'they send POST "(?P<path>[^"]+)" with the raw body (?P<body>.*)'),
      target_fixture="response")
def send_raw(api: ApiClient, actors: Actors, path: str, body: str) -> httpx.Response:
    return api.request("POST", path, content=body.encode(),
                       headers={"Content-Type": "application/json"},
                       token=actors.they.access_token)


@when(parsers.re(r'they send (?P<method>[A-Z]+) "(?P<path>[^"]+)"'
                 r"(?P<extra>| with a body of 8 MiB| with a plain text body)"),
      target_fixture="response")
def send_request(
    api: ApiClient, actors: Actors, method: str, path: str, extra: str
) -> httpx.Response:
    kwargs: dict[str, Any] = {"token": actors.they.access_token}
    if extra == " with a body of 8 MiB":
        field = "refresh_token" if path.endswith("/refresh") else "name"
        kwargs["json"] = {field: "x" * (8 * 1024 * 1024)}
    elif extra == " with a plain text body":
        kwargs["content"] = b"name=Staging"
        kwargs["headers"] = {"Content-Type": "text/plain"}
    return api.request(method, path, **kwargs)


# --- responses -----------------------------------------------------------------------------


#: ERR-0's error names, for the statuses it covers (a MUST).
ERR0_NAMES = {401: "Unauthorized", 403: "Forbidden", 422: "ValidationError"}
#: ERR-1's error names, for the statuses it lists (a SHOULD).
ERR1_NAMES = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 408: "RequestTimeout",
              413: "PayloadTooLarge", 414: "URITooLong", 415: "UnsupportedMediaType",
              429: "TooManyRequests", 431: "RequestHeaderFieldsTooLarge", 500: "InternalError"}


def unless_throttled(response: httpx.Response, status: int) -> None:
    """A 429 where another answer was expected: the target used its right to throttle (AUTH-7),
    perhaps after another run's failed logins, and the answer to judge is hidden."""
    if response.status_code == 429 and status != 429:
        raise Inconclusive(
            f"the target throttled this request (429, Retry-After "
            f"{response.headers.get('retry-after', '-')}) where {status} was to be judged: run "
            "again once the throttle has passed")


@then(parsers.parse("the response status is {status:d}"))
def status_is(response: httpx.Response, status: int) -> None:
    unless_throttled(response, status)
    assert response.status_code == status, (
        f"expected status {status}, got {response.status_code}: {excerpt(response)}"
    )


@then("the response status is a success")
def status_is_success(response: httpx.Response) -> None:
    assert 200 <= response.status_code < 300, (
        f"expected a 2xx status, got {response.status_code}: {excerpt(response)}"
    )


@then("the response is a client error with a JSON error body")
def client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (
        f"expected a 4xx status, got {response.status_code}: {excerpt(response)}"
    )
    error_shape(response)


@then("the response is a client error whose JSON body has an error and a message")
def client_error_with_message(response: httpx.Response) -> None:
    """AUTH-5 names the two fields for any 4xx it sends, not only for the 401 (ERR-0) it
    should send: a 400 {"error": ...} without a message breaks AUTH-5, not just ERR-1."""
    assert 400 <= response.status_code < 500, (
        f"expected a 4xx status, got {response.status_code}: {excerpt(response)}"
    )
    if response.status_code not in SHAPE_OWNERS:
        assert_valid("error", body_of(response))
    client_error(response)


@then("the response is a success or a client error with a JSON error body, never a server error")
def success_or_client_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"expected a 2xx or a 4xx, got {response.status_code}: {excerpt(response)}"
    )
    if response.status_code >= 300:
        client_error(response)


@then(parsers.parse('the response is a "{error}" error with status {status:d}'))
def named_error(response: httpx.Response, error: str, status: int) -> None:
    unless_throttled(response, status)
    assert response.status_code == status, (
        f"expected a {status} {error} error, got {response.status_code}: {excerpt(response)}"
    )
    body = error_shape(response)
    with charged_to("ERR-0") if status in ERR0_NAMES else nullcontext():
        assert body["error"] == error, f'expected "error": "{error}", got {body["error"]!r}'


#: Who owns the shape of an error body, by status, whatever the scenario that met it: S's three
#: bodies (ERR-0) and the 404s of the by-id endpoints (ERR-7). A 401 that says "msg" rather than
#: "message" breaks ERR-0, not the rule that asked for the 401 (AUTH-15 got its 401).
SHAPE_OWNERS = {401: "ERR-0", 403: "ERR-0", 422: "ERR-0", 404: "ERR-7"}


def error_shape(response: httpx.Response) -> dict[str, Any]:
    """The error body, checked for {error, message} and charged to its owner for the status.

    For any other status the scenario's "JSON error" (ERR-2, ACC-20, AUTH-9, ...) asks for a JSON
    object, and S's shape is ERR-1's SHOULD: a 409 {"error": "Conflict", "detail": ...} is only a
    warning. Call it after the step's MUST checks, as a SHOULD finding ends the scenario."""
    body = body_of(response)
    status = response.status_code
    owner = SHAPE_OWNERS.get(status)
    if owner:
        with charged_to(owner):
            assert_valid("error", body)
        return body
    assert isinstance(body, dict), (
        f"a JSON error is a JSON object, the body of this {status} is {excerpt(response, 200)}")
    with charged_to("ERR-1", SHOULD):
        assert_valid("error", body, where=f"the body of a {status}")
    return body


def error_body_for_status(response: httpx.Response) -> None:
    """The body of an error the target chose to send, judged by its status: ERR-0 (MUST) for
    401, 403 and 422, ERR-1 (SHOULD) for any other: {error, message}, with ERR-1's name where it
    lists the status. A success is not an error and passes."""
    status = response.status_code
    if status < 400:
        return
    if status in ERR0_NAMES:
        with charged_to("ERR-0"):
            named_error(response, ERR0_NAMES[status], status)
        return
    with charged_to("ERR-1", SHOULD):
        body = body_of(response)
        assert_valid("error", body, where=f"the body of a {status}")
        expected = ERR1_NAMES.get(status)
        assert expected is None or body["error"] == expected, (
            f'a {status} should say "error": "{expected}", it says {body["error"]!r}')


@then("an error in that answer has the profile's shape and name for its status")
def error_shape_for_status(response: httpx.Response) -> None:
    """ERR-1 judges the body of an error the target sends; it never asks for a status (a 422 for
    a plain-text body, or a 2xx from a target without a size limit, breaks nothing)."""
    error_body_for_status(response)


@then(parsers.parse('the error details name "{name}"'))
def details_name(response: httpx.Response, name: str) -> None:
    body = error_shape(response)
    details = body.get("details") or {}
    assert name in details, f'expected "details" to name {name!r}, it names {sorted(details)}'
    assert details[name], f"details[{name!r}] should hold at least one message"


@then(parsers.parse('either the error details name "{name}" or the list has at most {n:d} results'))
def refused_or_clamped(response: httpx.Response, name: str, n: int) -> None:
    if response.status_code == 200:
        body = body_of(response)
        assert_valid("list", body)
        assert len(body["results"]) <= n, (
            f"asked for more than {n} items, got {len(body['results'])}: the cap was not applied"
        )
    else:
        assert response.status_code == 422, (
            f"expected 200 (clamped) or 422 (refused), got {response.status_code}"
        )
        details_name(response, name)


def tokens_in(data: Any) -> list[str]:
    """Where a token shows in a body, at any depth."""
    if isinstance(data, dict):
        found = [k for k in TOKEN_KEYS if isinstance(data.get(k), str) and data[k]]
        return found + [f"{k}/{t}" for k, v in data.items() for t in tokens_in(v)]
    if isinstance(data, list):
        return [f"{i}/{t}" for i, v in enumerate(data) for t in tokens_in(v)]
    return []


@then("the response carries no token")
def no_token(response: httpx.Response) -> None:
    try:
        body = json.loads(response.content)  # leniently: tokens in any JSON-ish body count
    except (ValueError, RecursionError):
        return
    leaked = tokens_in(body)
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


@then(parsers.parse('the response header "{name}" says when to retry'))
def header_retry(response: httpx.Response, name: str) -> None:
    """RFC 9110 10.2.3: a number of seconds or an HTTP-date; both are right."""
    value = response.headers.get(name)
    assert value is not None, f"the response has no {name} header"
    if value.strip().isdigit():
        return
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise AssertionError(
            f"{name}: {value!r} is neither a number of seconds nor an HTTP-date"
        ) from exc


@then("the logins were throttled with status 429 and a Retry-After saying when to retry")
def throttled(response: httpx.Response) -> None:
    """AUTH-7 alone: what the 429's body says is ERR-1's, judged by its own step."""
    with charged_to("AUTH-7", SHOULD):
        assert response.status_code == 429, (
            f"repeated failed logins were never throttled: the last answered "
            f"{response.status_code}")
        header_retry(response, "Retry-After")


@then(parsers.parse('each of those answers is the same "{error}" error with status {status:d}'))
def same_errors(responses: list[httpx.Response], error: str, status: int) -> None:
    throttled = [r for r in responses if r.status_code == 429 and status != 429]
    if throttled:
        # Throttling (AUTH-7) after earlier failed logins - this run's or another client's -
        # hides the answer to compare; that says nothing about enumeration.
        raise Inconclusive(
            f"the target throttled {len(throttled)} of these logins (429, Retry-After "
            f"{throttled[0].headers.get('retry-after', '-')}): run again once it has passed"
        )
    for response in responses:
        named_error(response, error, status)
    # Compare what a client reads; a per-request id or timestamp may differ (extra fields are free).
    bodies = {json.dumps({k: body_of(r).get(k) for k in ("error", "message", "details")})
              for r in responses}
    assert len(bodies) == 1, f"the answers differ, which tells the causes apart: {bodies}"
