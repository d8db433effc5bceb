"""Steps for the soft delete: the account leaves the default list, stays for the administrator
(`include_deleted=true`), and is never shown to anyone else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from dpaas_conformance.account_by_id import created_by
from dpaas_conformance.common import error_shape
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    Walk,
    account_total,
    find,
    page_body,
)
from dpaas_conformance.library.calls_v2 import every_page, is_success, send, walk_with
from dpaas_conformance.library.client import ApiClient, excerpt
from dpaas_conformance.library.outcomes import TargetFailure
from pytest_bdd import given, parsers, then, when


@given("they have deleted the account they created", target_fixture="deleted")
def have_deleted(api: ApiClient, actors: Actors, created: tuple[Created, ...]
                 ) -> Mapping[str, Any]:
    """A precondition: a delete that is not a 2xx breaks ACC-14."""
    account = created_by(created, actors.they.principal.name)
    response = send(api, actors.they, "DELETE", account["id"])
    if not is_success(response):
        raise TargetFailure("ACC-14", f"deleting the account {account['id']!r} answered "
                                      f"{response.status_code}: {excerpt(response, 200)}")
    return account


@when(parsers.re(r'they walk the accounts with "(?P<query>[^"=]+)=(?P<value>[^"]*)", every page '
                 r'ordered by "(?P<order>[^"]+)" in pages of about a third'),
      target_fixture="walk")
def walk_filtered(api: ApiClient, actors: Actors, query: str, value: str, order: str) -> Walk:
    return walk_with(api, actors.they, "accounts", {query: value}, order)


@when(parsers.re(r'they list every page of accounts with "(?P<query>[^"=]+)=(?P<value>[^"]*)"'),
      target_fixture="responses")
def list_every_page(api: ApiClient, actors: Actors, query: str, value: str
                    ) -> list[httpx.Response]:
    return every_page(api, actors.they, "accounts", {query: value})


@then("the account they created is not listed and the total has dropped by one")
def gone_from_list(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                   accounts_before: int) -> None:
    account = created_by(created, actors.they.principal.name)
    assert find(api, actors.they, "accounts", "id", account["id"]) is None, (
        "the deleted account is still in the default list"
    )
    total = account_total(api, actors.they)
    assert total <= accounts_before - 1, (
        f"total was {accounts_before} before the delete and is {total} after"
    )


@then("the total counts the account they deleted")
def total_counts_deleted(walk: Walk, accounts_before: int) -> None:
    assert walk.total_before >= accounts_before + 1, (
        f"with include_deleted=true the total is {walk.total_before}, but the default list "
        f"already counts {accounts_before} without the deleted account"
    )


def seen(walk: Walk, account: Mapping[str, Any]) -> Mapping[str, Any]:
    found = [item for item in walk.items if item.get("id") == account["id"]]
    assert found, f"the deleted account {account['id']!r} is not listed with include_deleted"
    return found[0]


@then(parsers.parse('the account they deleted carries "{field}" in UTC written with Z'))
def deleted_at(walk: Walk, deleted: Mapping[str, Any], field: str) -> None:
    item = seen(walk, deleted)
    value = item.get(field)
    assert isinstance(value, str), f"the deleted account's {field} is {value!r}"
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AssertionError(f"{field} {value!r} is not an ISO 8601 timestamp") from exc
    assert value.endswith("Z") and stamp.utcoffset() is not None, (
        f"{field} {value!r} is not UTC written with Z"
    )


@then(parsers.parse("the list is refused with a JSON error, or none of its items is the account "
                    "the {name} user deleted"))
def reveals_nothing(responses: list[httpx.Response], deleted: Mapping[str, Any],
                    name: str) -> None:
    """403, or a list without the deleted rows: both are free (ACC-17)."""
    first = responses[0]
    if 400 <= first.status_code < 500:
        error_shape(first)
        return
    items = []
    for response in responses:
        items += page_body(response)["results"]
    shown = [i for i in items if isinstance(i, Mapping) and i.get("id") == deleted["id"]]
    assert not shown, (
        f"a user who is no administrator sees the account the {name} user deleted "
        f"({deleted['id']!r})"
    )
