"""Access-token issue/verification attacks and refresh-token rotation, without HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reference_server.config import Settings, StartupError
from reference_server.store import TOKENS_DB, Store
from reference_server.store.core import TOKENS_COMPACT_MIN_BYTES
from reference_server.tokens import Keyring, TokenService, hash_refresh_token
from tests.support import FakeClock

ORG = "org-1"
USER = {"id": "user-1", "organization_id": ORG}


def _user_row(user_id: str, active: bool = True) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"{user_id}@example.com",
        "organization_id": ORG,
        "password_hash": "x",
        "statements": [],
        "is_active": active,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "updated_at": "2025-01-01T00:00:00.000000Z",
    }


@asynccontextmanager
async def service(
    tmp_path: Path, clock: FakeClock, **overrides: Any
) -> AsyncIterator[TokenService]:
    settings = Settings(data_dir=tmp_path, clock=clock, **overrides)
    store = Store(settings)
    await store.open()
    try:
        await store.seed_if_empty(
            {
                "organizations": [{"id": ORG, "slug": "org"}],
                "users": [_user_row("user-1"), _user_row("user-off", active=False)],
            }
        )
        yield TokenService(settings, store, Keyring.load_or_create(tmp_path))
    finally:
        await store.close()


def run(tmp_path: Path, body: Callable[[TokenService, FakeClock], Awaitable[None]]) -> None:
    clock = FakeClock()

    async def main() -> None:
        async with service(tmp_path, clock) as tokens:
            await body(tokens, clock)

    asyncio.run(main())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_rs256(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """Sign by hand, for headers PyJWT refuses to produce."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _segments(token: str) -> list[str]:
    return token.split(".")


# ---------------------------------------------------------------- access tokens


def test_issued_token_shape_and_jwks(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        out = await tokens.issue(USER)
        assert out["token_type"] == "Bearer" and out["expires_in"] == 900
        header = jwt.get_unverified_header(out["access_token"])
        assert header == {"alg": "RS256", "typ": "JWT", "kid": tokens.keyring.active.kid}
        claims = jwt.decode(out["access_token"], options={"verify_signature": False})
        assert claims["iss"] == "dpaas-reference"
        assert claims["sub"] == "user-1" and claims["org"] == ORG
        assert claims["iat"] == int(clock.now) and claims["exp"] - claims["iat"] == 900
        assert claims["jti"]
        jwks = tokens.keyring.jwks()
        (key,) = jwks["keys"]
        assert set(key) == {"kty", "use", "alg", "kid", "n", "e"}
        public = jwt.PyJWK(key).key
        jwt.decode(out["access_token"], public, algorithms=["RS256"], options={"verify_exp": False})
        identity = await tokens.verify_access_token(out["access_token"])
        assert identity is not None and identity.user_id == "user-1"

    run(tmp_path, body)


def test_keys_survive_restart(tmp_path: Path) -> None:
    first = Keyring.load_or_create(tmp_path)
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    second = Keyring.load_or_create(tmp_path)
    assert first.active.kid == second.active.kid


def test_a_damaged_key_file_is_refused_at_start(tmp_path: Path) -> None:
    """The key is loaded without OpenSSL's slow check; a probe signature stands in for it."""
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    damaged = rsa.RSAPrivateNumbers(good.p, good.q, good.d ^ 32, good.dmp1 ^ 4, good.dmq1,
                                    good.iqmp, good.public_numbers)
    key = damaged.private_key(unsafe_skip_rsa_key_validation=True)
    (tmp_path / "signing-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(StartupError, match="damaged"):
        Keyring.load_or_create(tmp_path)


def _forgeries(tokens: TokenService, good: str) -> dict[str, str]:
    head, payload, sig = _segments(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = tokens.keyring.active.kid
    public_pem = tokens.keyring.active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    hs_signing_input = f"{hs_header}.{payload}".encode()
    hs_sig = _b64(hmac.new(public_pem, hs_signing_input, hashlib.sha256).digest())
    tampered_payload = _b64(json.dumps({**claims, "org": "org-2"}).encode())
    return {
        "alg none": f"{none_header}.{payload}.",
        "alg none with sig": f"{none_header}.{payload}.{sig}",
        "HS256 with public key": f"{hs_header}.{payload}.{hs_sig}",
        "tampered payload": f"{head}.{tampered_payload}.{sig}",
        "stripped signature": f"{head}.{payload}.",
        "attacker key, real kid": jwt.encode(
            claims, attacker, algorithm="RS256", headers={"kid": kid}
        ),
        "attacker key, unknown kid": jwt.encode(
            claims, attacker, algorithm="RS256", headers={"kid": "nope"}
        ),
        "no kid": jwt.encode(claims, tokens.keyring.active.private_key, algorithm="RS256"),
        "kid not a string": _raw_rs256(
            {"alg": "RS256", "typ": "JWT", "kid": 7}, claims, tokens.keyring.active.private_key
        ),
        "kid traversal": _raw_rs256(
            {"alg": "RS256", "typ": "JWT", "kid": "../../etc/passwd"},
            claims,
            tokens.keyring.active.private_key,
        ),
        "two segments": f"{head}.{payload}",
        "four segments": f"{head}.{payload}.{sig}.x",
        "bad base64": f"{head}.!!!.{sig}",
        "non-json header": f"{_b64(b'not json')}.{payload}.{sig}",
        "nested json bomb": f"{_b64(b'[' * 5000 + b']' * 5000)}.{payload}.{sig}",
        "huge": f"{head}.{'A' * 100_000}.{sig}",
        "empty": "",
    }


def test_forged_and_malformed_tokens_rejected(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        good = (await tokens.issue(USER))["access_token"]
        assert await tokens.verify_access_token(good) is not None
        for name, token in _forgeries(tokens, good).items():
            assert await tokens.verify_access_token(token) is None, name

    run(tmp_path, body)


def _respellings(token: str) -> dict[str, str]:
    """The same signed token spelled differently: each decodes to the same bytes in a lenient
    base64 decoder, and none is the canonical unpadded base64url of RFC 7515 §2."""
    head, payload, sig = token.split(".")
    last = sig[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # A 256-byte signature is 342 characters: the last carries 2 bits and 4 unused ones.
    twin = alphabet[alphabet.index(last) | 0b0001]
    return {
        "signature with == appended": f"{head}.{payload}.{sig}==",
        "signature with = appended": f"{head}.{payload}.{sig}=",
        "payload padded": f"{head}.{payload}{'=' * (-len(payload) % 4)}.{sig}",
        "stray bits in the last character": f"{head}.{payload}.{sig[:-1]}{twin}",
        "standard base64 alphabet": f"{head}.{payload}.{sig.replace('-', '+').replace('_', '/')}",
        "whitespace inside": f"{head}.{payload}.{sig[:10]} {sig[10:]}",
    }


def test_a_token_is_accepted_only_in_canonical_base64url(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        for _ in range(8):  # some signatures have no '-' or '_' to swap: try several
            good = (await tokens.issue(USER))["access_token"]
            assert await tokens.verify_access_token(good) is not None
            for name, token in _respellings(good).items():
                if token != good:
                    assert await tokens.verify_access_token(token) is None, name

    run(tmp_path, body)


def _signed(tokens: TokenService, claims: dict[str, Any], **headers: Any) -> str:
    key = tokens.keyring.active
    return jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, **headers}
    )


def test_keyed_claim_checks(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        now = int(clock.now)
        base = {"iss": "dpaas-reference", "sub": "user-1", "org": ORG, "iat": now, "exp": now + 60}
        assert await tokens.verify_access_token(_signed(tokens, base)) is not None
        bad = {
            "missing exp": {k: v for k, v in base.items() if k != "exp"},
            "missing iat": {k: v for k, v in base.items() if k != "iat"},
            "missing org": {k: v for k, v in base.items() if k != "org"},
            "missing iss": {k: v for k, v in base.items() if k != "iss"},
            "exp as string": {**base, "exp": str(now + 60)},
            "wrong issuer": {**base, "iss": "someone-else"},
            "iat in the future": {**base, "iat": now + 60, "exp": now + 120},
            "nbf in the future": {**base, "nbf": now + 60},
            "other tenant": {**base, "org": "org-2"},
            "inactive user": {**base, "sub": "user-off"},
            "unknown user": {**base, "sub": "ghost"},
            "with audience": {**base, "aud": "x"},
        }
        for name, claims in bad.items():
            assert await tokens.verify_access_token(_signed(tokens, claims)) is None, name
        wrong_typ = _signed(tokens, base, typ="at+jwt")
        assert await tokens.verify_access_token(wrong_typ) is None
        assert await tokens.verify_access_token(_signed(tokens, {**base, "iat": now + 3})), (
            "small iat skew is tolerated"
        )

    run(tmp_path, body)


def test_expiry_follows_the_injected_clock(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        token = (await tokens.issue(USER))["access_token"]
        clock.advance(899)
        assert await tokens.verify_access_token(token) is not None
        clock.advance(1)
        assert await tokens.verify_access_token(token) is None

    run(tmp_path, body)


# ---------------------------------------------------------------- refresh tokens


def test_rotation_and_reuse_revokes_family(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        first = (await tokens.issue(USER))["refresh_token"]
        assert len(first) >= 43
        second = await tokens.rotate(first)
        assert second is not None and second["refresh_token"] != first
        claims = jwt.decode(second["access_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["org"]) == ("user-1", ORG)
        assert await tokens.rotate(first) is None, "old token is dead at once"
        assert await tokens.rotate(second["refresh_token"]) is None, "reuse revoked the family"
        # a separate family is unaffected
        other = (await tokens.issue(USER))["refresh_token"]
        assert await tokens.rotate(other) is not None
        for junk in ("", "x", "a" * 5000, first + "x"):
            assert await tokens.rotate(junk) is None

    run(tmp_path, body)


def test_grandparent_replay_is_reuse(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        t0 = (await tokens.issue(USER))["refresh_token"]
        t1 = (await tokens.rotate(t0))["refresh_token"]  # type: ignore[index]
        t2 = (await tokens.rotate(t1))["refresh_token"]  # type: ignore[index]
        assert await tokens.rotate(t0) is None
        assert await tokens.rotate(t2) is None

    run(tmp_path, body)


def test_concurrent_rotation_has_exactly_one_winner(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        token = (await tokens.issue(USER))["refresh_token"]
        results = await asyncio.gather(*(tokens.rotate(token) for _ in range(12)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        # the losers replayed a used token: the winner's successor is revoked too
        assert await tokens.rotate(winners[0]["refresh_token"]) is None

    run(tmp_path, body)


def test_refresh_family_expires_and_is_pruned(tmp_path: Path) -> None:
    clock = FakeClock()

    async def main() -> None:
        async with service(tmp_path, clock, refresh_token_ttl=100) as tokens:
            t0 = (await tokens.issue(USER))["refresh_token"]
            clock.advance(50)
            t1 = (await tokens.rotate(t0))["refresh_token"]  # type: ignore[index]
            clock.advance(50)
            assert await tokens.rotate(t1) is None, "absolute family lifetime"
        async with service(tmp_path, clock) as tokens:
            data = json.loads((tmp_path / TOKENS_DB).read_text())
            assert data["refresh_families"] == {}, "expired families pruned at startup"

    asyncio.run(main())


def test_rotation_is_one_durable_write_storing_only_hashes(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        t0 = (await tokens.issue(USER))["refresh_token"]
        storage = tokens.store.tokens_storage
        records, commits = storage.journal.records, storage.commits
        t1 = (await tokens.rotate(t0))["refresh_token"]  # type: ignore[index]
        assert (storage.journal.records, storage.commits) == (records + 1, commits + 1)
        text = "".join(p.read_text() for p in tmp_path.iterdir() if p.name.startswith("tokens."))
        assert t0 not in text and t1 not in text
        assert hash_refresh_token(t1) in text

    run(tmp_path, body)


def test_family_cap_evicts_oldest(tmp_path: Path) -> None:
    clock = FakeClock()

    async def main() -> None:
        async with service(tmp_path, clock, max_families_per_user=3) as tokens:
            issued = [(await tokens.issue(USER))["refresh_token"] for _ in range(4)]
            assert await tokens.rotate(issued[0]) is None, "oldest family evicted"
            assert await tokens.rotate(issued[3]) is not None

    asyncio.run(main())


@pytest.mark.parametrize("ttl", [1, 900])
def test_ttl_is_configurable(tmp_path: Path, ttl: int) -> None:
    clock = FakeClock()

    async def main() -> None:
        async with service(tmp_path, clock, access_token_ttl=ttl) as tokens:
            out = await tokens.issue(USER)
            assert out["expires_in"] == ttl
            clock.advance(ttl)
            assert await tokens.verify_access_token(out["access_token"]) is None

    asyncio.run(main())


# ---------------------------------------------------------------- one record per family (issue 18)


def _families(tokens: TokenService) -> dict[str, Any]:
    return tokens.store.tokens_storage.read().get("refresh_families", {})


def test_a_family_costs_one_record_whatever_the_number_of_rotations(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        chain = [(await tokens.issue(USER))["refresh_token"]]
        sizes = {}
        for i in range(1, 1001):
            chain.append((await tokens.rotate(chain[-1]))["refresh_token"])  # type: ignore[index]
            if i in (10, 1000):
                assert len(_families(tokens)) == 1, "one record, not one per token"
                journal = tokens.store.tokens_storage.journal.size
                assert journal <= TOKENS_COMPACT_MIN_BYTES + 4096, "folded into the snapshot"
                tokens.store.tokens_storage.compact()
                sizes[i] = (tmp_path / TOKENS_DB).stat().st_size
        # the same record; only the digits of the position differ
        assert sizes[1000] - sizes[10] <= 2, sizes
        assert len(set(chain)) == len(chain)

    run(tmp_path, body)


def test_reuse_of_any_earlier_token_revokes_the_family(tmp_path: Path) -> None:
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        for back in (1, 2, 120):
            chain = [(await tokens.issue(USER))["refresh_token"]]
            for _ in range(back + 1):
                chain.append((await tokens.rotate(chain[-1]))["refresh_token"])  # type: ignore[index]
            assert await tokens.rotate(chain[-1 - back]) is None, back
            assert await tokens.rotate(chain[-1]) is None, f"{back} back: family revoked"

    run(tmp_path, body)


def _respelled(token: str, **changes: int) -> str:
    """A refresh token with some of its bytes changed (tag left as it was)."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if "counter" in changes:
        raw[17:25] = changes["counter"].to_bytes(8, "big")
    if "tag_bit" in changes:
        raw[-1] ^= changes["tag_bit"]
    if "random_bit" in changes:
        raw[30] ^= changes["random_bit"]
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_forged_token_of_a_family_revokes_nothing(tmp_path: Path) -> None:
    """Knowing a family (its id is in its tokens) is not enough to revoke it: an earlier
    position must come with a tag only the server makes."""
    async def body(tokens: TokenService, clock: FakeClock) -> None:
        t0 = (await tokens.issue(USER))["refresh_token"]
        t1 = (await tokens.rotate(t0))["refresh_token"]  # type: ignore[index]
        t2 = (await tokens.rotate(t1))["refresh_token"]  # type: ignore[index]
        forgeries = [_respelled(t2, counter=0), _respelled(t2, counter=1),
                     _respelled(t2, counter=5), _respelled(t2, tag_bit=1),
                     _respelled(t2, random_bit=1), t2[:-1] + ("A" if t2[-1] != "A" else "Q"),
                     t2 + "==", "x" * len(t2)]
        for forged in forgeries:
            assert forged != t2
            assert await tokens.rotate(forged) is None, forged
        t3 = await tokens.rotate(t2)
        assert t3 is not None, "the family still works"

    run(tmp_path, body)


def test_tokens_issued_before_the_family_format_keep_working(tmp_path: Path) -> None:
    """A tokens.json of the earlier format (a record per token, as the previous version kept
    them): the live token rotates into the new format; the one it replaced revokes."""
    now = FakeClock().now
    chain = [secrets.token_urlsafe(32) for _ in range(4)]
    common = {"family_id": "0b4f6c1e-aaaa-4bbb-8ccc-000000000001", "user_id": "user-1",
              "expires_at": now + 1000}
    legacy = {str(i + 1): {"hash": hash_refresh_token(t), **common, "used_at": now - 10}
              for i, t in enumerate(chain[:-1])}
    legacy["4"] = {"hash": hash_refresh_token(chain[-1]), **common, "org_id": ORG,
                   "parent_hash": hash_refresh_token(chain[-2]), "issued_at": now - 10,
                   "used_at": None, "revoked_at": None}
    (tmp_path / TOKENS_DB).write_text(json.dumps({"refresh_tokens": legacy}))

    async def body(tokens: TokenService, clock: FakeClock) -> None:
        assert len(_families(tokens)) == 1
        data = tokens.store.tokens_storage.read()
        assert not data.get("refresh_tokens"), "the per-token records are gone"
        nxt = await tokens.rotate(chain[-1])
        assert nxt is not None and len(nxt["refresh_token"]) == 76, "now of the new format"
        assert await tokens.rotate(chain[-1]) is None, "spent"
        assert await tokens.rotate(nxt["refresh_token"]) is None, "its reuse revoked the family"

    run(tmp_path, body)

    (tmp_path / TOKENS_DB).unlink()
    (tmp_path / "tokens.journal").unlink()
    (tmp_path / TOKENS_DB).write_text(json.dumps({"refresh_tokens": legacy}))

    async def reuse_of_the_parent(tokens: TokenService, clock: FakeClock) -> None:
        assert await tokens.rotate(chain[-2]) is None, "the token the live one replaced"
        assert await tokens.rotate(chain[-1]) is None, "revoked its family"

    run(tmp_path, reuse_of_the_parent)
