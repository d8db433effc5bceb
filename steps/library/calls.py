"""The DPaaS calls the steps make, and the immutable state that flows between steps.

Steps hand state on through pytest-bdd's `target_fixture`: a step returns a new `Actors` (who is
logged in, and who "they" are), a `Walk`, a tuple of `Created` accounts or a response, and a later
step asks for it by name. Nothing here is mutated after it is made.

A call used as a precondition ("Given they have created 3 accounts") that the target gets wrong
raises `TargetFailure` naming the requirement it broke (ACC-2 for a create, AUTH-1 for a login),
so an accounts scenario whose login fails blames the login, not the accounts.

Walks are bounded by what they have seen: a walk stops at a short page, at the page the total
says is the last, after STALE_PAGES full pages in a row that bring no item it has not seen (a
list that repeats itself is not walked to its claimed end; one page of repeats can happen when
others create a hundred accounts between two requests), and at MAX_PAGES; it keeps of each item
only the fields the checks read (`KEPT`), so a walk over large items holds little.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.masking import secret
from dpaas_conformance.library.outcomes import (
    Inconclusive,
    TargetFailure,
    call_failure,
    charged_to,
)
from dpaas_conformance.library.schemas import assert_valid, problems
from dpaas_conformance.library.target import Principal
from faker import Faker

fake = Faker()
MAX_PAGES = 1000  # bounds every walk, even against a target that never stops paging
STALE_PAGES = 2  # full pages in a row with nothing new, after which a walk stops
MAX_QUANTITY = 100
LOGIN = "/authentication/login"
REFRESH = "/authentication/refresh"
TOKEN_KEYS = ("access_token", "refresh_token")
#: What a walk keeps of each item: every field a check of a walk reads (USER-7 reads the types
#: of a user's status fields and metadata, USER-6 its last login, ACC-16 a deleted marker).
KEPT = ("id", "organization_id", "email", "name", "created_at", "updated_at", "is_active",
        "is_verified", "mfa_enabled", "metadata", "last_login_at", "is_default", "deleted_at")


def unique_name(prefix: str = "") -> str:
    """Unique across workers and runs: faker for readability, random hex for uniqueness."""
    return f"{prefix}Conformance {fake.word().title()} {secrets.token_hex(4)}"


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One principal's tokens, as the scenario last saw them."""

    principal: Principal
    access_token: str
    refresh_token: str
    previous_refresh_token: str | None = None

    def __post_init__(self) -> None:
        """Tokens are secrets: a failing step's arguments show them masked (see masking)."""
        for name in ("access_token", "refresh_token", "previous_refresh_token"):
            object.__setattr__(self, name, secret(getattr(self, name)))

    def rotated(self, tokens: Mapping[str, Any]) -> Session:
        return replace(self, access_token=tokens["access_token"],
                       refresh_token=tokens["refresh_token"],
                       previous_refresh_token=self.refresh_token)


@dataclass(frozen=True)
class Actors:
    """Who has logged in during the scenario; "they" is whoever logged in last."""

    sessions: Mapping[str, Session] = field(default_factory=dict)
    current: str | None = None

    @property
    def they(self) -> Session:
        if self.current is None:
            raise RuntimeError("the scenario says 'they' before anyone logged in")
        return self.sessions[self.current]

    def named(self, name: str | None) -> Session:
        """"the limited user ..." acts as that principal, who must have logged in."""
        if name is None:
            return self.they
        if name not in self.sessions:
            raise RuntimeError(f"the scenario has not logged in the {name} user")
        return self.sessions[name]

    def with_session(self, session: Session) -> Actors:
        name = session.principal.name
        return Actors({**self.sessions, name: session}, name)


@dataclass(frozen=True)
class Created:
    """An account the scenario created, and who created it."""

    by: str
    account: Mapping[str, Any]


@dataclass(frozen=True)
class Walk:
    """Every item a walk over every page saw, and the total the list gave before it began."""

    resource: str
    by: str
    items: tuple[Mapping[str, Any], ...]
    total_before: int


# --- logging in and refreshing ---------------------------------------------------------------


def log_in(api: ApiClient, principal: Principal) -> httpx.Response:
    return api.request("POST", LOGIN, json=principal.credentials())


def start_session(api: ApiClient, principal: Principal) -> Session:
    """Log in as a precondition: the preflight showed these credentials work."""
    with charged_to("AUTH-1"):
        response = log_in(api, principal)
    who = f"the {principal.name} principal ({principal.email} in {principal.organization_slug})"
    if response.status_code in (401, 403, 429):
        raise Inconclusive(
            f"the target refused to log in {who} ({response.status_code}, Retry-After "
            f"{response.headers.get('retry-after', '-')}): a lockout or throttling after the "
            "suite's own failed logins?"
        )
    if response.status_code != 200:
        raise TargetFailure("AUTH-1", f"logging in {who} answered {response.status_code}: "
                                      f"{excerpt(response, 200)}")
    with charged_to("AUTH-1"):
        tokens = body_of(response)
    found = problems("token", tokens)
    if found:
        raise TargetFailure("AUTH-1", f"the login body for {who} is not a token response: "
                                      + "; ".join(found))
    return Session(principal, tokens["access_token"], tokens["refresh_token"])


def refresh(api: ApiClient, token: Any) -> httpx.Response:
    return api.request("POST", REFRESH, json={"refresh_token": token})


def token_body(response: httpx.Response) -> dict[str, Any]:
    """A successful token response (login or refresh), checked before anything reads it: a
    wrong one breaks AUTH-1 for a login and AUTH-8 for a refresh."""
    requirement = "AUTH-8" if response.request.url.path.endswith(REFRESH) else "AUTH-1"
    if response.status_code == 429:
        raise Inconclusive(f"the target throttled this call (429, Retry-After "
                           f"{response.headers.get('retry-after', '-')})")
    with charged_to(requirement):
        assert response.status_code == 200, (
            f"expected 200 with tokens, got {response.status_code}: {excerpt(response)}"
        )
        body = body_of(response)
        assert_valid("token", body, requirement)
    return body


def sent_json(response: httpx.Response) -> Any:
    """The JSON body of the request that got this response: what the step sent."""
    return json.loads(response.request.content)


# --- lists -----------------------------------------------------------------------------------


def list_page(
    api: ApiClient, session: Session, resource: str,
    params: Mapping[str, Any] | str | None = None,
) -> httpx.Response:
    return api.request("GET", f"/{resource}", params=params, token=session.access_token)


def page_body(response: httpx.Response) -> dict[str, Any]:
    """A list page, checked before anything reads it: a list that does not answer with its
    envelope breaks LIST-1 (a read that ERR-5 guards renames it; see `charged_to`)."""
    if response.status_code == 429:
        raise Inconclusive(f"the target throttled a list (429, Retry-After "
                           f"{response.headers.get('retry-after', '-')})")
    if response.status_code != 200:
        raise call_failure("LIST-1", f"listing {response.request.url.path} answered "
                                     f"{response.status_code}: {excerpt(response)}")
    with charged_to("LIST-1"):
        body = body_of(response)
    assert_valid("list", body)
    return body


def kept(item: Any, fields: tuple[str, ...] | None = KEPT) -> Any:
    """What a walk keeps of an item (see KEPT; None: all of it)."""
    if isinstance(item, Mapping):
        return {k: item[k] for k in (item if fields is None else fields) if k in item}
    return item if not isinstance(item, str) else item[:200]


def walk(
    api: ApiClient, session: Session, resource: str, order: str | None = None,
    quantity: int | None = None, params: Mapping[str, Any] | None = None,
    fields: tuple[str, ...] | None = KEPT,
) -> Walk:
    """Every page of a list, in pages of `quantity` (default: about a third of the total).

    Stops on a short page, or when the total says no page follows: a walk never asks for a page
    past the end, whose answer is a separate (SHOULD) requirement. Stops too at a full page that
    brings nothing new, and after MAX_PAGES: the checks then judge what was seen. `params`
    filter the list (`account_id`, `include_deleted`); `fields` are what is kept of each item
    (None: all of it).
    """
    params = dict(params or {})
    first = page_body(list_page(api, session, resource, {**params, "quantity": 1}))["total"]
    if quantity is None:
        quantity = min(MAX_QUANTITY, max(1, math.ceil(first / 3)))
    seen: list[Any] = []
    ids: set[Any] = set()
    stale = 0
    for page in range(1, MAX_PAGES + 1):
        query: dict[str, Any] = {**params, "page": page, "quantity": quantity}
        if order:
            query["order_by"] = order
        body = page_body(list_page(api, session, resource, query))
        if body["page"] != page:
            raise call_failure("LIST-1", f"asked for page {page}, the body says page "
                                         f"{body['page']}")
        if len(body["results"]) > quantity:
            raise call_failure("LIST-2", f"page {page} holds {len(body['results'])} items, "
                                         f"more than quantity={quantity}")
        stale = 0 if _new_ids(body["results"], ids) else stale + 1
        seen.extend(kept(item, fields) for item in body["results"])
        if (len(body["results"]) < quantity or page * quantity >= body["total"]
                or stale >= STALE_PAGES):
            break
    return Walk(resource, session.principal.name, tuple(seen), first)


def _new_ids(items: list[Any], ids: set[Any]) -> int:
    """How many of the items the walk has not seen before (items without an id count)."""
    new = 0
    for item in items:
        key = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(key, str | int) or key not in ids:
            new += 1
        if isinstance(key, str | int):
            ids.add(key)
    return new


def find(api: ApiClient, session: Session, resource: str, field: str, value: Any
         ) -> Mapping[str, Any] | None:
    """The first item whose `field` equals `value`, over every page (newest first); like a
    walk, it stops after STALE_PAGES pages in a row that bring nothing new."""
    ids: set[Any] = set()
    stale = 0
    for page in range(1, MAX_PAGES + 1):
        body = page_body(list_page(api, session, resource,
                                   {"page": page, "quantity": MAX_QUANTITY}))
        for item in body["results"]:
            if isinstance(item, Mapping) and item.get(field) == value:
                return item
        stale = 0 if _new_ids(body["results"], ids) else stale + 1
        if len(body["results"]) < MAX_QUANTITY or stale >= STALE_PAGES:
            return None
    return None


# --- accounts --------------------------------------------------------------------------------


def create_account(api: ApiClient, session: Session, body: Any) -> httpx.Response:
    return api.request("POST", "/accounts", json=body, token=session.access_token)


def account_total(api: ApiClient, session: Session) -> int:
    with charged_to("LIST-1"):
        return int(page_body(list_page(api, session, "accounts", {"quantity": 1}))["total"])


def new_account(api: ApiClient, session: Session, name: str) -> Created:
    """Create an account as a precondition: a failure here breaks ACC-2 (ACC-6 for its fields)."""
    with charged_to("ACC-2"):
        response = create_account(api, session, {"name": name, "is_default": False})
        if response.status_code == 429:
            raise Inconclusive("the target throttled a create (429, Retry-After "
                               f"{response.headers.get('retry-after', '-')})")
        assert 200 <= response.status_code < 300, (
            f"creating account {name!r} answered {response.status_code}: "
            f"{excerpt(response, 200)}")
        account = body_of(response)
    found = problems("account", account)
    if found:
        raise TargetFailure("ACC-6", f"the created account lacks what every account has: "
                                     f"{'; '.join(found)}")
    return Created(session.principal.name, account)
