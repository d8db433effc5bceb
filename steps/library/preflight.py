"""The checks that run before any scenario, so that a mistake in the setup is never a verdict.

A missing or invalid configuration, a target where nothing answers, or a configured principal the
target refuses to log in are the user's to fix: the run stops with one line saying what to fix and
the verdict INCONCLUSIVE. The line is drawn with care, because a broken login must never hide
behind INCONCLUSIVE: a login that answers 5xx, or 200 with a body that breaks AUTH-1, is the
target's failure, and the run goes on so that the login scenarios fail it. So is an answer that
starts and then cannot be read (a flood of headers, a body cut short, a stall past the request's
deadline): "nothing answers" is said only when no connection could be made.

A line never shows a configured password, even when the target echoes it back.
"""

from __future__ import annotations

from typing import Any

import httpx
from dpaas_conformance.library.calls import unique_name
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.limits import Limits
from dpaas_conformance.library.masking import redact
from dpaas_conformance.library.outcomes import BrokenAnswer, Inconclusive
from dpaas_conformance.library.target import Config, Principal

LOGIN = "/authentication/login"
BROKEN = ""  # what _check_login returns for an answer that could not be read (never a token)


class PreflightError(Exception):
    """One line: what is wrong with the setup and what to do about it."""


#: What each principal must be allowed to do; a 403 means the configuration names the wrong
#: user. Any other answer is left to the scenarios to judge.
ALLOWED: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "admin": [("GET", "/accounts", {}), ("GET", "/users", {}),
              ("POST", "/accounts", {})],
    "limited": [("GET", "/accounts", {})],
    "other": [("GET", "/accounts", {})],
}


def check_target(base_url: str, config: Config, limits: Limits | None = None) -> None:
    """Raise PreflightError unless the target answers and every principal can log in and do
    what the suite expects of it."""
    client = ApiClient(base_url, limits=limits, check=False)
    passwords = [p.password for p in config.principals.values()]
    try:
        for principal in config.principals.values():
            token = _check_login(client, base_url, config, principal)
            if token == BROKEN or (token and not _check_allowed(client, config, principal,
                                                                 token)):
                break  # an answer that cannot be read: the scenarios judge it, and the rest
    except PreflightError as exc:
        raise PreflightError(redact(str(exc), passwords)) from None
    finally:
        client.close()


def _check_allowed(client: ApiClient, config: Config, principal: Principal, token: str) -> bool:
    """False when an answer could not be read (a stall costs the request's whole deadline, so
    the preflight does not wait for it again)."""
    for method, path, body in ALLOWED.get(principal.name, []):
        kwargs: dict[str, Any] = (
            {"params": {"quantity": 1}} if method == "GET"
            else {"json": {**body, "name": unique_name("Preflight ")}}
        )
        try:
            response = client.request(method, path, token=token, **kwargs)
        except (httpx.TransportError, BrokenAnswer, Inconclusive):
            return False  # the scenarios meet the same trouble and judge it
        if response.status_code == 403:
            raise PreflightError(
                f"the {principal.name} principal ({principal.email}) may not {method} {path} "
                f"(403){_error_text(response)}: configure a user with that permission in "
                f"{config.source}"
            )
    return True


def _check_login(
    client: ApiClient, base_url: str, config: Config, principal: Principal
) -> str | None:
    """The access token; None when the login's answer is left for the scenarios to judge, and
    BROKEN when it could not be read (a stall costs the request's whole deadline: the preflight
    does not wait for one again)."""
    try:
        response = client.request("POST", LOGIN, json=principal.credentials())
    except (BrokenAnswer, Inconclusive):
        return BROKEN  # an answer the target broke (or the run's budget): the scenarios judge it
    except httpx.TransportError as exc:
        raise PreflightError(
            f"nothing answers at {base_url} ({type(exc).__name__}: {exc or 'no detail'}): start "
            "the server or correct --base-url"
        ) from exc
    status = response.status_code
    who = f"the {principal.name} principal ({principal.email} in {principal.organization_slug})"
    if status < 300 or status >= 500:
        # The target's answer to judge: the login scenarios fail a broken one.
        return _token(response) if status == 200 else None
    if 300 <= status < 400:
        where = response.headers.get("location", "elsewhere")
        raise PreflightError(
            f"POST {base_url}{LOGIN} is redirected ({status}) to {where}: use the URL the API "
            "answers at as --base-url"
        )
    said = _error_text(response)
    if status in (404, 405):
        raise PreflightError(
            f"POST {base_url}{LOGIN} answers {status}{said}: --base-url must be the URL under "
            "which /authentication/login lives"
        )
    if status == 429:
        raise PreflightError(
            f"the target throttles logins for {who} (429, Retry-After "
            f"{response.headers.get('retry-after', '?')} s): wait, then run again"
        )
    raise PreflightError(
        f"{who} cannot log in: {status}{said}; check its email, password and organization_slug "
        f"in {config.source}"
    )


def _token(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f' ("{body["message"][:120]}")'
    return ""
