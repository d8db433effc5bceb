"""HMAC-signed requests from service-account keys (the SERVICE class): checking one.

A signed request carries `Authorization: HMAC {access_key}:{signature}`, `x-date`, `x-nonce` and
`x-content-sha256`; the signature is the padded standard Base64 of HMAC-SHA256(secret_key, six
lines: method, path, query, x-date, x-nonce, x-content-sha256), the path and query exactly as the
request line carries them. A request is authenticated only if, in this order:
1. the four headers are there, once each, and parse (`x-date` is `YYYY-MM-DDTHH:MM:SSZ`);
2. `x-date` is within `hmac_skew_seconds` of the server's clock, either way;
3. the signature checks out against the key's secret (`hmac.compare_digest`). An unknown access
   key is checked against a sealed dummy secret, the same work as a known key (CWE-208), and
   both get the same answer;
4. the body's SHA-256 is `x-content-sha256` (the body is read only now, from a caller who holds
   the key);
5. the key is active and not expired on the server's clock, its service account and that
   service account's account are live and active, and the client's address is in the key's
   `ip_allowlist` (if it has one);
6. the nonce was never used with this key: its first use is recorded durably (fsynced, so kept
   across a restart) until its `x-date` leaves the window, whatever the answer to the request
   turns out to be (a 403 uses it up too, so a refused request cannot be replayed once a right
   is granted).
Anything else is 401 `Unauthorized` with `WWW-Authenticate: HMAC`; never a 5xx.

`HmacVerifier`'s steps are methods, so that the mutation harness can build servers that get one
of them wrong (`Components.hmac`); the product only ever uses this class.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import hdrs, web

from .clients import ClientAddresses
from .config import Settings
from .errors import ServiceUnavailable, TooManyRequests, Unauthorized
from .service_keys import SecretBox
from .store import SigningRecord, Store
from .tokens import Identity
from .validation import read_body

SCHEME = "hmac"
X_DATE, X_NONCE, X_CONTENT_SHA256 = "x-date", "x-nonce", "x-content-sha256"
SIGNED_HEADERS = (hdrs.AUTHORIZATION, X_DATE, X_NONCE, X_CONTENT_SHA256)
CHALLENGE = {hdrs.WWW_AUTHENTICATE: "HMAC"}
#: bounds of what is parsed at all (longer values are no key, nonce or signature of ours)
MAX_ACCESS_KEY = 128
MAX_SIGNATURE = 128
MAX_NONCE = 128
_TOKEN = re.compile(r"[!-~]+")  # visible ASCII, no space
_X_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
#: the one answer for an unknown key and a wrong signature (CWE-204)
BAD_SIGNATURE = "Invalid request signature"


def refused(message: str) -> Unauthorized:
    return Unauthorized(message, headers=CHALLENGE)


def is_signed(request: web.BaseRequest) -> bool:
    """Whether the request names the HMAC scheme (in any case) in its Authorization header."""
    value = request.headers.get(hdrs.AUTHORIZATION, "")
    return value.strip().partition(" ")[0].lower() == SCHEME


@dataclass(frozen=True)
class SignedParts:
    """What the headers of a signed request say, parsed."""

    access_key: str
    signature: str
    x_date: str
    date: float
    nonce: str
    content_sha256: str


class HmacVerifier:
    """Checks signed requests for one app: its settings, store and sealed secrets."""

    def __init__(self, settings: Settings, store: Store, box: SecretBox,
                 clients: ClientAddresses) -> None:
        self.settings = settings
        self.store = store
        self.box = box
        self.clients = clients

    async def authenticate(self, request: web.Request) -> Identity:
        """The service account behind a signed request, or a 401 (see the module docstring)."""
        parts = self.parse(request)
        now = self.settings.clock()
        if not self.date_ok(parts.date, now):
            raise refused("x-date is too far from the server's time")
        record = await self.store.signing_key(parts.access_key)
        path, query = self.target(request)
        text = "\n".join((request.method.upper(), path, query, parts.x_date, parts.nonce,
                          parts.content_sha256))
        sealed = record.sealed_secret if record is not None else self.box.dummy
        secret = self.box.open(sealed)
        expected = self.sign(secret if secret is not None else "", text)
        if not self.signature_ok(expected, parts.signature) or record is None or secret is None:
            raise refused(BAD_SIGNATURE)
        body = await read_body(request)
        if not self.body_ok(body, parts.content_sha256):
            raise refused("x-content-sha256 is not the SHA-256 of the body")
        problem = record.problem or self.key_problem(record, request, now)
        if problem is not None:
            raise refused(problem)
        await self.use_nonce(record, parts, now)
        return Identity(user_id=record.service_account_id,
                        organization_id=record.organization_id,
                        statements=record.statements,
                        service_account_id=record.service_account_id)

    # ------------------------------------------------------------------ the steps

    def parse(self, request: web.Request) -> SignedParts:
        """The four headers, each sent once and well formed; else a 401 saying which."""
        values: dict[str, str] = {}
        for name in SIGNED_HEADERS:
            found = request.headers.getall(name, [])
            if len(found) != 1:
                raise refused(f"A signed request needs exactly one {name.lower()} header")
            values[name] = found[0].strip()
        scheme, _, credentials = values[hdrs.AUTHORIZATION].partition(" ")
        access_key, colon, signature = credentials.strip().partition(":")
        if (scheme.lower() != SCHEME or not colon or not access_key or not signature
                or len(access_key) > MAX_ACCESS_KEY or len(signature) > MAX_SIGNATURE
                or not _TOKEN.fullmatch(access_key) or not _TOKEN.fullmatch(signature)):
            raise refused("Authorization must be HMAC ACCESS_KEY:SIGNATURE")
        nonce = values[X_NONCE]
        if len(nonce) > MAX_NONCE or not _TOKEN.fullmatch(nonce):
            raise refused(f"x-nonce must be 1 to {MAX_NONCE} visible ASCII characters")
        content_sha256 = values[X_CONTENT_SHA256]
        if not _HEX64.fullmatch(content_sha256):
            raise refused("x-content-sha256 must be the hex SHA-256 of the body")
        date = parse_x_date(values[X_DATE])
        if date is None:
            raise refused("x-date must be YYYY-MM-DDTHH:MM:SSZ (UTC)")
        return SignedParts(access_key, signature, values[X_DATE], date, nonce, content_sha256)

    def target(self, request: web.Request) -> tuple[str, str]:
        """The path and the query as the request line carries them (no decoding)."""
        path, _, query = request.raw_path.partition("?")
        return path, query

    def date_ok(self, date: float, now: float) -> bool:
        return abs(now - date) <= self.settings.hmac_skew_seconds

    def sign(self, secret_key: str, text: str) -> str:
        digest = hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"),
                          hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def signature_ok(self, expected: str, given: str) -> bool:
        return hmac.compare_digest(expected.encode("ascii"),
                                   given.encode("utf-8", "surrogateescape"))

    def body_ok(self, body: bytes, declared: str) -> bool:
        """Lowercase hex, as the profile writes it (uppercase would be a free extra)."""
        return hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared)

    def key_problem(self, record: SigningRecord, request: web.Request, now: float
                    ) -> str | None:
        """Why an authentic request with this key is refused: expired (on the server's clock,
        never `x-date`'s), or from outside its allowlist; else None."""
        if record.expires_ts is not None and now >= record.expires_ts:
            return "This key has expired"
        if record.ip_allowlist and not in_allowlist(self.clients.address_of(request),
                                                    record.ip_allowlist):
            return "This key may not be used from this address"
        return None

    async def use_nonce(self, record: SigningRecord, parts: SignedParts, now: float) -> None:
        """The nonce's first use with this key, recorded durably until `x-date` leaves the
        window; a 401 if it was used before (429 or 503 when too many are kept)."""
        outcome = await self.store.use_nonce(record.key_id, parts.nonce,
                                             parts.date + self.settings.hmac_skew_seconds)
        if outcome == "used":
            raise refused("This nonce has been used already")
        if outcome == "key_full":
            raise TooManyRequests(self.settings.hmac_skew_seconds,
                                  "Too many signed requests with this key, try again later")
        if outcome == "full":
            raise ServiceUnavailable(self.settings.hmac_skew_seconds)


def parse_x_date(value: str) -> float | None:
    """`YYYY-MM-DDTHH:MM:SSZ` as a POSIX time, or None. The fields are those the pattern
    matched, read as `time.strptime` reads them (a second of 60 or 61 runs on into the next
    minute, as `calendar.timegm` counts it), without its cost (a third of parsing the headers)."""
    match = _X_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    if hour > 23 or minute > 59 or second > 61:
        return None
    try:
        start = datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
    except (ValueError, OverflowError):
        return None
    return start + second


def in_allowlist(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
                 allowlist: Sequence[str]) -> bool:
    if address is None:
        return False
    for entry in allowlist:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # validated at issue; a hand-edited entry allows nothing
            continue
    return False

