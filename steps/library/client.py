"""The one HTTP client every step uses.

Every response passes two checks that hold whatever the scenario is about: a body sent as JSON is
strictly valid JSON (ERR-4), and no response shows a password, a password hash or a secret
(USER-2). A breach raises `TargetFailure` naming that requirement.

Every request is bounded (see `limits` and `transport`): a total deadline, and caps on what an
answer may hold. An answer that breaks them, or that the target starts and then breaks off (a
connection closed mid-body, a flood of headers, a body nested past any parser's depth), is a
finding about the call (`BrokenAnswer`). A connection refused, or closed before any byte of an
answer, is not: the network may have failed, and the scenario is inconclusive.

The client records each exchange so that a failing scenario can print what was sent and what came
back, with passwords and tokens masked: the report is meant to be pasted into a bug tracker. It
keeps at most `RETAINED` bytes of each body, so that a long walk does not hold every page.
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
from dpaas_conformance.library.issued import IssuedKeys
from dpaas_conformance.library.leaks import find_leaks
from dpaas_conformance.library.limits import Limits
from dpaas_conformance.library.masking import mask
from dpaas_conformance.library.outcomes import BrokenAnswer, Inconclusive, TargetFailure, printable
from dpaas_conformance.library.transport import (
    ACCEPT_ENCODING,
    Guard,
    GuardedTransport,
    guarded,
    read_body,
)

SECRET_KEYS = {"password", "access_token", "refresh_token", "token", "secret", "secret_key"}
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
PARSED_FOR_DISPLAY = 64 * 1024  # larger bodies are shown from their first bytes, never parsed
RETAINED = 16 * 1024  # bytes of a body the exchange log keeps
SECRET_VALUE = re.compile(
    r'("(?:password|access_token|refresh_token|token|secret|secret_key)"\s*:\s*")([^"\\]*)',
    re.IGNORECASE)


class _Http(httpx.Client):
    """httpx's client without a cookie jar: each request carries what its step says and nothing
    a target asked the suite to keep, so a cookie set in one scenario cannot authenticate (or
    break) another's requests. httpx reads the jar and fills it through `cookies`: each use gets
    an empty one, dropped after."""

    @property  # type: ignore[override]  # read-only: nothing may set cookies on the suite
    def cookies(self) -> httpx.Cookies:
        return httpx.Cookies()


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


def _mask_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: mask(v) if k.lower() in SECRET_KEYS and isinstance(v, str) else _mask_json(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


def _masked_text(raw: bytes, limit: int) -> str:
    """The first bytes of a body as text, secret-named JSON string values masked."""
    text = raw[:limit * 2].decode("utf-8", "replace")
    return SECRET_VALUE.sub(lambda m: m.group(1) + mask(m.group(2)), text)


def _readable(raw: bytes, indent: int | None, limit: int) -> str:
    """JSON with its secrets masked; a large body, or one that is not JSON, as masked text."""
    if len(raw) <= PARSED_FOR_DISPLAY:
        try:
            return json.dumps(_mask_json(json.loads(raw)), indent=indent, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
    return _masked_text(raw, limit)


def _show_body(raw: bytes, size: int | None = None) -> str:
    if not raw:
        return "(empty)"
    text = _readable(raw, 2, MAX_BODY_SHOWN)
    size = len(raw) if size is None else size
    if len(text) > MAX_BODY_SHOWN or size > len(raw):
        text = f"{text[:MAX_BODY_SHOWN]}… ({size} bytes in all)"
    return text


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of a body for an assertion message, with tokens and passwords masked.

    Failure messages end up in CI logs and bug trackers just like the exchange log, so they mask
    the same secrets; a body that is not JSON is shown as text.
    """
    text = _readable(response.content, None, limit)
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
    size: int | None = None  # the body's size, when the response kept is a shortened copy

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
            parts.append(_indent(_show_body(resp.content, self.size)))
        return "\n".join(p for p in parts if p)


def retained(response: httpx.Response) -> Exchange:
    """The exchange as the log keeps it: a long body shortened to its first RETAINED bytes."""
    if len(response.content) <= RETAINED:
        return Exchange(response.request, response)
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    copy = httpx.Response(response.status_code, headers=headers,
                          content=response.content[:RETAINED], request=response.request)
    return Exchange(response.request, copy, size=len(response.content))


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
        raise BrokenAnswer(
            f"the answer to {response.request.method} {response.request.url.path}: {exc}, "
            "deeper than any answer of this API and than common JSON parsers read") from exc


class ApiClient:
    """A synchronous httpx client bound to the target; safe to share between threads.

    `passwords` are the configured principals' passwords: they are looked for in every response
    (USER-2) and masked wherever they appear in the exchange log. `issued` holds the run's key
    secrets, looked for in every response too (KEY-2). `transport` stands in for the guarded
    network (the tests answer from a handler).
    """

    def __init__(
        self,
        base_url: str,
        *,
        passwords: Iterable[str] = (),
        limits: Limits | None = None,
        check: bool = True,
        issued: IssuedKeys | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._http = _Http(
            base_url=base_url, timeout=self.limits.read_timeout, follow_redirects=False,
            transport=transport or GuardedTransport(tls_context()),
            headers={"Accept-Encoding": ACCEPT_ENCODING},
        )
        self._lock = threading.Lock()
        self.passwords = tuple(p for p in passwords if p)
        self.check = check
        self.issued = issued
        self.exchanges: list[Exchange] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        shows_secret: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One bounded request; `shows_secret`: the answer may hold a new key's `secret_key`
        (the answer that issues a key, KEY-1), the one place a secret may show (USER-2)."""
        if token is not None:
            auth = BearerAuth(token)
        request = self._http.build_request(method, path, **kwargs)
        what = f"{method} {request.url.path}"
        response: httpx.Response | None = None
        with guarded(self.limits) as guard:
            try:
                response = self._http.send(request, auth=auth, stream=True)
                content = read_body(response, self.limits, what)
            except (httpx.HTTPError, BrokenAnswer) as exc:
                # The request that went out carries the Authorization header the auth added.
                sent = response.request if response is not None else request
                self._record(Exchange(sent, None, f"{type(exc).__name__}: {exc}"))
                failure = self._failure(exc, guard, what)
                if failure is exc:
                    raise
                raise failure from exc
            finally:
                if response is not None:
                    response.close()
        response._content = content  # read here, within the caps (see transport.read_body)
        self._record(retained(response))
        values = content.count(b"[") + content.count(b"{") + content.count(b",")
        if values > self.limits.value_cap:
            raise BrokenAnswer(
                f"the answer to {what} holds about {values} JSON values: far more than any "
                "answer of this API, so the suite does not parse it")
        if self.check:
            self.check_response(response, shows_secret)
        return response

    def _failure(self, exc: Exception, guard: Guard, what: str) -> Exception:
        """What a failed exchange says: about the target (BrokenAnswer), about the run's budget
        (Inconclusive), or nothing (the original error: the scenario is inconclusive)."""
        if isinstance(exc, BrokenAnswer):
            return exc
        if guard.expired and guard.cut_by_run:
            return Inconclusive(f"the run's budget (--dpaas-run-budget) ran out while {what} "
                                "was waiting for its answer")
        got = f"{guard.received} bytes of an answer" if guard.received else "no answer"
        if guard.expired:
            return BrokenAnswer(
                f"{what}: {got} within the request's deadline of "
                f"{self.limits.request_deadline:g} s: the target stalls")
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return exc
        if isinstance(exc, httpx.TimeoutException):
            return BrokenAnswer(f"{what}: {got}, and nothing more for "
                                f"{self.limits.read_timeout:g} s (the limit of one read): the "
                                "target stalls")
        if guard.received and isinstance(exc, httpx.TransportError | httpx.DecodingError):
            return BrokenAnswer(f"{what}: the target's answer broke off or cannot be read as "
                                f"HTTP after {guard.received} bytes ({type(exc).__name__}: {exc})")
        return exc

    def check_response(self, response: httpx.Response, shows_secret: bool = False) -> None:
        """ERR-4, USER-2 and KEY-2, for every response whatever the scenario checks."""
        if self.issued is not None and self.issued.leaked_in(response.content):
            raise TargetFailure("KEY-2", f"the answer to {response.request.method} "
                                         f"{response.request.url.path} shows the secret_key of "
                                         "a key issued earlier in the run (or configured)")
        if not response.content or not strictjson.is_json_media_type(
            response.headers.get("content-type")
        ):
            return
        body = body_of(response)
        if shows_secret and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "secret_key"}
        leaks = find_leaks(body, self.passwords, response.text)
        if leaks:
            raise TargetFailure("USER-2", "a response reveals " + "; ".join(leaks[:5]))

    def sibling(self) -> ApiClient:
        """A client with its own connection that records into the same list (for races)."""
        other = ApiClient(str(self._http.base_url), passwords=self.passwords,
                          limits=self.limits, check=self.check, issued=self.issued)
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
