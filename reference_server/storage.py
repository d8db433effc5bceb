"""Durable TinyDB storage and the single-owner, tenant-scoped data access layer.

TinyDB is neither thread-safe nor crash-safe out of the box: `JSONStorage` truncates the file
and rewrites it in place, so a crash mid-write loses the database, and its query cache hands
out shared objects. Here every write goes to a temp file that is fsynced and renamed over the
database, `read()` always returns a fresh copy, and all database work runs on ONE thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from tinydb import TinyDB, where
from tinydb.storages import Storage
from tinydb.table import Document, Table

from .config import Settings, StartupError
from .pagination import ListParams, Page, paginate

log = logging.getLogger("reference_server.storage")

P = ParamSpec("P")
T = TypeVar("T")

MAIN_DB = "dpaas.json"
TOKENS_DB = "tokens.json"
LOCK_FILE = ".lock"

ACCOUNT_FIELDS = (
    "id",
    "name",
    "organization_id",
    "is_default",
    "is_active",
    "metadata",
    "created_at",
    "updated_at",
)
USER_FIELDS = (
    "id",
    "email",
    "organization_id",
    "is_active",
    "is_verified",
    "mfa_enabled",
    "metadata",
    "last_login_at",
    "created_at",
    "updated_at",
)
ACCOUNT_ORDER_FIELDS = frozenset({"created_at", "updated_at", "name"})
USER_ORDER_FIELDS = frozenset({"created_at", "updated_at", "email"})


class CorruptDatabaseError(StartupError):
    """The database file exists but is not a valid TinyDB JSON document."""


def isoformat(ts: float) -> str:
    """UTC ISO 8601 with microseconds and a `Z`, e.g. 2025-09-30T10:00:00.123456Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    """Write-through TinyDB storage: temp file, fsync, rename, fsync dir.

    The last committed JSON text is kept in memory; `read()` parses it afresh, so callers
    never alias the committed state. Inside `batch()` writes are collected and committed
    as ONE atomic write at the end (or dropped if the block raises).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.writes = 0  # number of committed disk writes, for tests
        self._committed: str | None = None
        self._pending: str | None = None
        self._depth = 0
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            self._validate(text)
            self._committed = text

    def _validate(self, text: str) -> None:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CorruptDatabaseError(
                f"database file {self.path} is not valid JSON: {exc}"
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise CorruptDatabaseError(f"database file {self.path} is not a TinyDB document")

    def read(self) -> dict[str, dict[str, Any]] | None:
        text = self._pending if self._pending is not None else self._committed
        return None if text is None else json.loads(text)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if self._depth:
            self._pending = text
        else:
            self._commit(text)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one atomic disk write; discard them all if the block raises."""
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._pending = None
            raise
        self._depth -= 1
        if self._depth == 0 and self._pending is not None:
            text, self._pending = self._pending, None
            self._commit(text)

    def _commit(self, text: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)
        self._committed = text
        self.writes += 1


@dataclass(frozen=True)
class RotationResult:
    """Outcome of one refresh-token rotation, decided atomically in the storage thread.

    `revoke` names the family to revoke next (a reused token, or a user no longer active).
    """

    status: Literal["ok", "invalid", "reused"]
    user: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    revoke: str | None = None


class Rows:
    """What one list shows: its total, and any page of it in any of its orders."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    @property
    def total(self) -> int:
        return len(self._rows)

    def page(self, params: ListParams) -> list[Mapping[str, Any]]:
        return paginate(self._rows, params)[1]


@dataclass(frozen=True)
class Listing:
    """A listable table; `rows(org)` is the part of it one organization may see."""

    name: str
    table: Table

    def rows(self, organization_id: str) -> Rows:
        docs = self.table.search(where("organization_id") == organization_id)
        return Rows([{**doc, "seq": doc.doc_id} for doc in docs])

    def all_rows(self) -> Rows:
        """Every organization's rows: what a server that forgot the tenant filter would list."""
        return Rows([{**doc, "seq": doc.doc_id} for doc in self.table.all()])


class Store:
    """The single owner of both TinyDB files; every method runs on one dedicated thread.

    Data access is tenant scoped: every account/user method takes the caller's organization
    id and can only see or touch that organization's rows.

    The seams tests may substitute to build a variant (never anything else):
    - the public async methods;
    - `tenant_rows`, the tenant filter of every list (it runs on the store thread);
    - the projections `account_fields` and `user_fields`, what a list shows of each row;
    - `new_account_id`, how account ids are made (their format is a free choice).
    """

    account_fields: tuple[str, ...] = ACCOUNT_FIELDS
    user_fields: tuple[str, ...] = USER_FIELDS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpaas-store")
        self._lock_fd: int | None = None
        self._db: TinyDB | None = None
        self._tokens_db: TinyDB | None = None

    # ----------------------------------------------------------------- plumbing

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def now(self) -> float:
        return self.settings.clock()

    @property
    def main_storage(self) -> AtomicJSONStorage:
        assert self._db is not None, "store is not open"
        return self._db.storage  # type: ignore[return-value]

    @property
    def tokens_storage(self) -> AtomicJSONStorage:
        assert self._tokens_db is not None, "store is not open"
        return self._tokens_db.storage  # type: ignore[return-value]

    def _table(self, name: str) -> Table:
        assert self._db is not None, "store is not open"
        return self._db.table(name, cache_size=0)

    def _tokens(self) -> Table:
        assert self._tokens_db is not None, "store is not open"
        return self._tokens_db.table("refresh_tokens", cache_size=0)

    async def open(self) -> None:
        """Lock the data dir, load both files (refusing corrupt ones) and prune old tokens."""
        await self._run(self._open_sync)

    async def close(self) -> None:
        try:
            await self._run(self._close_sync)
        finally:
            self._executor.shutdown(wait=True)

    def _open_sync(self) -> None:
        data_dir = self.settings.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(f"data dir {data_dir} is unusable: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise StartupError(f"data dir {data_dir} is locked by another running server") from exc
        try:
            self._db = TinyDB(data_dir / MAIN_DB, storage=AtomicJSONStorage)
            self._tokens_db = TinyDB(data_dir / TOKENS_DB, storage=AtomicJSONStorage)
        except StartupError:
            self._close_sync()
            raise
        except (OSError, UnicodeDecodeError) as exc:
            self._close_sync()
            raise StartupError(f"cannot read database in {data_dir}: {exc}") from exc
        pruned = self._prune_refresh_tokens_sync(self.now())
        if pruned:
            log.info("pruned %d expired refresh token records", pruned)

    def _close_sync(self) -> None:
        for db in (self._db, self._tokens_db):
            if db is not None:
                db.close()
        self._db = self._tokens_db = None
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ----------------------------------------------------------------- seeding

    async def is_empty(self) -> bool:
        return await self._run(lambda: len(self._table("organizations")) == 0)

    async def seed_if_empty(self, data: Mapping[str, list[dict[str, Any]]]) -> bool:
        """Insert organizations/users/accounts (one write) if there are no organizations yet."""
        return await self._run(self._seed_sync, data)

    def _seed_sync(self, data: Mapping[str, list[dict[str, Any]]]) -> bool:
        if len(self._table("organizations")):
            return False
        with self.main_storage.batch():
            for table in ("organizations", "users", "accounts"):
                for row in data.get(table, []):
                    self._table(table).insert(dict(row))
        return True

    # ----------------------------------------------------------------- users / login

    async def find_login_user(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        """The user record (with its password hash) for a login attempt, or None."""
        return await self._run(self._find_login_user_sync, organization_slug, email)

    def _find_login_user_sync(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        org = self._table("organizations").get(where("slug") == organization_slug.lower())
        if org is None:
            return None
        user = self._table("users").get(
            (where("organization_id") == org["id"]) & (where("email") == email.lower())
        )
        return dict(user) if isinstance(user, Document) else None

    async def get_active_user(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        """The user `user_id` if it exists in `organization_id` and is active."""
        return await self._run(self._get_active_user_sync, user_id, organization_id)

    def _get_active_user_sync(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        user = self._table("users").get(
            (where("id") == user_id) & (where("organization_id") == organization_id)
        )
        if not isinstance(user, Document) or user.get("is_active") is not True:
            return None
        out = dict(user)
        out.pop("password_hash", None)
        return out

    async def record_login(self, user_id: str, new_password_hash: str | None = None) -> None:
        """Set `last_login_at` (and store a rehashed password) after a successful login."""
        await self._run(self._record_login_sync, user_id, new_password_hash)

    def _record_login_sync(self, user_id: str, new_password_hash: str | None) -> None:
        fields: dict[str, Any] = {"last_login_at": isoformat(self.now())}
        if new_password_hash:
            fields["password_hash"] = new_password_hash
        self._table("users").update(fields, where("id") == user_id)

    async def list_users(self, organization_id: str, params: ListParams) -> Page:
        """One page of the organization's users (public fields only)."""
        return await self._run(self._list_sync, "users", organization_id, params, self.user_fields)

    # ----------------------------------------------------------------- accounts

    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        """One page of the organization's accounts."""
        return await self._run(
            self._list_sync, "accounts", organization_id, params, self.account_fields
        )

    def tenant_rows(self, listing: Listing, organization_id: str) -> Rows:
        """The tenant filter, in one place: the rows of a list one organization may see."""
        return listing.rows(organization_id)

    def _list_sync(
        self, table: str, organization_id: str, params: ListParams, fields: tuple[str, ...]
    ) -> Page:
        rows = self.tenant_rows(Listing(table, self._table(table)), organization_id)
        return Page(
            total=rows.total, results=[{f: row.get(f) for f in fields} for row in rows.page(params)]
        )

    def new_account_id(self) -> str:
        return str(uuid.uuid4())

    async def create_account(
        self,
        organization_id: str,
        name: str,
        is_default: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create an account in the organization; a new default demotes the old one (one write)."""
        return await self._run(
            self._create_account_sync, organization_id, name, is_default, dict(metadata or {})
        )

    def _create_account_sync(
        self, organization_id: str, name: str, is_default: bool, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        now = isoformat(self.now())
        account = {
            "id": self.new_account_id(),
            "name": name,
            "organization_id": organization_id,
            "is_default": bool(is_default),
            "is_active": True,
            "metadata": metadata,
            "created_at": now,
            "updated_at": now,
        }
        table = self._table("accounts")
        with self.main_storage.batch():
            if is_default:
                table.update(
                    {"is_default": False, "updated_at": now},
                    (where("organization_id") == organization_id) & (where("is_default") == True),  # noqa: E712 - TinyDB query, not a bool test
                )
            table.insert(account)
        return {f: account[f] for f in ACCOUNT_FIELDS}

    # ----------------------------------------------------------------- refresh tokens

    async def insert_refresh_token(self, record: Mapping[str, Any]) -> None:
        """Store the first token of a new family, evicting the user's oldest families over cap."""
        await self._run(self._insert_refresh_token_sync, dict(record))

    def _insert_refresh_token_sync(self, record: dict[str, Any]) -> None:
        table = self._tokens()
        cap = self.settings.max_families_per_user
        with self.tokens_storage.batch():
            mine = table.search(where("user_id") == record["user_id"])
            first_seen: dict[str, int] = {}
            for doc in mine:
                first_seen.setdefault(doc["family_id"], doc.doc_id)
            if len(first_seen) >= cap:
                oldest = sorted(first_seen, key=first_seen.__getitem__)
                evict = set(oldest[: len(first_seen) - cap + 1])
                table.remove(doc_ids=[d.doc_id for d in mine if d["family_id"] in evict])
            table.insert(record)

    async def find_refresh_token(self, token_hash: str) -> dict[str, Any] | None:
        """A copy of the stored record of a refresh token, or None."""
        return await self._run(self._find_refresh_token_sync, token_hash)

    def _find_refresh_token_sync(self, token_hash: str) -> dict[str, Any] | None:
        doc = self._tokens().get(where("hash") == token_hash)
        return dict(doc) if isinstance(doc, Document) else None

    async def rotate_refresh_token(
        self, token_hash: str, successor: Mapping[str, Any]
    ) -> RotationResult:
        """Atomically use `token_hash` and store `successor`; on reuse revoke the family.

        The revocation is its own durable write, made before the answer is returned; a
        rotation slipping in between is revoked with the rest of the family.
        """
        result = await self._run(self._rotate_sync, token_hash, dict(successor))
        if result.revoke is not None:
            reason = "reuse" if result.status == "reused" else "user inactive"
            revoked = await self.revoke_family(result.revoke, reason)
            if result.status == "reused":
                log.warning(
                    "refresh token reuse detected: family %s revoked (%d tokens)",
                    result.revoke,
                    revoked,
                )
        return result

    def _rotate_sync(self, token_hash: str, successor: dict[str, Any]) -> RotationResult:
        table = self._tokens()
        now = self.now()
        current = table.get(where("hash") == token_hash)
        if not isinstance(current, Document):
            return RotationResult("invalid")
        if current.get("revoked_at") is not None or current["expires_at"] <= now:
            return RotationResult("invalid")
        if current.get("used_at") is not None:
            return RotationResult("reused", revoke=current["family_id"])
        user = self._get_active_user_sync(current["user_id"], current["org_id"])
        if user is None:
            return RotationResult("invalid", revoke=current["family_id"])
        record = {
            **successor,
            "family_id": current["family_id"],
            "parent_hash": current["hash"],
            "user_id": current["user_id"],
            "org_id": current["org_id"],
            "issued_at": now,
            "expires_at": current["expires_at"],
            "used_at": None,
            "revoked_at": None,
        }
        with self.tokens_storage.batch():
            table.update({"used_at": now}, doc_ids=[current.doc_id])
            table.insert(record)
        return RotationResult("ok", user=user, record=record)

    async def revoke_family(self, family_id: str, reason: str = "revoked") -> int:
        """Revoke every token of a family; the number revoked."""
        return await self._run(self._revoke_family_sync, family_id, reason)

    def _revoke_family_sync(self, family_id: str, reason: str) -> int:
        table = self._tokens()
        now = self.now()
        ids = [
            d.doc_id
            for d in table.search(where("family_id") == family_id)
            if d.get("revoked_at") is None
        ]
        if ids:
            table.update({"revoked_at": now, "revoked_reason": reason}, doc_ids=ids)
        return len(ids)

    async def prune_refresh_tokens(self) -> int:
        return await self._run(lambda: self._prune_refresh_tokens_sync(self.now()))

    def _prune_refresh_tokens_sync(self, now: float) -> int:
        """Drop whole families past their absolute expiry (kept until then to detect reuse)."""
        table = self._tokens()
        ids = [d.doc_id for d in table.all() if d["expires_at"] <= now]
        if ids:
            table.remove(doc_ids=ids)
        return len(ids)
