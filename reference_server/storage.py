"""The store: the single owner of the databases, and tenant-scoped access to their data.

All database work runs on ONE thread (TinyDB is not thread-safe), `store_thread.py`; each job is
one unit of work, durable before its caller hears back. Every account and user method takes the
caller's organization and sees only that organization's rows. How documents reach disk is
`durable.py`'s business; refresh-token records are `refresh_records.py`'s.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from tinydb.table import Table

from .config import Settings, StartupError
from .durable import Database, DurableStorage, clone
from .indexes import KeyIndex, Listing, Rows
from .pagination import ListParams, Page
from .refresh_records import RefreshRecords, RotationResult
from .store_thread import StoreThread

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


def isoformat(ts: float) -> str:
    """UTC ISO 8601 with microseconds and a `Z`, e.g. 2025-09-30T10:00:00.123456Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _MainIndexes:
    """What the main database is looked up by; each index hears every change, undos included."""

    def __init__(self, db: Database) -> None:
        self.orgs_by_slug = KeyIndex(lambda d: d.get("slug"))
        self.users_by_id = KeyIndex(lambda d: d.get("id"))
        self.users_by_login = KeyIndex(lambda d: (d.get("organization_id"), d.get("email")))
        self.default_accounts = KeyIndex(
            lambda d: d.get("organization_id") if d.get("is_default") is True else None
        )
        self.listings = {
            "accounts": Listing("accounts", sorted(ACCOUNT_ORDER_FIELDS)),
            "users": Listing("users", sorted(USER_ORDER_FIELDS)),
        }
        listen = db.durable.listen
        listen("organizations", self.orgs_by_slug.change)
        listen("users", self.users_by_id.change)
        listen("users", self.users_by_login.change)
        listen("accounts", self.default_accounts.change)
        for name, listing in self.listings.items():
            listen(name, listing.change)


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
        self._thread = StoreThread()
        self._lock_fd: int | None = None
        self._db: Database | None = None
        self._tokens_db: Database | None = None
        self._main_indexes: _MainIndexes | None = None
        self._records: RefreshRecords | None = None

    # ----------------------------------------------------------------- plumbing

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` on the store thread as one unit of work, durable before this returns."""
        return await self._thread.run(fn, *args, **kwargs)

    def now(self) -> float:
        return self.settings.clock()

    @property
    def main_storage(self) -> DurableStorage:
        assert self._db is not None, "store is not open"
        return self._db.durable

    @property
    def tokens_storage(self) -> DurableStorage:
        assert self._tokens_db is not None, "store is not open"
        return self._tokens_db.durable

    def _table(self, name: str) -> Table:
        assert self._db is not None, "store is not open"
        return self._db.documents(name)

    @property
    def _indexes(self) -> _MainIndexes:
        assert self._main_indexes is not None, "store is not open"
        return self._main_indexes

    def _tokens(self) -> RefreshRecords:
        assert self._records is not None, "store is not open"
        return self._records

    def _doc(self, table: str, doc_id: int | None) -> dict[str, Any] | None:
        """One document (TinyDB's copy of its top level), or None."""
        return None if doc_id is None else self._table(table).get(doc_id=doc_id)  # type: ignore[return-value]

    async def open(self) -> None:
        """Lock the data dir, load both databases (refusing corrupt ones), prune old tokens."""
        try:
            await self._thread.run_alone(self._open_sync)
        except BaseException:
            self._thread.stop()
            raise

    async def close(self) -> None:
        """Fold the journals into snapshots, close the files, release the lock and the thread."""
        try:
            if self._thread.alive:  # else a failed open stopped it, and nothing is open
                await self._thread.run_alone(self._close_sync)
        finally:
            self._thread.stop()

    def _open_sync(self) -> None:
        data_dir = self.settings.data_dir
        try:
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            data_dir.mkdir(mode=0o700, exist_ok=True)  # its files hold hashes and the key
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
            self._db = Database(data_dir / MAIN_DB)
            self._tokens_db = Database(data_dir / TOKENS_DB)
            self._main_indexes = _MainIndexes(self._db)
            self._records = RefreshRecords(self._tokens_db)
            pruned = self._records.prune(self.now()) + self._records.prune_revoked()
            if pruned:
                log.info("pruned %d expired or revoked refresh token records", pruned)
            for storage in (self.main_storage, self.tokens_storage):
                storage.compact()  # a journal left by a crash, or the pruning just done
        except StartupError:
            self._close_sync(compact=False)
            raise
        except OSError as exc:
            self._close_sync(compact=False)
            raise StartupError(f"cannot use the database in {data_dir}: {exc}") from exc
        self._thread.storages = [self.main_storage, self.tokens_storage]

    def _close_sync(self, compact: bool = True) -> None:
        self._thread.storages = []
        for db in (self._db, self._tokens_db):
            if db is not None:
                if compact and db.durable.broken is None:
                    try:
                        db.durable.compact()
                    except OSError:
                        log.exception("compacting %s at shutdown failed", db.durable.path)
                db.close()
        self._db = self._tokens_db = None
        self._main_indexes = self._records = None
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
        for table in ("organizations", "users", "accounts"):
            self._table(table).insert_multiple(clone(row) for row in data.get(table, []))
        return True

    # ----------------------------------------------------------------- users / login

    async def find_login_user(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        """The user record (with its password hash) for a login attempt, or None."""
        return await self._run(self._find_login_user_sync, organization_slug, email)

    def _find_login_user_sync(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        slug = organization_slug.lower()
        org = self._doc("organizations", self._indexes.orgs_by_slug.first(slug))
        if org is None:
            return None
        login = (org.get("id"), email.lower())
        user = self._doc("users", self._indexes.users_by_login.first(login))
        return None if user is None else clone(user)

    async def get_active_user(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        """The user `user_id` if it exists in `organization_id` and is active."""
        return await self._run(self._get_active_user_sync, user_id, organization_id)

    def _get_active_user_sync(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        for doc_id in self._indexes.users_by_id.ids(user_id):
            user = self._doc("users", doc_id)
            if user is not None and user.get("organization_id") == organization_id:
                if user.get("is_active") is not True:
                    return None
                out = clone(user)
                out.pop("password_hash", None)
                return out
        return None

    async def record_login(self, user_id: str, new_password_hash: str | None = None) -> None:
        """Set `last_login_at` (and store a rehashed password) after a successful login."""
        await self._run(self._record_login_sync, user_id, new_password_hash)

    def _record_login_sync(self, user_id: str, new_password_hash: str | None) -> None:
        fields: dict[str, Any] = {"last_login_at": isoformat(self.now())}
        if new_password_hash:
            fields["password_hash"] = new_password_hash
        self._table("users").update(fields, doc_ids=self._indexes.users_by_id.ids(user_id))

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
        rows = self.tenant_rows(self._indexes.listings[table], organization_id)
        docs = [self._doc(table, doc_id) or {} for doc_id in rows.page(params)]
        return Page(total=rows.total, results=[{f: clone(d.get(f)) for f in fields} for d in docs])

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
            "metadata": clone(metadata),
            "created_at": now,
            "updated_at": now,
        }
        table = self._table("accounts")
        if is_default:
            table.update(
                {"is_default": False, "updated_at": now},
                doc_ids=self._indexes.default_accounts.ids(organization_id),
            )
        table.insert(account)
        return {f: clone(account[f]) for f in ACCOUNT_FIELDS}

    # ----------------------------------------------------------------- refresh tokens

    async def insert_refresh_token(self, record: Mapping[str, Any]) -> None:
        """Store the first token of a new family, evicting the user's oldest families over cap."""
        await self._run(
            lambda: self._tokens().insert(
                dict(record), self.settings.max_families_per_user, self.now()
            )
        )

    async def find_refresh_token(self, token_hash: str) -> dict[str, Any] | None:
        """A copy of the stored record of a refresh token, or None."""
        return await self._run(lambda: self._tokens().find(token_hash))

    async def rotate_refresh_token(
        self, token_hash: str, successor: Mapping[str, Any]
    ) -> RotationResult:
        """Atomically use `token_hash` and store `successor`; on reuse revoke the family.

        The revocation is its own durable write, made before the answer is returned; a
        rotation slipping in between is revoked with the rest of the family.
        """
        result = await self._run(
            lambda: self._tokens().rotate(
                token_hash, dict(successor), self.now(), self._get_active_user_sync
            )
        )
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

    async def revoke_family(self, family_id: str, reason: str = "revoked") -> int:
        """Revoke a family: its records are dropped. How many there were."""
        revoked = await self._run(lambda: self._tokens().revoke(family_id))
        if revoked:
            log.info("refresh token family %s revoked (%s)", family_id, reason)
        return revoked

    async def prune_refresh_tokens(self) -> int:
        """Drop every expired refresh-token record now (writes also drop a few each)."""
        return await self._run(lambda: self._tokens().prune(self.now()))
