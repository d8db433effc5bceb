"""Steps for service accounts (SERVICE): creating, listing, reading and deactivating them; and
the preconditions every SERVICE feature shares (a service account, a key, the target's time).

State flows as elsewhere: `service_accounts` (the ones the scenario created, newest last),
`keys` (the keys it was issued, newest last), `target_time` (what `x-date` is signed with).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest
from dpaas_conformance.account_by_id import scalars
from dpaas_conformance.common import error_shape
from dpaas_conformance.errors import UNUSUAL
from dpaas_conformance.library import strictjson
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    Walk,
    list_page,
    page_body,
    sent_json,
    unique_name,
)
from dpaas_conformance.library.calls_v2 import never_existing_id, walk_with
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.issued import IssuedKeys
from dpaas_conformance.library.leaks import SECRET_FIELDS, normalised
from dpaas_conformance.library.outcomes import Inconclusive, charged_to
from dpaas_conformance.library.schemas import assert_valid
from dpaas_conformance.library.service import (
    SERVICE_ACCOUNTS,
    Key,
    ServiceAccount,
    TargetTime,
    create_service_account,
    deactivate,
    measure_offset,
    new_key,
    new_service_account,
    service_account_path,
    signed,
    some_account,
)
from dpaas_conformance.library.target import Target
from dpaas_conformance.lists import created_newest_first, walk_sorted_by
from pytest_bdd import given, parsers, then, when

#: what a service account carries that a list or a read compares
COMPARED = ("id", "name", "account_id", "organization_id")
RESOURCE = SERVICE_ACCOUNTS.lstrip("/")


@pytest.fixture
def service_accounts() -> tuple[ServiceAccount, ...]:
    """No service account created yet; steps that create hand on a longer tuple."""
    return ()


@pytest.fixture
def keys() -> tuple[Key, ...]:
    """No key issued yet; steps that issue hand on a longer tuple."""
    return ()


@pytest.fixture(scope="session")
def target_time(request: pytest.FixtureRequest, target: Target, issued_keys: IssuedKeys
                ) -> TargetTime:
    """The time `x-date` carries: the embedded server's clock, or ours corrected by the
    target's `Date` header (measured once per run; a target that sends none gets ours)."""
    if target.clock is not None:
        return TargetTime(target.clock, None)
    from dpaas_conformance.library import limits

    client = ApiClient(target.base_url, passwords=target.passwords,
                       limits=limits.from_config(request.config), issued=issued_keys)
    try:
        return TargetTime(None, measure_offset(client))
    finally:
        client.close()


def mine(service_accounts: tuple[ServiceAccount, ...], name: str) -> ServiceAccount:
    """The last service account the scenario created as `name`."""
    found = [s for s in service_accounts if s.by == name]
    if not found:
        raise RuntimeError(f"the scenario has not created a service account as the {name} user")
    return found[-1]


def last_key(keys: tuple[Key, ...]) -> Key:
    if not keys:
        raise RuntimeError("the scenario has not been issued a key")
    return keys[-1]


def last_account(created: tuple[Created, ...], name: str) -> Mapping[str, Any]:
    found = [c.account for c in created if c.by == name]
    if not found:
        raise RuntimeError(f"the scenario has not created an account as the {name} user")
    return found[-1]


# --- preconditions ---------------------------------------------------------------------------


@given(parsers.re(r"they have created (?P<n>\d+) service accounts?(?P<that> for that account)?$"),
       target_fixture="service_accounts")
def have_service_accounts(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                          actors: Actors, created: tuple[Created, ...],
                          service_accounts: tuple[ServiceAccount, ...], n: str,
                          that: str | None) -> tuple[ServiceAccount, ...]:
    session = actors.they
    account = (str(last_account(created, session.principal.name)["id"]) if that
               else some_account(api, session))
    return service_accounts + tuple(new_service_account(request, api, target, session, account)
                                    for _ in range(int(n)))


@given(parsers.re(r"they have issued (?:a key|(?P<n>\d+) keys) for it$"), target_fixture="keys")
def have_keys(request: pytest.FixtureRequest, api: ApiClient, target: Target, actors: Actors,
              issued_keys: IssuedKeys, service_accounts: tuple[ServiceAccount, ...],
              keys: tuple[Key, ...], n: str | None) -> tuple[Key, ...]:
    session = actors.they
    owner = mine(service_accounts, session.principal.name)
    return keys + tuple(new_key(request, api, target, issued_keys, session, owner.id)
                        for _ in range(int(n or 1)))


@given("a request signed with that key is authenticated")
def key_works(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime) -> None:
    """A new key authenticates at once (KEY-3): a precondition of the checks that stop it."""
    response = signed(api, last_key(keys), target_time, "GET", "/accounts")
    if response.status_code == 429:
        raise Inconclusive("the target throttled a signed request (429)")
    with charged_to("KEY-3"):
        assert response.status_code != 401 and response.status_code < 500, (
            f"a request signed with a key just issued answered {response.status_code}: "
            f"{excerpt(response, 200)}")


@given("the target's time is known from its Date header", target_fixture="server_time")
def server_time(api: ApiClient) -> TargetTime:
    """Skew is measured against the target's own clock (RFC 9110 §6.6.1), never the suite's."""
    offset = measure_offset(api)
    if offset is None:
        pytest.skip("not run: the target sends no Date header, so the suite cannot tell its "
                    "time; the x-date window is checked against the target's own clock")
    return TargetTime(None, offset)


# --- creating --------------------------------------------------------------------------------

def _body(**fields: Any) -> str:
    return json.dumps(fields, ensure_ascii=False)


def _raw(name: str, account: str, field: str, raw: str) -> str:
    """A create's JSON text with one field written as raw JSON (1e999, a lone surrogate escape),
    which a JSON library would refuse to produce."""
    return _body(name=name, account_id=account)[:-1] + f', "{field}": {raw}}}'


#: the JSON text of each create the features name, from a unique name and an account id
BODIES: dict[str, Callable[[str, str], str]] = {
    "no name": lambda name, acc: _body(account_id=acc),
    "a name that is a number": lambda name, acc: _body(name=5, account_id=acc),
    "no account_id": lambda name, acc: _body(name=name),
    "an account_id that is a number": lambda name, acc: _body(name=name, account_id=5),
    # ERR-5: hostile but valid JSON
    "metadata nested 100 levels deep": lambda name, acc: _raw(
        name, acc, "metadata", '{"deep": ' + "[" * 100 + "]" * 100 + "}"),
    "metadata holding the number 1e999": lambda name, acc: _raw(
        name, acc, "metadata", '{"huge": 1e999}'),
    "a name with a lone surrogate escape": lambda name, acc: (
        f'{{"name": {json.dumps(name)[:-1]} \\ud800", "account_id": {json.dumps(acc)}}}'),
    "a description of 100000 characters": lambda name, acc: _body(
        name=name, account_id=acc, description="x" * 100_000),
    "a name of zero-width and RTL characters": lambda name, acc: _body(
        name=f"{name} {UNUSUAL}", account_id=acc),
}


@when("they create a service account for an account of their organization",
      target_fixture="response")
def create_one(request: pytest.FixtureRequest, api: ApiClient, target: Target,
               actors: Actors) -> httpx.Response:
    session = actors.they
    body = {"name": unique_name("SA "), "account_id": some_account(api, session),
            "description": "made by the conformance suite"}
    return created_here(request, api, actors, create_service_account(api, target, session, body))


def created_here(request: pytest.FixtureRequest, api: ApiClient, actors: Actors,
                 response: httpx.Response) -> httpx.Response:
    """A service account the scenario's own request made is deactivated when it ends too."""
    try:
        body = json.loads(response.content) if 200 <= response.status_code < 300 else None
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        session = actors.they
        request.addfinalizer(lambda: deactivate(api, session, body["id"]))
    return response


@when(parsers.re(r"they create a service account with (?P<what>.+)$"), target_fixture="response")
def create_with(request: pytest.FixtureRequest, api: ApiClient, target: Target, actors: Actors,
                what: str) -> httpx.Response:
    session = actors.they
    text = BODIES[what](unique_name("SA "), some_account(api, session))
    strictjson.parse(text)  # the suite's own check that the payload is JSON text
    return created_here(request, api, actors, api.request(
        "POST", target.paths.of("service_account_create"), content=text.encode("utf-8"),
        headers={"Content-Type": "application/json"}, token=session.access_token))


@when(parsers.re(r"they create a service account for (?P<whose>the account the other user "
                 r"created|an account id that never existed)$"), target_fixture="response")
def create_for_foreign(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                       actors: Actors, created: tuple[Created, ...], whose: str
                       ) -> httpx.Response:
    session = actors.they
    theirs = str(last_account(created, "other")["id"])
    account = theirs if whose.startswith("the account") else never_existing_id(api, session,
                                                                               theirs)
    body = {"name": unique_name("SA "), "account_id": account}
    return created_here(request, api, actors,
                        create_service_account(api, target, session, body))


# --- reading ---------------------------------------------------------------------------------


@when("they list the service accounts", target_fixture="response")
def list_them(api: ApiClient, actors: Actors) -> httpx.Response:
    return list_page(api, actors.they, RESOURCE)


@when(parsers.parse('they walk every page of the service accounts ordered by "{order}"'),
      target_fixture="walk")
def walk_them(api: ApiClient, actors: Actors, order: str) -> Walk:
    return walk_with(api, actors.they, RESOURCE, {}, order=order)


@when("they list the service accounts of that account", target_fixture="walk")
def walk_of_account(api: ApiClient, actors: Actors, created: tuple[Created, ...]) -> Walk:
    account = last_account(created, actors.they.principal.name)["id"]
    return walk_with(api, actors.they, RESOURCE, {"account_id": account})


def read(api: ApiClient, actors: Actors, service_account_id: str) -> httpx.Response:
    return api.request("GET", service_account_path(service_account_id),
                       token=actors.they.access_token)


@when("they read the service account", target_fixture="response")
def read_mine(api: ApiClient, actors: Actors,
              service_accounts: tuple[ServiceAccount, ...]) -> httpx.Response:
    return read(api, actors, mine(service_accounts, actors.they.principal.name).id)


@when("they read the service account, and list the service accounts",
      target_fixture="responses")
def read_and_list(api: ApiClient, actors: Actors,
                  service_accounts: tuple[ServiceAccount, ...]) -> list[httpx.Response]:
    return [read(api, actors, mine(service_accounts, actors.they.principal.name).id),
            list_page(api, actors.they, RESOURCE, {"quantity": 100})]


@when("they read the service account the other user created", target_fixture="response")
def read_theirs(api: ApiClient, actors: Actors,
                service_accounts: tuple[ServiceAccount, ...]) -> httpx.Response:
    return read(api, actors, mine(service_accounts, "other").id)


@when("they read the service account the other user created, and an id of its shape that never "
      "existed", target_fixture="responses")
def read_theirs_and_never(api: ApiClient, actors: Actors,
                          service_accounts: tuple[ServiceAccount, ...]) -> list[httpx.Response]:
    real = mine(service_accounts, "other").id
    foreign = read(api, actors, real)
    never = never_existing_id(api, actors.they, real, path=SERVICE_ACCOUNTS)
    return [foreign, read(api, actors, never)]


@when("they read a service account id that never existed", target_fixture="response")
def read_never(api: ApiClient, actors: Actors,
               service_accounts: tuple[ServiceAccount, ...]) -> httpx.Response:
    real = mine(service_accounts, actors.they.principal.name).id
    return read(api, actors, never_existing_id(api, actors.they, real, path=SERVICE_ACCOUNTS))


@when("they deactivate the service account", target_fixture="deactivated")
def deactivate_it(api: ApiClient, actors: Actors,
                  service_accounts: tuple[ServiceAccount, ...]) -> str:
    how = deactivate(api, actors.they, mine(service_accounts, actors.they.principal.name).id)
    if how is None:
        pytest.skip("not run: the target accepts neither PATCH {\"is_active\": false} nor DELETE "
                    "of a service account, so its keys cannot be stopped that way (SA-7)")
    return how


@when("they send a request signed with that key", target_fixture="response")
def send_signed(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
                ) -> httpx.Response:
    return signed(api, last_key(keys), target_time, "GET", "/accounts")


# --- checks ----------------------------------------------------------------------------------


def organization_of(api: ApiClient, actors: Actors, name: str) -> Any:
    """A principal's organization id, as its own account list shows it."""
    with charged_to("LIST-1"):
        body = page_body(list_page(api, actors.named(name), "accounts", {"quantity": 1}))
    if not body["results"]:
        raise Inconclusive(f"the {name} user's organization lists no account to tell its id")
    return body["results"][0].get("organization_id")


@then("the response body is a new service account of their organization, active and never used")
def is_new_service_account(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    shown = body_of(response)
    assert_valid("service-account", shown)
    sent = sent_json(response)
    home = organization_of(api, actors, actors.they.principal.name)
    assert shown["organization_id"] == home, (
        f"the service account is in organization {shown['organization_id']!r}, the caller's is "
        f"{home!r}")
    assert shown["is_active"] is True, (
        f"a new service account reads is_active {shown['is_active']!r}")
    assert shown["last_used_at"] is None, (
        f"a new service account reads last_used_at {shown['last_used_at']!r}")
    for field in ("name", "account_id"):
        assert shown[field] == sent[field], (
            f"{field} was sent {sent[field]!r}, reads {shown[field]!r}")


def listed(api: ApiClient, actors: Actors, params: Mapping[str, Any] | None = None
           ) -> list[Mapping[str, Any]]:
    """Every service account of a list (at most ten pages of 100)."""
    found: list[Mapping[str, Any]] = []
    for page in range(1, 11):
        body = page_body(list_page(api, actors.they, RESOURCE,
                                   {**(params or {}), "page": page, "quantity": 100}))
        found += [i for i in body["results"] if isinstance(i, Mapping)]
        if len(body["results"]) < 100:
            break
    return found


@then("the service account is in the list of service accounts")
def in_the_list(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    made = body_of(response)["id"]
    ids = [i.get("id") for i in listed(api, actors)]
    assert made in ids, f"the service account {made!r} just created is not listed"


@then(parsers.parse('the response is a 422 naming "{field}", or a 404'))
def refused_naming_or_404(response: httpx.Response, field: str) -> None:
    assert response.status_code in (404, 422), (
        f"expected 422 naming {field} or 404, got {response.status_code}: {excerpt(response)}")
    body = error_shape(response)
    if response.status_code == 422:
        named = sorted(body.get("details") or {})
        assert field in named, f'the 422 should name {field!r} in "details", it names {named}'



@then("no service account of that account is listed, by either organization")
def none_for_that_account(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    account = sent_json(response)["account_id"]
    for name in ("admin", "other"):
        if name not in actors.sessions:
            continue
        each = Actors(actors.sessions, name)
        tied = [i.get("id") for i in listed(api, each) if i.get("account_id") == account]
        assert not tied, (
            f"the {name} user lists service accounts {tied} of the account {account!r}, which is "
            "not an account of the admin user's organization")


@then("the response body is a list of service accounts")
def list_of_service_accounts(response: httpx.Response) -> None:
    body = page_body(response)
    for index, item in enumerate(body["results"]):
        assert_valid("service-account", item, where=f"results[{index}]")


def as_created(service_accounts: tuple[ServiceAccount, ...], name: str) -> tuple[Created, ...]:
    """The service accounts as the list checks of accounts take them (id, name, timestamps)."""
    return tuple(Created(s.by, s.shown) for s in service_accounts if s.by == name)


@then("the service accounts they created are listed newest first")
def newest_first(response: httpx.Response, actors: Actors,
                 service_accounts: tuple[ServiceAccount, ...]) -> None:
    created_newest_first(response, as_created(service_accounts, actors.they.principal.name))


@then(parsers.parse('every service account they created was seen, ordered by "{order}"'))
def walk_once_in_order(walk: Walk, service_accounts: tuple[ServiceAccount, ...],
                       order: str) -> None:
    """Every page's items in order (LIST-4), and walked by creation, each exactly once (LIST-3):
    what others create meanwhile lands after such a walk, never inside it."""
    ids = [i.get("id") for i in walk.items if isinstance(i, Mapping)]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    assert order != "created_at" or not repeated, (
        f"pages overlap: these came back more than once: {repeated[:10]}")
    missing = {s.id for s in service_accounts if s.by == walk.by} - set(ids)
    assert not missing, f"service accounts created in this scenario never came up: {missing}"
    walk_sorted_by(walk, order, as_created(service_accounts, walk.by))


@then("the list holds exactly the service accounts of that account, and its total is theirs")
def exactly_that_account(walk: Walk, service_accounts: tuple[ServiceAccount, ...],
                         created: tuple[Created, ...], actors: Actors) -> None:
    account = last_account(created, actors.they.principal.name)["id"]
    expected = {s.id for s in service_accounts if s.account_id == account}
    ids = {i.get("id") for i in walk.items}
    assert ids == expected, (
        f"the service accounts of account {account!r} are {sorted(expected)}, the filtered list "
        f"shows {sorted(map(str, ids))}")
    assert walk.total_before == len(expected), (
        f"the filtered list says total {walk.total_before}, the account has {len(expected)}")


def key_material(value: Any, secrets: list[str]) -> list[str]:
    """Where a service account object carries a secret: a field named as one, or a secret's
    value anywhere."""
    found = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, Mapping):
            for k, v in item.items():
                if (normalised(str(k)) in SECRET_FIELDS or "secret" in normalised(str(k))) and (
                        v not in (None, "", [], {})):
                    found.append(f"{where}{k}: a field named as a secret holds a value")
                stack.append((f"{where}{k}.", v))
        elif isinstance(item, list):
            stack += [(f"{where}{i}.", v) for i, v in enumerate(item)]
        elif isinstance(item, str) and any(s and s in item for s in secrets):
            found.append(f"{where.rstrip('.')}: holds a key's secret")
    return found


@then("no service account object in those answers carries key material")
def no_key_material(responses: list[httpx.Response], keys: tuple[Key, ...]) -> None:
    secrets = [str(k.secret_key) for k in keys]
    read_one, page = responses
    assert read_one.status_code == 200, (
        f"reading the service account answered {read_one.status_code}")
    objects = [body_of(read_one), *page_body(page)["results"]]
    found = [f for o in objects for f in key_material(o, secrets)]
    assert not found, "a service account object carries key material: " + "; ".join(found[:5])


@then("the service account read is the one they created")
def read_is_created(response: httpx.Response, service_accounts: tuple[ServiceAccount, ...],
                    actors: Actors) -> None:
    shown = body_of(response)
    assert_valid("service-account", shown)
    made = mine(service_accounts, actors.they.principal.name).shown
    differ = [f"{f}: {made.get(f)!r} reads {shown.get(f)!r}" for f in COMPARED
              if shown.get(f) != made.get(f)]
    assert not differ, f"the service account read by its id differs from the one created: {differ}"


@then(parsers.parse("the answer carries no field of the service account the {name} user created"))
def sa_leaks_nothing(response: httpx.Response, service_accounts: tuple[ServiceAccount, ...],
                     name: str) -> None:
    theirs = mine(service_accounts, name).shown
    text = response.content.decode("utf-8", "replace")
    leaked = ["name"] if isinstance(theirs.get("name"), str) and theirs["name"] in text else []
    try:
        values = set(scalars(json.loads(response.content)))
    except (ValueError, RecursionError):
        values = set()
    leaked += [f for f in ("organization_id", "account_id") if theirs.get(f) in values]
    assert not leaked, (
        f"the answer to another organization's service account shows its {leaked}: "
        f"{excerpt(response)}")


@then(parsers.parse("the {name} user reads the service account they created unchanged"))
def sa_unchanged(api: ApiClient, actors: Actors, service_accounts: tuple[ServiceAccount, ...],
                 name: str) -> None:
    made = mine(service_accounts, name)
    response = read(api, Actors(actors.sessions, name), made.id)
    assert response.status_code == 200, (
        f"the owner cannot read its service account any more: {response.status_code}")
    shown = body_of(response)
    differ = [f for f in (*COMPARED, "is_active") if shown.get(f) != made.shown.get(f)]
    assert not differ, f"the owner finds its service account changed: {differ}"


@then("the default list of service accounts leaves it out")
def left_out(api: ApiClient, actors: Actors, service_accounts: tuple[ServiceAccount, ...],
             deactivated: str) -> None:
    if deactivated != "PATCH":
        pytest.skip("not run: the target deletes service accounts rather than deactivating "
                    "them, so there is no inactive one to list")
    made = mine(service_accounts, actors.they.principal.name).id
    assert made not in [i.get("id") for i in listed(api, actors)], (
        f"the deactivated service account {made!r} is still in the default list")


@then(parsers.parse('the list with "{query}" shows it'))
def shown_with(api: ApiClient, actors: Actors, service_accounts: tuple[ServiceAccount, ...],
               query: str) -> None:
    name, _, value = query.partition("=")
    made = mine(service_accounts, actors.they.principal.name).id
    found = [i for i in listed(api, actors, {name: value}) if i.get("id") == made]
    assert found, f"the deactivated service account {made!r} is not listed with {query}"
    assert found[0].get("is_active") is False, (
        f"the deactivated service account reads is_active {found[0].get('is_active')!r}")


@then("every page of the service accounts, and each one created, still reads as valid JSON for "
      "every principal of the organization")
def service_accounts_still_read(api: ApiClient, actors: Actors, target: Target,
                                response: httpx.Response) -> None:
    """ERR-5 for the service accounts: whatever the create accepted, the lists and the get of
    what it made still answer 200 with valid JSON for every principal of organization A."""
    from dpaas_conformance.library.calls import start_session

    made = None
    if 200 <= response.status_code < 300:
        body = body_of(response)
        made = body.get("id") if isinstance(body, dict) else None
    for principal in target.organization_a:
        session = start_session(api, principal)
        each = Actors({principal.name: session}, principal.name)
        with charged_to("ERR-5"):
            for params in ({}, {"include_inactive": "true"}):
                for page in range(1, 11):
                    answer = list_page(api, session, RESOURCE,
                                       {**params, "page": page, "quantity": 100})
                    if answer.status_code == 403:
                        break  # this principal may not list service accounts: nothing to read
                    body = page_body(answer)
                    if len(body["results"]) < 100:
                        break
            if made is not None:
                got = read(api, each, made)
                if got.status_code != 403:
                    assert got.status_code == 200, (
                        f"reading the service account just created answered {got.status_code}")
                    body_of(got)

