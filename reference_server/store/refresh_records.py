"""Refresh-token families: one record per family, whatever the number of rotations.

A family is what one login starts and each rotation continues. Its record:
{family_id, user_id, org_id, issued_at, expires_at, counter, hash, previous, rotated_at}:
- `counter`: the position of the family's current token (0 for the login's, +1 per rotation);
- `hash`: the SHA-256 of the current token (tokens are stored only as hashes);
- `previous`: the SHA-256 of the token the last rotation spent;
- the family shares one absolute expiry.

Reuse detection (AUTH-12, RFC 9700 §4.14.2) needs no record per spent token. The reference
server's tokens carry their family and position, authenticated by a tag (tokens.py): a token of
the family at a position below the counter is a spent one, and presenting it revokes the family.
A token that carries no position (one issued before this format, or by a variant that makes its
own) is found by its hash: the current one rotates, the one just spent (`previous`) revokes the
family, any older one is unknown. So memory and disk per family are constant, and a rotation is
one record update.

What is kept, and for how long: a family's record until it expires, is revoked (reuse, a user no
longer active, over the per-user cap) or is pruned. A token of a family that no longer exists is
refused exactly like an unknown one. Expired records are dropped while the server runs: every write
drops a few of the oldest, so pruning never stalls a request, and the whole backlog goes at
startup. Records of the earlier format (one per token, table `refresh_tokens`) are migrated to
families at startup, in one unit of work.

Runs on the store thread only, each call inside one unit of work (one journal record).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .core import StoreCore
from .durable import Database, DurableStorage, clone
from .indexes import KeyIndex, SortedIndex
from .snapshot import CorruptDatabaseError

log = logging.getLogger(__name__)

TABLE = "refresh_families"
#: The earlier format, one record per token; migrated at startup (`RefreshRecords.migrate`).
LEGACY_TABLE = "refresh_tokens"
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


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _family_problem(doc: Mapping[str, Any]) -> str | None:
    """What makes a stored family unusable, for the startup refusal; None if it is sound."""
    for name in ("hash", "family_id", "user_id", "org_id"):
        if not isinstance(doc.get(name), str):
            return f"has no valid {name!r}"
    try:
        uuid.UUID(doc["family_id"])  # tokens carry it as 16 bytes
    except ValueError:
        return "has no valid 'family_id'"
    if not _is_number(doc.get("expires_at")):
        return "has no valid 'expires_at'"
    counter = doc.get("counter")
    if type(counter) is not int or counter < 0:
        return "has no valid 'counter'"
    if doc.get("previous") is not None and not isinstance(doc.get("previous"), str):
        return "has no valid 'previous'"
    for name in ("issued_at", "rotated_at"):
        if doc.get(name) is not None and not _is_number(doc.get(name)):
            return f"has no valid {name!r}"
    return None


def _legacy_is_live(doc: Mapping[str, Any]) -> bool:
    return doc.get("used_at") is None and doc.get("revoked_at") is None


def _legacy_problem(doc: Mapping[str, Any]) -> str | None:
    """The earlier format's checks: a record per token, live or spent."""
    wanted: dict[str, tuple[type, ...]] = {"hash": (str,), "family_id": (str,),
                                           "expires_at": _NUMBER}
    if _legacy_is_live(doc):
        wanted.update(user_id=(str,), org_id=(str,))
    for name, types in wanted.items():
        value = doc.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"has no valid {name!r}"
    used = doc.get("used_at")
    if used is not None and not _is_number(used):
        return "has no valid 'used_at'"
    return None


def new_family(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a family whose first token is `record["hash"]` (other fields ignored)."""
    return {
        "family_id": record["family_id"],
        "user_id": record["user_id"],
        "org_id": record["org_id"],
        "issued_at": record["issued_at"],
        "expires_at": record["expires_at"],
        "counter": 0,
        "hash": record["hash"],
        "previous": None,
        "rotated_at": None,
    }


class RefreshRecords:
    """The refresh-family table of the tokens database, and its indexes."""

    def __init__(self, db: Database) -> None:
        self.storage: DurableStorage = db.durable
        self.table = db.documents(TABLE)
        self.legacy = db.documents(LEGACY_TABLE)
        for table, problem_of in ((self.table, _family_problem), (self.legacy, _legacy_problem)):
            for doc in table:
                problem = problem_of(doc)
                if problem:
                    raise CorruptDatabaseError(
                        f"database file {self.storage.path}: refresh token record {doc.doc_id} "
                        f"{problem}"
                    )
        self.by_hash = KeyIndex(lambda d: d.get("hash"))
        self.by_previous = KeyIndex(lambda d: d.get("previous"))
        self.by_family = KeyIndex(lambda d: d.get("family_id"))
        self.by_user = KeyIndex(lambda d: d.get("user_id"))
        self.by_expiry = SortedIndex("expires_at")
        for index in (self.by_hash, self.by_previous, self.by_family, self.by_user,
                      self.by_expiry):
            self.storage.listen(TABLE, index.change)

    def _get(self, doc_id: int) -> dict[str, Any]:
        doc = self.table.get(doc_id=doc_id)
        assert isinstance(doc, dict), f"index points at missing document {doc_id}"
        return doc

    def find(self, token_hash: str) -> dict[str, Any] | None:
        """The family whose current token this is; or, for the token its last rotation spent, the
        family as that token saw it (`hash` that token's, `used_at` when it was spent)."""
        doc_id = self.by_hash.first(token_hash)
        if doc_id is not None:
            return clone(dict(self._get(doc_id))) | {"used_at": None}
        doc_id = self.by_previous.first(token_hash)
        if doc_id is None:
            return None
        doc = clone(dict(self._get(doc_id)))
        return doc | {"hash": token_hash, "counter": doc["counter"] - 1,
                      "used_at": doc["rotated_at"]}

    def insert(self, record: Mapping[str, Any], cap: int, now: float) -> None:
        """Store a new family; over `cap` families the user's least recently used are dropped."""
        self.prune(now, PRUNE_PER_WRITE)
        families = sorted(
            (self._get(i) for i in self.by_user.ids(record["user_id"])),
            key=lambda d: (max(d.get("issued_at") or 0, d.get("rotated_at") or 0), d.doc_id),
        )
        for doc in families[: max(0, len(families) - cap + 1)]:
            self.revoke(doc["family_id"])
        self.table.insert(new_family(record))

    def rotate(
        self,
        token_hash: str,
        successor: Mapping[str, Any],
        now: float,
        active_user: Callable[[str, str], dict[str, Any] | None],
    ) -> RotationResult:
        """Spend the presented token and make `successor` the family's current one, in one unit
        of work; or say why not.

        `successor` names the family and the position of the new token when the presented one
        carries them (`family_id`, `counter`: the presented token is the one just before); else
        the presented token is found by its hash.
        """
        family_id = successor.get("family_id")
        if family_id is None:
            doc_id = self.by_hash.first(token_hash)
            if doc_id is None:
                spent = self.by_previous.first(token_hash)
                if spent is None:
                    return RotationResult("invalid")
                doc = self._get(spent)
                if doc["expires_at"] <= now:
                    return RotationResult("invalid")
                return RotationResult("reused", revoke=doc["family_id"])
            presented = self._get(doc_id)["counter"]
        else:
            doc_id = self.by_family.first(family_id)
            if doc_id is None:
                return RotationResult("invalid")
            presented = successor["counter"] - 1
        current = self._get(doc_id)
        if current["expires_at"] <= now:
            return RotationResult("invalid")
        if presented < current["counter"]:
            return RotationResult("reused", revoke=current["family_id"])
        if presented > current["counter"] or current["hash"] != token_hash:
            return RotationResult("invalid")
        user = active_user(current["user_id"], current["org_id"])
        if user is None:
            return RotationResult("invalid", revoke=current["family_id"])
        update = {"counter": presented + 1, "hash": successor["hash"], "previous": token_hash,
                  "rotated_at": now}
        self.table.update(update, doc_ids=[doc_id])
        self.prune(now, PRUNE_PER_WRITE)
        return RotationResult("ok", user=user, record=clone(dict(current)) | update)

    def revoke(self, family_id: str) -> int:
        """Drop a family's record; how many there were (one, unless a variant made more)."""
        ids = self.by_family.ids(family_id)
        return len(self.table.remove(doc_ids=ids)) if ids else 0

    def prune(self, now: float, limit: int | None = None) -> int:
        """Drop up to `limit` expired families, the longest expired first; how many."""
        ids = self.by_expiry.up_to(now, len(self.table) if limit is None else limit)
        return len(self.table.remove(doc_ids=ids)) if ids else 0

    def migrate(self, now: float) -> int:
        """Turn the earlier format's records (one per token) into families, in one unit of work:
        each live, unexpired token becomes its family's current one, the token it replaced the
        family's `previous`; spent and revoked tokens go. How many families."""
        if not len(self.legacy):
            return 0
        docs = list(self.legacy)
        with self.storage.transaction():
            families = 0
            for doc in docs:
                if not _legacy_is_live(doc) or doc["expires_at"] <= now:
                    continue
                parent = doc.get("parent_hash")
                issued = doc.get("issued_at") if _is_number(doc.get("issued_at")) else now
                self.table.insert({
                    # new ids: the old ones were never shown, and tokens.py wants UUIDs
                    **new_family({**doc, "family_id": str(uuid.uuid4()), "issued_at": issued}),
                    "previous": parent if isinstance(parent, str) else None,
                    "rotated_at": issued if isinstance(parent, str) else None,
                })
                families += 1
            self.legacy.remove(doc_ids=[d.doc_id for d in docs])
        return families


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
        migrated = self._records.migrate(self.now())
        if migrated:
            log.info("refresh tokens: migrated %d live token(s) of the earlier format to families",
                     migrated)
        pruned = self._records.prune(self.now())
        if pruned:
            log.info("pruned %d expired refresh token families", pruned)

    async def insert_refresh_token(self, record: Mapping[str, Any]) -> None:
        """Store a new family whose first token is `record["hash"]`, evicting the user's least
        recently used families over the cap."""
        await self._run(
            lambda: self._records.insert(
                dict(record), self.settings.max_families_per_user, self.now()
            )
        )

    async def find_refresh_token(self, token_hash: str) -> dict[str, Any] | None:
        """A copy of the family of a refresh token found by its hash, or None."""
        return await self._read(lambda: self._records.find(token_hash))

    async def rotate_refresh_token(
        self, token_hash: str, successor: Mapping[str, Any]
    ) -> RotationResult:
        """Atomically spend the presented token and store `successor`; on reuse revoke the
        family (see `RefreshRecords.rotate`).

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
            if result.status == "reused" and revoked:
                log.warning("refresh token reuse detected: the token's family is revoked")
        return result

    async def revoke_family(self, family_id: str, reason: str = "revoked") -> int:
        """Revoke a family: its record is dropped. How many records there were."""
        revoked = await self._run(lambda: self._records.revoke(family_id))
        if revoked:
            log.info("a refresh token family was revoked (%s)", reason)
        return revoked

    async def prune_refresh_tokens(self) -> int:
        """Drop every expired family now (writes also drop a few each)."""
        return await self._run(lambda: self._records.prune(self.now()))
