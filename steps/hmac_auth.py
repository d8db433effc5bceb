"""Sign requests to a DPaaS API with a service account's key (HMAC-SHA256), as httpx auth.

A service account's key is an `access_key` (public) and a `secret_key` (shown once, when the key
is issued). Every request carries four headers::

    Authorization: HMAC {access_key}:{signature}
    x-date: 2025-09-30T10:00:00Z            (UTC, to the second)
    x-nonce: 0f8f1f5e-...                   (a new UUID per request)
    x-content-sha256: e3b0c442...b855       (lowercase hex SHA-256 of the exact body bytes)

and the signature is the padded standard Base64 of the HMAC-SHA256, keyed with the UTF-8 bytes of
`secret_key`, of six lines joined by ``\\n`` (no final newline): the method in uppercase, the path
and the query exactly as they go on the wire (the query without its ``?``, an empty line when
there is none), then the three header values. `HmacAuth` hashes the exact bytes httpx sends
(`requires_request_body`), so any body, JSON or not, is signed as sent.

Five lines::

    import httpx
    from dpaas_conformance.hmac_auth import HmacAuth

    with httpx.Client(base_url="http://127.0.0.1:8000", auth=HmacAuth(ACCESS_KEY, SECRET_KEY)) as c:
        print(c.get("/accounts", params={"quantity": 5}).json())

A nonce may be used once: a request that must be sent again (after a timeout, say) is signed
again, which `HmacAuth` does for every request it sends. To sign for another tool, such as curl,
`python -m dpaas_conformance.hmac_auth GET URL` prints a curl command, reading the key from the
environment variables DPAAS_ACCESS_KEY and DPAAS_SECRET_KEY.

This module needs only httpx and the standard library (not pytest), so applications can use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Generator

import httpx

__all__ = [
    "EMPTY_BODY_SHA256",
    "HmacAuth",
    "content_sha256",
    "format_x_date",
    "sign",
    "signed_headers",
    "string_to_sign",
]

#: `x-content-sha256` of an empty body (a GET, a DELETE).
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SCHEME = "HMAC"


def content_sha256(body: bytes) -> str:
    """`x-content-sha256`: the lowercase hex SHA-256 of the exact body bytes."""
    return hashlib.sha256(body).hexdigest()


def format_x_date(when: float) -> str:
    """`x-date` for a POSIX time: `YYYY-MM-DDTHH:MM:SSZ`, in UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(when)))


def string_to_sign(method: str, path: str, query: str, x_date: str, nonce: str,
                   body_sha256: str) -> str:
    """The six lines a signature covers, joined by newlines, without a final one."""
    return "\n".join((method.upper(), path, query, x_date, nonce, body_sha256))


def sign(secret_key: str, text: str) -> str:
    """Padded standard Base64 (RFC 4648 §4) of HMAC-SHA256(UTF-8 of `secret_key`, `text`)."""
    digest = hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def split_target(target: str) -> tuple[str, str]:
    """The path and the query of a request target as sent (`/accounts?page=2`)."""
    path, _, query = target.partition("?")
    return path, query


def signed_headers(access_key: str, secret_key: str, method: str, target: str, body: bytes = b"",
                   *, x_date: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four headers of one request: `target` is its path and query exactly as sent."""
    path, query = split_target(target)
    x_date = x_date if x_date is not None else format_x_date(time.time())
    nonce = nonce if nonce is not None else str(uuid.uuid4())
    body_hash = content_sha256(body)
    signature = sign(secret_key, string_to_sign(method, path, query, x_date, nonce, body_hash))
    return {
        "Authorization": f"{SCHEME} {access_key}:{signature}",
        "x-date": x_date,
        "x-nonce": nonce,
        "x-content-sha256": body_hash,
    }


class HmacAuth(httpx.Auth):
    """httpx authentication that signs every request with a service account's key.

    `clock` gives the POSIX time written in `x-date` (the client's own by default; a client whose
    clock is off by minutes is refused, so pass one that follows the server's if need be).
    """

    requires_request_body = True

    def __init__(self, access_key: str, secret_key: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self.clock = clock

    def __repr__(self) -> str:
        return f"HmacAuth(access_key={self.access_key!r}, secret_key='***')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        target = request.url.raw_path.decode("ascii")
        request.headers.update(signed_headers(
            self.access_key, self._secret_key, request.method, target, request.content,
            x_date=format_x_date(self.clock())))
        yield request


def curl_command(method: str, url: str, access_key: str, secret_key: str,
                 body: bytes = b"") -> str:
    """A curl command that sends one signed request (its nonce works once, within minutes)."""
    parsed = httpx.URL(url)
    headers = signed_headers(access_key, secret_key, method, parsed.raw_path.decode("ascii"),
                             body)
    words = ["curl", "-sS", "-X", method.upper(), shlex.quote(str(parsed))]
    for name, value in headers.items():
        words += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        words += ["-H", shlex.quote("Content-Type: application/json"),
                  "--data-raw", shlex.quote(body.decode("utf-8"))]
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    """`python -m dpaas_conformance.hmac_auth METHOD URL [BODY]`: print a signed curl command."""
    args = sys.argv[1:] if argv is None else argv
    access_key, secret_key = os.environ.get("DPAAS_ACCESS_KEY"), os.environ.get("DPAAS_SECRET_KEY")
    if len(args) not in (2, 3) or not access_key or not secret_key:
        print("usage: DPAAS_ACCESS_KEY=... DPAAS_SECRET_KEY=... "
              "python -m dpaas_conformance.hmac_auth METHOD URL [JSON_BODY]", file=sys.stderr)
        return 2
    body = args[2].encode("utf-8") if len(args) == 3 else b""
    print(curl_command(args[0], args[1], access_key, secret_key, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
