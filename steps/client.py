"""The one HTTP client every step uses.

It records each exchange so that a failing scenario can print what was sent and what came back,
with passwords and tokens masked: the report is meant to be pasted into a bug tracker.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

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
    except ValueError:
        text = raw.decode("utf-8", "replace")
    if len(text) > MAX_BODY_SHOWN:
        text = f"{text[:MAX_BODY_SHOWN]}… ({len(raw)} bytes in all)"
    return text


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


class ApiClient:
    """A synchronous httpx client bound to the target; safe to share between threads."""

    def __init__(self, base_url: str, *, timeout: float = 15.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False)
        self._lock = threading.Lock()
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
        return response

    def sibling(self) -> ApiClient:
        """A client with its own connection that records into the same list (for races)."""
        other = ApiClient(str(self._http.base_url), timeout=self._http.timeout.read or 15.0)
        other.exchanges, other._lock = self.exchanges, self._lock
        return other

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def report(self, last: int = 12) -> str:
        shown = self.exchanges[-last:]
        skipped = len(self.exchanges) - len(shown)
        head = [f"({skipped} earlier exchanges not shown)"] if skipped else []
        return "\n\n".join(head + [e.render() for e in shown])

    def close(self) -> None:
        self._http.close()
