"""Steps for one account by its id: reading it, and the 404 for an id the caller's organization
does not have (one that never existed, another organization's), which must be one answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from dpaas_conformance.common import error_shape
from dpaas_conformance.library.calls import Actors, Created, find
from dpaas_conformance.library.calls_v2 import (
    never_existing_id,
    read_account,
    same_account,
    send,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.schemas import assert_valid
from pytest_bdd import parsers, then, when

#: how the feature writes a method, and the HTTP method it is
METHOD = {"get": "GET", "delete": "DELETE", "GET": "GET", "PUT": "PUT", "PATCH": "PATCH",
          "DELETE": "DELETE"}
#: headers that describe the connection or the moment, not the answer
TRANSPORT_HEADERS = {"connection", "content-length", "date", "keep-alive", "transfer-encoding"}


def created_by(created: tuple[Created, ...], name: str) -> Mapping[str, Any]:
    """The last account the scenario created as the principal `name`."""
    mine = [c.account for c in created if c.by == name]
    if not mine:
        raise RuntimeError(f"the scenario has not created an account as the {name} user")
    return mine[-1]


def owner(actors: Actors, whose: str, name: str | None) -> str:
    """"they" is whoever acts now; "the other user" names a principal."""
    return name if name is not None else actors.they.principal.name


WHOSE = r"the account (?P<whose>they|the (?P<name>\w+) user) created"


@when(parsers.re(r"they (?P<method>GET|PUT|PATCH|DELETE) an account id that never existed$"),
      target_fixture="response")
def never_existing(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                   method: str) -> httpx.Response:
    real = created_by(created, actors.they.principal.name)["id"]
    return send(api, actors.they, method, never_existing_id(api, actors.they, real))


@when(parsers.re(r"they (?P<method>get|delete|GET|PUT|PATCH|DELETE) " + WHOSE + "$"),
      target_fixture="response")
def on_account(api: ApiClient, actors: Actors, created: tuple[Created, ...], method: str,
               whose: str, name: str | None) -> httpx.Response:
    account = created_by(created, owner(actors, whose, name))
    return send(api, actors.they, METHOD[method], account["id"])


@when(parsers.re(r"they (?P<method>GET|PUT|PATCH|DELETE) " + WHOSE
                 + r", and an id of its shape that never existed$"),
      target_fixture="responses")
def foreign_and_never(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                      method: str, whose: str, name: str | None) -> list[httpx.Response]:
    real = created_by(created, owner(actors, whose, name))["id"]
    foreign = send(api, actors.they, method, real)
    return [foreign, send(api, actors.they, method, never_existing_id(api, actors.they, real))]


@then("the response is 404 with a JSON error body")
def not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, (
        f"expected 404 for an id the caller's organization does not have, got "
        f"{response.status_code}: {excerpt(response)}"
    )
    error_shape(response)


@then("the account read is the one the list shows")
def as_listed(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    assert response.status_code == 200, f"expected the account, got {response.status_code}"
    account = body_of(response)
    assert_valid("account", account)
    listed = find(api, actors.they, "accounts", "id", account["id"])
    assert listed is not None, f"the account {account['id']!r} read by its id is not listed"
    differ = same_account(account, listed)
    assert not differ, f"the account read by its id differs from the list: {differ}"


@then(parsers.parse("the answer carries no field of the account the {name} user created"))
def leaks_nothing(response: httpx.Response, created: tuple[Created, ...], name: str) -> None:
    """The id is what the caller sent. The account's unique name anywhere in the answer, or its
    owner's organization as a value of the body, is a leak. (An id may be as short as "3", so it
    is compared with whole values, never looked for inside text; timestamps are left out, since
    an error body may carry the time of the answer, which can equal a whole-second created_at.)
    """
    account = created_by(created, name)
    text = response.content.decode("utf-8", "replace")
    leaked = ["name"] if isinstance(account.get("name"), str) and account["name"] in text else []
    try:
        values = set(scalars(json.loads(response.content)))
    except (ValueError, RecursionError):
        values = set()
    if account.get("organization_id") in values:
        leaked.append("organization_id")
    assert not leaked, (
        f"the answer to another organization's id shows its {leaked}: {excerpt(response)}"
    )


def scalars(value: Any) -> list[Any]:
    """Every string and number of a JSON value, at any depth (iteratively)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            found.append(item)
    return found


@then(parsers.parse("the {name} user reads the account they created unchanged"))
def unchanged(api: ApiClient, actors: Actors, created: tuple[Created, ...], name: str) -> None:
    before = created_by(created, name)
    after = read_account(api, actors.named(name), before["id"])
    differ = same_account(after, before)
    assert not differ, f"the owner finds its account changed: {differ}"


def answer_shape(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    return {
        "status": response.status_code,
        "error": body.get("error") if isinstance(body, dict) else None,
        "headers": sorted({k.lower() for k in response.headers} - TRANSPORT_HEADERS),
    }


@then("both answers have the same status, error and header names")
def same_answers(responses: list[httpx.Response]) -> None:
    """CWE-204: nothing but the wording of `message` may tell a foreign id from a missing
    one."""
    foreign, never = (answer_shape(r) for r in responses)
    assert foreign == never, (
        f"another organization's id is answered {foreign}, an id that never existed {never}"
    )
