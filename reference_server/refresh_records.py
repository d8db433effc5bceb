"""Refresh-token records: stored as hashes, rotated once, revoked by family, pruned on expiry.

Runs on the store thread only, each method inside one unit of work (one journal record): the
`Store` owns the table and the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tinydb import where
from tinydb.table import Document, Table

from .durable import clone

log = logging.getLogger("reference_server.refresh_records")


@dataclass(frozen=True)
class RotationResult:
    """Outcome of one refresh-token rotation, decided atomically in the storage thread.

    `revoke` names the family to revoke next (a reused token, or a user no longer active).
    """

    status: Literal["ok", "invalid", "reused"]
    user: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    revoke: str | None = None


class RefreshRecords:
    """The refresh-token table: one record per token, its family, its expiry, whether used."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def find(self, token_hash: str) -> dict[str, Any] | None:
        doc = self.table.get(where("hash") == token_hash)
        return clone(dict(doc)) if isinstance(doc, Document) else None

    def insert(self, record: dict[str, Any], cap: int) -> None:
        """Store the first token of a new family, evicting the user's oldest families over cap."""
        table = self.table
        mine = table.search(where("user_id") == record["user_id"])
        first_seen: dict[str, int] = {}
        for doc in mine:
            first_seen.setdefault(doc["family_id"], doc.doc_id)
        if len(first_seen) >= cap:
            oldest = sorted(first_seen, key=first_seen.__getitem__)
            evict = set(oldest[: len(first_seen) - cap + 1])
            table.remove(doc_ids=[d.doc_id for d in mine if d["family_id"] in evict])
        table.insert(record)

    def rotate(
        self,
        token_hash: str,
        successor: dict[str, Any],
        now: float,
        active_user: Callable[[str, str], dict[str, Any] | None],
    ) -> RotationResult:
        """Use `token_hash` and store `successor` in one write, or say why not."""
        table = self.table
        current = table.get(where("hash") == token_hash)
        if not isinstance(current, Document):
            return RotationResult("invalid")
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
        table.update({"used_at": now}, doc_ids=[current.doc_id])
        table.insert(record)
        return RotationResult("ok", user=user, record=record)

    def revoke(self, family_id: str, reason: str, now: float) -> int:
        table = self.table
        ids = [
            d.doc_id
            for d in table.search(where("family_id") == family_id)
            if d.get("revoked_at") is None
        ]
        if ids:
            table.update({"revoked_at": now, "revoked_reason": reason}, doc_ids=ids)
        return len(ids)

    def prune(self, now: float) -> int:
        """Drop whole families past their absolute expiry (kept until then to detect reuse)."""
        table = self.table
        ids = [d.doc_id for d in table.all() if d["expires_at"] <= now]
        if ids:
            table.remove(doc_ids=ids)
        return len(ids)
