"""USER-2, decided from what the suite knows rather than from how a value looks.

A correct server hands out values that *look* secret: 64-hex refresh tokens, hex ids, JWTs. So a
value counts as a leaked secret only when the suite can tell for sure:
- it is a password the suite was configured with;
- it is in a well-known password-hash format (argon2, bcrypt, scrypt, PBKDF2, crypt(3) SHA-2,
  Django, Werkzeug and passlib encodings), which no other value matches by accident;
- it sits under a field whose name says it is a password, hash or secret.
Field names are judged outside `metadata`, which holds whatever clients chose to store. Claims
inside JWTs the server hands out are searched too: a token is readable by anyone who holds it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

from dpaas_conformance.library.strictjson import walk

HASH_FORMATS = re.compile(
    r"""
      \$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$      # argon2 (PHC string)
    | \$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}                      # bcrypt
    | \$scrypt\$|\$7\$[./A-Za-z0-9]{11}                        # passlib / libxcrypt scrypt
    | \$pbkdf2(?:-sha\d+)?\$\d+\$                              # passlib pbkdf2
    | \$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43}  # crypt(3) SHA-256/512
    | \b(?:pbkdf2_sha(?:1|256)|bcrypt_sha256|scrypt|argon2)\$       # Django's hashers
    | \b(?:pbkdf2:sha\d+|scrypt):\d+(?::\d+:\d+)?\$[^$\s]+\$[0-9a-f]{32,}  # Werkzeug
    """,
    re.VERBOSE,
)


def hash_in(text: str) -> re.Match[str] | None:
    """A password hash in the text. Every format above holds a `$`: most texts are passed
    without running the pattern over them."""
    return HASH_FORMATS.search(text) if "$" in text else None

#: Field names (lower case, separators removed) that name a password, a hash of one, or a secret.
SECRET_FIELDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "passwordhash", "hashedpassword",
    "passworddigest", "encryptedpassword", "pwdhash", "passhash", "salt",
    "passwordsalt", "secret", "clientsecret", "secretkey", "apisecret", "privatekey",
    "otpsecret", "totpsecret", "mfasecret", "signingkey", "refreshtokenhash", "tokenhash",
})

#: A password shorter than this is matched only as a whole value, never inside longer text
#: ("pass" must not be found in "Invalid password").
MIN_SUBSTRING_PASSWORD = 8
MASKS = frozenset("*•x·")


SEPARATORS = re.compile(r"[^a-z0-9]")


def normalised(key: str) -> str:
    return SEPARATORS.sub("", key.lower())


def find_leaks(data: Any, passwords: Iterable[str], raw: str | None = None) -> list[str]:
    """Every place in a parsed JSON body where a password, a hash or a secret shows.

    With the body's `raw` text, a body that cannot hold a leak (no hash format, no password and
    no JWT anywhere in the text, no secret-named key) is passed after a walk of its keys only.
    Time and memory stay linear in the body's size: the walks hold one iterator per level of
    nesting, and a value's path is only written out for a finding.
    """
    secrets = [p for p in passwords if p]
    if raw is not None and not _may_leak(raw, secrets, data):
        return []
    hashes = raw is None or hash_in(raw) is not None
    found: list[str] = []
    for where, key, value in walk(data):
        if isinstance(value, str):
            found += _judge_string(where, value, secrets, hashes)
        if (
            key is not None
            and not where.inside("metadata")
            and normalised(key) in SECRET_FIELDS
            and _holds_something(value)
        ):
            found.append(f"{where}: a field named {key!r} holds a value")
    return found


def _may_leak(raw: str, passwords: list[str], data: Any) -> bool:
    if hash_in(raw) or "eyJ" in raw:  # every JWT starts with base64url('{"')
        return True
    if any(p in raw or json.dumps(p)[1:-1] in raw for p in passwords):
        return True
    # Each distinct key once: a page of a hundred items repeats the same few keys.
    return any(normalised(key) in SECRET_FIELDS for key in keys_of(data))


def keys_of(data: Any) -> set[str]:
    """Every key of a parsed JSON body, at any depth: without the paths `walk` keeps, since
    nearly every body is checked this way and has nothing to report. The pending values are
    the body's own, so memory stays linear in its size."""
    keys: set[str] = set()
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            keys.update(value)
            pending.extend(v for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            pending.extend(v for v in value if isinstance(v, dict | list))
    return keys


def _judge_string(path: Any, value: str, passwords: list[str], hashes: bool = True
                  ) -> list[str]:
    found = []
    for password in passwords:
        if value == password or (len(password) >= MIN_SUBSTRING_PASSWORD and password in value):
            found.append(f"{path}: holds a configured principal's password")
    match = hash_in(value) if hashes else None
    if match:
        found.append(f"{path}: holds a password hash ({match.group(0)[:14]}…)")
    claims = jwt_claims(value) if value.startswith("eyJ") else None
    if claims is not None:
        found += [f"{path} (a JWT's claims){leak}" for leak in find_leaks(claims, passwords)]
    return found


def _holds_something(value: Any) -> bool:
    """A secret-named field leaks only when it holds text: null, "", "****", a flag, or the list
    of messages a validation error's `details` gives for a field named "password" do not."""
    return isinstance(value, str) and bool(value.strip()) and not set(value.strip()) <= MASKS


JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]{2,}\.([A-Za-z0-9_-]{2,})\.[A-Za-z0-9_-]*$")


def jwt_claims(value: str) -> Any | None:
    """The payload of a compact JWS, or None when the value is not one."""
    match = JWT_SHAPE.match(value)
    if not match:
        return None
    payload = match.group(1)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None
