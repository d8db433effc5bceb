"""Accounts: their documents, the indexes they are found by, and their queries.

Every query takes the caller's organization and sees only that organization's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

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
)
ACCOUNT_ORDER_FIELDS = frozenset({"created_at", "updated_at", "name"})


class AccountIndexes:
    """What accounts are looked up by; each index hears every change, undos included."""

    def __init__(self, db: Database) -> None:
        self.defaults = KeyIndex(
            lambda d: d.get("organization_id") if d.get("is_default") is True else None
        )
        self.listing = Listing(TABLE, sorted(ACCOUNT_ORDER_FIELDS))
        db.durable.listen(TABLE, self.defaults.change)
        db.durable.listen(TABLE, self.listing.change)


class AccountQueries(StoreCore):
    """The account half of the `Store`."""

    #: what a list or a create shows of an account (a seam for test variants)
    account_fields: tuple[str, ...] = ACCOUNT_FIELDS

    @property
    def _accounts(self) -> AccountIndexes:
        return self._index(AccountIndexes)

    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        """One page of the organization's accounts."""
        return await self._read(
            self._list_sync, TABLE, self._accounts.listing, organization_id, params,
            self.account_fields,
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
            "metadata": clone(metadata),
            "created_at": now,
            "updated_at": now,
        }
        table = self._table(TABLE)
        if is_default:
            table.update(
                {"is_default": False, "updated_at": now},
                doc_ids=self._accounts.defaults.ids(organization_id),
            )
        table.insert(account)
        return {f: clone(account[f]) for f in ACCOUNT_FIELDS}
