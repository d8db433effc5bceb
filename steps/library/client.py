"""The one HTTP client every step uses.

Every response passes two checks that hold whatever the scenario is about: a body sent as JSON is
strictly valid JSON (ERR-4), and no response shows a password, a password hash or a secret
(USER-2). A breach raises `TargetFailure` naming that requirement.

The client records each exchange so that a failing scenario can print what was sent and what came
back, with passwords and tokens masked: the report is meant to be pasted into a bug tracker.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from dpaas_conformance.library import strictjson
from dpaas_conformance.library.leaks import find_leaks
from dpaas_conformance.library.outcomes import Inconclusive, TargetFailure, printable

SECRET_KEYS = {"password", "access_token", "refresh_token", "token", "secret"}
SHOWN_HEADERS = {
    "allow",
    "cache-control",
    "content-type",
    "location",
    "pragma",
    "retry-after",
    "www-authenticate",
}
MAX_BODY_SHOWN = 2000
TIMEOUT = 15.0


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for the whole run: building one costs ~25 ms per client."""
    return ssl.create_default_context()


class BearerAuth(httpx.Auth):
    """Sends an access token, or any raw Authorization value a scenario wants to try."""

    def __init__(self, token: str | None = None, *, raw: str | None = None) -> None:
        self.value = raw if raw is not None else f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.value
        yield request


def mask(value: str) -> str:
    """Keeps enough of a secret to tell two apart, never enough to reuse it."""
    if len(value) <= 8:
        return "***"
    return f"{value[:6]}…{value[-2:]} ({len(value)} chars, masked)"


def _mask_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: mask(v) if k.lower() in SECRET_KEYS and isinstance(v, str) else _mask_json(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


def _show_body(raw: bytes) -> str:
    if not raw:
        return "(empty)"
    try:
        text = json.dumps(_mask_json(json.loads(raw)), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = raw.decode("utf-8", "replace")
    if len(text) > MAX_BODY_SHOWN:
        text = f"{text[:MAX_BODY_SHOWN]}… ({len(raw)} bytes in all)"
    return text


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of a body for an assertion message, with tokens and passwords masked.

    Failure messages end up in CI logs and bug trackers just like the exchange log, so they mask
    the same secrets; a body that is not JSON is shown as text.
    """
    try:
        text = json.dumps(_mask_json(json.loads(response.content)), ensure_ascii=False)
    except (ValueError, RecursionError):
        text = response.content.decode("utf-8", "replace")
    return text if len(text) <= limit else f"{text[:limit]}…"


def _show_headers(headers: Mapping[str, str]) -> str:
    lines = []
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credential = value.partition(" ")
            value = f"{scheme} {mask(credential)}" if credential else value
        elif name.lower() not in SHOWN_HEADERS:
            continue
        lines.append(f"  {name}: {value}")
    return "\n".join(lines)


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response | None
    error: str | None = None

    def render(self) -> str:
        req = self.request
        parts = [f"> {req.method} {req.url}", _show_headers(req.headers)]
        if req.content:
            parts.append(_indent(_show_body(req.content)))
        if self.response is None:
            parts.append(f"< no response: {self.error}")
        else:
            resp = self.response
            parts.append(f"< {resp.status_code} {resp.reason_phrase}")
            parts.append(_show_headers(resp.headers))
            parts.append(_indent(_show_body(resp.content)))
        return "\n".join(p for p in parts if p)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def body_of(response: httpx.Response) -> Any:
    """The response's JSON body, parsed as strictly as RFC 8259 (see `strictjson`)."""
    try:
        return strictjson.loads(response.content)
    except strictjson.InvalidJson as exc:
        content_type = response.headers.get("content-type")
        if strictjson.is_json_media_type(content_type):
            raise TargetFailure("ERR-4", f"a body sent as {content_type} is not valid JSON: "
                                         f"{exc}") from exc
        raise AssertionError(
            f"expected a JSON body, got {content_type!r}: {excerpt(response, 200)!r}"
        ) from exc
    except strictjson.TooDeep as exc:
        raise Inconclusive(str(exc)) from exc


class ApiClient:
    """A synchronous httpx client bound to the target; safe to share between threads.

    `passwords` are the configured principals' passwords: they are looked for in every response
    (USER-2) and masked wherever they appear in the exchange log.
    """

    def __init__(
        self,
        base_url: str,
        *,
        passwords: Iterable[str] = (),
        timeout: float = TIMEOUT,
        check: bool = True,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, follow_redirects=False, verify=tls_context()
        )
        self._lock = threading.Lock()
        self.passwords = tuple(p for p in passwords if p)
        self.check = check
        self.exchanges: list[Exchange] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if token is not None:
            auth = BearerAuth(token)
        request = self._http.build_request(method, path, **kwargs)
        try:
            response = self._http.send(request, auth=auth)
        except httpx.HTTPError as exc:
            self._record(Exchange(request, None, f"{type(exc).__name__}: {exc}"))
            raise
        # The request that went out carries the Authorization header the auth flow added.
        self._record(Exchange(response.request, response))
        if self.check:
            self.check_response(response)
        return response

    def check_response(self, response: httpx.Response) -> None:
        """ERR-4 and USER-2, for every response whatever the scenario checks."""
        if not response.content or not strictjson.is_json_media_type(
            response.headers.get("content-type")
        ):
            return
        leaks = find_leaks(body_of(response), self.passwords, response.text)
        if leaks:
            raise TargetFailure("USER-2", "a response reveals " + "; ".join(leaks[:5]))

    def sibling(self) -> ApiClient:
        """A client with its own connection that records into the same list (for races)."""
        other = ApiClient(str(self._http.base_url), passwords=self.passwords,
                          timeout=self._http.timeout.read or TIMEOUT, check=self.check)
        other.exchanges, other._lock = self.exchanges, self._lock
        return other

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def report(self, last: int = 12) -> str:
        shown = self.exchanges[-last:]
        skipped = len(self.exchanges) - len(shown)
        head = [f"({skipped} earlier exchanges not shown)"] if skipped else []
        text = "\n\n".join(head + [e.render() for e in shown])
        return printable(self.redact(text))

    def redact(self, text: str) -> str:
        """Masks the configured passwords wherever they still show (a URL, an echoed message)."""
        for password in sorted(self.passwords, key=len, reverse=True):
            text = re.sub(re.escape(password), mask(password), text)
        return text

    def close(self) -> None:
        self._http.close()
