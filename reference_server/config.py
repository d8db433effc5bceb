"""Server settings: one dataclass so tests can shrink every threshold and inject a clock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .clients import parse_networks

#: OWASP Password Storage Cheat Sheet minimum for Argon2id (19 MiB, t=2, p=1).
ARGON2_MIN_MEMORY_KIB = 19456
ARGON2_MIN_TIME_COST = 2


@dataclass
class Settings:
    """Everything the server can be configured with; every time decision uses `clock`."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    clock: Callable[[], float] = time.time
    access_token_ttl: int = 900
    refresh_token_ttl: int = 14 * 24 * 3600
    max_body_bytes: int = 64 * 1024
    login_max_failures: int = 5
    login_failure_window: int = 60
    login_throttle_max_keys: int = 10_000
    max_families_per_user: int = 100
    issuer: str = "dpaas-reference"
    iat_leeway: int = 5
    argon2_time_cost: int = 2
    argon2_memory_cost: int = ARGON2_MIN_MEMORY_KIB
    argon2_parallelism: int = 1
    #: Hashes at once: one per core (each argon2 hash here uses one thread).
    password_workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    #: Logins that may wait for a hashing worker; more are refused with 429/503.
    password_queue: int = 32
    #: Must be set explicitly to run with argon2 parameters below the OWASP floor (tests only).
    allow_weak_password_hashing: bool = False
    jwks_max_age: int = 300
    shutdown_timeout: float = 10.0
    # Hostile clients (issue 9). The URL limit must stay below the header limit: it is how a
    # 414 (URL) is told from a 431 (header) when aiohttp's parser refuses a line.
    max_url_bytes: int = 8190
    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    #: Proxies (addresses or CIDR networks) whose X-Forwarded-For names the client.
    trusted_proxies: tuple[str, ...] = ()
    #: Failed logins one client address may spend across accounts, and how fast they come back
    #: (per second); accounts it has logged in to before are exempt (see throttle.py).
    login_address_burst: int = 100
    login_address_refill: float = 0.2
    login_known_ttl: int = 30 * 24 * 3600
    #: Seconds a client has to send a request's headers (also how long an idle keep-alive
    #: connection stays open), and to send its body once the headers are in.
    header_timeout: float = 15.0
    body_timeout: float = 10.0
    #: Open connections at once, in all and from one address (trusted proxies exempt). The
    #: total is lowered to fit the open-files limit.
    max_connections: int = 8192
    max_connections_per_address: int = 256
    #: Signed requests (service-account keys, HMAC): how far `x-date` may be from the server's
    #: time, either way (SigV4's bound); a used nonce is kept until its `x-date` leaves it.
    hmac_skew_seconds: int = 300
    #: Used nonces kept at once, per key and in all. Past a key's share its requests get 429
    #: until nonces expire; past the total, every signed request gets 503. Never forgotten early.
    max_nonces_per_key: int = 20_000
    max_nonces: int = 200_000
    #: A key's (and its service account's) `last_used_at` is written at most this often.
    last_used_interval: int = 60

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.trusted_proxies = tuple(self.trusted_proxies)

    def check(self) -> None:
        """Refuse unsafe or nonsensical values at startup rather than at first use."""
        weak = (
            self.argon2_memory_cost < ARGON2_MIN_MEMORY_KIB
            or self.argon2_time_cost < ARGON2_MIN_TIME_COST
            or self.argon2_parallelism < 1
        )
        if weak and not self.allow_weak_password_hashing:
            raise ValueError(
                "argon2 parameters below the OWASP minimum "
                f"(memory_cost>={ARGON2_MIN_MEMORY_KIB}, time_cost>={ARGON2_MIN_TIME_COST})"
            )
        for name in (
            "access_token_ttl",
            "refresh_token_ttl",
            "max_body_bytes",
            "login_max_failures",
            "login_failure_window",
            "login_throttle_max_keys",
            "max_families_per_user",
            "password_workers",
            "max_url_bytes",
            "max_headers",
            "login_address_burst",
            "login_known_ttl",
            "password_queue",
            "max_connections",
            "max_connections_per_address",
            "hmac_skew_seconds",
            "max_nonces_per_key",
            "max_nonces",
            "last_used_interval",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_header_bytes <= self.max_url_bytes:
            raise ValueError("max_header_bytes must be larger than max_url_bytes")
        for name in ("login_address_refill", "header_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"trusted proxy: {exc}") from exc


class StartupError(Exception):
    """The server cannot start (data dir unusable, locked or corrupt, key unreadable...).

    The CLI prints its message as one line and exits with status 2.
    """
