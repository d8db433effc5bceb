"""Service-account key material: made here, stored only encrypted, opened only to check signatures.

A key is an `access_key` (public, the lookup key) and a `secret_key`, shown once in the answer
that issues it. The server must recompute HMACs with the secret, so it cannot keep only a hash:
it keeps the secret encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`)
under a key of its own, in the data dir (`service-keys.fernet`, mode 0600, written atomically and
fsynced, directory included, like the signing key). A copy of the database alone reveals no
secret; the data dir as a whole does, as it would for any server that verifies HMACs.

Opening a sealed secret costs tens of microseconds (Fernet's HMAC check and AES, cold in a busy
server: a tenth of a signed request), so the box keeps each secret it opened or sealed in memory,
as it keeps the Fernet key that opens them all, and never writes it anywhere. It opens every
stored key's secret once, at start (`warm`), and keeps each new key's as it seals it.

`SecretBox.dummy` is a sealed random secret that no key has: a request naming an unknown access
key is checked against it, so that it costs the same work as a known key with a wrong signature
(CWE-208). With every key's secret kept from the start, a known key and the dummy both cost one
dict lookup, a key's first use after a restart included; only past `MAX_KEPT` secrets does a
key's opening cost more than the dummy's (the memory stays bounded, at about 50 MiB).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .config import StartupError
from .store.snapshot import write_atomically

log = logging.getLogger("reference_server.service_keys")

KEY_FILE = "service-keys.fernet"
ACCESS_PREFIX = "sa_"
#: secrets kept open in memory at most (a sealed one and its secret: about 400 bytes each)
MAX_KEPT = 1 << 17
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
        #: sealed secret -> secret, for every key opened or sealed (see the module docstring)
        self._kept: dict[str, str] = {}
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
        sealed = self._fernet.encrypt(secret_key.encode("utf-8")).decode("ascii")
        self._keep(sealed, secret_key)
        return sealed

    def open(self, sealed: str) -> str | None:
        """The secret, or None for a token this key did not seal (a database from elsewhere)."""
        kept = self._kept.get(sealed)
        if kept is not None:
            return kept
        try:
            secret = self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            return None
        self._keep(sealed, secret)
        return secret

    def warm(self, sealed: Iterable[str]) -> None:
        """Open these secrets now (at start, before any request: see the module docstring)."""
        for one in sealed:
            if len(self._kept) >= MAX_KEPT:
                log.warning("more than %d keys: the secrets of the others are opened when "
                            "used", MAX_KEPT)
                return
            self.open(one)

    def _keep(self, sealed: str, secret: str) -> None:
        if len(self._kept) < MAX_KEPT:
            self._kept[sealed] = secret

    def __repr__(self) -> str:
        return "SecretBox(***)"
