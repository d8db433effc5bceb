"""Steps for the default account: the one organization-wide state the suite changes.

Each scenario records the organization's default first and puts it back when it ends, pass or
fail (a finalizer: PATCH `is_default: true` on it, or a PUT of it as it was); these scenarios run
alone (see `library.turns`). `is_default: true` is sent only here, and only when the target
claims ACCOUNTS: restoring needs an update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from dpaas_conformance.common import error_shape
from dpaas_conformance.library.calls import (
    Actors,
    Created,
    Session,
    create_account,
    unique_name,
)
from dpaas_conformance.library.calls_v2 import (
    get_account,
    is_success,
    live_defaults,
    read_account,
    same_account,
    send,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.outcomes import Inconclusive, TargetFailure
from dpaas_conformance.library.race import Outcome, at_once
from pytest_bdd import given, parsers, then, when


@dataclass(frozen=True)
class Recorded:
    """The organization's default account when the scenario began (None: it had none)."""

    account: Mapping[str, Any] | None


class RestoreFailed(Exception):
    """The suite could not put the default back: the scenario's result cannot be trusted."""


@given("the organization's default account is recorded", target_fixture="recorded_default")
def record_default(request: pytest.FixtureRequest, api: ApiClient, actors: Actors) -> Recorded:
    session = actors.they
    defaults = live_defaults(api, session)
    if len(defaults) > 1:
        raise TargetFailure("ACC-18", "before the scenario changed anything, the organization "
                                      f"has {len(defaults)} default accounts: "
                                      f"{[d.get('id') for d in defaults]}")
    recorded = Recorded(defaults[0] if defaults else None)
    request.addfinalizer(lambda: restore(api, session, recorded))
    return recorded


def restore(api: ApiClient, session: Session, recorded: Recorded) -> None:
    """Put the recorded default back (or, when there was none, leave none)."""
    if recorded.account is None:
        for account in live_defaults(api, session):
            if not is_success(send(api, session, "PATCH", account["id"],
                                   {"is_default": False})) and not is_success(
                    send(api, session, "DELETE", account["id"])):
                raise RestoreFailed(f"the organization had no default account and the suite "
                                    f"could not unset {account['id']!r} again")
        return
    account = recorded.account
    now = get_account(api, session, account["id"])
    if now.status_code == 200 and body_of(now).get("is_default") is True:
        return
    if is_success(send(api, session, "PATCH", account["id"], {"is_default": True})):
        return
    whole = {"name": account["name"], "is_default": True,
             **({"metadata": account["metadata"]} if "metadata" in account else {})}
    answer = send(api, session, "PUT", account["id"], whole)
    if not is_success(answer):
        raise RestoreFailed(f"could not make {account['id']!r} the default account again: "
                            f"{answer.status_code} {excerpt(answer, 200)}")


@given("they have made a new account the default", target_fixture="made_default")
def made_default(api: ApiClient, actors: Actors) -> Mapping[str, Any]:
    """A precondition: a create with is_default true that does not make it the default
    breaks ACC-19."""
    response = create_account(api, actors.they, {"name": unique_name(), "is_default": True})
    if not is_success(response):
        raise TargetFailure("ACC-2", f"creating a default account answered "
                                     f"{response.status_code}: {excerpt(response, 200)}")
    account = body_of(response)
    if not isinstance(account, dict) or account.get("is_default") is not True:
        raise TargetFailure("ACC-19", "an account created with is_default true is not the "
                                      f"default: {excerpt(response, 200)}")
    return account


# --- requests --------------------------------------------------------------------------------


@when(parsers.re(r'they (?P<method>PUT|PATCH) the account they made the default with '
                 r'(?P<rename>a new name and )?"is_default" set to false$'),
      target_fixture="response")
def unset_default(api: ApiClient, actors: Actors, made_default: Mapping[str, Any], method: str,
                  rename: str | None) -> httpx.Response:
    name = unique_name() if rename else made_default["name"]
    body: dict[str, Any] = {"is_default": False}
    if rename or method == "PUT":
        body["name"] = name
    if method == "PUT" and "metadata" in made_default:
        body["metadata"] = made_default["metadata"]
    return send(api, actors.they, method, made_default["id"], body)


@when("they delete the account they made the default", target_fixture="response")
def delete_default(api: ApiClient, actors: Actors, made_default: Mapping[str, Any]
                   ) -> httpx.Response:
    return send(api, actors.they, "DELETE", made_default["id"])


@when("they make each account they created the default at the same time",
      target_fixture="responses")
def make_defaults_at_once(api: ApiClient, actors: Actors, created: tuple[Created, ...]
                          ) -> list[Outcome]:
    ids = [c.account["id"] for c in created if c.by == actors.they.principal.name]
    token = actors.they.access_token
    return at_once(api, len(ids),
                   lambda client, i: client.request("GET", f"/accounts/{ids[i]}", token=token),
                   lambda client, i: client.request("PATCH", f"/accounts/{ids[i]}",
                                                    json={"is_default": True}, token=token))


# --- checks ----------------------------------------------------------------------------------


def made_id(response: httpx.Response) -> Any:
    """The account a create, PUT or PATCH made the default: the created body's id, or the id in
    the URL of an update (whose answer may have no body)."""
    if response.request.method == "POST":
        body = body_of(response)
        assert isinstance(body, dict), f"the create answered {excerpt(response)}"
        return body.get("id")
    return response.request.url.path.rsplit("/", 1)[-1]


@then("the account they made the default is the only default, and the former one reads false")
def only_default(api: ApiClient, actors: Actors, response: httpx.Response,
                 recorded_default: Recorded) -> None:
    mine = made_id(response)
    defaults = [d.get("id") for d in live_defaults(api, actors.they)]
    assert defaults == [mine], (
        f"after making {mine!r} the default, the live defaults are {defaults}"
    )
    former = recorded_default.account
    if former is not None and former["id"] != mine:
        now = read_account(api, actors.they, former["id"])
        assert now.get("is_default") is False, (
            f"the former default {former['id']!r} still reads is_default {now.get('is_default')!r}"
        )


def completed(responses: list[Outcome]) -> list[httpx.Response]:
    for outcome in responses:
        if isinstance(outcome, AssertionError):
            raise outcome  # a finding about one answer (an invalid body, say)
        if not isinstance(outcome, httpx.Response):
            raise Inconclusive(f"a concurrent request did not complete: {outcome!r}")
    return [r for r in responses if isinstance(r, httpx.Response)]


@then("none of those requests fails with a server error")
def none_crashed(responses: list[Outcome]) -> None:
    statuses = [r.status_code for r in completed(responses)]
    assert all(s < 500 for s in statuses), f"a concurrent request crashed the server: {statuses}"


@then(parsers.parse('at most one live account reads "is_default" true'))
def at_most_one(api: ApiClient, actors: Actors) -> None:
    defaults = [d.get("id") for d in live_defaults(api, actors.they)]
    assert len(defaults) <= 1, f"the organization has {len(defaults)} defaults: {defaults}"


@then(parsers.parse('exactly one live account reads "is_default" true, one of those they made '
                    "the default"))
def exactly_one(api: ApiClient, actors: Actors, created: tuple[Created, ...],
                responses: list[Outcome]) -> None:
    completed(responses)
    defaults = [d.get("id") for d in live_defaults(api, actors.they)]
    mine = {c.account["id"] for c in created}
    assert len(defaults) == 1, f"the organization has {len(defaults)} defaults: {defaults}"
    assert defaults[0] in mine, (
        f"the default is {defaults[0]!r}, none of the accounts just made the default"
    )


@then("if it was refused, the account they made the default reads as it was")
def refusal_changed_nothing(api: ApiClient, actors: Actors, response: httpx.Response,
                            made_default: Mapping[str, Any]) -> None:
    if is_success(response):
        return  # accepted: free (ACC-20, ACC-21), and the one-default rule is checked apart
    now = read_account(api, actors.they, made_default["id"])
    differ = same_account(now, made_default)
    assert not differ, f"a refused request changed the account: {differ}"
    error_shape(response)

