"""Steps for listing users and for keeping secrets out of every response."""

from __future__ import annotations

import re
from typing import Any

import httpx
from pytest_bdd import parsers, then, when

from steps.client import ApiClient
from steps.common import Scene, body_of, log_in, send, unique_name
from steps.lists import create_account, page_body
from steps.schemas import problems
from steps.target import Target

SECRET_KEY = re.compile(r"pass(word)?|hash|secret|salt", re.IGNORECASE)
HASH_VALUE = re.compile(r"\$(argon2(id|i|d)|2[aby]|pbkdf2|scrypt)\$|^[0-9a-f]{64}$", re.IGNORECASE)


@when(parsers.parse("they fetch {what}"), target_fixture="response")
def fetch(api: ApiClient, scene: Scene, target: Target, what: str) -> httpx.Response:
    token = scene.session.access_token
    if what == "the users list":
        return send(api, scene, "GET", "/users", params={"quantity": 100}, token=token)
    if what == "a login response":
        return log_in(api, scene, scene.session.principal)
    if what == "a failed login response":
        body = scene.session.principal.credentials()
        body["password"] = f"{body['password']}-wrong"
        return send(api, scene, "POST", "/authentication/login", json=body)
    if what == "a created account":
        return create_account(api, scene, {"name": unique_name()})
    raise ValueError(f"unknown thing to fetch: {what!r}")


def secrets_in(data: Any, password: str, path: str = "") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if SECRET_KEY.search(str(key)):
                found.append(f"{path}/{key}")
            found += secrets_in(value, password, f"{path}/{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += secrets_in(value, password, f"{path}/{index}")
    elif isinstance(data, str) and (password in data or HASH_VALUE.search(data)):
        found.append(f"{path} = {data[:12]}…")
    return found


@then("the response reveals no password, hash or secret")
def no_secrets(response: httpx.Response, scene: Scene) -> None:
    body = body_of(response)
    password = scene.session.principal.password
    found = secrets_in(body, password)
    assert password not in response.text, "the response echoes the user's password"
    assert not found, f"the response exposes secrets at {found}"


@then(parsers.parse("the users include the {name} user"))
def includes_user(response: httpx.Response, target: Target, name: str) -> None:
    email = target.principal(name).email.casefold()
    emails = {str(u["email"]).casefold() for u in page_body(response)["results"]}
    assert email in emails or page_body(response)["total"] > len(emails), (
        f"the {name} user ({email}) is not among the users listed: {sorted(emails)}"
    )


@then(parsers.re(r'every user has the fields (?P<names>.+)'))
def users_have(response: httpx.Response, names: str) -> None:
    for index, user in enumerate(page_body(response)["results"]):
        found = problems("user-recommended", user)
        assert not found, f"results[{index}] lacks recommended fields: {found}"


@then("every user in the list has the same organization_id")
def same_org(response: httpx.Response) -> None:
    orgs = {u["organization_id"] for u in page_body(response)["results"]}
    assert len(orgs) <= 1, f"one organization's user list spans several: {sorted(orgs)}"


@then(parsers.parse("none of the users seen is the {name} user"))
def user_not_seen(scene: Scene, target: Target, name: str) -> None:
    email = target.principal(name).email.casefold()
    leaked = [u for u in scene.seen if str(u.get("email", "")).casefold() == email]
    assert not leaked, f"another organization's user {email} is visible"
