"""The calls the SERVICE class adds: service accounts, their keys, signed requests, the target's
time; and the immutable state they hand from step to step.

Paths come from the config's `[paths]` (the profile's defaults otherwise). Every service account
and key a scenario makes is undone when the scenario ends, pass or fail (a finalizer): each key
it was issued is revoked, and each service account deactivated where the target allows (PATCH
`is_active: false`, else DELETE). A key's `secret_key` is a `Secret` (masked wherever shown)
and is remembered for the whole run (`issued.py`), so that no later answer may show it (KEY-2).

Signed requests are signed with the public signer (`dpaas_conformance.hmac_auth`) at the
target's time: the embedded server's clock, or the local clock corrected by the target's `Date`
header, so that a suite on a machine whose clock is off is not refused for it. A request sent
with headers that do not match what was signed (the tamper checks) is signed from what it was
and sent as it is changed (`signed_then`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from dpaas_conformance.hmac_auth import HmacAuth, format_x_date, signed_headers
from dpaas_conformance.library.calls import (
    MAX_QUANTITY,
    Session,
    new_account,
    page_body,
    unique_name,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.issued import IssuedKeys
from dpaas_conformance.library.masking import secret
from dpaas_conformance.library.outcomes import (
    Inconclusive,
    TargetFailure,
    call_failure,
    charged_to,
)
from dpaas_conformance.library.target import Target

SERVICE_ACCOUNTS = "/service-accounts"
#: how long a key's `expires_at` may wait to pass on a target whose clock the suite does not hold
EXPIRY_WAIT = 4.0


def format_instant(when: float) -> str:
    """An ISO 8601 time in UTC with `Z`, to the second (what `expires_at` is sent as)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(when)))


def service_account_path(service_account_id: Any) -> str:
    return f"{SERVICE_ACCOUNTS}/{quote(str(service_account_id), safe='')}"


def is_success(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


def authenticated(response: httpx.Response) -> None:
    """A signed request that should work was authenticated: not 401, no server error (HMAC-1);
    a 403 proves authentication too (the service account may have no rights)."""
    if response.status_code == 429:
        raise Inconclusive("the target throttled a signed request (429)")
    assert response.status_code != 401 and response.status_code < 500, (
        f"a request signed with a key that should work answered {response.status_code}: "
        f"{excerpt(response, 200)}")


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    """A service account the scenario created, and who created it."""

    by: str
    shown: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.shown["id"])

    @property
    def account_id(self) -> Any:
        return self.shown.get("account_id")


@dataclass(frozen=True)
class Key:
    """A key the target issued to the scenario: the issuing answer, its secret kept apart."""

    by: str
    service_account_id: str
    access_key: str
    secret_key: str
    id: str | None
    shown: Mapping[str, Any] = field(default_factory=dict)  # the answer, without the secret

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret_key", secret(self.secret_key))

    def auth(self, clock: Callable[[], float]) -> HmacAuth:
        return HmacAuth(self.access_key, self.secret_key, clock=clock)


# --- the target's time -----------------------------------------------------------------------


def date_of(response: httpx.Response) -> float | None:
    """The `Date` header as a POSIX time (it has whole seconds), or None."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def measure_offset(api: ApiClient) -> float | None:
    """How far the target's clock is ahead of ours, from the `Date` of an unauthenticated
    request's answer (None: it sends none). `Date` is truncated to the second, so the middle
    of that second is taken; the error stays within about a second plus the round trip."""
    before = time.time()
    response = api.request("GET", "/accounts")
    after = time.time()
    date = date_of(response)
    return None if date is None else date + 0.5 - (before + after) / 2


class TargetTime:
    """The target's time, as `x-date` must carry it: the embedded server's own clock, or ours
    corrected by the offset its `Date` header showed."""

    def __init__(self, clock: Callable[[], float] | None, offset: float | None) -> None:
        self.clock = clock
        self.offset = offset

    def __call__(self) -> float:
        if self.clock is not None:
            return float(self.clock())
        return time.time() + (self.offset or 0.0)


# --- service accounts ------------------------------------------------------------------------


def some_account(api: ApiClient, session: Session) -> str:
    """An account of the caller's organization for a service account to belong to, made by
    this scenario: an account picked from the list may be another scenario's, which that
    scenario may delete while this one still signs with a key of it (HMAC-12 then rightly
    refuses the key, and the suite would blame the target for its own choice)."""
    return str(new_account(api, session, unique_name()).account["id"])


def create_service_account(api: ApiClient, target: Target, session: Session, body: Any
                           ) -> httpx.Response:
    return api.request("POST", target.paths.of("service_account_create"), json=body,
                       token=session.access_token)


def new_service_account(request: pytest.FixtureRequest, api: ApiClient, target: Target,
                        session: Session, account_id: str | None = None) -> ServiceAccount:
    """Create a service account as a precondition (a failure breaks SA-3), deactivated when the
    scenario ends."""
    account = account_id if account_id is not None else some_account(api, session)
    body = {"name": unique_name("SA "), "account_id": account,
            "description": "made by the conformance suite"}
    with charged_to("SA-3"):
        response = create_service_account(api, target, session, body)
        if response.status_code == 429:
            raise Inconclusive("the target throttled a create (429)")
        assert is_success(response), (
            f"creating a service account answered {response.status_code}: "
            f"{excerpt(response, 200)}")
        shown = body_of(response)
        assert isinstance(shown, dict) and isinstance(shown.get("id"), str) and shown["id"], (
            f"the created service account has no string id: {excerpt(response, 200)}")
    request.addfinalizer(lambda: deactivate_quietly(api, session, shown["id"]))
    return ServiceAccount(session.principal.name, shown)


def deactivate(api: ApiClient, session: Session, service_account_id: str) -> str | None:
    """Deactivate (PATCH `is_active: false`), else delete, a service account; which one the
    target accepted, or None when it accepts neither."""
    path = service_account_path(service_account_id)
    patched = api.request("PATCH", path, json={"is_active": False}, token=session.access_token)
    if is_success(patched):
        return "PATCH"
    deleted = api.request("DELETE", path, token=session.access_token)
    return "DELETE" if is_success(deleted) else None


def deactivate_quietly(api: ApiClient, session: Session, service_account_id: str) -> None:
    """The suite's obligation at teardown: the verdict is made already, so a failure here is
    only said, not charged."""
    try:
        deactivate(api, session, service_account_id)
    except Exception as exc:  # the verdict is made; the target keeps an active account
        warnings.warn(f"could not deactivate service account {service_account_id}: {exc}",
                      stacklevel=1)


# --- keys ------------------------------------------------------------------------------------


def issue_key(api: ApiClient, target: Target, session: Session, service_account_id: str,
              body: Any) -> httpx.Response:
    """The one answer allowed to show a secret (USER-2, KEY-2)."""
    return api.request("POST", target.paths.of("key_issue", id=service_account_id), json=body,
                       token=session.access_token, shows_secret=True)


def key_of(response: httpx.Response, service_account_id: str, by: str,
           issued: IssuedKeys | None) -> Key:
    """The key an issuing answer holds (a finding of KEY-1 if it holds none), remembered for the
    run (KEY-2); a repeat of an earlier key, or a colon in the access key, breaks KEY-8."""
    with charged_to("KEY-1"):
        body = body_of(response)
        assert isinstance(body, dict), f"the issued key is not a JSON object: {excerpt(response)}"
        for name in ("access_key", "secret_key"):
            value = body.get(name)
            assert isinstance(value, str) and value, (
                f"the answer that issued a key has no {name} string: {excerpt(response)}")
        assert "expires_at" in body, f"the issued key has no expires_at: {excerpt(response)}"
    key = Key(by, service_account_id, body["access_key"], body["secret_key"],
              str(body["id"]) if isinstance(body.get("id"), str | int) else None,
              {k: v for k, v in body.items() if k != "secret_key"})
    repeats = issued.add(key.access_key, key.secret_key) if issued is not None else []
    if ":" in key.access_key:
        repeats.append(f"its access_key {key.access_key!r} holds a colon, the separator of "
                       "the Authorization header")
    if repeats:
        raise TargetFailure("KEY-8", "a new key " + "; ".join(repeats))
    return key


def new_key(request: pytest.FixtureRequest, api: ApiClient, target: Target, issued: IssuedKeys,
            session: Session, service_account_id: str, body: Mapping[str, Any] | None = None
            ) -> Key:
    """Issue a key as a precondition (a failure breaks KEY-1), revoked when the scenario ends."""
    with charged_to("KEY-1"):
        response = issue_key(api, target, session, service_account_id,
                             dict(body or {"description": "made by the conformance suite"}))
        if response.status_code == 429:
            raise Inconclusive("the target throttled a key issue (429)")
        assert is_success(response), (
            f"issuing a key answered {response.status_code}: {excerpt(response, 200)}")
    key = key_of(response, service_account_id, session.principal.name, issued)
    request.addfinalizer(lambda: revoke_quietly(api, target, session, key))
    return key


def key_id_of(api: ApiClient, target: Target, session: Session, key: Key) -> str:
    """The key's id: from its issuing answer, else found by access key in the key list (KEY-1
    asks for the id only at SHOULD)."""
    if key.id is not None:
        return key.id
    for page in range(1, 11):
        response = list_keys(api, target, session, key.service_account_id,
                             {"page": page, "quantity": MAX_QUANTITY})
        with charged_to("KEY-4"):
            body = page_body(response)
        for item in body["results"]:
            if isinstance(item, Mapping) and item.get("access_key") == key.access_key:
                return str(item.get("id"))
        if len(body["results"]) < MAX_QUANTITY:
            break
    raise call_failure("KEY-5", f"the key {key.access_key!r} has no id in its issuing answer "
                                "and is not in its service account's key list: it cannot be "
                                "revoked")


def list_keys(api: ApiClient, target: Target, session: Session, service_account_id: str,
              params: Mapping[str, Any] | None = None) -> httpx.Response:
    return api.request("GET", target.paths.of("key_list", id=service_account_id), params=params,
                       token=session.access_token)


def revoke(api: ApiClient, target: Target, session: Session, service_account_id: str,
           key_id: str) -> httpx.Response:
    return api.request("DELETE", target.paths.of("key_revoke", id=service_account_id,
                                                 key_id=key_id), token=session.access_token)


def revoke_quietly(api: ApiClient, target: Target, session: Session, key: Key) -> None:
    """The suite's obligation at teardown: revoke every key it was issued (a failure is said,
    not charged: the verdict is made)."""
    try:
        revoke(api, target, session, key.service_account_id, key_id_of(api, target, session, key))
    except Exception as exc:  # the verdict is made; the key stays
        warnings.warn(f"could not revoke key {key.access_key}: {exc}", stacklevel=1)


# --- signed requests -------------------------------------------------------------------------


def signed(api: ApiClient, key: Key, clock: Callable[[], float], method: str, path: str,
           **kwargs: Any) -> httpx.Response:
    """One request signed with `key` at the target's time."""
    return api.request(method, path, auth=key.auth(clock), **kwargs)


def wire_target(api: ApiClient, method: str, path: str, params: Any = None) -> str:
    """The path and query exactly as httpx will send them."""
    built = api._http.build_request(method, path, params=params)
    return built.url.raw_path.decode("ascii")


@dataclass(frozen=True)
class Signed:
    """A request as it was signed; `sent` may differ from it (the tamper checks)."""

    method: str
    path: str
    body: bytes = b""
    x_date: str | None = None
    nonce: str | None = None


def signed_then(api: ApiClient, key: Key, clock: Callable[[], float], what: Signed,
                sent: Signed | None = None, secret_key: str | None = None,
                headers: Mapping[str, str] | None = None,
                drop: tuple[str, ...] = ()) -> httpx.Response:
    """Sign `what`, then send `sent` (by default `what` itself) with those headers; `headers`
    replace some of them after signing, `drop` leaves some out."""
    sent = sent or what
    signature = signed_headers(
        key.access_key, secret_key if secret_key is not None else key.secret_key, what.method,
        wire_target(api, what.method, what.path), what.body,
        x_date=what.x_date or format_x_date(clock()), nonce=what.nonce)
    final = {**signature, **(headers or {})}
    for name in drop:
        final = {k: v for k, v in final.items() if k.lower() != name.lower()}
    if sent.body:
        final.setdefault("Content-Type", "application/json")
    return api.request(sent.method, sent.path, content=sent.body, headers=final)

