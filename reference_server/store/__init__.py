"""The persistence of the reference server: one `Store`, one module per resource.

`Store` is the only way in. It owns both TinyDB files through one thread (`core.py`, `thread.py`);
TinyDB's own `Storage` interface is the boundary to the disk (`durable.py`: a snapshot and a
journal). Each resource's documents, indexes and queries are a module of their own: accounts
(`accounts.py`), organizations, users and memberships (`users.py`), refresh-token records
(`refresh_records.py`), service accounts, their keys and the nonces of signed requests
(`service_accounts.py`). Every account and user query takes the caller's organization and sees
only that organization's rows.

The seams tests may substitute to build a variant (never anything else):
- the public async methods;
- `tenant_rows`, the tenant filter of every list (it runs where the store reads: on the store
  thread, or on the event loop while that thread is quiet; never beside a write);
- `find_account`, the one function that says whether an account id is the caller's to touch
  (missing, foreign and deleted ids are all absent to it; it runs where the store reads), and
  `find_service_account`, its counterpart for service accounts;
- the projections `account_fields` and `user_fields`, what a list shows of each row;
- `new_account_id`, how account ids are made (their format is a free choice).
"""

from __future__ import annotations

from typing import Any

from .accounts import (
    ACCOUNT_FIELDS,
    ACCOUNT_ORDER_FIELDS,
    AccountIndexes,
    AccountQueries,
    AccountWrite,
)
from .core import MAIN_DB, TOKENS_DB, isoformat
from .refresh_records import RefreshRecords, RefreshTokenQueries, RotationResult
from .service_accounts import (
    KEY_ORDER_FIELDS,
    SERVICE_ACCOUNT_ORDER_FIELDS,
    NonceIndex,
    ServiceAccountIndexes,
    ServiceAccountQueries,
    ServiceWrite,
    SigningRecord,
)
from .users import USER_FIELDS, USER_ORDER_FIELDS, UserIndexes, UserQueries

__all__ = [
    "ACCOUNT_FIELDS",
    "ACCOUNT_ORDER_FIELDS",
    "KEY_ORDER_FIELDS",
    "MAIN_DB",
    "SERVICE_ACCOUNT_ORDER_FIELDS",
    "TOKENS_DB",
    "USER_FIELDS",
    "USER_ORDER_FIELDS",
    "AccountWrite",
    "RotationResult",
    "ServiceWrite",
    "SigningRecord",
    "Store",
    "isoformat",
]


class Store(AccountQueries, UserQueries, RefreshTokenQueries, ServiceAccountQueries):
    """The single owner of the data: accounts, organizations and users, refresh tokens, service
    accounts and their keys."""

    main_indexes = (AccountIndexes, UserIndexes, ServiceAccountIndexes)
    token_indexes = (RefreshRecords, NonceIndex)

    def _account_is_live_sync(self, organization_id: str, account_id: str) -> bool:
        return AccountQueries._account_is_live_sync(self, organization_id, account_id)

    def _active_user_sync(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        return self._get_active_user_sync(user_id, organization_id)

    def _live_account_sync(self, organization_id: str, account_id: Any) -> bool:
        return AccountQueries._account_is_live_sync(self, organization_id, account_id)
