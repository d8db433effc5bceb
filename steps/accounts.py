"""Steps for creating accounts and for what each principal may see of them."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pytest_bdd import parsers, then, when

from steps.client import ApiClient
from steps.common import Scene, body_of, literal, unique_name
from steps.lists import create_account, list_page, page_body
from steps.schemas import assert_valid

SUBJECT = r"(?P<who>they|the (?P<name>\w+) user)"


def as_subject(scene: Scene, name: str | None) -> None:
    """"the limited user creates ..." acts as that principal, who must be logged in."""
    if name:
        assert name in scene.sessions, f"the scenario has not logged in the {name} user"
        scene.current = name


def create(api: ApiClient, scene: Scene, body: dict[str, Any]) -> httpx.Response:
    scene.sent = body
    scene.total_before = page_body(list_page(api, scene, "accounts", {"quantity": 1}))["total"]
    response = create_account(api, scene, body)
    if 200 <= response.status_code < 300:
        account = body_of(response)
        scene.created.append(account)
        scene.creator[str(account.get("id"))] = scene.current or ""
    return response


@when(parsers.re(SUBJECT + r' creates? an account with a new name(?: and "(?P<field>\w+)" '
                 r"set to (?P<value>.+))?"), target_fixture="response")
def create_named(
    api: ApiClient, scene: Scene, who: str, name: str | None, field: str | None, value: str | None
) -> httpx.Response:
    as_subject(scene, name)
    body: dict[str, Any] = {"name": unique_name()}
    if field:
        body[field] = literal(value or "null")
    return create(api, scene, body)


@when(parsers.re(SUBJECT + r" creates? an account with a new name and the metadata (?P<meta>.+)"),
      target_fixture="response")
def create_with_metadata(
    api: ApiClient, scene: Scene, who: str, name: str | None, meta: str
) -> httpx.Response:
    as_subject(scene, name)
    return create(api, scene, {"name": unique_name(), "metadata": literal(meta)})


@when(parsers.re(SUBJECT + r" creates? an account from the body (?P<body>.+)"),
      target_fixture="response")
def create_from_body(
    api: ApiClient, scene: Scene, who: str, name: str | None, body: str
) -> httpx.Response:
    as_subject(scene, name)
    return create(api, scene, literal(body))


@then("the response body is an account")
def is_account(response: httpx.Response) -> None:
    assert_valid("account", body_of(response))


@then('the account has the name and "is_default" that were sent, and is active')
def as_sent(response: httpx.Response, scene: Scene) -> None:
    account = body_of(response)
    assert account["name"] == scene.sent["name"], (
        f"sent name {scene.sent['name']!r}, got {account['name']!r}"
    )
    assert account["is_default"] is scene.sent.get("is_default", False), (
        f"sent is_default {scene.sent.get('is_default')!r}, got {account['is_default']!r}"
    )
    assert account["is_active"] is True, "a new account must be active"


@then("the account belongs to the same organization as their other accounts")
def same_organization(api: ApiClient, response: httpx.Response, scene: Scene) -> None:
    org = body_of(response)["organization_id"]
    others = page_body(list_page(api, scene, "accounts", {"quantity": 100}))["results"]
    foreign = {a["organization_id"] for a in others} - {org}
    assert not foreign, (
        f"the new account says organization {org!r}, their other accounts say {sorted(foreign)}"
    )


@then("the account is listed and the total has grown")
def listed(api: ApiClient, response: httpx.Response, scene: Scene) -> None:
    new_id = body_of(response)["id"]
    body = page_body(list_page(api, scene, "accounts", {"quantity": 100}))
    assert new_id in {a["id"] for a in body["results"]}, (
        "the account just created is not on the first page of the newest-first list"
    )
    assert scene.total_before is not None
    assert body["total"] >= scene.total_before + 1, (
        f"total was {scene.total_before} before the create and is {body['total']} after"
    )


@then(parsers.parse("the account's metadata is {meta}"))
def metadata_is(response: httpx.Response, meta: str) -> None:
    account = body_of(response)
    assert "metadata" in account, "the account has no metadata field"
    assert account["metadata"] == literal(meta), f"metadata came back as {account['metadata']!r}"


@then(parsers.parse('the account\'s timestamps end in "{suffix}"'))
def timestamps_end(response: httpx.Response, suffix: str) -> None:
    account = body_of(response)
    for name in ("created_at", "updated_at"):
        assert str(account[name]).endswith(suffix), f"{name} is {account[name]!r}"


@then(parsers.parse('the "{field}" they sent was refused or ignored'))
def refused_or_ignored(response: httpx.Response, scene: Scene, field: str) -> None:
    if 400 <= response.status_code < 500:
        assert_valid("error", body_of(response))
        return
    assert 200 <= response.status_code < 300, (
        f"expected a 2xx (field ignored) or a 4xx (field refused), got {response.status_code}"
    )
    account = body_of(response)
    assert account.get(field) != scene.sent[field], (
        f"the server honoured the client's {field}={scene.sent[field]!r} (mass assignment)"
    )


@then(parsers.parse('no account in their list has "{field}" set to {value}'))
def none_has(api: ApiClient, scene: Scene, field: str, value: str) -> None:
    wanted = literal(value)
    body = page_body(list_page(api, scene, "accounts", {"quantity": 100}))
    hits = [a for a in body["results"] if a.get(field) == wanted]
    assert not hits, f"an account carries the client-chosen {field}: {json.dumps(hits[0])}"


@then("every account in the list belongs to the organization of the account they created")
def all_in_my_org(response: httpx.Response, scene: Scene) -> None:
    mine = scene.created[-1]["organization_id"]
    foreign = [a for a in page_body(response)["results"] if a["organization_id"] != mine]
    assert not foreign, (
        f"{len(foreign)} listed accounts belong to another organization, e.g. "
        f"{json.dumps(foreign[0])}"
    )


@then(parsers.parse("none of the items seen is the account the {name} user created"))
def not_seen(scene: Scene, name: str) -> None:
    theirs = {i for i, who in scene.creator.items() if who == name}
    leaked = theirs & {item["id"] for item in scene.seen}
    assert not leaked, f"another organization's account is visible: {sorted(leaked)}"


@then(parsers.parse("every item seen belongs to one organization other than the {name} user's"))
def other_org(scene: Scene, name: str) -> None:
    theirs = {a["organization_id"] for a in scene.created if scene.creator.get(a["id"]) == name}
    orgs = {item["organization_id"] for item in scene.seen}
    assert len(orgs) <= 1, f"one principal's list spans several organizations: {sorted(orgs)}"
    assert not orgs & theirs, f"the list holds the {name} user's organization {sorted(theirs)}"
