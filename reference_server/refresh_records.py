"""Refresh-token records: stored as hashes, rotated once, revoked by family, pruned on expiry.

One record per token: {hash, family_id, parent_hash, user_id, org_id, issued_at, expires_at,
used_at, revoked_at}; a family shares one absolute expiry. Lookups go through in-memory indexes
(by hash, by family, a user's live tokens), so a rotation costs the same after 10,000 of them.
Runs on the store thread only, each call inside one unit of work (one journal record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .durable import Database, clone
from .indexes import KeyIndex

log = logging.getLogger("reference_server.refresh_records")

TABLE = "refresh_tokens"


@dataclass(frozen=True)
class RotationResult:
    """Outcome of one refresh-token rotation, decided atomically in the storage thread.

    `revoke` names the family to revoke next (a reused token, or a user no longer active).
    """

    status: Literal["ok", "invalid", "reused"]
    user: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    revoke: str | None = None


def _live_owner(doc: dict[str, Any]) -> Any:
    """The user of a token that can still be used (one per family), else None."""
    if doc.get("used_at") is None and doc.get("revoked_at") is None:
        return doc.get("user_id")
    return None


class RefreshRecords:
    """The refresh-token table of the tokens database, and its indexes."""

    def __init__(self, db: Database) -> None:
        self.table = db.documents(TABLE)
        self.by_hash = KeyIndex(lambda d: d.get("hash"))
        self.by_family = KeyIndex(lambda d: d.get("family_id"))
        self.live_by_user = KeyIndex(_live_owner)
        for index in (self.by_hash, self.by_family, self.live_by_user):
            db.durable.listen(TABLE, index.change)

    def _get(self, doc_id: int) -> dict[str, Any]:
        doc = self.table.get(doc_id=doc_id)
        assert isinstance(doc, dict), f"index points at missing document {doc_id}"
        return doc

    def find(self, token_hash: str) -> dict[str, Any] | None:
        doc_id = self.by_hash.first(token_hash)
        return None if doc_id is None else clone(dict(self._get(doc_id)))

    def insert(self, record: dict[str, Any], cap: int) -> None:
        """Store the first token of a new family; over `cap` families the user's least
        recently used ones are dropped."""
        live = [self._get(i)["family_id"] for i in self.live_by_user.ids(record["user_id"])]
        families = list(dict.fromkeys(live))
        for family_id in families[: max(0, len(families) - cap + 1)]:
            self.table.remove(doc_ids=self.by_family.ids(family_id))
        self.table.insert(record)

    def rotate(
        self,
        token_hash: str,
        successor: dict[str, Any],
        now: float,
        active_user: Callable[[str, str], dict[str, Any] | None],
    ) -> RotationResult:
        """Use `token_hash` and store `successor` in one unit of work, or say why not."""
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
            "revoked_at": None,
        }
        self.table.update({"used_at": now}, doc_ids=[doc_id])
        self.table.insert(record)
        return RotationResult("ok", user=user, record=clone(record))

    def revoke(self, family_id: str, reason: str, now: float) -> int:
        ids = [i for i in self.by_family.ids(family_id) if self._get(i).get("revoked_at") is None]
        if ids:
            self.table.update({"revoked_at": now, "revoked_reason": reason}, doc_ids=ids)
        return len(ids)

    def prune(self, now: float) -> int:
        """Drop whole families past their absolute expiry (kept until then to detect reuse)."""
        ids = [d.doc_id for d in self.table.all() if d["expires_at"] <= now]
        if ids:
            self.table.remove(doc_ids=ids)
        return len(ids)
