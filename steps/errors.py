"""Steps for hostile but valid input (ERR-4, ERR-5): whatever a write accepts must read back.

The payloads are built here rather than written in the feature: a Gherkin table cannot carry a
thousand brackets, and the escapes must reach the target as JSON escapes, not as characters.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import httpx
from dpaas_conformance.common import success_or_client_error
from dpaas_conformance.library import strictjson
from dpaas_conformance.library.calls import (
    LOGIN,
    REFRESH,
    Actors,
    list_page,
    start_session,
    unique_name,
    walk,
)
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.outcomes import charged_to
from dpaas_conformance.library.target import Target
from pytest_bdd import parsers, then, when

# Astral letters, a ZWJ emoji sequence, right-to-left scripts, a combining mark, BOM, zero-width
# and line-separator characters (which break JavaScript's eval, not JSON), NUL and a control.
UNUSUAL = (
    "\U0001d518\U0001d52b\U0001d526 \U0001f469\u200d\U0001f469\u200d\U0001f467 "
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629 e\u0301 "
    "\ufeff\u200b\u2028\u2029 \ufdfd \u0000\u001f \U0010fffd"
)


def _with_name(name: str, rest: str = "") -> str:
    return f'{{"name": {json.dumps(name)}{rest}}}'


def nested(name: str, depth: int) -> str:
    return _with_name(name, f', "metadata": {{"deep": {"[" * depth}{"]" * depth}}}')


#: Raw JSON texts, each valid JSON (RFC 8259) and each hostile to some server.
HOSTILE_ACCOUNTS: dict[str, Callable[[str], str]] = {
    "a number too large for a double in metadata": lambda name: _with_name(
        name, ', "metadata": {"huge": 1e999, "tiny": -1e999}'),
    "a 400-digit integer in metadata": lambda name: _with_name(
        name, f', "metadata": {{"digits": {"9" * 400}}}'),
    "a lone surrogate escape in the name": lambda name: (
        f'{{"name": {json.dumps(name)[:-1]} \\ud800"}}'),
    "a lone surrogate escape in a metadata key": lambda name: _with_name(
        name, ', "metadata": {"\\udc00": 1}'),
    "a name of 10,000 characters": lambda name: _with_name(f"{name} {'x' * 10_000}"),
    "a name in unusual Unicode": lambda name: _with_name(f"{name} {UNUSUAL}"),
}


@when(parsers.parse("they create an account with hostile but valid input: {payload}"),
      target_fixture="response")
def create_hostile(api: ApiClient, actors: Actors, payload: str) -> httpx.Response:
    text = HOSTILE_ACCOUNTS[payload](unique_name())
    strictjson.parse(text)  # the suite's own check that the payload is JSON text
    return api.request("POST", "/accounts", content=text.encode(),
                       headers={"Content-Type": "application/json"},
                       token=actors.they.access_token)


@when(parsers.parse("they create one account for each depth of metadata nesting from {low:d} up "
                    "to {high:d} levels, reading their accounts after each"),
      target_fixture="responses")
def create_nested(api: ApiClient, actors: Actors, low: int, high: int) -> list[httpx.Response]:
    """A scan, because where a server's parser and its encoder part ways depends on its stack:
    a CPython server may parse 980 levels and then fail to encode them inside a list page.

    After each accepted create the newest account is read back. The scan stops at the first
    refusal (a server that refuses a depth refuses every deeper one), at the first server error
    or at the first unreadable page: each already decides the scenario.
    """
    session = actors.they
    responses = []
    for depth in range(low, high + 1):
        created = api.request(
            "POST", "/accounts", content=nested(unique_name(), depth).encode(),
            headers={"Content-Type": "application/json"}, token=session.access_token)
        responses.append(created)
        if created.status_code >= 300:
            break
        try:
            read = list_page(api, session, "accounts", {"quantity": 1})
        except AssertionError:  # an invalid body (ERR-4): the Then steps will say so
            break
        if read.status_code != 200:
            break
    return responses


@when(parsers.parse('someone sends POST "{path}" with a lone surrogate escape in "{field}"'),
      target_fixture="response")
def send_lone_surrogate(api: ApiClient, target: Target, path: str, field: str) -> httpx.Response:
    if path == LOGIN:
        # An unknown user of the admin's organization: no real user's failure count grows.
        body = {**target.principal("admin").credentials(),
                "email": f"surrogate-{secrets.token_hex(6)}@example.com"}
    elif path == REFRESH:
        body = {"refresh_token": "token"}
    else:
        raise ValueError(f"no lone-surrogate body for {path}")
    text = json.dumps({**body, field: "MARK"}).replace('"MARK"', '"x\\ud800y"')
    return api.request("POST", path, content=text.encode(),
                       headers={"Content-Type": "application/json"})


@then("every one of those answers is a success or a client error with a JSON error body, never "
      "a server error")
def each_success_or_client_error(responses: list[httpx.Response]) -> None:
    for response in responses:
        success_or_client_error(response)


@then("every page of accounts still reads as valid JSON for every principal of their "
      "organization")
def every_page_valid(api: ApiClient, target: Target) -> None:
    """Each page 200, a list body, strictly valid JSON (the client checks every body): a read
    that fails after a hostile create breaks ERR-5 (invalid JSON stays ERR-4's)."""
    for principal in target.organization_a:
        session = start_session(api, principal)
        with charged_to("ERR-5"):
            walk(api, session, "accounts", quantity=100)
