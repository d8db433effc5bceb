"""Steps for creating accounts and for what each principal may see of them."""

from __future__ import annotations

import json
from typing import Any

import httpx
from dpaas_conformance.common import error_body_for_status, literal
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    Walk,
    account_total,
    create_account,
    find,
    list_page,
    page_body,
    sent_json,
    unique_name,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.instants import same_instant
from dpaas_conformance.library.outcomes import charged_to
from dpaas_conformance.library.schemas import assert_valid
from pytest_bdd import given, parsers, then, when

SUBJECT = r"(?P<who>they|the (?P<name>\w+) user)"


@given("they have counted their organization's accounts", target_fixture="accounts_before")
def count_accounts(api: ApiClient, actors: Actors) -> int:
    return account_total(api, actors.they)


@when(parsers.re(SUBJECT + r' creates? an account with a new name(?: and "(?P<field>\w+)" '
                 r"set to (?P<value>.+))?$"), target_fixture="response")
def create_named(
    api: ApiClient, actors: Actors, who: str, name: str | None, field: str | None,
    value: str | None,
) -> httpx.Response:
    body: dict[str, Any] = {"name": unique_name()}
    if field:
        body[field] = literal(value or "null")
    return create_account(api, actors.named(name), body)


@when(parsers.re(SUBJECT + r" creates? an account with a new name and the metadata (?P<meta>.+)"),
      target_fixture="response")
def create_with_metadata(
    api: ApiClient, actors: Actors, who: str, name: str | None, meta: str
) -> httpx.Response:
    return create_account(api, actors.named(name),
                          {"name": unique_name(), "metadata": literal(meta)})


@when(parsers.re(SUBJECT + r" creates? an account from the body (?P<body>.+)"),
      target_fixture="response")
def create_from_body(
    api: ApiClient, actors: Actors, who: str, name: str | None, body: str
) -> httpx.Response:
    return create_account(api, actors.named(name), literal(body))


def account_of(response: httpx.Response) -> dict[str, Any]:
    """The account a create answered with, checked before anything reads it: no account at all
    breaks ACC-2, an account without its fields ACC-6, whichever scenario asked."""
    with charged_to("ACC-2"):
        assert 200 <= response.status_code < 300, (
            f"expected the created account, got {response.status_code}: {excerpt(response)}"
        )
        account = body_of(response)
    assert_valid("account", account)
    return account


@then("the response body is an account")
def is_account(response: httpx.Response) -> None:
    account_of(response)


@then('the account has the name and "is_default" that were sent, and is active')
def as_sent(response: httpx.Response) -> None:
    account, sent = account_of(response), sent_json(response)
    with charged_to("ACC-2"):
        assert account["name"] == sent["name"], (
            f"sent name {sent['name']!r}, got {account['name']!r}")
        assert account["is_default"] is sent.get("is_default", False), (
            f"sent is_default {sent.get('is_default')!r}, got {account['is_default']!r}"
        )
        assert account["is_active"] is True, "a new account must be active"


@then("the account belongs to the same organization as their other accounts")
def same_organization(api: ApiClient, actors: Actors, response: httpx.Response) -> None:
    org = account_of(response)["organization_id"]
    others = page_body(list_page(api, actors.they, "accounts", {"quantity": 100}))["results"]
    foreign = {a.get("organization_id") for a in others if isinstance(a, dict)} - {org}
    with charged_to("ACC-2"):
        assert not foreign, (
            f"the new account says organization {org!r}, their other accounts say "
            f"{sorted(map(str, foreign))}"
        )


@then("the account is listed and the total has grown")
def listed(
    api: ApiClient, actors: Actors, response: httpx.Response, accounts_before: int
) -> None:
    """Looked for over every page: accounts created in the same second may all tie on
    created_at, so the new one may come after a hundred others (LIST-4)."""
    new_id = account_of(response)["id"]
    found = find(api, actors.they, "accounts", "id", new_id)
    total = account_total(api, actors.they)
    with charged_to("ACC-2"):
        assert found is not None, "the account just created is not in the list"
        assert total >= accounts_before + 1, (
            f"total was {accounts_before} before the create and is {total} after"
        )


@then(parsers.parse("the account's metadata is {meta}"))
def metadata_is(response: httpx.Response, meta: str) -> None:
    account = account_of(response)
    assert "metadata" in account, "the account has no metadata field"
    assert account["metadata"] == literal(meta), f"metadata came back as {account['metadata']!r}"


@then(parsers.parse('the account\'s timestamps end in "{suffix}"'))
def timestamps_end(response: httpx.Response, suffix: str) -> None:
    account = account_of(response)
    for name in ("created_at", "updated_at"):
        assert str(account[name]).endswith(suffix), f"{name} is {account[name]!r}"


def honoured(field: str, stored: Any, chosen: Any) -> bool:
    """Whether a stored value is the one the client chose; timestamps as instants, whatever
    notation the server writes them back in ("Z" or "+00:00", with or without fractions)."""
    if field.endswith("_at"):
        return same_instant(stored, chosen)
    return bool(stored == chosen)


@then(parsers.parse('the "{field}" they sent was refused or ignored'))
def refused_or_ignored(response: httpx.Response, field: str) -> None:
    """A refusal is a 4xx whose body ERR-0 or ERR-1 judges; an acceptance must not honour it."""
    chosen = sent_json(response)[field]
    if 400 <= response.status_code < 500:
        error_body_for_status(response)
        return
    account = account_of(response)
    assert not honoured(field, account.get(field), chosen), (
        f"the server honoured the client's {field}={chosen!r} (mass assignment): it answered "
        f"{account.get(field)!r}"
    )


@then(parsers.parse('the account they sent, if it was created, does not have "{field}" set '
                    "to {value}"))
def stored_without(api: ApiClient, actors: Actors, response: httpx.Response, field: str,
                   value: str) -> None:
    """Looked up by its unique name over every page: an honoured created_at sorts it last."""
    name = sent_json(response)["name"]
    stored = find(api, actors.they, "accounts", "name", name)
    if 200 <= response.status_code < 300:
        assert stored is not None, f"the account {name!r} was created but is not listed"
    if stored is not None:
        assert not honoured(field, stored.get(field), literal(value)), (
            f"the stored account carries the client-chosen {field}: {json.dumps(stored)}"
        )


@then("every account in the list belongs to the organization of the account they created")
def all_in_my_org(response: httpx.Response, created: tuple[Created, ...]) -> None:
    assert created, "the scenario has not created an account"
    mine = created[-1].account["organization_id"]
    foreign = [a for a in page_body(response)["results"] if a.get("organization_id") != mine]
    assert not foreign, (
        f"{len(foreign)} listed accounts belong to another organization, e.g. "
        f"{json.dumps(foreign[0])}"
    )


@then(parsers.parse("none of the items seen is the account the {name} user created"))
def not_seen(walk: Walk, created: tuple[Created, ...], name: str) -> None:
    theirs = {c.account["id"] for c in created if c.by == name}
    leaked = theirs & {item.get("id") for item in walk.items}
    assert not leaked, f"another organization's account is visible: {sorted(leaked)}"


@then(parsers.parse("every item seen belongs to one organization other than the {name} user's"))
def other_org(walk: Walk, created: tuple[Created, ...], name: str) -> None:
    theirs = {c.account["organization_id"] for c in created if c.by == name}
    orgs = {item.get("organization_id") for item in walk.items}
    assert len(orgs) <= 1, (
        f"one principal's list spans several organizations: {sorted(map(str, orgs))}"
    )
    assert not orgs & theirs, f"the list holds the {name} user's organization {sorted(theirs)}"
