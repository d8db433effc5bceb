"""Refresh-token records: stored as hashes, rotated once, revoked by family, pruned on expiry.

One record per token: {hash, family_id, parent_hash, user_id, org_id, issued_at, expires_at,
used_at}; a family shares one absolute expiry. Lookups go through in-memory indexes (by hash, by
family, a user's live tokens, by expiry), so a rotation costs the same after 10,000 of them.

What is kept, and for how long:
- a live token: its whole record, until it is used or its family expires;
- a spent (rotated) token: only what reuse detection needs, {hash, family_id, user_id,
  expires_at, used_at}, until its family expires: presenting it again revokes the family;
- a revoked family (reuse, a user no longer active, over the per-user cap): nothing. A token of a
  family that no longer exists is refused exactly like an unknown one.
Expired records are dropped while the server runs: every write drops a few of the oldest, so
pruning never stalls a request, and the whole backlog goes at startup.

Runs on the store thread only, each call inside one unit of work (one journal record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .core import StoreCore
from .durable import Database, clone
from .indexes import KeyIndex, SortedIndex
from .snapshot import CorruptDatabaseError

log = logging.getLogger(__name__)

TABLE = "refresh_tokens"
SPENT_FIELDS = frozenset({"hash", "family_id", "user_id", "expires_at", "used_at"})
#: expired records each write drops on the way (a bound, so no request pays for a backlog)
PRUNE_PER_WRITE = 16
_NUMBER = (int, float)


@dataclass(frozen=True)
class RotationResult:
    """Outcome of one refresh-token rotation, decided atomically in the storage thread.

    `revoke` names the family to revoke next (a reused token, or a user no longer active).
    """

    status: Literal["ok", "invalid", "reused"]
    user: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    revoke: str | None = None


def _is_live(doc: dict[str, Any]) -> bool:
    return doc.get("used_at") is None and doc.get("revoked_at") is None


def _problem(doc: dict[str, Any]) -> str | None:
    """What makes a stored record unusable, for the startup refusal; None if it is sound."""
    wanted: dict[str, tuple[type, ...]] = {"hash": (str,), "family_id": (str,),
                                           "expires_at": _NUMBER}
    if _is_live(doc):
        wanted.update(user_id=(str,), org_id=(str,))
    for name, types in wanted.items():
        value = doc.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"has no valid {name!r}"
    used = doc.get("used_at")
    if used is not None and (not isinstance(used, _NUMBER) or isinstance(used, bool)):
        return "has no valid 'used_at'"
    return None


def _spend(now: float) -> Callable[[dict[str, Any]], None]:
    """Turn a live record into what reuse detection needs of it (TinyDB update in place)."""

    def spend(doc: dict[str, Any]) -> None:
        for name in [n for n in doc if n not in SPENT_FIELDS]:
            del doc[name]
        doc["used_at"] = now

    return spend


class RefreshRecords:
    """The refresh-token table of the tokens database, and its indexes."""

    def __init__(self, db: Database) -> None:
        self.table = db.documents(TABLE)
        for doc in self.table:
            problem = _problem(doc)
            if problem:
                raise CorruptDatabaseError(
                    f"database file {db.durable.path}: refresh token record {doc.doc_id} {problem}"
                )
        self.by_hash = KeyIndex(lambda d: d.get("hash"))
        self.by_family = KeyIndex(lambda d: d.get("family_id"))
        self.live_by_user = KeyIndex(lambda d: d.get("user_id") if _is_live(d) else None)
        self.by_expiry = SortedIndex("expires_at")
        for index in (self.by_hash, self.by_family, self.live_by_user, self.by_expiry):
            db.durable.listen(TABLE, index.change)

    def _get(self, doc_id: int) -> dict[str, Any]:
        doc = self.table.get(doc_id=doc_id)
        assert isinstance(doc, dict), f"index points at missing document {doc_id}"
        return doc

    def find(self, token_hash: str) -> dict[str, Any] | None:
        doc_id = self.by_hash.first(token_hash)
        return None if doc_id is None else clone(dict(self._get(doc_id)))

    def insert(self, record: dict[str, Any], cap: int, now: float) -> None:
        """Store the first token of a new family; over `cap` families the user's least
        recently used ones are dropped."""
        self.prune(now, PRUNE_PER_WRITE)
        live = [self._get(i)["family_id"] for i in self.live_by_user.ids(record["user_id"])]
        families = list(dict.fromkeys(live))
        for family_id in families[: max(0, len(families) - cap + 1)]:
            self.revoke(family_id)
        self.table.insert(record)

    def rotate(
        self,
        token_hash: str,
        successor: dict[str, Any],
        now: float,
        active_user: Callable[[str, str], dict[str, Any] | None],
    ) -> RotationResult:
        """Spend `token_hash` and store `successor` in one unit of work, or say why not."""
        doc_id = self.by_hash.first(token_hash)
        if doc_id is None:
            return RotationResult("invalid")
        current = self._get(doc_id)
        if current.get("revoked_at") is not None or current["expires_at"] <= now:
            return RotationResult("invalid")
        if current.get("used_at") is not None:
            return RotationResult("reused", revoke=current["family_id"])
        user = active_user(current["user_id"], current["org_id"])
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
        }
        self.table.update(_spend(now), doc_ids=[doc_id])
        self.table.insert(record)
        self.prune(now, PRUNE_PER_WRITE)
        return RotationResult("ok", user=user, record=clone(record))

    def revoke(self, family_id: str) -> int:
        """Drop every record of a family; how many there were."""
        return len(self.table.remove(doc_ids=self.by_family.ids(family_id)))

    def prune(self, now: float, limit: int | None = None) -> int:
        """Drop up to `limit` expired records, the longest expired first; how many."""
        ids = self.by_expiry.up_to(now, len(self.table) if limit is None else limit)
        return len(self.table.remove(doc_ids=ids)) if ids else 0

    def prune_revoked(self) -> int:
        """Drop what earlier versions kept of revoked families (startup only: a full scan)."""
        ids = [d.doc_id for d in self.table if d.get("revoked_at") is not None]
        return len(self.table.remove(doc_ids=ids)) if ids else 0


class RefreshTokenQueries(StoreCore):
    """The refresh-token half of the `Store`: every call is one unit of work on the store thread."""

    token_indexes = (RefreshRecords,)

    @property
    def _records(self) -> RefreshRecords:
        return self._index(RefreshRecords)

    def _active_user_sync(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        raise NotImplementedError  # the users part of the Store answers this

    def _prepare_sync(self) -> None:
        super()._prepare_sync()
        pruned = self._records.prune(self.now()) + self._records.prune_revoked()
        if pruned:
            log.info("pruned %d expired or revoked refresh token records", pruned)

    async def insert_refresh_token(self, record: Mapping[str, Any]) -> None:
        """Store the first token of a new family, evicting the user's oldest families over cap."""
        await self._run(
            lambda: self._records.insert(
                dict(record), self.settings.max_families_per_user, self.now()
            )
        )

    async def find_refresh_token(self, token_hash: str) -> dict[str, Any] | None:
        """A copy of the stored record of a refresh token, or None."""
        return await self._run(lambda: self._records.find(token_hash))

    async def rotate_refresh_token(
        self, token_hash: str, successor: Mapping[str, Any]
    ) -> RotationResult:
        """Atomically use `token_hash` and store `successor`; on reuse revoke the family.

        The revocation is its own durable write, made before the answer is returned; a
        rotation slipping in between is revoked with the rest of the family.
        """
        result = await self._run(
            lambda: self._records.rotate(
                token_hash, dict(successor), self.now(), self._active_user_sync
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
        revoked = await self._run(lambda: self._records.revoke(family_id))
        if revoked:
            log.info("refresh token family %s revoked (%s)", family_id, reason)
        return revoked

    async def prune_refresh_tokens(self) -> int:
        """Drop every expired refresh-token record now (writes also drop a few each)."""
        return await self._run(lambda: self._records.prune(self.now()))
