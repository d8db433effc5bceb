"""Argon2id password hashing on a small thread pool, so ~20 ms of hashing never blocks the loop."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .config import Settings

MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hash, verify and rehash-check passwords with Argon2id, off the event loop.

    `dummy_hash` is verified when the user or organization is unknown, so every login
    failure costs the same argon2 work (no timing oracle for user enumeration).
    """

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.password_workers, thread_name_prefix="dpaas-argon2"
        )
        self.dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self.dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if `password` matches; with `stored_hash=None` verify a dummy and say False."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._verify_sync, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    def close(self) -> None:
        self._executor.shutdown(wait=True)
