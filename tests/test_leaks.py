"""USER-2's leak detector: what a correct server may send, and what no server may."""

from __future__ import annotations

import secrets
from typing import Any

import jwt
import pytest
from dpaas_conformance.library.leaks import HASH_FORMATS, find_leaks, hash_in

PASSWORD = "correct horse battery staple"
ARGON2 = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
BCRYPT = "$2b$12$" + "a" * 53


def claims_token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


@pytest.mark.parametrize(
    "body",
    [
        {"refresh_token": secrets.token_hex(32), "access_token": claims_token({"sub": "u1"})},
        {"id": secrets.token_hex(32), "name": "Conformance"},
        {"id": "1", "hash": secrets.token_hex(20), "etag": secrets.token_hex(8)},
        {"name": "x", "metadata": {"password": "what a client stored", "secret": "theirs"}},
        {"error": "ValidationError", "message": "Invalid input",
         "details": {"password": ["This field is required"]}},
        {"email": "a@b.c", "password": None, "password_hash": "", "secret": "****"},
        {"message": "Invalid password"},
    ],
)
def test_what_a_correct_server_sends_is_no_leak(body: dict[str, Any]) -> None:
    assert find_leaks(body, [PASSWORD, "pass"]) == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@b.c", "echo": PASSWORD},
        {"email": "a@b.c", "note": f"you typed {PASSWORD}"},
        {"results": [{"email": "a@b.c", "anything": ARGON2}]},
        {"results": [{"email": "a@b.c", "pw": BCRYPT}]},
        {"results": [{"email": "a@b.c", "password_hash": "opaque"}]},
        {"client_secret": "s3cr3t"},
        {"access_token": claims_token({"sub": "u1", "pwd_hash": ARGON2})},
    ],
)
def test_a_password_hash_or_secret_is_a_leak(body: dict[str, Any]) -> None:
    assert find_leaks(body, [PASSWORD]) != []


def test_the_detector_takes_memory_linear_in_nothing_but_the_body() -> None:
    """A long JSON string once took the key scan 135 bytes per character (4 GB for 20 MiB of
    /users); the keys are now read from the parsed body, one level of nesting at a time."""
    import json
    import tracemalloc

    raw = json.dumps({"results": [{"email": "a@b.c", "note": "x" * (2 << 20)}],
                      "deep": [[[[{"k": [1, 2, 3]}]]]] * 1000})
    data = json.loads(raw)
    tracemalloc.start()
    try:
        assert find_leaks(data, [PASSWORD], raw) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"the detector held {peak} bytes for a {len(raw)}-byte body"


def test_every_hash_format_holds_a_dollar_sign() -> None:
    """`hash_in` runs the pattern only over texts holding a `$`: a format added without one would
    never be looked for."""
    lines = [line.split("#")[0].strip() for line in HASH_FORMATS.pattern.splitlines()]
    alternatives = [line.lstrip("|").strip() for line in lines if line]
    assert len(alternatives) >= 7
    assert all(r"\$" in a for a in alternatives), alternatives
    assert hash_in(f"stored as {ARGON2}") and hash_in(BCRYPT)
    assert hash_in("no dollar sign, no hash: argon2id v=19 m=19456") is None
