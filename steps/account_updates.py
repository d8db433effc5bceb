"""Steps for PUT and PATCH of an account: what changes, what must not, and what a write
accepts must still read back (ERR-5 for updates).

A body written in a step with `"name": "NEW"` is sent with a new unique name in its place, so
that no scenario depends on another's names (a target may want names unique: ACC-23).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from dpaas_conformance.account_by_id import created_by
from dpaas_conformance.common import error_shape, literal
from dpaas_conformance.errors import HOSTILE_ACCOUNTS, nested
from dpaas_conformance.library import strictjson
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    create_account,
    sent_json,
    start_session,
    unique_name,
)
from dpaas_conformance.library.calls_v2 import (
    COMPARED,
    account_path,
    agree,
    get_account,
    is_success,
    read_account,
    send,
    walk_with,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.instants import parse_instant, same_instant
from dpaas_conformance.library.outcomes import TargetFailure
from dpaas_conformance.library.schemas import assert_valid, problems
from dpaas_conformance.library.target import Target
from pytest_bdd import given, parsers, then, when

PLACEHOLDER = "NEW"
#: hostile update bodies beyond the create ones (errors.py): deep, but valid, JSON
HOSTILE_UPDATES = {**HOSTILE_ACCOUNTS,
                   "metadata nested 950 levels deep": lambda name: nested(name, 950)}


@given(parsers.parse("they have created 1 account with the metadata {meta}"),
       target_fixture="created")
def created_with_metadata(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                          meta: str) -> tuple[Created, ...]:
    """A precondition: a create that fails or loses the metadata breaks ACC-2 or ACC-6."""
    response = create_account(api, actors.they, {"name": unique_name(),
                                                 "metadata": literal(meta)})
    if not is_success(response):
        raise TargetFailure("ACC-2", f"creating an account answered {response.status_code}: "
                                     f"{excerpt(response, 200)}")
    account = body_of(response)
    found = problems("account", account)
    if found or account.get("metadata") != literal(meta):
        raise TargetFailure("ACC-6", f"the created account does not carry the metadata sent: "
                                     f"{'; '.join(found) or account.get('metadata')!r}")
    return (*created, Created(actors.they.principal.name, account))


def with_unique_name(body: Any) -> Any:
    if isinstance(body, dict) and body.get("name") == PLACEHOLDER:
        return {**body, "name": unique_name()}
    return body


@when(parsers.re(r"they (?P<method>PUT|PATCH) the account they created with the body "
                 r"(?P<body>.+)$"), target_fixture="response")
def update_with_body(api: ApiClient, actors: Actors, created: tuple[Created, ...], method: str,
                     body: str) -> httpx.Response:
    account = created_by(created, actors.they.principal.name)
    return send(api, actors.they, method, account["id"], with_unique_name(literal(body)))


@when(parsers.re(r"they (?P<method>PUT|PATCH) the account they created with a new name$"),
      target_fixture="response")
def update_name(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                method: str) -> httpx.Response:
    account = created_by(created, actors.they.principal.name)
    return send(api, actors.they, method, account["id"], {"name": unique_name()})


@when(parsers.re(r'they (?P<method>PUT|PATCH) the account they created with a new name and '
                 r'"(?P<field>\w+)" set to (?P<value>.+)$'), target_fixture="response")
def update_field(api: ApiClient, actors: Actors, created: tuple[Created, ...], method: str,
                 field: str, value: str) -> httpx.Response:
    account = created_by(created, actors.they.principal.name)
    body = {"name": unique_name(), field: literal(value)}
    return send(api, actors.they, method, account["id"], body)


@when(parsers.re(r"they (?P<method>PUT|PATCH) the account they created with a new name and the "
                 r"organization of the account the (?P<name>\w+) user created$"),
      target_fixture="response")
def update_organization(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                        method: str, name: str) -> httpx.Response:
    account = created_by(created, actors.they.principal.name)
    elsewhere = created_by(created, name)["organization_id"]
    body = {"name": unique_name(), "organization_id": elsewhere}
    return send(api, actors.they, method, account["id"], body)


@when(parsers.re(r"they (?P<method>PUT|PATCH) the account they created with hostile but valid "
                 r"input: (?P<payload>.+)$"), target_fixture="response")
def update_hostile(api: ApiClient, actors: Actors, created: tuple[Created, ...], method: str,
                   payload: str) -> httpx.Response:
    account = created_by(created, actors.they.principal.name)
    text = HOSTILE_UPDATES[payload](unique_name())
    strictjson.parse(text)  # the suite's own check that the payload is JSON text
    return api.request(method, account_path(account["id"]), content=text.encode(),
                       headers={"Content-Type": "application/json"},
                       token=actors.they.access_token)


# --- what a later GET shows ------------------------------------------------------------------


def later(api: ApiClient, actors: Actors, created: tuple[Created, ...]
          ) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The account as created, and as a GET shows it now."""
    before = created_by(created, actors.they.principal.name)
    return before, read_account(api, actors.they, before["id"])


@then("a later GET of the account they created shows what was sent")
def shows_sent(api: ApiClient, actors: Actors, created: tuple[Created, ...],
               response: httpx.Response) -> None:
    _, now = later(api, actors, created)
    sent = sent_json(response)
    differ = [f"{k}: sent {v!r}, reads {now.get(k)!r}" for k, v in sent.items()
              if now.get(k) != v]
    assert not differ, f"the update was not stored as sent: {differ}"


@then("the response body is the account as it was sent")
def answered_as_sent(response: httpx.Response) -> None:
    account = body_of(response)
    assert_valid("account", account)
    sent = sent_json(response)
    differ = [f"{k}: sent {v!r}, answered {account.get(k)!r}" for k, v in sent.items()
              if account.get(k) != v]
    assert not differ, f"the answer is not the updated account: {differ}"


@then(parsers.parse('a later GET of the account they created shows the metadata {meta} and '
                    '"is_default" false'))
def back_to_defaults(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                     meta: str) -> None:
    _, now = later(api, actors, created)
    assert now.get("metadata") == literal(meta), (
        f"a PUT without metadata left it as {now.get('metadata')!r}, not the create default "
        f"{meta}"
    )
    assert now.get("is_default") is False, "a PUT without is_default left it true"


@then("a later GET of the account they created shows what was sent and every other field as "
      "it was")
def only_sent_changed(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                      response: httpx.Response) -> None:
    before, now = later(api, actors, created)
    sent = sent_json(response)
    differ = [f"{k}: sent {v!r}, reads {now.get(k)!r}" for k, v in sent.items()
              if now.get(k) != v]
    assert not differ, f"the PATCH was not stored: {differ}"
    kept = {k: v for k, v in before.items() if k not in sent and k != "updated_at"}
    changed = [f"{k}: {v!r} became {now.get(k)!r}" for k, v in kept.items()
               if (k in COMPARED or k == "metadata") and not agree(k, now.get(k), v)]
    assert not changed, f"a PATCH changed fields it was not sent: {changed}"


@then(parsers.parse("a later GET of the account they created shows the name as it was and the "
                    "metadata {meta}, replaced or merged"))
def metadata_patched(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                     meta: str) -> None:
    """Whether PATCH replaces or merges `metadata` is free (ACC-11)."""
    before, now = later(api, actors, created)
    assert now.get("name") == before["name"], (
        f"a PATCH of the metadata changed the name to {now.get('name')!r}"
    )
    sent = literal(meta)
    assert now.get("metadata") in (sent, {**before.get("metadata", {}), **sent}), (
        f"the metadata reads {now.get('metadata')!r}: neither {sent!r} nor it merged into "
        f"{before.get('metadata')!r}"
    )


@then(parsers.parse('the update was refused or left "{field}" of the account they created as '
                    "the server set it"))
def not_honoured(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                 response: httpx.Response, field: str) -> None:
    """Refused (a 4xx JSON error) or ignored: the account keeps its id and organization,
    its created_at, a live status, and never takes the client's value."""
    assert response.status_code < 500, (
        f"expected the field to be refused or ignored, got {response.status_code}: "
        f"{excerpt(response)}"
    )
    chosen = sent_json(response)[field]
    before, now = later(api, actors, created)
    # Timestamps as instants: "2001-01-01T00:00:00+00:00" honours "2001-01-01T00:00:00Z".
    assert not same_instant(now.get(field), chosen), (
        f"the server honoured the client's {field}={chosen!r}: it reads {now.get(field)!r}")
    if field in ("id", "organization_id", "created_at", "deleted_at"):
        assert same_instant(now.get(field), before.get(field)), (
            f"{field} was {before.get(field)!r} and is now {now.get(field)!r}"
        )
    if not is_success(response):
        error_shape(response)


@then(parsers.parse("the other user cannot read the account the {name} user created"))
def others_cannot_read(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                       name: str) -> None:
    account = created_by(created, name)
    response = get_account(api, actors.named("other"), account["id"])
    assert not is_success(response), (
        f"the other organization reads the {name} user's account: {excerpt(response)}"
    )


def instant(value: Any, field: str) -> datetime:
    found = parse_instant(value)
    if found is None:
        raise TargetFailure("ACC-6", f"{field} {value!r} is not an ISO 8601 timestamp")
    return found


@then("a later GET of the account they created keeps its created_at, and its updated_at is not "
      "earlier")
def timestamps_kept(api: ApiClient, actors: Actors, created: tuple[Created, ...]) -> None:
    before, now = later(api, actors, created)
    assert instant(now["created_at"], "created_at") == instant(before["created_at"],
                                                               "created_at"), (
        f"an update moved created_at from {before['created_at']} to {now['created_at']}"
    )
    assert instant(now["updated_at"], "updated_at") >= instant(before["updated_at"],
                                                               "updated_at"), (
        f"an update moved updated_at back from {before['updated_at']} to {now['updated_at']}"
    )


@then("the account they created, and every page of accounts with deleted ones, still read as "
      "valid JSON")
def still_readable(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                   target: Target) -> None:
    """ERR-5 for the reads ACCOUNTS adds: the account for every principal of the organization,
    and the list with deleted accounts for its administrator (the client checks every body)."""
    account = created_by(created, actors.they.principal.name)
    for principal in target.organization_a:
        session = start_session(api, principal)
        response = get_account(api, session, account["id"])
        assert response.status_code == 200, (
            f"after the update, GET {account_path(account['id'])} as {principal.name} answered "
            f"{response.status_code}: {excerpt(response)}"
        )
    walk_with(api, actors.they, "accounts", {"include_deleted": "true"}, quantity=100)
