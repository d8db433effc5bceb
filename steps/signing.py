"""Steps for HMAC-signed requests (SERVICE): what authenticates, the tamper matrix, nonces, the
x-date window and a service account's organization.

A request is signed from what it was (`service.Signed`) and may be sent changed (`sent`): the
signer never sees the change, as an attacker's edit in transit would not. Requests whose answer
could change something are built so that nothing is made even if a faulty target accepts them
(an empty or invalid body, an id that never existed).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from dpaas_conformance.account_by_id import TRANSPORT_HEADERS
from dpaas_conformance.common import named_error
from dpaas_conformance.hmac_auth import content_sha256, format_x_date, signed_headers
from dpaas_conformance.library import classes
from dpaas_conformance.library.calls import Actors, Created, page_body
from dpaas_conformance.library.calls_v2 import account_path, is_success
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.outcomes import Inconclusive, charged_to
from dpaas_conformance.library.race import Outcome, at_once
from dpaas_conformance.library.service import (
    SERVICE_ACCOUNTS,
    Key,
    ServiceAccount,
    Signed,
    TargetTime,
    authenticated,
    key_id_of,
    revoke,
    signed,
    signed_then,
)
from dpaas_conformance.library.target import Target
from dpaas_conformance.service_accounts import last_account, last_key, mine
from pytest_bdd import parsers, then, when

#: a body no target accepts as an account (ACC-3), so a faulty acceptance makes nothing
BAD_ACCOUNT = b'{"name": 5}'
OTHER_BAD_ACCOUNT = b'{"name": 6}'
#: the parts a tamper check changes: what is signed, what is sent instead
TAMPER: dict[str, tuple[Signed, Signed]] = {
    "method": (Signed("GET", "/accounts"), Signed("POST", "/accounts")),
    "path": (Signed("GET", "/accounts"), Signed("GET", "/users")),
    "query": (Signed("GET", "/accounts?page=1"), Signed("GET", "/accounts?page=2")),
    "body": (Signed("POST", "/accounts", BAD_ACCOUNT),
             Signed("POST", "/accounts", OTHER_BAD_ACCOUNT)),
}


def unknown_key(key: Key) -> Key:
    """A key no target issued: an access key of the real one's length that is no key."""
    fake = ("sa_conformance_" + secrets.token_hex(16))[:max(len(key.access_key), 20)]
    return Key("-", key.service_account_id, fake, key.secret_key, None)


LIST = Signed("GET", "/accounts")


def plain(api: ApiClient, key: Key, clock: TargetTime, what: Signed = LIST, **kwargs: Any
          ) -> httpx.Response:
    return signed_then(api, key, clock, what, **kwargs)


# --- authenticated requests ------------------------------------------------------------------


@when(parsers.re(r'they send (?P<method>GET|POST) "(?P<target>[^"]+)"(?P<body> with a JSON body)?'
                 r" signed with that key$"), target_fixture="response")
def send_request(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime, method: str,
                 target: str, body: str | None) -> httpx.Response:
    content = BAD_ACCOUNT if body else b""
    kwargs: dict[str, Any] = {"content": content} if content else {}
    if content:
        kwargs["headers"] = {"Content-Type": "application/json"}
    return signed(api, last_key(keys), target_time, method, target, **kwargs)


@then(parsers.parse("the signed request is {fate}"))
def fate_of(response: httpx.Response, fate: str) -> None:
    if fate == "authenticated":
        authenticated(response)
        return
    assert fate == "refused", fate
    assert response.status_code == 401, (
        f"a signed request that should be refused answered {response.status_code}: "
        f"{excerpt(response, 200)}")


def protected_requests(api: ApiClient, target: Target, actors: Actors, owner: ServiceAccount,
                       key: Key) -> list[tuple[str, str, bytes]]:
    """One request to each protected endpoint of the claimed classes, built so that none
    changes anything whatever it is answered: writes carry invalid bodies or ids that never
    existed (the never-existing ids are made from real ones by one character)."""
    claimed = target.config.classes
    account = str(body_of(api.request("GET", "/accounts", params={"quantity": 1},
                                      token=actors.they.access_token))["results"][0]["id"])
    never = account[:-1] + ("0" if account[-1] != "0" else "1")
    found: list[tuple[str, str, bytes]] = [
        ("GET", "/accounts", b""), ("POST", "/accounts", BAD_ACCOUNT), ("GET", "/users", b"")]
    if classes.ACCOUNTS in claimed:
        found += [("GET", account_path(account), b""),
                  ("PUT", account_path(never), BAD_ACCOUNT),
                  ("PATCH", account_path(never), BAD_ACCOUNT),
                  ("DELETE", account_path(never), b"")]
    if classes.USERS in claimed:
        found += [("GET", f"/users?account_id={account}", b"")]
    never_key = "k" + secrets.token_hex(8)
    found += [("GET", SERVICE_ACCOUNTS, b""),
              ("POST", target.paths.of("service_account_create"), b'{"name": 5}'),
              ("GET", f"{SERVICE_ACCOUNTS}/{owner.id}", b""),
              ("GET", target.paths.of("key_list", id=owner.id), b""),
              ("POST", target.paths.of("key_issue", id=owner.id),
               b'{"ip_allowlist": "not a list"}'),
              ("DELETE", target.paths.of("key_revoke", id=owner.id, key_id=never_key), b"")]
    return found


@when("they send a signed request to every protected endpoint of the classes the target claims",
      target_fixture="responses")
def every_endpoint(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...],
                   service_accounts: tuple[ServiceAccount, ...], target_time: TargetTime
                   ) -> list[httpx.Response]:
    key = last_key(keys)
    owner = mine(service_accounts, actors.they.principal.name)
    return [plain(api, key, target_time, Signed(method, path, body))
            for method, path, body in protected_requests(api, target, actors, owner, key)]


@then("none of those answers is a 401 or a server error")
def none_401(responses: list[httpx.Response]) -> None:
    if any(r.status_code == 429 for r in responses):
        raise Inconclusive("the target throttled a signed request (429)")
    refused = [f"{r.request.method} {r.request.url.raw_path.decode()}: {r.status_code}"
               for r in responses if r.status_code == 401 or r.status_code >= 500]
    assert not refused, "signed requests were not authenticated: " + "; ".join(refused)


@then(parsers.parse('the response is a success or a "{error}" error with status {status:d}'))
def success_or(response: httpx.Response, error: str, status: int) -> None:
    if is_success(response):
        return
    assert response.status_code == status, (
        f"expected a success or {status}, got {response.status_code}: {excerpt(response)}")
    named_error(response, error, status)


@when("they delete the account the service account belongs to")
def delete_its_account(api: ApiClient, target: Target, actors: Actors,
                       created: tuple[Created, ...]) -> None:
    if classes.ACCOUNTS not in target.config.classes:
        pytest.skip("not run: deleting an account is class ACCOUNTS, which the target does "
                    "not claim")
    account = last_account(created, actors.they.principal.name)
    response = api.request("DELETE", account_path(account["id"]),
                           token=actors.they.access_token)
    with charged_to("ACC-14"):
        assert is_success(response), f"deleting the account answered {response.status_code}"


# --- refused requests ------------------------------------------------------------------------


@when("they send a POST whose x-content-sha256 is signed but is not the hash of its body",
      target_fixture="response")
def body_not_hashed(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
                    ) -> httpx.Response:
    signed_ = Signed("POST", "/accounts", BAD_ACCOUNT)
    return plain(api, last_key(keys), target_time, signed_,
                 sent=Signed("POST", "/accounts", OTHER_BAD_ACCOUNT))


@when(parsers.parse('they send a signed request without its "{header}" header'),
      target_fixture="response")
def without_header(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime,
                   header: str) -> httpx.Response:
    return plain(api, last_key(keys), target_time, drop=(header,))


@when(parsers.re(r"they send a signed request whose (?P<what>.+)$"), target_fixture="response")
def malformed(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime, what: str
              ) -> httpx.Response:
    key = last_key(keys)
    x_date = format_x_date(target_time())
    nonce = str(uuid.uuid4())
    what_ = Signed("GET", "/accounts", x_date=x_date, nonce=nonce)
    headers = signed_headers(key.access_key, key.secret_key, "GET", "/accounts", x_date=x_date,
                             nonce=nonce)
    access, _, signature = headers["Authorization"].partition(" ")[2].partition(":")
    replaced: dict[str, str] = {
        "Authorization has no colon": {"Authorization": f"HMAC {access}{signature}"},
        "Authorization has an empty access key": {"Authorization": f"HMAC :{signature}"},
        "Authorization has an empty signature": {"Authorization": f"HMAC {access}:"},
        "scheme is written \"hmac\"": {"Authorization": f"hmac {access}:{signature}"},
    }.get(what, {})
    if what == "Authorization names a key that does not exist":
        return plain(api, unknown_key(key), target_time)
    if what.startswith("x-date"):
        bad = what.split('"')[1]
        return plain(api, key, target_time, Signed("GET", "/accounts", x_date=bad))
    if not replaced:
        raise KeyError(what)
    return plain(api, key, target_time, what_, headers=replaced)


@when("they send a signed request with its header names in upper case",
      target_fixture="response")
def upper_case(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
               ) -> httpx.Response:
    key = last_key(keys)
    x_date, nonce = format_x_date(target_time()), str(uuid.uuid4())
    headers = signed_headers(key.access_key, key.secret_key, "GET", "/accounts", x_date=x_date,
                             nonce=nonce)
    return api.request("GET", "/accounts", headers={k.upper(): v for k, v in headers.items()})


@when(parsers.parse("they sign a request and change its {part} before sending it"),
      target_fixture="response")
def tampered(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime, part: str
             ) -> httpx.Response:
    key = last_key(keys)
    if part in TAMPER:
        what, sent = TAMPER[part]
        if part == "body":  # the body's own hash is sent: only the signature can tell
            return plain(api, key, target_time, what, sent=sent,
                         headers={"x-content-sha256": content_sha256(sent.body)})
        return plain(api, key, target_time, what, sent=sent)
    now = target_time()
    if part == "x-date":
        return plain(api, key, target_time, Signed("GET", "/accounts", x_date=format_x_date(now)),
                     headers={"x-date": format_x_date(now - 1)})
    assert part == "x-nonce", part
    return plain(api, key, target_time, headers={"x-nonce": str(uuid.uuid4())})


@when("they send a request signed with a wrong secret for that key", target_fixture="response")
def wrong_secret(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
                 ) -> httpx.Response:
    return plain(api, last_key(keys), target_time, secret_key="sk_" + secrets.token_hex(24))


@when(parsers.parse("they send a signed request refused for {cause}"), target_fixture="response")
def refused_for(api: ApiClient, target: Target, actors: Actors, keys: tuple[Key, ...],
                target_time: TargetTime, cause: str) -> httpx.Response:
    key = last_key(keys)
    if cause == "a wrong signature":
        return plain(api, key, target_time, secret_key="sk_" + secrets.token_hex(24))
    if cause == "an unknown key":
        return plain(api, unknown_key(key), target_time)
    if cause == "a used nonce":
        once = Signed("GET", "/accounts", x_date=format_x_date(target_time()),
                      nonce=str(uuid.uuid4()))
        authenticated(plain(api, key, target_time, once))
        return plain(api, key, target_time, once)
    if cause == "an x-date an hour ago":
        return plain(api, key, target_time, Signed("GET", "/accounts",
                                                   x_date=format_x_date(target_time() - 3600)))
    if cause == "a body hash that does not match":
        return body_not_hashed(api, keys, target_time)
    assert cause == "a revoked key", cause
    with charged_to("KEY-5"):
        answer = revoke(api, target, actors.they, key.service_account_id,
                        key_id_of(api, target, actors.they, key))
        assert is_success(answer), f"revoking a key answered {answer.status_code}"
    return plain(api, key, target_time)


@when("they send a request signed with an unknown key, and one with a wrong signature",
      target_fixture="responses")
def unknown_and_wrong(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
                      ) -> list[httpx.Response]:
    key = last_key(keys)
    return [plain(api, unknown_key(key), target_time),
            plain(api, key, target_time, secret_key="sk_" + secrets.token_hex(24))]


@then("both answers are the same: status, body and header names")
def identical(responses: list[httpx.Response]) -> None:
    """CWE-204: an unknown key and a wrong signature must not be told apart."""
    def shape(r: httpx.Response) -> tuple[int, Any, list[str]]:
        try:
            body = json.loads(r.content)
        except ValueError:
            body = r.content.decode("utf-8", "replace")
        return r.status_code, body, sorted({k.lower() for k in r.headers} - TRANSPORT_HEADERS)

    unknown, wrong = (shape(r) for r in responses)
    assert unknown == wrong, (
        f"an unknown key is answered {unknown}, a wrong signature {wrong}")


# --- nonces ----------------------------------------------------------------------------------


def once(clock: TargetTime, path: str = "/accounts") -> Signed:
    return Signed("GET", path, x_date=format_x_date(clock()), nonce=str(uuid.uuid4()))


@when("they send the same signed request twice", target_fixture="responses")
def twice(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
          ) -> list[httpx.Response]:
    what = once(target_time)
    return [plain(api, last_key(keys), target_time, what) for _ in range(2)]


@when("they send a signed request, then another request signed with the same nonce",
      target_fixture="responses")
def same_nonce(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
               ) -> list[httpx.Response]:
    first = once(target_time)
    second = Signed("GET", "/users", x_date=first.x_date, nonce=first.nonce)
    return [plain(api, last_key(keys), target_time, first),
            plain(api, last_key(keys), target_time, second)]


@when("they send a signed request their service account has no right to, twice",
      target_fixture="responses")
def forbidden_twice(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime
                    ) -> list[httpx.Response]:
    what = Signed("POST", "/accounts", BAD_ACCOUNT, x_date=format_x_date(target_time()),
                  nonce=str(uuid.uuid4()))
    return [plain(api, last_key(keys), target_time, what) for _ in range(2)]


@when("they send a signed request, and send it again two minutes later on the target's clock",
      target_fixture="responses")
def later(api: ApiClient, target: Target, keys: tuple[Key, ...], target_time: TargetTime
          ) -> list[httpx.Response]:
    if target.clock is None:
        pytest.skip("not run: the suite does not hold this target's clock, and waiting two "
                    "minutes is more than a scenario may take")
    what = once(target_time)
    first = plain(api, last_key(keys), target_time, what)
    target.clock.advance(120)  # within every window HMAC-7 allows (at least 60 s either way)
    return [first, plain(api, last_key(keys), target_time, what)]


@when("they send a signed request, and send it again after the target restarts",
      target_fixture="responses")
def across_restart(api: ApiClient, target: Target, keys: tuple[Key, ...],
                   target_time: TargetTime) -> list[httpx.Response]:
    if target.restart is None:
        pytest.skip("not run: the suite does not run this target, so it cannot restart it")
    what = once(target_time)
    first = plain(api, last_key(keys), target_time, what)
    target.restart()
    return [first, plain(api, last_key(keys), target_time, what)]


@then("the first is authenticated and the second is refused with 401")
def first_then_401(responses: list[httpx.Response]) -> None:
    first, second = responses
    with charged_to("HMAC-1"):
        authenticated(first)
    assert second.status_code == 401, (
        f"the same nonce was accepted again: {second.status_code} {excerpt(second, 200)}")


@then("the first is refused with 403 and the second with 401")
def first_403_then_401(responses: list[httpx.Response]) -> None:
    first, second = responses
    if first.status_code == 429:
        raise Inconclusive("the target throttled a signed request (429)")
    if first.status_code != 403:
        with charged_to("HMAC-1"):
            authenticated(first)
        pytest.skip(f"not run: the service account the suite created may do what was asked "
                    f"({first.status_code}), so no request of it is refused with 403")
    assert second.status_code == 401, (
        f"a request answered 403 was accepted again with its nonce: {second.status_code}")


@when(parsers.parse("they send {n:d} copies of one signed request at once"),
      target_fixture="responses")
def copies(api: ApiClient, keys: tuple[Key, ...], target_time: TargetTime, n: int
           ) -> list[Outcome]:
    """One signed request (one nonce), sent on `n` warmed-up connections at the same instant."""
    what = once(target_time)
    return at_once(api, n, lambda client, _i: client.request("GET", "/accounts"),
                   lambda client, _i: plain(client, last_key(keys), target_time, what))


@then("exactly one of those copies is authenticated, and the others are refused with 401")
def one_copy(responses: list[Any]) -> None:
    for outcome in responses:
        if isinstance(outcome, AssertionError):
            raise outcome
        if not isinstance(outcome, httpx.Response):
            raise RuntimeError(f"a copy did not complete: {outcome!r}")
    statuses = [r.status_code for r in responses]
    if 429 in statuses:
        raise Inconclusive(f"the target throttled some copies (429): {statuses}")
    assert all(s < 500 for s in statuses), f"concurrent copies crashed the server: {statuses}"
    passed = [s for s in statuses if s != 401]
    assert len(passed) == 1, (
        f"{len(passed)} of {len(statuses)} copies of one signed request were authenticated: "
        f"{statuses}")


# --- the x-date window -----------------------------------------------------------------------


@when(parsers.re(r"they send a request signed with an x-date (?P<offset>[+-]?\d+) seconds from "
                 r"the target's time$"), target_fixture="response")
def skewed(api: ApiClient, keys: tuple[Key, ...], server_time: TargetTime, offset: str
           ) -> httpx.Response:
    x_date = format_x_date(server_time() + int(offset))
    return plain(api, last_key(keys), server_time, Signed("GET", "/accounts", x_date=x_date))


WINDOW_POINTS = {
    "60 seconds before the start": lambda w: -(w + 60),
    "60 seconds past the end": lambda w: w + 60,
    "halfway back to the start": lambda w: -w / 2,
    "halfway on to the end": lambda w: w / 2,
}


@when(parsers.parse("they send a request signed with an x-date {where} of the declared window"),
      target_fixture="response")
def at_window_edge(api: ApiClient, target: Target, keys: tuple[Key, ...],
                   server_time: TargetTime, where: str) -> httpx.Response:
    window = target.config.hmac_skew_seconds
    if window is None:
        pytest.skip("not run: the target declares no x-date window (hmac_skew_seconds in "
                    f"[target] of {target.config.source})")
    x_date = format_x_date(server_time() + WINDOW_POINTS[where](window))
    return plain(api, last_key(keys), server_time, Signed("GET", "/accounts", x_date=x_date))


# --- a service account's organization --------------------------------------------------------


def reader(target: Target) -> Key:
    configured = target.service_key("reader")
    return Key("reader", str(configured.service_account_id), configured.access_key,
               configured.secret_key, None)


@when(parsers.parse("they walk every page of {resource} signed with the reader key"),
      target_fixture="signed_items")
def signed_walk(api: ApiClient, target: Target, target_time: TargetTime, resource: str
                ) -> list[Mapping[str, Any]]:
    key = reader(target)
    items: list[Mapping[str, Any]] = []
    for page in range(1, 11):
        response = signed(api, key, target_time, "GET", f"/{resource}",
                          params={"page": page, "quantity": 100})
        with charged_to("HMAC-1"):
            authenticated(response)
        body = page_body(response)
        items += [i for i in body["results"] if isinstance(i, Mapping)]
        if len(body["results"]) < 100:
            break
    return items


@then("every item belongs to the admin user's organization")
def items_in_org(api: ApiClient, actors: Actors, target: Target,
                 signed_items: list[Mapping[str, Any]]) -> None:
    from dpaas_conformance.service_accounts import organization_of

    home = organization_of(api, actors, "admin")
    foreign = [i.get("id") for i in signed_items if i.get("organization_id") != home]
    assert not foreign, (
        f"the reader's signed list shows items of another organization than {home!r}: "
        f"{foreign[:5]}")
    others = {p.email.casefold() for p in target.config.principals.values()
              if p.name == "other"}
    leaked = [i.get("email") for i in signed_items
              if str(i.get("email", "")).casefold() in others]
    assert not leaked, f"the reader's signed list shows the other organization's user {leaked}"


@when("the reader key signs a read of the account the other user created",
      target_fixture="response")
def reader_reads_foreign(api: ApiClient, target: Target, created: tuple[Created, ...],
                         target_time: TargetTime) -> httpx.Response:
    theirs = last_account(created, "other")
    return signed(api, reader(target), target_time, "GET", account_path(theirs["id"]))
