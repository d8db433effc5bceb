"""Steps for users by account (`GET /users?account_id=`), last logins, the user fields' types
and `GET /users/{id}` where a target serves it (class USERS)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import pytest
from dpaas_conformance.account_by_id import TRANSPORT_HEADERS
from dpaas_conformance.common import error_shape
from dpaas_conformance.library.calls import (
    MAX_QUANTITY,
    Actors,
    Session,
    Walk,
    list_page,
    page_body,
    walk,
)
from dpaas_conformance.library.calls_v2 import every_page, is_success, never_existing_id, walk_with
from dpaas_conformance.library.client import ApiClient, excerpt
from dpaas_conformance.library.leaks import find_leaks
from dpaas_conformance.library.target import Target
from pytest_bdd import given, parsers, then, when

#: accounts of the other organization tried for members before the scenario is not run
MAX_PROBED = 20


@pytest.fixture
def own_users() -> Mapping[str, Mapping[str, Any]]:
    """Each principal's own entry in the users list, once a step has looked it up."""
    return {}


def own_user(api: ApiClient, session: Session) -> Mapping[str, Any]:
    """The caller's own user, found by email over every page (DPaaS has no "me" endpoint)."""
    email = session.principal.email.casefold()
    for user in walk(api, session, "users", quantity=MAX_QUANTITY).items:
        if isinstance(user, Mapping) and str(user.get("email", "")).casefold() == email:
            return user
    raise AssertionError(f"the caller ({email}) is not among the users listed")


def look_up(api: ApiClient, actors: Actors, own_users: Mapping[str, Mapping[str, Any]]
            ) -> Mapping[str, Mapping[str, Any]]:
    return {**own_users, actors.they.principal.name: own_user(api, actors.they)}


when("they look up their own user in the users list", target_fixture="own_users")(look_up)
given("they have looked up their own user in the users list",
      target_fixture="own_users")(look_up)


# --- users by account ------------------------------------------------------------------------


@when("they walk every page of the users of the membership fixture's account",
      target_fixture="walk")
def walk_members(api: ApiClient, actors: Actors, target: Target) -> Walk:
    return walk_with(api, actors.they, "users", {"account_id": target.membership.account_id})


@then("every member of the fixture is seen exactly once and no non-member is")
def exactly_the_members(walk: Walk, target: Target) -> None:
    fixture = target.membership
    ids = [u.get("id") for u in walk.items]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    assert not repeated, f"pages overlap: these users came back more than once: {repeated}"
    emails = [str(u.get("email", "")).casefold() for u in walk.items]
    missing = [m for m in fixture.members if m.casefold() not in emails]
    assert not missing, f"members of {fixture.account_id!r} are not listed: {missing}"
    strangers = [n for n in fixture.non_members if n.casefold() in emails]
    assert not strangers, f"users who are not members of {fixture.account_id!r} are listed: " \
                          f"{strangers}"


@then("the total counts exactly the users seen")
def total_is_members(walk: Walk) -> None:
    assert walk.total_before == len(walk.items), (
        f"the filtered list says total={walk.total_before}, its pages hold {len(walk.items)}"
    )


@given("they have found an account of their organization that has members",
       target_fixture="found_account")
def account_with_members(api: ApiClient, actors: Actors) -> Mapping[str, Any]:
    """An account whose members its own organization sees: the one whose users must not leak.
    The oldest first: the accounts a suite run creates have no members, those set up do."""
    accounts = page_body(list_page(api, actors.they, "accounts",
                                   {"quantity": MAX_PROBED, "order_by": "created_at"}))["results"]
    for account in accounts:
        members = page_body(list_page(api, actors.they, "users",
                                      {"account_id": account.get("id"), "quantity": 1}))
        if members["total"] > 0:
            return account
    pytest.skip(f"not run: none of the {len(accounts)} accounts the {actors.they.principal.name} "
                "principal sees has members, so no user of its organization could leak")
    raise AssertionError  # unreachable: pytest.skip raises


@when(parsers.parse("they list the users of the account the {name} user found"),
      target_fixture="responses")
def list_foreign_members(api: ApiClient, actors: Actors, found_account: Mapping[str, Any],
                         name: str) -> list[httpx.Response]:
    return every_page(api, actors.they, "users", {"account_id": found_account["id"]})


@when(parsers.parse("they list the users of the account the {name} user found, and of an id "
                    "of its shape that never existed"), target_fixture="responses")
def foreign_and_never_members(api: ApiClient, actors: Actors,
                              found_account: Mapping[str, Any], name: str
                              ) -> list[httpx.Response]:
    session = actors.they
    foreign = list_page(api, session, "users", {"account_id": found_account["id"]})
    never = never_existing_id(api, session, found_account["id"])
    return [foreign, list_page(api, session, "users", {"account_id": never})]


@then("the list is refused with a JSON error, or it holds none of the other organization's "
      "users")
def none_of_theirs(responses: list[httpx.Response], found_account: Mapping[str, Any],
                   target: Target) -> None:
    first = responses[0]
    if 400 <= first.status_code < 500:
        error_shape(first)
        return
    users = [u for r in responses for u in page_body(r)["results"]]
    theirs = target.principal("other").email.casefold()
    leaked = [u.get("email") for u in users if isinstance(u, Mapping) and (
        u.get("organization_id") == found_account.get("organization_id")
        or str(u.get("email", "")).casefold() == theirs)]
    assert not leaked, f"another organization's account lists its users: {leaked}"


def answer_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    shown: Any = body
    if isinstance(body, dict) and "error" in body:
        shown = {"error": body.get("error")}
    elif isinstance(body, dict):
        shown = {"total": body.get("total"), "results": body.get("results")}
    return {"status": response.status_code, "body": shown,
            "headers": sorted({k.lower() for k in response.headers} - TRANSPORT_HEADERS)}


@then("both answers are the same list or the same error")
def same_list_or_error(responses: list[httpx.Response]) -> None:
    foreign, never = (answer_of(r) for r in responses)
    assert foreign == never, (
        f"another organization's account id is answered {foreign}, an id that never existed "
        f"{never}"
    )


# --- last logins and types -------------------------------------------------------------------


@then(parsers.parse('its "{field}" is a timestamp'))
def is_timestamp(actors: Actors, own_users: Mapping[str, Mapping[str, Any]], field: str) -> None:
    value = own_users[actors.they.principal.name].get(field)
    assert isinstance(value, str) and value, (
        f"after a login, the user's {field} is {value!r}, not a timestamp"
    )
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise AssertionError(f"{field} {value!r} is not an ISO 8601 timestamp") from exc


TYPES: dict[str, tuple[type, ...]] = {
    "is_active": (bool,), "is_verified": (bool,), "mfa_enabled": (bool,), "metadata": (dict,),
    "last_login_at": (str, type(None)),
}


@then('every user seen has booleans for "is_active", "is_verified" and "mfa_enabled", an object '
      'for "metadata" and a string or null for "last_login_at"')
def typed_fields(walk: Walk) -> None:
    """The types of the fields a user has; whether it has them is USER-1's (SHOULD) question."""
    assert walk.items, "the list holds no user to check"
    for index, user in enumerate(walk.items):
        wrong = [f"{f}={user[f]!r}" for f, kinds in TYPES.items()
                 if f in user and not isinstance(user[f], kinds)]
        assert not wrong, f"user {index} ({user.get('email')!r}) has {wrong}"


@then("no user seen reveals a password, hash or secret")
def filtered_no_secrets(walk: Walk, target: Target) -> None:
    found = find_leaks(list(walk.items), target.passwords)
    assert not found, f"the filtered list exposes secrets: {found}"


@then(parsers.parse("every user seen belongs to the {name} user's organization"))
def filtered_in_org(api: ApiClient, actors: Actors, walk: Walk, name: str) -> None:
    mine = own_user(api, actors.named(name)).get("organization_id")
    foreign = [u.get("email") for u in walk.items if u.get("organization_id") != mine]
    assert not foreign, f"the filtered list shows users of another organization: {foreign}"


# --- one user by id --------------------------------------------------------------------------


@when(parsers.parse("they get their own user by its id, and the {name} user's"),
      target_fixture="responses")
def users_by_id(api: ApiClient, actors: Actors, own_users: Mapping[str, Mapping[str, Any]],
                name: str) -> list[httpx.Response]:
    session = actors.they
    mine = own_user(api, session)
    theirs = own_users[name]
    return [api.request("GET", f"/users/{mine.get('id')}", token=session.access_token),
            api.request("GET", f"/users/{theirs.get('id')}", token=session.access_token)]


@then("if their own user was read, the other user's was not")
def foreign_user_unread(responses: list[httpx.Response], own_users: Mapping[str, Any]) -> None:
    mine, theirs = responses
    if mine.status_code != 200:
        pytest.skip(f"not run: GET /users/{{id}} of the caller's own user answers "
                    f"{mine.status_code}: the target does not serve it (free), so USER-9's "
                    "check does not apply")
    assert not is_success(theirs), (
        f"GET /users/{{id}} reads another organization's user: {excerpt(theirs)}"
    )
    email = str(own_users["other"].get("email", ""))
    assert not email or email not in theirs.text, "the answer shows the other user's email"
