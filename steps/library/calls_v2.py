"""The DPaaS calls profile v2 adds: one account by id, updates, deletes, lists with a filter,
and ids that never existed.

A never-existing id has the shape of a real one: the real id with one character changed within
its class (digit, hex, letter), made right before it is used (with sequential ids a later create
could take it), and checked first: a GET of it must not be a 2xx.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from dpaas_conformance.library.calls import (
    MAX_PAGES,
    MAX_QUANTITY,
    Session,
    Walk,
    list_page,
    page_body,
    unique_name,
    walk,
)
from dpaas_conformance.library.client import ApiClient, body_of, excerpt
from dpaas_conformance.library.instants import same_instant
from dpaas_conformance.library.outcomes import Inconclusive, TargetFailure
from dpaas_conformance.library.schemas import problems

METHODS = ("GET", "PUT", "PATCH", "DELETE")
#: the fields of an account a reader compares (ACC-6's, and metadata where both have it)
COMPARED = ("id", "name", "organization_id", "is_default", "is_active", "created_at",
            "updated_at")
#: candidates tried for a never-existing id before the suite gives up (inconclusive)
MAX_CANDIDATES = 40


def account_path(account_id: Any) -> str:
    return f"/accounts/{account_id}"


def get_account(api: ApiClient, session: Session, account_id: Any) -> httpx.Response:
    return api.request("GET", account_path(account_id), token=session.access_token)


def send(api: ApiClient, session: Session, method: str, account_id: Any,
         body: Any = None) -> httpx.Response:
    """One request on one account; PUT and PATCH get a harmless valid body unless given one."""
    if body is None and method in ("PUT", "PATCH"):
        body = {"name": unique_name()}
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    return api.request(method, account_path(account_id), token=session.access_token, **kwargs)


def read_account(api: ApiClient, session: Session, account_id: Any) -> dict[str, Any]:
    """A GET that must answer the account (an assertion about the scenario's own ids)."""
    response = get_account(api, session, account_id)
    assert response.status_code == 200, (
        f"GET {account_path(account_id)} answered {response.status_code}: "
        f"{excerpt(response, 200)}"
    )
    account = body_of(response)
    found = problems("account", account)
    assert not found, f"GET {account_path(account_id)} is not an account: {'; '.join(found)}"
    return account


def same_account(seen: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """The compared fields that differ, as readable lines (empty when they agree). Timestamps
    agree when they name one instant: a list may write `+00:00` where a read writes `Z`, or
    trim a fraction's zeros, and still show the same account."""
    fields = [*COMPARED, *(["metadata"] if "metadata" in seen and "metadata" in expected
                           else [])]
    return [f"{f}: {expected.get(f)!r} became {seen.get(f)!r}" for f in fields
            if not agree(f, seen.get(f), expected.get(f))]


def agree(field: str, seen: Any, expected: Any) -> bool:
    """Whether a field reads as it did: a timestamp (`…_at`) as the same instant."""
    return same_instant(seen, expected) if field.endswith("_at") else bool(seen == expected)


def is_success(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


# --- ids that never existed ------------------------------------------------------------------

HEX = "0123456789abcdef"


def _alphabet(text: str, char: str) -> str:
    """The class of `char` within the id: digits, hex (when the whole id is hex), letters."""
    lowered = text.lower()
    if char.isdigit() and all(c.isdigit() for c in text):
        return string.digits
    if char.lower() in HEX and all(c in HEX or c == "-" for c in lowered):
        return HEX.upper() if char.isupper() else HEX
    if char.isdigit():
        return string.digits
    if char.isascii() and char.isalpha():
        return string.ascii_uppercase if char.isupper() else string.ascii_lowercase
    return ""


def variants_of(real: str) -> Iterator[str]:
    """Ids of the same shape: one character changed within its class, last characters first."""
    for position in range(len(real) - 1, -1, -1):
        alphabet = _alphabet(real, real[position])
        for replacement in alphabet:
            if replacement != real[position]:
                yield real[:position] + replacement + real[position + 1:]


def never_existing_id(api: ApiClient, session: Session, real: Any, path: str = "/accounts"
                      ) -> str:
    """A variant of `real` that a GET (as `session`) does not find; made right before use."""
    if not isinstance(real, str) or not real:
        raise TargetFailure("ACC-6", f"ids are JSON strings, got {real!r}")
    for tried, candidate in enumerate(variants_of(real)):
        if tried >= MAX_CANDIDATES:
            break
        response = api.request("GET", f"{path}/{candidate}", token=session.access_token)
        if not is_success(response):
            return candidate
    raise Inconclusive(f"could not make an id of the shape of {real!r} that does not exist "
                       f"(tried {MAX_CANDIDATES})")


# --- lists with a filter ---------------------------------------------------------------------


def walk_with(api: ApiClient, session: Session, resource: str, params: Mapping[str, Any],
              order: str | None = None, quantity: int | None = None) -> Walk:
    """Every page of a filtered list (see `calls.walk`), each item kept whole: a filtered list
    is judged on everything it shows (USER-8)."""
    return walk(api, session, resource, order, quantity, params=params, fields=None)


def every_page(api: ApiClient, session: Session, resource: str, params: Mapping[str, Any]
               ) -> list[httpx.Response]:
    """The answers to every page of a list, stopping at the first that is not a 200 page: a
    list that may be refused (a 403) is judged on what it answered."""
    answers = []
    for page in range(1, MAX_PAGES + 1):
        response = list_page(api, session, resource, {**params, "page": page,
                                                      "quantity": MAX_QUANTITY})
        answers.append(response)
        if response.status_code != 200:
            break
        if len(page_body(response)["results"]) < MAX_QUANTITY:
            break
    return answers


def live_defaults(api: ApiClient, session: Session) -> list[Mapping[str, Any]]:
    """The live accounts reading is_default true, over every page of the default list."""
    found: dict[Any, Mapping[str, Any]] = {}
    for page in range(1, MAX_PAGES + 1):
        body = page_body(list_page(api, session, "accounts",
                                   {"page": page, "quantity": MAX_QUANTITY}))
        for a in body["results"]:
            if isinstance(a, Mapping) and a.get("is_default") is True:
                found.setdefault(a.get("id"), a)
        if len(body["results"]) < MAX_QUANTITY:
            break
    return list(found.values())
