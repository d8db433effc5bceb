"""The membership fixture (`[fixtures.membership]`), checked before any scenario.

USER-4 judges `GET /users?account_id=X` against what the configuration says X's members are. If
the configuration names an account the admin's organization does not have, or an email that is
no user of it, USER-4 would blame the target for the configuration's mistake: the run stops
instead, INCONCLUSIVE, with the line to fix. Only a list that answers 200 is read; any other
answer is left to the scenarios to judge.
"""

from __future__ import annotations

from typing import Any

import httpx
from dpaas_conformance.library.classes import USERS
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.limits import Limits
from dpaas_conformance.library.outcomes import BrokenAnswer
from dpaas_conformance.library.preflight import PreflightError
from dpaas_conformance.library.target import Config

LOGIN = "/authentication/login"
MAX_PAGES = 100


def check_membership(base_url: str, config: Config, limits: Limits | None = None) -> None:
    fixture = config.membership
    if fixture is None or USERS not in config.classes or "admin" not in config.principals:
        return
    client = ApiClient(base_url, limits=limits, check=False)
    try:
        token = _token(client, config)
        if token is None:
            return
        where = f"[fixtures.membership] in {config.source}"
        accounts = _every(client, token, "/accounts")
        if accounts is not None and fixture.account_id not in {
                str(a.get("id")) for a in accounts if isinstance(a, dict)}:
            raise PreflightError(
                f"{where} names account_id {fixture.account_id!r}, which is not among the admin "
                "principal's accounts: give the id of an account of the admin's organization")
        users = _every(client, token, "/users")
        if users is not None:
            emails = {str(u.get("email", "")).casefold() for u in users if isinstance(u, dict)}
            strangers = [e for e in (*fixture.members, *fixture.non_members)
                         if e.casefold() not in emails]
            if strangers:
                raise PreflightError(
                    f"{where} names {strangers}, who are not users of the admin's organization: "
                    "members and non_members must be its users' emails")
    except (httpx.TransportError, BrokenAnswer):
        return  # the scenarios meet the same trouble and judge it
    finally:
        client.close()


def _token(client: ApiClient, config: Config) -> str | None:
    response = client.request("POST", LOGIN, json=config.principals["admin"].credentials())
    try:
        body = response.json()
    except ValueError:
        return None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if response.status_code == 200 and isinstance(token, str) else None


def _every(client: ApiClient, token: str, path: str) -> list[Any] | None:
    """Every item of a list, or None when the list does not answer as a list does."""
    items: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        response = client.request("GET", path, params={"page": page, "quantity": 100},
                                  token=token)
        try:
            body = response.json()
        except ValueError:
            return None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(
                body.get("results"), list):
            return None
        items += body["results"]
        if len(body["results"]) < 100:
            return items
    return items
