"""Service-account key material: made here, kept only encrypted, opened only to check a signature.

A key is an `access_key` (public, the lookup key) and a `secret_key`, shown once in the answer
that issues it. The server must recompute HMACs with the secret, so it cannot keep only a hash:
it keeps the secret encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`)
under a key of its own, in the data dir (`service-keys.fernet`, mode 0600, written atomically and
fsynced, directory included, like the signing key). A copy of the database alone reveals no
secret; the data dir as a whole does, as it would for any server that verifies HMACs.

`SecretBox.dummy` is a sealed random secret that no key has: a request naming an unknown access
key is checked against it, so that it costs the same work as a known key with a wrong signature
(CWE-208).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .config import StartupError
from .store.snapshot import write_atomically

log = logging.getLogger("reference_server.service_keys")

KEY_FILE = "service-keys.fernet"
ACCESS_PREFIX = "sa_"
SECRET_PREFIX = "sk_live_"


def new_access_key() -> str:
    """`sa_` and 32 hex digits: never a `:` (the Authorization header's separator, KEY-8)."""
    return ACCESS_PREFIX + secrets.token_hex(16)


def new_secret_key() -> str:
    """`sk_live_` and 256 random bits in base64url."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class SecretBox:
    """Seals and opens secret keys with the data dir's Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self.dummy = self.seal(new_secret_key())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SecretBox:
        """Load `service-keys.fernet` from the data dir, generating it (mode 0600) on first start.

        Losing it would make every issued key unusable: it is written durably before use.
        """
        path = Path(data_dir) / KEY_FILE
        if path.exists():
            try:
                return cls(path.read_bytes().strip())
            except (OSError, ValueError) as exc:
                raise StartupError(f"cannot load the service-key encryption key {path}: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from exc
        key = Fernet.generate_key()
        try:
            write_atomically(path, key + b"\n")
        except OSError as exc:
            raise StartupError(f"cannot write the service-key encryption key {path}: "
                               f"{exc.strerror or exc}") from exc
        log.info("generated a new service-key encryption key in %s", path)
        return cls(key)

    def seal(self, secret_key: str) -> str:
        return self._fernet.encrypt(secret_key.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The secret, or None for a token this key did not seal (a database from elsewhere)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            return None

    def __repr__(self) -> str:
        return "SecretBox(***)"
