"""Steps for list endpoints: the {total, page, results} envelope, paging and ordering."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    Walk,
    account_total,
    list_page,
    new_account,
    page_body,
    unique_name,
    walk,
)
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.schemas import assert_valid
from pytest_bdd import given, parsers, then, when

RESOURCE_SCHEMA = {"accounts": "account", "users": "user"}


@given(parsers.parse("their organization has at least {n:d} accounts"))
def at_least(api: ApiClient, actors: Actors, n: int) -> None:
    session = actors.they
    for _ in range(max(0, n - account_total(api, session))):
        new_account(api, session, unique_name())


@given(parsers.re(r"they have created (?P<n>\d+) accounts?$"), target_fixture="created")
def have_created(
    api: ApiClient, actors: Actors, created: tuple[Created, ...], n: str
) -> tuple[Created, ...]:
    return created + tuple(new_account(api, actors.they, unique_name()) for _ in range(int(n)))


@given(parsers.parse("they have created {n:d} accounts whose names are not in creation order"),
       target_fixture="created")
def created_shuffled(
    api: ApiClient, actors: Actors, created: tuple[Created, ...], n: int
) -> tuple[Created, ...]:
    # Created as m, z, a, ...: neither creation order nor its reverse sorts them by name, and
    # every collation (code point, case-insensitive, ICU) agrees on how they sort.
    letters = "mzaqb"
    return created + tuple(
        new_account(api, actors.they, unique_name(prefix=f"{letters[i % len(letters)]} "))
        for i in range(n)
    )


@when(parsers.re(r'they list (?P<resource>accounts|users) with "(?P<query>[^"]*)"'),
      target_fixture="response")
def list_with(api: ApiClient, actors: Actors, resource: str, query: str) -> httpx.Response:
    return list_page(api, actors.they, resource, query)


@when(parsers.re(r"they list (?P<resource>accounts|users)$"), target_fixture="response")
def list_plain(api: ApiClient, actors: Actors, resource: str) -> httpx.Response:
    return list_page(api, actors.they, resource)


@when(parsers.parse(
    'they walk every page of {resource} ordered by "{order}", in pages of about a third'),
    target_fixture="walk")
def walk_pages(api: ApiClient, actors: Actors, resource: str, order: str) -> Walk:
    """Ascending by creation, so items that others create meanwhile land after the walk."""
    return walk(api, actors.they, resource, order)


@then("every item was seen exactly once and none is missing")
def each_once(walk: Walk, created: tuple[Created, ...]) -> None:
    ids = [item.get("id") for item in walk.items]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    assert not repeated, f"pages overlap: these items came back more than once: {repeated[:10]}"
    assert len(ids) >= walk.total_before, (
        f"the list said total={walk.total_before} but walking every page found {len(ids)}"
    )
    expected = {c.account["id"] for c in created if c.by == walk.by} if (
        walk.resource == "accounts") else set()
    missing = expected - set(ids)
    assert not missing, f"accounts created in this scenario never came up: {sorted(missing)}"


@then(parsers.parse("the response body is a list of {resource}"))
def list_of(response: httpx.Response, resource: str) -> None:
    """Each item judged by its own schema: an account's fields are ACC-6's, a user's USER-1's,
    whichever scenario lists them."""
    body = page_body(response)
    schema = RESOURCE_SCHEMA[resource]
    for index, item in enumerate(body["results"]):
        assert_valid(schema, item, where=f"results[{index}]")


@then(parsers.re(
    r"the list is page (?P<page>\d+) with (?P<how>at most|exactly) (?P<n>\d+) results?"))
def page_with(response: httpx.Response, page: str, how: str, n: str) -> None:
    body = page_body(response)
    count = len(body["results"])
    assert body["page"] == int(page), f"expected page {page}, the body says {body['page']}"
    if how == "exactly":
        assert count == int(n), f"expected {n} results, got {count} (total {body['total']})"
    else:
        assert count <= int(n), f"expected at most {n} results, got {count}"


@then(parsers.parse("the list total is at least {n:d}"))
def total_at_least(response: httpx.Response, n: int) -> None:
    body = page_body(response)
    assert body["total"] >= n, (
        f"total is {body['total']}, but at least {n} items exist: total must count every "
        "matching item, not just this page"
    )


def instant(field: str, value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise AssertionError(f"{field} {value!r} is not an ISO 8601 timestamp") from exc


def in_order(keys: list[Any], descending: bool) -> bool:
    """Non-decreasing (or non-increasing): equal keys may come in any order (LIST-4)."""
    return all((b <= a) if descending else (a <= b) for a, b in pairwise(keys))


def around_break(values: list[Any], keys: list[Any], descending: bool) -> str:
    """Where the order breaks, with its neighbours, rather than the first values of a long walk."""
    for i, (a, b) in enumerate(pairwise(keys)):
        if (b > a) if descending else (a > b):
            nearby = values[max(0, i - 2):i + 4]
            return f"item {i + 1} is {values[i + 1]!r} after {values[i]!r} (around: {nearby})"
    return str(values[:20])


def check_sorted(
    items: list[Mapping[str, Any]], order: str, created: tuple[Created, ...]
) -> None:
    """Only what every reasonable ordering agrees on.

    Timestamps are compared as instants. Names are a matter of collation (code point,
    case-insensitive, ICU), so the check is on the accounts this scenario created, whose names
    sort the same under all of them. Other text (emails) may follow code point or
    case-insensitive order. Equal keys may come in any order.
    """
    field = order.lstrip("-")
    descending = order.startswith("-")
    missing = [i for i, item in enumerate(items)
               if not isinstance(item, Mapping) or field not in item]
    assert not missing, f"items {missing[:10]} have no {field!r} to sort by"
    values = [item[field] for item in items]
    if field.endswith("_at"):
        keys = [instant(field, v) for v in values]
        assert in_order(keys, descending), (
            f"items are not sorted by {order}: {around_break(values, keys, descending)}"
        )
    elif field == "name" and created:
        ids = [item.get("id") for item in items]
        mine = [c.account for c in created]
        absent = [a["name"] for a in mine if a["id"] not in ids]
        assert not absent, f"the accounts just created were not listed: {absent}"
        listed = [a["name"] for a in sorted(mine, key=lambda a: ids.index(a["id"]))]
        expected = sorted(listed, key=str.casefold, reverse=descending)
        assert listed == expected, f"the accounts just created come as {listed}, not by {order}"
    else:
        texts = [str(v) for v in values]
        assert in_order(texts, descending) or in_order(
            [t.casefold() for t in texts], descending
        ), f"items are not sorted by {order}: {texts[:20]}"


@then(parsers.parse('the results are sorted by "{order}"'))
def sorted_by(response: httpx.Response, order: str, created: tuple[Created, ...]) -> None:
    check_sorted(page_body(response)["results"], order, created)


@then(parsers.parse('the items seen are sorted by "{order}"'))
def walk_sorted_by(walk: Walk, order: str, created: tuple[Created, ...]) -> None:
    """Across page boundaries too, judged on each item's first sighting.

    While the walk goes on, other clients create accounts (and a new default account gives the
    old one a new `updated_at`). In a descending walk that pushes items already seen onto the
    next page, where they come again out of place; an item seen again is left out, so only a
    list that is not sorted fails.
    """
    seen: set[Any] = set()
    first: list[Mapping[str, Any]] = []
    for item in walk.items:
        key = item.get("id") if isinstance(item, Mapping) else None
        if key is None or key not in seen:
            first.append(item)
        if isinstance(key, str | int):
            seen.add(key)
    check_sorted(first, order, created)


@then("the accounts they created are listed newest first")
def created_newest_first(response: httpx.Response, created: tuple[Created, ...]) -> None:
    """By their created_at as listed: accounts created in the same instant may come either way,
    and an account may miss the first page only behind others created in the same instant."""
    results = page_body(response)["results"]
    ids = [item.get("id") for item in results]
    for c in created:
        if c.account["id"] in ids:
            continue
        stamp = instant("created_at", c.account["created_at"])
        older = [item for item in results
                 if instant("created_at", item.get("created_at")) < stamp]
        assert not older, (
            f"the account just created ({c.account['created_at']}) is not on the first page, "
            f"but older ones are, e.g. {older[0].get('created_at')}"
        )
    mine = [c.account["id"] for c in created if c.account["id"] in ids]
    listed = sorted((ids.index(i), i) for i in mine)
    stamps = {item.get("id"): instant("created_at", item.get("created_at")) for item in results}
    order = [stamps[i] for _, i in listed]
    assert in_order(order, descending=True), "with no order_by the newest account must come first"
    creation = [mine.index(i) for _, i in listed]
    ties = len(set(order)) < len(order)
    assert ties or creation == sorted(creation, reverse=True), (
        "with no order_by the account created last must come first"
    )


@when(parsers.parse("they list accounts one page past the end in pages of {quantity:d}"),
      target_fixture="response")
def past_the_end(api: ApiClient, actors: Actors, quantity: int) -> httpx.Response:
    total = page_body(list_page(api, actors.they, "accounts", {"quantity": quantity}))["total"]
    return list_page(api, actors.they, "accounts",
                     {"quantity": quantity, "page": math.ceil(total / quantity) + 1})


@then(parsers.parse("the list has no results and its total is at least {n:d}"))
def empty_page(response: httpx.Response, n: int) -> None:
    body = page_body(response)
    assert body["results"] == [], f"a page past the end holds {len(body['results'])} items"
    # The page asked for came right after the last one, so the total must reach past the
    # page before it.
    page = int(response.request.url.params.get("page", "1"))
    quantity = int(response.request.url.params.get("quantity", "20"))
    floor = max(n, (page - 2) * quantity + 1)
    assert body["total"] >= floor, (
        f"a page past the end must still tell the true total (at least {floor}), it says "
        f"{body['total']}"
    )
