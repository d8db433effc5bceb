"""Signing keys, the JWK Set, RS256 access tokens and rotating refresh tokens.

A refresh token is 57 bytes in unpadded base64url (76 characters):
    version (1) | family (16, a UUID) | position in the family (8) | random (16) | tag (16)
The tag is an HMAC-SHA256 (cut to 128 bits) of what precedes it, under a key derived from the
signing key: so a token's family and position can be trusted without a record of the token, and
a spent token is recognised as one (its position is below the family's; see
store/refresh_records.py) at a constant cost per family. The random part keeps tokens stored
only as hashes: the family's current token is checked against its SHA-256, which a holder of the
key alone cannot produce. Replacing the signing key ends every refresh-token family.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .config import Settings, StartupError
from .store import RotationResult, Store
from .store.snapshot import write_atomically
from .verified_tokens import VerifiedTokens

log = logging.getLogger("reference_server.tokens")

KEY_FILE = "signing-key.pem"
MIN_RSA_BITS = 2048
MAX_TOKEN_LENGTH = 8192
MAX_REFRESH_TOKEN_LENGTH = 512

REFRESH_FORMAT = 1
_REFRESH_BODY = 1 + 16 + 8 + 16
_REFRESH_TAG = 16
REFRESH_TOKEN_LENGTH = 76  # 57 bytes in unpadded base64url
_TAG_INFO = b"dpaas reference server: refresh token tags, format 1"


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def is_canonical_b64url(segment: str) -> bool:
    """Unpadded base64url in its one canonical spelling (RFC 7515 §2, RFC 4648 §3.5): no `=`,
    no other alphabet, no length that cannot be, no stray bits in the last character.

    Decoders (PyJWT's included) accept padding and ignore the stray bits, so without this one
    token would have many spellings, and a token with `==` appended would still verify.
    """
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        return False
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == segment


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """One RSA key: the private half signs, the public half verifies and is published."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    jwk: dict[str, str]

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        public_key = private_key.public_key()
        numbers = public_key.public_numbers()
        members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        # RFC 7638: SHA-256 over the required members, sorted, no whitespace.
        canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, **members}
        return cls(kid=kid, private_key=private_key, public_key=public_key, jwk=jwk)


def _works(key: rsa.RSAPrivateKey) -> bool:
    """A probe signed with the key verifies under its public half."""
    probe = b"dpaas-reference-server signing key probe"
    try:
        signature = key.sign(probe, padding.PKCS1v15(), hashes.SHA256())
        key.public_key().verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class Keyring:
    """The server's keys by `kid`; one active signing key. Only public members are published."""

    def __init__(self, active: SigningKey, retired: tuple[SigningKey, ...] = ()) -> None:
        self.active = active
        self._by_kid = {k.kid: k for k in (active, *retired)}

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Keyring:
        """Load `signing-key.pem` from the data dir, generating it (mode 0600) on first start."""
        path = Path(data_dir) / KEY_FILE
        if path.exists():
            try:
                # OpenSSL's consistency check of an RSA key costs more than making one (~35 ms,
                # at every start and for each server a test run starts); what matters of it,
                # that the key's signatures verify under the key it publishes, `_works` proves.
                key = serialization.load_pem_private_key(
                    path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
            except (OSError, ValueError, TypeError) as exc:
                raise StartupError(f"cannot load signing key {path}: {exc}") from exc
            if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
                raise StartupError(
                    f"signing key {path} is not an RSA key of >= {MIN_RSA_BITS} bits"
                )
            if not _works(key):
                raise StartupError(f"signing key {path} is damaged: its signatures do not verify")
            return cls(SigningKey.from_private_key(key))
        key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # Atomic and durable, directory included: a key lost in a crash would be replaced
            # by a new one, and every token issued with the old one would stop working.
            write_atomically(path, pem)
        except OSError as exc:
            raise StartupError(f"cannot write signing key {path}: {exc}") from exc
        log.info("generated a new RSA signing key in %s", path)
        return cls(SigningKey.from_private_key(key))

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        key = self._by_kid.get(kid)
        return key.public_key if key else None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [dict(k.jwk) for k in self._by_kid.values()]}


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def refresh_tag_key(key: SigningKey) -> bytes:
    """The key of refresh-token tags, derived from the signing key (no other secret to keep)."""
    der = key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TAG_INFO).derive(der)


@dataclass(frozen=True)
class RefreshClaim:
    """What a refresh token says of itself, once its tag checks out."""

    family_id: str
    counter: int


class RefreshTokens:
    """Mints and reads the refresh tokens of the format above."""

    def __init__(self, tag_key: bytes) -> None:
        self._key = tag_key

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_REFRESH_TAG]

    def mint(self, family_id: str, counter: int) -> str:
        body = (bytes([REFRESH_FORMAT]) + uuid.UUID(family_id).bytes
                + counter.to_bytes(8, "big") + secrets.token_bytes(16))
        return base64.urlsafe_b64encode(body + self._tag(body)).rstrip(b"=").decode("ascii")

    def read(self, token: str) -> RefreshClaim | None:
        """The family and position of a token of this format whose tag checks out, else None
        (a token of another format, or a forged one)."""
        if len(token) != REFRESH_TOKEN_LENGTH or not is_canonical_b64url(token):
            return None
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body, tag = raw[:_REFRESH_BODY], raw[_REFRESH_BODY:]
        if body[0] != REFRESH_FORMAT or not hmac.compare_digest(tag, self._tag(body)):
            return None
        return RefreshClaim(str(uuid.UUID(bytes=body[1:17])), int.from_bytes(body[17:25], "big"))


@dataclass(frozen=True)
class Identity:
    """The authenticated caller of a protected endpoint: a user (a bearer token), or a service
    account (a signed request; then `user_id` is the service account's id too)."""

    user_id: str
    organization_id: str
    statements: list[dict[str, Any]] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)
    service_account_id: str | None = None


class TokenService:
    """Issues and verifies access tokens and rotates refresh tokens.

    The methods a test may override to build a broken variant: `issue` (login),
    `rotate` (refresh), `verify_access_token` (bearer auth), `create_access_token`
    and `decode_access_token`.
    """

    def __init__(self, settings: Settings, store: Store, keyring: Keyring) -> None:
        self.settings = settings
        self.store = store
        self.keyring = keyring
        self.refresh_tokens = RefreshTokens(refresh_tag_key(keyring.active))
        self.verified = VerifiedTokens()

    # ------------------------------------------------------------------ access tokens

    def create_access_token(self, user_id: str, organization_id: str) -> str:
        now = int(self.settings.clock())
        claims = {
            "iss": self.settings.issuer,
            "sub": user_id,
            "org": organization_id,
            "iat": now,
            "exp": now + self.settings.access_token_ttl,
            "jti": str(uuid.uuid4()),
        }
        key = self.keyring.active
        return jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"typ": "JWT", "kid": key.kid}
        )

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        """Verified claims of a well-formed, correctly signed, unexpired token; else None.

        The signature is checked once per token (`verified_tokens.py`); the times on every call.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return None
        now = self.settings.clock()
        claims = self.verified.get(token, now)
        if claims is None:
            claims = self._signed_claims(token)
            if claims is None:
                return None
            self.verified.put(token, claims, now)
        return claims if self._claims_ok(claims) else None

    def _signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token in canonical form, with our header, signed by one of our keys
        and naming our issuer; else None. Depends on nothing but the token (and the keys)."""
        if token.count(".") != 2:
            return None
        if not all(is_canonical_b64url(segment) for segment in token.split(".")):
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != "RS256" or header.get("typ") != "JWT":
                return None
            key = self.keyring.public_key(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self.settings.issuer,
                options={
                    "verify_exp": False,  # checked on every call against the injectable clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "sub", "org", "iss"],
                },
            )
        except Exception as exc:  # any malformed input is a 401, never a 5xx
            log.debug("access token rejected: %s", exc)
            return None
        return claims

    def _claims_ok(self, claims: Mapping[str, Any]) -> bool:
        now = self.settings.clock()
        leeway = self.settings.iat_leeway
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", None)
        if type(exp) is not int or type(iat) is not int:
            return False
        if now >= exp or iat > now + leeway:
            return False
        if nbf is not None and (type(nbf) is not int or nbf > now + leeway):
            return False
        sub, org = claims.get("sub"), claims.get("org")
        return isinstance(sub, str) and bool(sub) and isinstance(org, str) and bool(org)

    async def verify_access_token(self, token: str) -> Identity | None:
        """The caller behind a bearer token, or None (bad token, or user gone/inactive)."""
        claims = self.decode_access_token(token)
        if claims is None:
            return None
        user = await self.store.get_active_user(claims["sub"], claims["org"])
        if user is None:
            return None
        return Identity(
            user_id=user["id"],
            organization_id=user["organization_id"],
            statements=list(user.get("statements") or []),
            claims=dict(claims),
        )

    # ------------------------------------------------------------------ refresh tokens

    def _token_response(self, user_id: str, organization_id: str, refresh: str) -> dict[str, Any]:
        return {
            "access_token": self.create_access_token(user_id, organization_id),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_ttl,
        }

    async def issue(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """Tokens for a fresh login: a new refresh-token family, durable before returning."""
        family = str(uuid.uuid4())
        refresh = self.refresh_tokens.mint(family, 0)
        now = self.settings.clock()
        await self.store.insert_refresh_token(
            {
                "hash": hash_refresh_token(refresh),
                "family_id": family,
                "user_id": user["id"],
                "org_id": user["organization_id"],
                "issued_at": now,
                "expires_at": now + self.settings.refresh_token_ttl,
            }
        )
        return self._token_response(user["id"], user["organization_id"], refresh)

    async def rotate(self, refresh_token: str) -> dict[str, Any] | None:
        """Exchange a refresh token for new tokens; None for any invalid/reused token.

        A token of the current format says which family and position it is; an earlier one
        (issued before this format) is looked up by its hash first, and its successor is of
        the current format.
        """
        if not refresh_token or len(refresh_token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        token_hash = hash_refresh_token(refresh_token)
        claim = self.refresh_tokens.read(refresh_token)
        if claim is None:
            if len(refresh_token) == REFRESH_TOKEN_LENGTH:
                return None  # this format's length, but not a token of this server
            record = await self.store.find_refresh_token(token_hash)
            if record is None:
                return None
            claim = RefreshClaim(record["family_id"], record["counter"])
        successor = self.refresh_tokens.mint(claim.family_id, claim.counter + 1)
        # The answer (an RS256 signature, as long as the fsync) is made while the rotation is
        # made durable, and sent only once it is (`Store.preparing`).
        prepared: dict[tuple[str, str], dict[str, Any]] = {}

        def prepare(value: Any) -> None:
            if isinstance(value, RotationResult) and value.status == "ok" and value.record:
                owner = (value.record["user_id"], value.record["org_id"])
                prepared[owner] = self._token_response(*owner, successor)

        with self.store.preparing(prepare):
            result = await self.store.rotate_refresh_token(
                token_hash,
                {"hash": hash_refresh_token(successor), "family_id": claim.family_id,
                 "counter": claim.counter + 1},
            )
        if result.status != "ok" or result.record is None:
            return None
        owner = (result.record["user_id"], result.record["org_id"])
        return prepared.get(owner) or self._token_response(*owner, successor)
