"""Steps for API keys (SERVICE): issuing, listing, revoking, expiry and allowlists.

Keys flow as `keys` (newest last); the target's time as `target_time` (see service_accounts.py).
Every key issued here is revoked when its scenario ends (`service.new_key`, `issued_here`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from dpaas_conformance.common import error_shape, named_error
from dpaas_conformance.library.calls import Actors, list_page, page_body
from dpaas_conformance.library.calls_v2 import never_existing_id
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.instants import parse_instant
from dpaas_conformance.library.issued import IssuedKeys
from dpaas_conformance.library.outcomes import Inconclusive, charged_to
from dpaas_conformance.library.schemas import assert_valid
from dpaas_conformance.library.service import (
    EXPIRY_WAIT,
    SERVICE_ACCOUNTS,
    Key,
    ServiceAccount,
    TargetTime,
    authenticated,
    format_instant,
    is_success,
    issue_key,
    key_id_of,
    key_of,
    list_keys,
    new_key,
    revoke,
    revoke_quietly,
    service_account_path,
    signed,
)
from dpaas_conformance.library.target import Target
from dpaas_conformance.service_accounts import RESOURCE, last_key, mine
from pytest_bdd import given, parsers, then, when

DAY = 86_400.0
#: the ERR-5 values a key may be issued with, and the JSON text of each issue body
HOSTILE = {
    "a description with a lone surrogate escape": '{"description": "Conformance \\ud800"}',
    "a description of 100000 characters": json.dumps({"description": "x" * 100_000}),
    "an expires_at in the year 10000": '{"expires_at": "10000-01-01T00:00:00Z"}',
    "an allowlist of 10000 entries": json.dumps(
        {"ip_allowlist": [f"10.{i // 256 % 256}.{i % 256}.0/24" for i in range(10_000)]}),
}


def key_body(what: str, now: float) -> dict[str, Any]:
    if what == "a description and an expires_at a day ahead":
        return {"description": "made by the conformance suite",
                "expires_at": format_instant(now + DAY)}
    if what == "nothing but a description":
        return {"description": "made by the conformance suite"}
    if what == "an expires_at an hour ago":
        return {"description": "made by the conformance suite",
                "expires_at": format_instant(now - 3600)}
    raise KeyError(what)


def issued_here(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                issued: IssuedKeys, actors: Actors, service_account_id: str,
                response: httpx.Response) -> httpx.Response:
    """A key the scenario's own request was issued is remembered (KEY-2) and revoked when it
    ends, whatever the scenario checks of the answer."""
    if not is_success(response):
        return response
    try:
        key = key_of(response, service_account_id, actors.they.principal.name, issued)
    except AssertionError:
        return response  # the Then steps judge the answer
    session = actors.they
    request.addfinalizer(lambda: revoke_quietly(api, target, session, key))
    return response


# --- issuing ---------------------------------------------------------------------------------


@when(parsers.re(r"they issue a key for it with (?P<what>.+)$"), target_fixture="response")
def issue_with(request: pytest.FixtureRequest, api: ApiClient, target: Target,
               issued_keys: IssuedKeys, actors: Actors,
               service_accounts: tuple[ServiceAccount, ...], target_time: TargetTime,
               what: str) -> httpx.Response:
    owner = mine(service_accounts, actors.they.principal.name).id
    if what in HOSTILE:
        response = api.request("POST", target.paths.of("key_issue", id=owner),
                               content=HOSTILE[what].encode("utf-8"),
                               headers={"Content-Type": "application/json"},
                               token=actors.they.access_token, shows_secret=True)
    else:
        response = issue_key(api, target, actors.they, owner, key_body(what, target_time()))
    return issued_here(request, api, target, issued_keys, actors, owner, response)


@when(parsers.parse('they issue a key for it allowed only from "{cidrs}"'),
      target_fixture="response")
def issue_allowlisted(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                      issued_keys: IssuedKeys, actors: Actors,
                      service_accounts: tuple[ServiceAccount, ...], cidrs: str
                      ) -> httpx.Response:
    owner = mine(service_accounts, actors.they.principal.name).id
    body = {"ip_allowlist": [c.strip() for c in cidrs.split(",")]}
    return issued_here(request, api, target, issued_keys, actors, owner,
                       issue_key(api, target, actors.they, owner, body))


@given(parsers.re(r'the reader service account has a new key'
                  r'(?: allowed only from "(?P<cidrs>[^"]+)")?$'), target_fixture="keys")
def reader_key(request: pytest.FixtureRequest, api: ApiClient, target: Target,
               issued_keys: IssuedKeys, actors: Actors, keys: tuple[Key, ...],
               cidrs: str | None) -> tuple[Key, ...]:
    """A key of the configured reader's service account, whose rights let a signed list
    succeed (KEY-3, KEY-7)."""
    owner = target.reader_service_account()
    body: dict[str, Any] = {"description": "made by the conformance suite"}
    if cidrs:
        body["ip_allowlist"] = [c.strip() for c in cidrs.split(",")]
    return (*keys, new_key(request, api, target, issued_keys, actors.they, owner, body))


@given("they have issued a key for it that expires a minute from now on the target's clock",
       target_fixture="keys")
def short_lived_key(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                    issued_keys: IssuedKeys, actors: Actors,
                    service_accounts: tuple[ServiceAccount, ...], keys: tuple[Key, ...],
                    target_time: TargetTime) -> tuple[Key, ...]:
    """A minute ahead on a clock the suite holds (the embedded server's, moved on later); on
    any other target, EXPIRY_WAIT seconds ahead of its time (the wait is the scenario's)."""
    owner = mine(service_accounts, actors.they.principal.name).id
    ahead = 60 if target.clock is not None else EXPIRY_WAIT
    body = {"description": "made by the conformance suite",
            "expires_at": format_instant(target_time() + ahead)}
    return (*keys, new_key(request, api, target, issued_keys, actors.they, owner, body))


@given("a request signed with that key lists the accounts")
def reader_lists(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    """A signed request that succeeds (KEY-3 counts a use only then)."""
    response = signed(api, last_key(keys), target_time, "GET", "/accounts")
    if response.status_code == 429:
        raise Inconclusive("the target throttled a signed request (429)")
    with charged_to("HMAC-1"):
        assert response.status_code == 200, (
            f"a request signed with a new key of the reader service account answered "
            f"{response.status_code}: {excerpt(response, 200)}")


@when("the key's expires_at has passed on the target's clock")
def expiry_passes(target: Target, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    """The embedded server's clock is moved on (and back when the scenario ends); another
    target's is waited for, by its own time as its Date header showed it, bounded."""
    if target.clock is not None:
        target.clock.advance(120)
        return
    expires = parse_instant(last_key(keys).shown.get("expires_at"))
    if expires is None:
        raise Inconclusive("the short-lived key's answer shows no expires_at to wait for")
    deadline = time.monotonic() + EXPIRY_WAIT + 5
    # Date has whole seconds: a second more than the expiry, on the target's clock
    while target_time() < expires.timestamp() + 1.5 and time.monotonic() < deadline:
        time.sleep(0.25)  # waiting for the target's clock to pass a time, not for an event


@when(parsers.parse("they issue {n:d} keys for each of them"), target_fixture="keys")
def issue_each(request: pytest.FixtureRequest, api: ApiClient, target: Target,
               issued_keys: IssuedKeys, actors: Actors,
               service_accounts: tuple[ServiceAccount, ...], keys: tuple[Key, ...], n: int
               ) -> tuple[Key, ...]:
    """KEY-8 is judged as each key comes (`service.key_of`): a repeat fails there."""
    return keys + tuple(new_key(request, api, target, issued_keys, actors.they, s.id)
                        for s in service_accounts for _ in range(n))


# --- listing and revoking --------------------------------------------------------------------


@when("they list its keys", target_fixture="response")
def list_its_keys(api: ApiClient, target: Target, actors: Actors,
                  service_accounts: tuple[ServiceAccount, ...]) -> httpx.Response:
    return list_keys(api, target, actors.they, mine(service_accounts,
                                                    actors.they.principal.name).id,
                     {"quantity": 100})


@when("they list the reader service account's keys", target_fixture="response")
def list_reader_keys(api: ApiClient, target: Target, actors: Actors) -> httpx.Response:
    return list_keys(api, target, actors.they, target.reader_service_account(),
                     {"quantity": 100})


@when("they list its keys, read the service account and list the service accounts",
      target_fixture="responses")
def key_and_account_reads(api: ApiClient, target: Target, actors: Actors,
                          service_accounts: tuple[ServiceAccount, ...]) -> list[httpx.Response]:
    """Every answer is searched for every issued secret as it comes (`ApiClient`): KEY-2."""
    owner = mine(service_accounts, actors.they.principal.name).id
    return [list_keys(api, target, actors.they, owner, {"quantity": 100}),
            api.request("GET", service_account_path(owner), token=actors.they.access_token),
            list_page(api, actors.they, RESOURCE, {"quantity": 100})]


@when("they revoke the first key", target_fixture="response")
def revoke_first(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...]
                 ) -> httpx.Response:
    first = keys[0]
    return revoke(api, target, actors.they, first.service_account_id,
                  key_id_of(api, target, actors.they, first))


@when("they revoke a key id of its shape that never existed", target_fixture="response")
def revoke_never(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...]
                 ) -> httpx.Response:
    key = last_key(keys)
    real = key_id_of(api, target, actors.they, key)
    never = never_existing_id(api, actors.they, real,
                              path=target.paths.of("key_list", id=key.service_account_id))
    return revoke(api, target, actors.they, key.service_account_id, never)


@when("they issue, list and revoke keys of the service account the other user created",
      target_fixture="responses")
def foreign_key_calls(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                      issued_keys: IssuedKeys, actors: Actors,
                      service_accounts: tuple[ServiceAccount, ...], keys: tuple[Key, ...]
                      ) -> list[httpx.Response]:
    theirs = mine(service_accounts, "other")
    their_key = [k for k in keys if k.by == "other"][-1]
    key_id = key_id_of(api, target, actors.named("other"), their_key)
    issued = issue_key(api, target, actors.they, theirs.id, {"description": "conformance"})
    issued_here(request, api, target, issued_keys, actors, theirs.id, issued)
    return [issued, list_keys(api, target, actors.they, theirs.id),
            revoke(api, target, actors.they, theirs.id, key_id)]


@when("they issue a key for the service account the other user created, and for an id of its "
      "shape that never existed", target_fixture="responses")
def foreign_and_never_issue(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                            issued_keys: IssuedKeys, actors: Actors,
                            service_accounts: tuple[ServiceAccount, ...]
                            ) -> list[httpx.Response]:
    theirs = mine(service_accounts, "other").id
    body = {"description": "conformance"}
    foreign = issued_here(request, api, target, issued_keys, actors, theirs,
                          issue_key(api, target, actors.they, theirs, body))
    never = never_existing_id(api, actors.they, theirs, path=SERVICE_ACCOUNTS)
    return [foreign, issued_here(request, api, target, issued_keys, actors, never,
                                 issue_key(api, target, actors.they, never, body))]


@when("they issue a key for the service account the admin user created, and revoke its key",
      target_fixture="responses")
def limited_key_calls(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                      issued_keys: IssuedKeys, actors: Actors,
                      service_accounts: tuple[ServiceAccount, ...], keys: tuple[Key, ...]
                      ) -> list[httpx.Response]:
    owner = mine(service_accounts, "admin").id
    admins = [k for k in keys if k.by == "admin"][-1]
    key_id = key_id_of(api, target, actors.named("admin"), admins)
    issued = issued_here(request, api, target, issued_keys, actors, owner,
                         issue_key(api, target, actors.they, owner, {"description": "x"}))
    return [issued, revoke(api, target, actors.they, owner, key_id)]


# --- checks ----------------------------------------------------------------------------------


@then("the answer holds an access_key, a secret_key and the expires_at sent")
def holds_key(response: httpx.Response) -> None:
    body = body_of(response)
    assert isinstance(body, dict), f"the issued key is not a JSON object: {excerpt(response)}"
    for name in ("access_key", "secret_key"):
        assert isinstance(body.get(name), str) and body[name], (
            f"the answer that issued a key has no {name} string")
    sent = json.loads(response.request.content)["expires_at"]
    shown = parse_instant(body.get("expires_at"))
    assert shown is not None and abs(shown.timestamp()
                                     - parse_instant(sent).timestamp()) < 1, (  # type: ignore
        f"expires_at was sent {sent!r}, the key reads {body.get('expires_at')!r}")


@then("a request signed with the key it holds is authenticated")
def new_key_works(api: ApiClient, response: httpx.Response, target_time: TargetTime) -> None:
    body = body_of(response)
    key = Key("-", "-", body["access_key"], body["secret_key"], None)
    answer = signed(api, key, target_time, "GET", "/accounts")
    authenticated(answer)


@then("the answer's expires_at is null or in the future")
def expiry_null_or_future(response: httpx.Response, target_time: TargetTime) -> None:
    body = body_of(response)
    assert isinstance(body, dict) and "expires_at" in body, (
        f"the issued key has no expires_at: {excerpt(response)}")
    if body["expires_at"] is None:
        return
    when = parse_instant(body["expires_at"])
    assert when is not None, f"expires_at {body['expires_at']!r} is no timestamp"
    assert when.timestamp() > target_time(), (
        f"a key issued without an expiry expires at {body['expires_at']!r}, already past")


@then("the answer holds the key's id")
def holds_id(response: httpx.Response) -> None:
    body = body_of(response)
    assert isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"], (
        f"the issued key has no string id: {excerpt(response)}")


@then("none of those answers shows the key's secret")
def secret_never_shown(responses: list[httpx.Response], keys: tuple[Key, ...]) -> None:
    """`ApiClient` fails an answer holding an issued secret as it comes; this says it again for
    the answers of this step, by the exact value."""
    secret = str(last_key(keys).secret_key).encode("utf-8")
    shown = [f"{r.request.method} {r.request.url.path}" for r in responses
             if secret in r.content]
    assert not shown, f"the key's secret_key is shown again by {shown}"


def key_in(response: httpx.Response, key: Key) -> Mapping[str, Any] | None:
    body = page_body(response)
    found = [i for i in body["results"] if isinstance(i, Mapping)
             and i.get("access_key") == key.access_key]
    return found[0] if found else None


@then("the key's last_used_at is a timestamp")
def key_used(response: httpx.Response, keys: tuple[Key, ...]) -> None:
    with charged_to("KEY-4"):
        item = key_in(response, last_key(keys))
        assert item is not None, "the key just used is not in its service account's key list"
    assert parse_instant(item.get("last_used_at")) is not None, (
        f"the key was used, its last_used_at reads {item.get('last_used_at')!r}")


@then("the reader service account's last_used_at is a timestamp")
def reader_used(api: ApiClient, target: Target, actors: Actors) -> None:
    response = api.request("GET", service_account_path(target.reader_service_account()),
                           token=actors.they.access_token)
    with charged_to("SA-6"):
        assert response.status_code == 200, (
            f"reading the reader service account answered {response.status_code}")
    value = body_of(response).get("last_used_at")
    assert parse_instant(value) is not None, (
        f"its key was used, the service account's last_used_at reads {value!r}")


@then("the key list holds the keys they were issued, newest first, each with its fields")
def list_of_keys(response: httpx.Response, keys: tuple[Key, ...]) -> None:
    body = page_body(response)
    for index, item in enumerate(body["results"]):
        assert_valid("key", item, where=f"results[{index}]")
    listed = [i["access_key"] for i in body["results"]]
    mine_ = [k.access_key for k in keys if k.access_key in listed]
    missing = sorted({k.access_key for k in keys} - set(listed))
    assert not missing, f"the keys issued are not all listed: {missing}"
    order = [listed.index(a) for a in mine_]
    assert order == sorted(order, reverse=True), (
        "the key list is not newest first: the keys issued come in the order they were issued")


@then("the very next request signed with the first key is refused with 401")
def first_refused(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    response = signed(api, keys[0], target_time, "GET", "/accounts")
    assert response.status_code == 401, (
        f"a request signed with the revoked key answered {response.status_code}")


@then("a request signed with the second key is authenticated")
def second_works(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    authenticated(signed(api, keys[1], target_time, "GET", "/accounts"))


@then("the key list shows the first key inactive, or no longer")
def revoked_listed(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...]
                   ) -> None:
    with charged_to("KEY-4"):
        response = list_keys(api, target, actors.they, keys[0].service_account_id,
                             {"quantity": 100})
        item = key_in(response, keys[0])
    if item is not None:
        assert item.get("is_active") is False, (
            f"the revoked key is listed with is_active {item.get('is_active')!r}")


@then("the response is refused with 401 or 403")
def refused_401_403(response: httpx.Response) -> None:
    assert response.status_code in (401, 403), (
        f"a key allowed only from elsewhere answered {response.status_code}: "
        f"{excerpt(response, 200)}")
    error_shape(response)


@then("every key has its own access key and its own secret, and no access key holds a colon")
def keys_distinct(keys: tuple[Key, ...]) -> None:
    """Judged against every key of the run as each was issued (`service.key_of`); here within
    the scenario once more."""
    access = [k.access_key for k in keys]
    secrets = [str(k.secret_key) for k in keys]
    assert len(set(access)) == len(access), "two keys share an access_key"
    assert len(set(secrets)) == len(secrets), "two keys share a secret_key"
    assert not [a for a in access if ":" in a], "an access_key holds a colon"


@then("none of those answers is a success, and none shows the other organization's key")
def foreign_refused(responses: list[httpx.Response], keys: tuple[Key, ...]) -> None:
    theirs = [k for k in keys if k.by == "other"][-1]
    succeeded = [f"{r.request.method} {r.status_code}" for r in responses if is_success(r)]
    assert not succeeded, f"another organization's service account's keys: {succeeded}"
    shown = [r.request.method for r in responses if theirs.access_key.encode() in r.content]
    assert not shown, f"the answers to {shown} show the other organization's access key"


@then("the other user's key still works and is still its service account's only key")
def foreign_key_intact(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...],
                       service_accounts: tuple[ServiceAccount, ...],
                       target_time: TargetTime) -> None:
    theirs = [k for k in keys if k.by == "other"][-1]
    authenticated(signed(api, theirs, target_time, "GET", "/accounts"))
    body = page_body(list_keys(api, target, actors.named("other"),
                               mine(service_accounts, "other").id, {"quantity": 100}))
    active = [i.get("access_key") for i in body["results"]
              if isinstance(i, Mapping) and i.get("is_active") is not False]
    assert active == [theirs.access_key], (
        f"the other organization's service account now has the active keys {active}")


@then(parsers.parse('each answer is a "{error}" error with status {status:d}'))
def each_error(responses: list[httpx.Response], error: str, status: int) -> None:
    for response in responses:
        assert response.status_code == status, (
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {excerpt(response, 200)}")
        named_error(response, error, status)


@then("the admin user's key still works")
def admin_key_works(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    authenticated(signed(api, [k for k in keys if k.by == "admin"][-1], target_time, "GET",
                         "/accounts"))


@then("the service account's keys and the service accounts still read as valid JSON for every "
      "principal of the organization")
def keys_still_read(api: ApiClient, target: Target, actors: Actors,
                    service_accounts: tuple[ServiceAccount, ...]) -> None:
    from dpaas_conformance.library.calls import start_session

    owner = mine(service_accounts, actors.they.principal.name).id
    for principal in target.organization_a:
        session = start_session(api, principal)
        with charged_to("ERR-5"):
            for answer in (list_keys(api, target, session, owner, {"quantity": 100}),
                           list_page(api, session, RESOURCE, {"quantity": 100})):
                if answer.status_code == 403:
                    continue  # this principal may not read them: nothing to judge
                page_body(answer)
