"""Accounts: their documents, the indexes they are found by, and their queries.

Every query takes the caller's organization and sees only that organization's rows. A delete is
soft: the document stays, with `deleted_at` set, and leaves the default list (it shows only with
`include_deleted`). One function, `find_account`, decides whether an id names an account the
caller may touch; a missing, a foreign and a deleted id are all simply absent to it, so every
route answers all three with the same 404.

The default account: an organization has at most one live account reading `is_default: true`.
Making an account the default demotes the previous one in the same unit of work; unsetting or
deleting the current default is refused (`conflict`), so the client moves the default first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..pagination import ListParams, Page
from .core import StoreCore, isoformat
from .durable import Database, clone
from .indexes import KeyIndex, Listing

TABLE = "accounts"
ACCOUNT_FIELDS = (
    "id",
    "name",
    "organization_id",
    "is_default",
    "is_active",
    "metadata",
    "created_at",
    "updated_at",
    "deleted_at",
)
ACCOUNT_ORDER_FIELDS = frozenset({"created_at", "updated_at", "name"})
#: the fields an update may change (PUT sends all three, PATCH any of them)
WRITABLE_FIELDS = ("name", "is_default", "metadata")


def is_live(doc: Mapping[str, Any]) -> bool:
    return doc.get("deleted_at") is None


class AccountIndexes:
    """What accounts are looked up by; each index hears every change, undos included."""

    def __init__(self, db: Database) -> None:
        self.by_id = KeyIndex(lambda d: d.get("id"))
        self.defaults = KeyIndex(
            lambda d: d.get("organization_id")
            if d.get("is_default") is True and is_live(d) else None
        )
        self.listing = Listing(TABLE, sorted(ACCOUNT_ORDER_FIELDS), where=is_live)
        self.with_deleted = Listing(TABLE, sorted(ACCOUNT_ORDER_FIELDS))
        for index in (self.by_id, self.defaults, self.listing, self.with_deleted):
            db.durable.listen(TABLE, index.change)


@dataclass(frozen=True)
class AccountWrite:
    """What became of an update or a delete, decided in the same unit of work as the write."""

    status: Literal["ok", "absent", "conflict"]
    account: dict[str, Any] | None = None
    reason: str = ""


UNSET_DEFAULT = (
    "This is the organization's default account: make another account the default first"
)
DELETE_DEFAULT = (
    "The organization's default account cannot be deleted: make another account the default "
    "first"
)


class AccountQueries(StoreCore):
    """The account half of the `Store`."""

    #: what a list or a create shows of an account (a seam for test variants)
    account_fields: tuple[str, ...] = ACCOUNT_FIELDS

    @property
    def _accounts(self) -> AccountIndexes:
        return self._index(AccountIndexes)

    def _shown(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {f: clone(doc.get(f)) for f in self.account_fields}

    # ----------------------------------------------------------------- finding one

    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        """The document id of the live account `account_id` of `organization_id`, else None.

        The one place that decides "absent": an id that never existed, another organization's
        account and a deleted one all get None, so callers cannot tell them apart. Runs on the
        store thread (a seam for test variants).
        """
        if not isinstance(account_id, str):
            return None
        for doc_id in self._accounts.by_id.ids(account_id):
            doc = self._doc(TABLE, doc_id)
            if doc is not None and doc.get("organization_id") == organization_id and is_live(doc):
                return doc_id
        return None

    async def get_account(self, organization_id: str, account_id: str) -> dict[str, Any] | None:
        return await self._read(self._get_account_sync, organization_id, account_id)

    def _get_account_sync(self, organization_id: str, account_id: str) -> dict[str, Any] | None:
        doc = self._doc(TABLE, self.find_account(organization_id, account_id))
        return None if doc is None else self._shown(doc)

    def _account_is_live_sync(self, organization_id: str, account_id: str) -> bool:
        return self.find_account(organization_id, account_id) is not None

    # ----------------------------------------------------------------- lists

    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        """One page of the organization's live accounts."""
        return await self._read(
            self._list_sync, TABLE, self._accounts.listing, organization_id, params,
            self.account_fields,
        )

    async def list_accounts_with_deleted(self, organization_id: str, params: ListParams
                                         ) -> Page:
        """One page of the organization's accounts, deleted ones included."""
        return await self._read(
            self._list_sync, TABLE, self._accounts.with_deleted, organization_id, params,
            self.account_fields,
        )

    # ----------------------------------------------------------------- writes

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
            "deleted_at": None,
        }
        if is_default:
            self._demote_defaults(organization_id, now)
        self._table(TABLE).insert(account)
        return self._shown(account)

    def _demote_defaults(self, organization_id: str, now: str, keep: int | None = None) -> None:
        demoted = [i for i in self._accounts.defaults.ids(organization_id) if i != keep]
        if demoted:
            self._table(TABLE).update({"is_default": False, "updated_at": now}, doc_ids=demoted)

    def _stamp(self, doc: Mapping[str, Any]) -> str:
        """Now, but never before the document's own `updated_at` (a clock set back, or one
        moved by a test, must not move `updated_at` backwards)."""
        now = isoformat(self.now())
        previous = doc.get("updated_at")
        return previous if isinstance(previous, str) and previous > now else now

    async def update_account(
        self, organization_id: str, account_id: str, changes: Mapping[str, Any]
    ) -> AccountWrite:
        """Set the fields of `changes` (a PUT sends all of WRITABLE_FIELDS, a PATCH some).

        Making the account the default demotes the previous default in the same write; setting
        `is_default` false on the current default is a conflict, and nothing changes.
        """
        return await self._run(self._update_account_sync, organization_id, account_id,
                               clone(dict(changes)))

    def _update_account_sync(
        self, organization_id: str, account_id: str, changes: dict[str, Any]
    ) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc_id is None or doc is None:
            return AccountWrite("absent")
        if doc.get("is_default") is True and changes.get("is_default") is False:
            return AccountWrite("conflict", reason=UNSET_DEFAULT)
        fields = {k: v for k, v in changes.items() if k in WRITABLE_FIELDS and doc.get(k) != v}
        if fields:
            now = self._stamp(doc)
            if fields.get("is_default") is True:
                self._demote_defaults(organization_id, now, keep=doc_id)
            self._table(TABLE).update({**fields, "updated_at": now}, doc_ids=[doc_id])
            doc = self._doc(TABLE, doc_id) or doc
        return AccountWrite("ok", self._shown(doc))

    async def delete_account(self, organization_id: str, account_id: str) -> AccountWrite:
        """Soft delete: `deleted_at` is set and the account leaves the default list. The
        current default is not deleted (a conflict): the client moves the default first."""
        return await self._run(self._delete_account_sync, organization_id, account_id)

    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc_id is None or doc is None:
            return AccountWrite("absent")
        if doc.get("is_default") is True:
            return AccountWrite("conflict", reason=DELETE_DEFAULT)
        now = self._stamp(doc)
        self._table(TABLE).update({"deleted_at": now, "updated_at": now}, doc_ids=[doc_id])
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or doc))
