"""The target's public signing keys, each shown to verify the target's own token before use.

AUTH-15's key-confusion check forges an HS256 token keyed with the target's RSA public key. Which
key that is cannot be taken on trust: a target may publish no JWK Set, or a decoy under the real
`kid`, and a forgery keyed with the wrong key proves nothing. So the suite gathers candidates from
the JWK Set and from the configured `[keys] signing_key` (the embedded server's own key when the
suite runs it) and keeps those that verify the RS256 signature of an access token the target just
issued. A published key that verifies nothing is AUTH-17's finding, reported by its scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from dpaas_conformance.library.client import ApiClient, body_of
from dpaas_conformance.library.outcomes import BrokenAnswer
from dpaas_conformance.library.schemas import problems

JWKS = "/.well-known/jwks.json"


@dataclass
class Keys:
    verified: list[Any] = field(default_factory=list)  # public keys that verify the token
    published_unverified: list[Any] = field(default_factory=list)
    configured_unverified: Path | None = None  # a configured key that does not verify it
    notes: list[str] = field(default_factory=list)  # why no key verifies, when none does


def verifies(token: str, public_key: Any) -> bool:
    """Whether the token's RS256 signature verifies with `public_key` (claims not judged)."""
    try:
        jwt.decode(token, public_key, algorithms=["RS256"],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                            "verify_aud": False, "verify_iss": False})
    except (jwt.PyJWTError, TypeError, ValueError):
        return False
    return True


def private_key(path: Path) -> Any:
    return _loaded(path.read_bytes())


@cache
def _loaded(pem: bytes) -> Any:
    """Loading an RSA key checks it (~0.1 s): once per key and process, not once per scenario
    that forges a token (the mutation harness runs thousands)."""
    return serialization.load_pem_private_key(pem, password=None)


def target_keys(api: ApiClient, token: str, configured: Path | None) -> Keys:
    keys = Keys()
    if configured is not None:
        public = private_key(configured).public_key()
        if verifies(token, public):
            keys.verified.append(public)
        else:
            keys.configured_unverified = configured
            keys.notes.append(f"the configured [keys] signing_key ({configured}) does not "
                              "verify the target's access token")
    try:
        response = api.request("GET", JWKS)
        body = body_of(response) if response.status_code == 200 else None
    except (AssertionError, BrokenAnswer) as exc:  # AUTH-17's own scenario judges the set
        keys.notes.append(f"its JWK Set cannot be read ({str(exc).splitlines()[0]})")
        return keys
    if body is None:
        keys.notes.append(f"the target publishes no JWK Set ({JWKS} answered "
                          f"{response.status_code})")
        return keys
    if problems("jwks", body):
        keys.notes.append("its JWK Set is not a valid set of public RSA keys")
        return keys
    published = []
    for jwk in body["keys"]:
        try:
            published.append(jwt.PyJWK(jwk).key)
        except (jwt.PyJWTError, TypeError, ValueError):
            continue
    good = [k for k in published if verifies(token, k)]
    keys.verified += good
    keys.published_unverified = [k for k in published if not verifies(token, k)]
    if not good:
        keys.notes.append("no key of its JWK Set verifies the target's access token")
    return keys
