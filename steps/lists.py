"""Steps for list endpoints: the {total, page, results} envelope, paging and ordering."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from steps.client import ApiClient
from steps.common import Scene, body_of, send, unique_name
from steps.schemas import assert_valid, problems

RESOURCE_SCHEMA = {"accounts": "account", "users": "user"}
MAX_PAGES = 1000  # bounds every walk, even against a target that never stops paging


def list_page(
    api: ApiClient, scene: Scene, resource: str, params: dict[str, Any] | str | None = None
) -> httpx.Response:
    return send(api, scene, "GET", f"/{resource}", params=params,
                token=scene.session.access_token)


def page_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (
        f"listing failed: {response.status_code} {response.text[:300]}"
    )
    body = body_of(response)
    assert_valid("list", body)
    return body


def create_account(api: ApiClient, scene: Scene, body: dict[str, Any]) -> httpx.Response:
    return send(api, scene, "POST", "/accounts", json=body, token=scene.session.access_token)


def created(api: ApiClient, scene: Scene, name: str) -> dict[str, Any]:
    response = create_account(api, scene, {"name": name, "is_default": False})
    assert 200 <= response.status_code < 300, (
        f"could not create account {name!r}: {response.status_code} {response.text[:300]}"
    )
    account = body_of(response)
    scene.created.append(account)
    scene.creator[account["id"]] = scene.current or ""
    return account


@given(parsers.parse("their organization has at least {n:d} accounts"))
def at_least(api: ApiClient, scene: Scene, n: int) -> None:
    total = page_body(list_page(api, scene, "accounts", {"quantity": 1}))["total"]
    for _ in range(max(0, n - total)):
        created(api, scene, unique_name())


@given(parsers.re(r"they have created (?P<n>\d+) accounts?"))
def have_created(api: ApiClient, scene: Scene, n: str) -> None:
    for _ in range(int(n)):
        created(api, scene, unique_name())


@given(parsers.parse("they have created {n:d} accounts whose names are not in creation order"))
def created_shuffled(api: ApiClient, scene: Scene, n: int) -> None:
    # Created as m, z, a, ...: neither creation order nor its reverse sorts them by name.
    letters = "mzaqb"
    for i in range(n):
        created(api, scene, unique_name(prefix=f"{letters[i % len(letters)]} "))


@when(parsers.re(r'they list (?P<resource>accounts|users) with "(?P<query>[^"]*)"'),
      target_fixture="response")
def list_with(api: ApiClient, scene: Scene, resource: str, query: str) -> httpx.Response:
    return list_page(api, scene, resource, query)


@when(parsers.re(r"they list (?P<resource>accounts|users)"), target_fixture="response")
def list_plain(api: ApiClient, scene: Scene, resource: str) -> httpx.Response:
    return list_page(api, scene, resource)


@when(parsers.parse(
    'they walk every page of {resource} ordered by "{order}", in pages of about a third'))
def walk(api: ApiClient, scene: Scene, resource: str, order: str) -> None:
    """Ascending by creation, so accounts that others create meanwhile land after the walk."""
    first = page_body(list_page(api, scene, resource, {"quantity": 1}))["total"]
    quantity = min(100, max(1, math.ceil(first / 3)))
    scene.expected_ids = (
        {i for i, who in scene.creator.items() if who == scene.current}
        if resource == "accounts" else set()
    )
    scene.total_before = first
    scene.seen = []
    for page in range(1, MAX_PAGES + 1):
        body = page_body(list_page(api, scene, resource,
                                   {"page": page, "quantity": quantity, "order_by": order}))
        assert body["page"] == page, f"asked for page {page}, the body says page {body['page']}"
        assert len(body["results"]) <= quantity, (
            f"page {page} holds {len(body['results'])} items, more than quantity={quantity}"
        )
        scene.seen.extend(body["results"])
        # Stop on a short page, or when the total says no page follows: a walk never asks for
        # a page past the end, whose answer is a separate (SHOULD) requirement.
        if len(body["results"]) < quantity or page * quantity >= body["total"]:
            break


@then("every item was seen exactly once and none is missing")
def each_once(scene: Scene) -> None:
    ids = [item["id"] for item in scene.seen]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"pages overlap: these items came back more than once: {repeated[:10]}"
    assert scene.total_before is not None
    assert len(ids) >= scene.total_before, (
        f"the list said total={scene.total_before} but walking every page found {len(ids)}"
    )
    missing = scene.expected_ids - set(ids)
    assert not missing, f"accounts created in this scenario never came up: {sorted(missing)}"


@then(parsers.parse("the response body is a list of {resource}"))
def list_of(response: httpx.Response, resource: str) -> None:
    body = page_body(response)
    schema = RESOURCE_SCHEMA[resource]
    for index, item in enumerate(body["results"]):
        found = problems(schema, item)
        assert not found, f"results[{index}] is not a valid {schema}: {found}"


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


def sort_keys(field: str, value: Any) -> list[Any]:
    """Every reasonable collation: timestamps by instant, text by code point or by case."""
    if field.endswith("_at"):
        return [datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))]
    text = str(value)
    return [text, text.casefold()]


@then(parsers.parse('the results are sorted by "{order}"'))
def sorted_by(response: httpx.Response, order: str) -> None:
    results = page_body(response)["results"]
    field = order.lstrip("-")
    descending = order.startswith("-")
    values = [item[field] for item in results]
    keys = [sort_keys(field, v) for v in values]
    ok = False
    for which in range(len(keys[0]) if keys else 1):
        column = [k[which] for k in keys]
        wanted = sorted(column, reverse=descending)
        ok = ok or column == wanted
    assert ok, f"results are not sorted by {order}: {values[:20]}"


@then("the accounts they created are listed newest first")
def created_newest_first(response: httpx.Response, scene: Scene) -> None:
    ids = [item["id"] for item in page_body(response)["results"]]
    mine = [a["id"] for a in scene.created]
    positions = [ids.index(i) for i in mine if i in ids]
    assert len(positions) == len(mine), "the accounts just created are not on the first page"
    assert positions == sorted(positions, reverse=True), (
        "with no order_by the newest account must come first"
    )


@when(parsers.parse("they list accounts one page past the end in pages of {quantity:d}"),
      target_fixture="response")
def past_the_end(api: ApiClient, scene: Scene, quantity: int) -> httpx.Response:
    total = page_body(list_page(api, scene, "accounts", {"quantity": quantity}))["total"]
    scene.total_before = total
    return list_page(api, scene, "accounts",
                     {"quantity": quantity, "page": math.ceil(total / quantity) + 1})


@then(parsers.parse("the list has no results and its total is at least {n:d}"))
def empty_page(response: httpx.Response, scene: Scene, n: int) -> None:
    body = page_body(response)
    assert body["results"] == [], f"a page past the end holds {len(body['results'])} items"
    assert body["total"] >= max(n, scene.total_before or 0), (
        f"a page past the end must still tell the true total, it says {body['total']}"
    )
