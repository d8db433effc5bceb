"""Steps for listing users and for keeping secrets out of every response (USER-2)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
from dpaas_conformance.library.calls import (
    MAX_QUANTITY,
    Actors,
    Walk,
    create_account,
    list_page,
    log_in,
    page_body,
    unique_name,
    walk,
)
from dpaas_conformance.library.client import ApiClient, body_of
from dpaas_conformance.library.leaks import MIN_SUBSTRING_PASSWORD, find_leaks
from dpaas_conformance.library.schemas import problems
from dpaas_conformance.library.target import Target
from pytest_bdd import parsers, then, when


@when(parsers.parse("they fetch {what}"), target_fixture="response")
def fetch(api: ApiClient, actors: Actors, what: str) -> httpx.Response:
    session = actors.they
    if what == "the users list":
        return list_page(api, session, "users", {"quantity": 100})
    if what == "a login response":
        return log_in(api, session.principal)
    if what == "a created account":
        return create_account(api, session, {"name": unique_name()})
    raise ValueError(f"unknown thing to fetch: {what!r}")


@then("the response reveals no password, hash or secret")
def no_secrets(response: httpx.Response, target: Target) -> None:
    for password in target.passwords:
        if len(password) >= MIN_SUBSTRING_PASSWORD:
            assert password not in response.text, "the response shows a principal's password"
    found = find_leaks(body_of(response), target.passwords)
    assert not found, f"the response exposes secrets: {found}"


@then(parsers.parse("the users include the {name} user"))
def includes_user(
    api: ApiClient, actors: Actors, response: httpx.Response, target: Target, name: str
) -> None:
    """On the page listed, or on a later one when the organization has more users."""
    email = target.principal(name).email.casefold()
    body = page_body(response)
    users = list(body["results"])
    if body["total"] > len(users):
        users = list(walk(api, actors.they, "users", quantity=MAX_QUANTITY).items)
    emails = {str(u.get("email", "")).casefold() for u in users if isinstance(u, Mapping)}
    assert email in emails, f"the {name} user ({email}) is not among the users listed"


FIELD_NAMES = re.compile(r'"([^"]+)"')


@then(parsers.re(r"every user has the fields (?P<names>.+)"))
def users_have(response: httpx.Response, names: str) -> None:
    wanted = FIELD_NAMES.findall(names)
    assert wanted, f"the step names no fields: {names!r}"
    results = page_body(response)["results"]
    assert results, "the list holds no user to check"
    for index, user in enumerate(results):
        missing = [f for f in wanted if not isinstance(user, Mapping) or f not in user]
        assert not missing, f"results[{index}] lacks {missing}"
        found = [p for p in problems("user-recommended", user)
                 if p.split(":", 1)[0] in wanted]
        assert not found, f"results[{index}] has fields of the wrong type: {found}"


@then("every user seen belongs to the caller's organization")
def users_in_my_org(walk: Walk, actors: Actors) -> None:
    """The caller's organization is the one their own entry in the list names."""
    email = actors.they.principal.email.casefold()
    me = [u for u in walk.items if str(u.get("email", "")).casefold() == email]
    assert me, f"the caller ({email}) is not among the users listed"
    mine = me[0].get("organization_id")
    foreign = [u for u in walk.items if u.get("organization_id") != mine]
    assert not foreign, (
        f"{len(foreign)} users listed belong to another organization than the caller's "
        f"({mine!r}), e.g. {foreign[0].get('email')!r} in {foreign[0].get('organization_id')!r}"
    )


@then(parsers.parse("none of the users seen is the {name} user"))
def user_not_seen(walk: Walk, target: Target, name: str) -> None:
    email = target.principal(name).email.casefold()
    leaked = [u for u in walk.items if str(u.get("email", "")).casefold() == email]
    assert not leaked, f"another organization's user {email} is visible"
