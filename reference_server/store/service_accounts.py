"""Service accounts, their API keys and the nonces of signed requests: documents, indexes,
queries.

A service account belongs to one account of an organization and acts with its own policy
statements (none for one made over the API; the demo's reader may list accounts and users).
Deactivating it (`is_active: false`) or deleting it (soft: `deleted_at`) stops its keys at once,
and so does its account being deleted: `signing_key` decides all of that in one read.

A key document keeps its secret only sealed (`service_keys.SecretBox`), never as text, and no
query hands the sealed form out except `signing_key`, which the HMAC check needs. Keys are found
by `access_key` through a dict, so a lookup costs the same at 10,000 keys as at 10. A revoked key
stays, inactive (`is_active: false`, `revoked_at`), and is listed so.

Used nonces live in the tokens database (`hmac_nonces`), one document per (key, nonce) until its
`x-date` leaves the accepted window: so no replay works inside the window, across restarts too.
They are bounded (per key and in all) and pruned: every nonce written drops a few expired ones,
and the whole backlog goes at startup. `use_nonce` decides "first use" in the same unit of work
that records it, so of concurrent copies of one request exactly one gets through.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..pagination import ListParams, Page
from .core import StoreCore, isoformat
from .durable import Database, clone
from .indexes import KeyIndex, Listing, SortedIndex

log = logging.getLogger(__name__)

SERVICE_ACCOUNTS = "service_accounts"
KEYS = "api_keys"
NONCES = "hmac_nonces"

SERVICE_ACCOUNT_FIELDS = ("id", "name", "description", "account_id", "organization_id",
                          "is_active", "metadata", "created_at", "updated_at", "last_used_at")
SERVICE_ACCOUNT_ORDER_FIELDS = frozenset({"created_at", "updated_at", "name"})
#: what a key list shows: never the secret, in any form
KEY_FIELDS = ("id", "access_key", "description", "service_account_id", "expires_at",
              "ip_allowlist", "is_active", "created_at", "last_used_at")
KEY_ORDER_FIELDS = frozenset({"created_at"})
#: the fields an update of a service account may change
SERVICE_ACCOUNT_WRITABLE = ("name", "description", "metadata", "is_active")
#: expired nonces each nonce written drops on the way
PRUNE_PER_WRITE = 16


def is_live(doc: Mapping[str, Any]) -> bool:
    return doc.get("deleted_at") is None


def is_listed(doc: Mapping[str, Any]) -> bool:
    """What the default list shows: live and active (`include_inactive=true` shows the rest)."""
    return is_live(doc) and doc.get("is_active") is True


class ServiceAccountIndexes:
    """Service accounts and keys as they are found: by id, by access key, per list."""

    def __init__(self, db: Database) -> None:
        fields = sorted(SERVICE_ACCOUNT_ORDER_FIELDS)
        self.by_id = KeyIndex(lambda d: d.get("id"))
        self.listing = Listing(SERVICE_ACCOUNTS, fields, where=is_listed)
        self.with_inactive = Listing(SERVICE_ACCOUNTS, fields, where=is_live)
        self.of_account = Listing(SERVICE_ACCOUNTS, fields, tenant="account_id", where=is_listed)
        self.of_account_with_inactive = Listing(SERVICE_ACCOUNTS, fields, tenant="account_id",
                                                where=is_live)
        for index in (self.by_id, self.listing, self.with_inactive, self.of_account,
                      self.of_account_with_inactive):
            db.durable.listen(SERVICE_ACCOUNTS, index.change)
        self.key_by_id = KeyIndex(lambda d: d.get("id"))
        self.key_by_access = KeyIndex(lambda d: d.get("access_key"))
        self.keys = Listing(KEYS, sorted(KEY_ORDER_FIELDS), tenant="service_account_id")
        for index in (self.key_by_id, self.key_by_access, self.keys):
            db.durable.listen(KEYS, index.change)
        #: key id -> when a signed request wrote the `last_used_at` of the key and of its
        #: service account (both then), so that the next ones within the interval need not
        #: look; any change to a key forgets it, any change to a service account forgets all
        #: (an undo included)
        self.stamped: dict[Any, float] = {}
        db.durable.listen(KEYS, self._key_changed)
        db.durable.listen(SERVICE_ACCOUNTS, self._service_account_changed)

    def _key_changed(self, doc_id: int, before: Mapping[str, Any] | None,
                     after: Mapping[str, Any] | None) -> None:
        for doc in (before, after):
            if doc is not None:
                with contextlib.suppress(TypeError):  # a hand-edited id that is no key
                    self.stamped.pop(doc.get("id"), None)

    def _service_account_changed(self, doc_id: int, before: Mapping[str, Any] | None,
                                 after: Mapping[str, Any] | None) -> None:
        self.stamped.clear()


class NonceIndex:
    """Used nonces of the tokens database: by (key, nonce), counted per key, by expiry."""

    def __init__(self, db: Database) -> None:
        self.table = db.documents(NONCES)
        self.ids: dict[tuple[Any, Any], int] = {}
        self.per_key: dict[Any, int] = {}
        self.by_expiry = SortedIndex("expires_at")
        db.durable.listen(NONCES, self.change)
        db.durable.listen(NONCES, self.by_expiry.change)

    def change(self, doc_id: int, before: Mapping[str, Any] | None,
               after: Mapping[str, Any] | None) -> None:
        for doc, step in ((before, -1), (after, 1)):
            if doc is None:
                continue
            key = (doc.get("key_id"), doc.get("nonce"))
            owner = doc.get("key_id")
            try:
                if step < 0:
                    if self.ids.get(key) == doc_id:
                        del self.ids[key]
                else:
                    self.ids[key] = doc_id
                self.per_key[owner] = self.per_key.get(owner, 0) + step
                if self.per_key[owner] <= 0:
                    del self.per_key[owner]
            except TypeError:  # a hand-edited document with a list for a key: not indexed
                continue

    def __len__(self) -> int:
        return len(self.ids)

    def prune(self, now: float, limit: int | None = None) -> int:
        """Drop up to `limit` expired nonces, the longest expired first; how many."""
        ids = self.by_expiry.up_to(now, len(self.table) if limit is None else limit)
        return len(self.table.remove(doc_ids=ids)) if ids else 0


@dataclass(frozen=True)
class SigningRecord:
    """What checking a signed request needs of a key, read in one go.

    `problem` says why an authentic request with this key is still refused (None: it is not).
    """

    key_id: str
    sealed_secret: str
    organization_id: str
    service_account_id: str
    statements: list[dict[str, Any]]
    expires_ts: float | None
    ip_allowlist: list[str]
    problem: str | None


@dataclass(frozen=True)
class ServiceWrite:
    """What became of a write about a service account or key, decided where it was made."""

    status: Literal["ok", "absent", "no_account"]
    document: dict[str, Any] | None = None


NonceUse = Literal["ok", "used", "key_full", "full"]


class ServiceAccountQueries(StoreCore):
    """The service-account half of the `Store`: every call sees one organization's rows."""

    #: what a list, a get or a create shows of a service account, and of a key
    service_account_fields: tuple[str, ...] = SERVICE_ACCOUNT_FIELDS
    key_fields: tuple[str, ...] = KEY_FIELDS

    @property
    def _service(self) -> ServiceAccountIndexes:
        return self._index(ServiceAccountIndexes)

    @property
    def _nonces(self) -> NonceIndex:
        return self._index(NonceIndex)

    def _live_account_sync(self, organization_id: str, account_id: Any) -> bool:
        raise NotImplementedError  # the accounts part of the Store answers this

    def _prepare_sync(self) -> None:
        super()._prepare_sync()
        pruned = self._nonces.prune(self.now())
        if pruned:
            log.info("pruned %d expired nonces of signed requests", pruned)

    # ----------------------------------------------------------------- finding one

    def find_service_account(self, organization_id: str, service_account_id: Any) -> int | None:
        """The document id of the live service account `service_account_id` of the organization,
        else None: a missing, a foreign and a deleted id are all absent (a seam for variants)."""
        if not isinstance(service_account_id, str):
            return None
        for doc_id in self._service.by_id.ids(service_account_id):
            doc = self._doc(SERVICE_ACCOUNTS, doc_id)
            if doc is not None and doc.get("organization_id") == organization_id and is_live(doc):
                return doc_id
        return None

    def _shown_account(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {f: clone(doc.get(f)) for f in self.service_account_fields}

    def _shown_key(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {f: clone(doc.get(f)) for f in self.key_fields}

    async def get_service_account(self, organization_id: str, service_account_id: str
                                  ) -> dict[str, Any] | None:
        return await self._read(self._get_service_account_sync, organization_id,
                                service_account_id)

    def _get_service_account_sync(self, organization_id: str, service_account_id: str
                                  ) -> dict[str, Any] | None:
        doc = self._doc(SERVICE_ACCOUNTS,
                        self.find_service_account(organization_id, service_account_id))
        return None if doc is None else self._shown_account(doc)

    # ----------------------------------------------------------------- lists

    async def list_service_accounts(self, organization_id: str, params: ListParams, *,
                                    include_inactive: bool = False,
                                    account_id: str | None = None) -> Page:
        """One page of the organization's service accounts (of one of its accounts)."""
        return await self._read(self._list_service_accounts_sync, organization_id, params,
                                include_inactive, account_id)

    def _list_service_accounts_sync(self, organization_id: str, params: ListParams,
                                    include_inactive: bool, account_id: str | None) -> Page:
        service = self._service
        if account_id is None:
            listing = service.with_inactive if include_inactive else service.listing
            return self._list_sync(SERVICE_ACCOUNTS, listing, organization_id, params,
                                   self.service_account_fields)
        if not self._live_account_sync(organization_id, account_id):
            return Page(total=0, results=[])
        listing = service.of_account_with_inactive if include_inactive else service.of_account
        return self._list_sync(SERVICE_ACCOUNTS, listing, account_id, params,
                               self.service_account_fields)

    async def list_keys(self, organization_id: str, service_account_id: str,
                        params: ListParams) -> Page | None:
        """One page of a service account's keys (revoked ones too, inactive); None when the
        service account is not the organization's."""
        return await self._read(self._list_keys_sync, organization_id, service_account_id,
                                params)

    def _list_keys_sync(self, organization_id: str, service_account_id: str,
                        params: ListParams) -> Page | None:
        if self.find_service_account(organization_id, service_account_id) is None:
            return None
        return self._list_sync(KEYS, self._service.keys, service_account_id, params,
                               self.key_fields)

    # ----------------------------------------------------------------- writes

    def new_service_account_id(self) -> str:
        return str(uuid.uuid4())

    async def create_service_account(self, organization_id: str, fields: Mapping[str, Any],
                                     statements: list[dict[str, Any]] | None = None
                                     ) -> ServiceWrite:
        """A new active service account of one of the organization's live accounts (else
        `no_account`: another organization's, a deleted or a missing account are one answer)."""
        return await self._run(self._create_service_account_sync, organization_id,
                               clone(dict(fields)), clone(statements or []))

    def _create_service_account_sync(self, organization_id: str, fields: dict[str, Any],
                                     statements: list[dict[str, Any]]) -> ServiceWrite:
        if not self._live_account_sync(organization_id, fields.get("account_id")):
            return ServiceWrite("no_account")
        now = isoformat(self.now())
        doc = {
            "id": self.new_service_account_id(),
            "name": fields["name"],
            "description": fields.get("description"),
            "account_id": fields["account_id"],
            "organization_id": organization_id,
            "is_active": True,
            "metadata": fields.get("metadata") or {},
            "statements": statements,
            "created_at": now,
            "updated_at": now,
            "last_used_at": None,
            "deleted_at": None,
        }
        self._table(SERVICE_ACCOUNTS).insert(doc)
        return ServiceWrite("ok", self._shown_account(doc))

    async def update_service_account(self, organization_id: str, service_account_id: str,
                                     changes: Mapping[str, Any]) -> ServiceWrite:
        return await self._run(self._update_service_account_sync, organization_id,
                               service_account_id, clone(dict(changes)))

    def _update_service_account_sync(self, organization_id: str, service_account_id: str,
                                     changes: dict[str, Any]) -> ServiceWrite:
        doc_id = self.find_service_account(organization_id, service_account_id)
        doc = self._doc(SERVICE_ACCOUNTS, doc_id)
        if doc_id is None or doc is None:
            return ServiceWrite("absent")
        fields = {k: v for k, v in changes.items()
                  if k in SERVICE_ACCOUNT_WRITABLE and doc.get(k) != v}
        if fields:
            now = isoformat(self.now())
            stamp = max(now, doc.get("updated_at") or now)  # never backwards
            self._table(SERVICE_ACCOUNTS).update({**fields, "updated_at": stamp},
                                                 doc_ids=[doc_id])
            doc = self._doc(SERVICE_ACCOUNTS, doc_id) or doc
        return ServiceWrite("ok", self._shown_account(doc))

    async def delete_service_account(self, organization_id: str, service_account_id: str
                                     ) -> ServiceWrite:
        """Soft delete: its keys stop authenticating, its id then gets 404."""
        return await self._run(self._delete_service_account_sync, organization_id,
                               service_account_id)

    def _delete_service_account_sync(self, organization_id: str, service_account_id: str
                                     ) -> ServiceWrite:
        doc_id = self.find_service_account(organization_id, service_account_id)
        if doc_id is None:
            return ServiceWrite("absent")
        now = isoformat(self.now())
        self._table(SERVICE_ACCOUNTS).update({"deleted_at": now, "updated_at": now},
                                             doc_ids=[doc_id])
        return ServiceWrite("ok")

    async def issue_key(self, organization_id: str, service_account_id: str,
                        key: Mapping[str, Any]) -> ServiceWrite:
        """Store a key (its secret already sealed) for a live service account of the
        organization; `absent` otherwise. The document shown has no secret."""
        return await self._run(self._issue_key_sync, organization_id, service_account_id,
                               clone(dict(key)))

    def _issue_key_sync(self, organization_id: str, service_account_id: str,
                        key: dict[str, Any]) -> ServiceWrite:
        if self.find_service_account(organization_id, service_account_id) is None:
            return ServiceWrite("absent")
        if self._service.key_by_access.first(key["access_key"]) is not None:
            raise ValueError("access key collision")  # 128 random bits: never in practice
        now = isoformat(self.now())
        doc = {**key, "service_account_id": service_account_id,
               "organization_id": organization_id, "is_active": True, "created_at": now,
               "last_used_at": None, "revoked_at": None}
        self._table(KEYS).insert(doc)
        return ServiceWrite("ok", self._shown_key(doc))

    async def revoke_key(self, organization_id: str, service_account_id: str, key_id: str
                         ) -> ServiceWrite:
        """The key stops authenticating with this write; it stays listed, inactive. Revoking it
        again changes nothing and is no error."""
        return await self._run(self._revoke_key_sync, organization_id, service_account_id,
                               key_id)

    def _revoke_key_sync(self, organization_id: str, service_account_id: str, key_id: str
                         ) -> ServiceWrite:
        if self.find_service_account(organization_id, service_account_id) is None:
            return ServiceWrite("absent")
        for doc_id in self._service.key_by_id.ids(key_id):
            doc = self._doc(KEYS, doc_id)
            if doc is None or doc.get("service_account_id") != service_account_id:
                continue
            if doc.get("is_active") is not False:
                self._table(KEYS).update(
                    {"is_active": False, "revoked_at": isoformat(self.now())}, doc_ids=[doc_id])
            return ServiceWrite("ok")
        return ServiceWrite("absent")

    # ----------------------------------------------------------------- signed requests

    async def signing_key(self, access_key: str) -> SigningRecord | None:
        """What checking a request signed with `access_key` needs (None: no such key). Known
        and unknown keys cost one dict lookup each."""
        return await self._read(self._signing_key_sync, access_key)

    def _signing_key_sync(self, access_key: str) -> SigningRecord | None:
        key = self._doc(KEYS, self._service.key_by_access.first(access_key))
        if key is None or not isinstance(key.get("secret"), str):
            return None
        owner = key.get("service_account_id")
        organization = key.get("organization_id")
        sa_id = self.find_service_account(str(organization), owner)
        sa = self._doc(SERVICE_ACCOUNTS, sa_id)
        problem = None
        if key.get("is_active") is not True:
            problem = "This key has been revoked"
        elif sa is None or sa.get("is_active") is not True:
            problem = "This key's service account is inactive or deleted"
        elif not self._live_account_sync(str(organization), sa.get("account_id")):
            problem = "This key's service account belongs to an account that no longer exists"
        expires = key.get("expires_ts")
        allowlist = key.get("ip_allowlist")
        return SigningRecord(
            key_id=str(key.get("id")),
            sealed_secret=key["secret"],
            organization_id=str(organization),
            service_account_id=str(owner),
            statements=clone(list(sa.get("statements") or [])) if sa is not None else [],
            expires_ts=float(expires) if isinstance(expires, int | float) else None,
            ip_allowlist=[a for a in allowlist if isinstance(a, str)]
            if isinstance(allowlist, list) else [],
            problem=problem,
        )

    async def sealed_secrets(self) -> list[str]:
        """Every stored key's sealed secret, revoked ones too (the secret box opens them all at
        start, so that no signed request pays for opening one: see `service_keys`)."""
        return await self._read(self._sealed_secrets_sync)

    def _sealed_secrets_sync(self) -> list[str]:
        return [doc["secret"] for doc in self._table(KEYS).all()
                if isinstance(doc.get("secret"), str)]

    async def use_nonce(self, key_id: str, nonce: str, expires_at: float) -> NonceUse:
        """Record the first use of `nonce` with this key, durably, kept until `expires_at`;
        "used" if it was used before. Also stamps `last_used_at` on the key and its service
        account, at most once per `last_used_interval`."""
        return await self._run(self._use_nonce_sync, key_id, nonce, expires_at)

    def _use_nonce_sync(self, key_id: str, nonce: str, expires_at: float) -> NonceUse:
        now = self.now()
        nonces = self._nonces
        nonces.prune(now, PRUNE_PER_WRITE)
        if (key_id, nonce) in nonces.ids:
            return "used"
        if nonces.per_key.get(key_id, 0) >= self.settings.max_nonces_per_key:
            return "key_full"
        if len(nonces) >= self.settings.max_nonces:
            return "full"
        nonces.table.insert({"key_id": key_id, "nonce": nonce, "expires_at": expires_at})
        self._touch(key_id, now)
        return "ok"

    def _touch(self, key_id: str, now: float) -> None:
        """`last_used_at` of the key and its service account, unless written lately. Once this
        server wrote both, the key is not even looked up again within the interval
        (`ServiceAccountIndexes.stamped`): a signed request is then spared the lookups."""
        interval = self.settings.last_used_interval
        written = self._service.stamped.get(key_id)
        if written is not None and 0 <= now - written < interval:
            return
        stale = isoformat(now - interval)
        stamp = isoformat(now)
        both = False  # whether this call wrote every stamp (so all are `now`'s)
        for doc_id in self._service.key_by_id.ids(key_id):
            key = self._doc(KEYS, doc_id)
            if key is None:
                continue
            used = key.get("last_used_at")
            both = not isinstance(used, str) or used < stale
            if both:
                self._table(KEYS).update({"last_used_at": stamp}, doc_ids=[doc_id])
            for sa_id in self._service.by_id.ids(key.get("service_account_id")):
                sa = self._doc(SERVICE_ACCOUNTS, sa_id)
                used = sa.get("last_used_at") if sa is not None else None
                if sa is not None and (not isinstance(used, str) or used < stale):
                    self._table(SERVICE_ACCOUNTS).update({"last_used_at": stamp},
                                                         doc_ids=[sa_id])
                else:
                    both = False
        if both:
            self._service.stamped[key_id] = now

    async def seed_service_account(self, service_account: Mapping[str, Any],
                                   key: Mapping[str, Any]) -> bool:
        """Insert a service account and one key of it unless that service account exists."""
        return await self._run(self._seed_service_account_sync, clone(dict(service_account)),
                               clone(dict(key)))

    def _seed_service_account_sync(self, service_account: dict[str, Any],
                                   key: dict[str, Any]) -> bool:
        if self._service.by_id.first(service_account["id"]) is not None:
            return False
        self._table(SERVICE_ACCOUNTS).insert(service_account)
        self._table(KEYS).insert(key)
        return True
