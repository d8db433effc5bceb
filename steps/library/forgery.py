"""Hostile variants of an access token, built by hand the way an attacker would.

PyJWT refuses to make most of these (it will not HMAC with an RSA public key, for one), which is
exactly why they are assembled here from base64url pieces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def encode(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{head}.{body}.{signature}"


def tampered_payload(token: str) -> str:
    header, payload, signature = parts(token)
    payload["sub"] = f"{payload.get('sub', '')}-someone-else"
    payload["exp"] = int(payload.get("exp", time.time())) + 3600
    return encode(header, payload, signature)


def forged_signature(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = bytearray(b64url_decode(signature) or b"\0")
    flipped[len(flipped) // 2] ^= 0xFF
    return f"{head}.{body}.{b64url(bytes(flipped))}"


def without_signature(token: str) -> str:
    head, body, _ = token.split(".")
    return f"{head}.{body}."


def alg_none(token: str) -> str:
    header, payload, _ = parts(token)
    return encode({**header, "alg": "none"}, payload, "")


def hs256_with_public_key(token: str, public_key: PublicKeyTypes) -> str:
    """The classic key-confusion attack: HMAC keyed with the server's own public key PEM."""
    return hs256_signed(token, public_pems(public_key)[0])


def public_pems(public_key: PublicKeyTypes) -> list[bytes]:
    """The forms a confused verifier may use as its HMAC secret: the PEM (SubjectPublicKeyInfo,
    as a JWT library loads it), the same without its final newline, and the PKCS#1 PEM."""
    spki = public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = public_key.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.PKCS1)
    return list(dict.fromkeys([spki, spki.rstrip(b"\n"), pkcs1]))


def hs256_signed(token: str, secret: bytes) -> str:
    """The token's claims and header (kid included), alg HS256, HMAC keyed with `secret`."""
    header, payload, _ = parts(token)
    unsigned = encode({**header, "alg": "HS256"}, payload, "").rstrip(".")
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64url(mac)}"


@cache
def stranger_key() -> rsa.RSAPrivateKey:
    """A key the target never saw; one per run, since making one takes ~100 ms."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed_by_stranger(token: str) -> str:
    """Same claims and kid, signed with a key the server never saw."""
    header, payload, _ = parts(token)
    key = stranger_key()
    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    return jwt.encode(payload, key, algorithm="RS256", headers=extra)


def expired_copy(token: str, private_key: Any, kid: str | None) -> str:
    """The same claims, issued and expired in the past, signed with the target's own key."""
    header, payload, _ = parts(token)
    now = int(time.time())
    payload = {**payload, "iat": now - 2000, "exp": now - 1100}
    headers = {"kid": kid or header.get("kid")} if (kid or header.get("kid")) else None
    return jwt.encode(payload, private_key, algorithm="RS256", headers=headers)
