"""In-memory indexes over the documents: built at start, kept current by every change.

A list page must cost the same whether the organization holds 100 rows or 10,000, and whatever
other organizations hold. So each listable table keeps, per organization and per sort field, the
document ids ordered by (value, insertion id): a page is a slice. Lookups by key (a slug, an
email, a token hash) are dicts. Each index is a listener of `DurableStorage.listen`: it hears
(doc_id, before, after) for every insert, update, removal and undo.
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from ..pagination import ListParams

Doc = Mapping[str, Any]


def sort_key(value: Any) -> tuple[int, Any]:
    """A total order over JSON values: null first, then strings, then numbers, then the rest.

    Lists only sort strings (names, emails, timestamps) and null; the other ranks exist so that a
    hand-edited document can never make a comparison fail.
    """
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


class Ordering:
    """Document ids in the order of one field, ties broken by id (insertion order)."""

    __slots__ = ("keys",)

    def __init__(self, keys: list[tuple[tuple[int, Any], int]] | None = None) -> None:
        self.keys = keys if keys is not None else []

    def add(self, value: Any, doc_id: int) -> None:
        insort(self.keys, (sort_key(value), doc_id))

    def discard(self, value: Any, doc_id: int) -> None:
        key = (sort_key(value), doc_id)
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i]

    def __len__(self) -> int:
        return len(self.keys)

    def slice(self, offset: int, count: int, descending: bool) -> list[int]:
        """Ids of positions [offset, offset + count) in ascending or descending order."""
        size = len(self.keys)
        if descending:
            stop = max(0, size - offset)
            return [doc_id for _, doc_id in reversed(self.keys[max(0, stop - count) : stop])]
        return [doc_id for _, doc_id in self.keys[offset : offset + count]]

    def up_to(self, value: Any, limit: int) -> list[int]:
        """Ids of up to `limit` documents whose field is <= `value`, smallest first."""
        stop = bisect_right(self.keys, (sort_key(value), float("inf")))
        return [doc_id for _, doc_id in self.keys[: min(stop, limit)]]


class Rows:
    """What one list shows: its total, and any page of it in any of its orders."""

    def __init__(self, orderings: Mapping[str, Ordering]) -> None:
        self._orderings = orderings

    @property
    def total(self) -> int:
        return len(next(iter(self._orderings.values()), ()))

    def page(self, params: ListParams) -> list[int]:
        """The document ids of one page (the sort field was validated by the route)."""
        ordering = self._orderings.get(params.order_field, Ordering())
        return ordering.slice(params.offset, params.quantity, params.descending)


class Listing:
    """A listable table: per organization, one `Ordering` per sort field.

    `where` keeps only the documents a list shows (live accounts, say): one that stops matching
    leaves the listing as if removed, one that starts matching joins it as if inserted.
    """

    def __init__(
        self, name: str, fields: Iterable[str], tenant: str = "organization_id",
        where: Callable[[Doc], bool] | None = None,
    ) -> None:
        self.name = name
        self.fields = tuple(fields)
        self._tenant = tenant
        self._where = where
        self._by_tenant: dict[Any, dict[str, Ordering]] = {}

    def change(self, doc_id: int, before: Doc | None, after: Doc | None) -> None:
        if self._where is not None:
            before = before if before is not None and self._where(before) else None
            after = after if after is not None and self._where(after) else None
            if before is None and after is None:
                return
        old = None if before is None else _hashable(before.get(self._tenant))
        new = None if after is None else _hashable(after.get(self._tenant))
        moved = before is None or after is None or old != new
        fields = [f for f in self.fields if moved or before.get(f) != after.get(f)]  # type: ignore[union-attr]
        if before is not None and fields:
            group = self._by_tenant[old]
            for f in fields:
                group[f].discard(before.get(f), doc_id)
            if not group[self.fields[0]]:
                del self._by_tenant[old]
        if after is not None and fields:
            group = self._by_tenant.get(new) or self._by_tenant.setdefault(
                new, {f: Ordering() for f in self.fields}
            )
            for f in fields:
                group[f].add(after.get(f), doc_id)

    def rows(self, organization_id: str) -> Rows:
        """The rows one organization may see."""
        return Rows(self._by_tenant.get(organization_id) or {f: Ordering() for f in self.fields})

    def all_rows(self) -> Rows:
        """Every organization's rows: what a server that forgot the tenant filter would list."""
        return Rows({
            f: Ordering(list(heapq.merge(*(g[f].keys for g in self._by_tenant.values()))))
            for f in self.fields
        })


class SortedIndex:
    """Every document of a table in the order of one field (refresh records by expiry)."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.ordering = Ordering()

    def change(self, doc_id: int, before: Doc | None, after: Doc | None) -> None:
        old = None if before is None else before.get(self.field)
        if before is not None and after is not None and old == after.get(self.field):
            return
        if before is not None:
            self.ordering.discard(old, doc_id)
        if after is not None:
            self.ordering.add(after.get(self.field), doc_id)

    def up_to(self, value: Any, limit: int) -> list[int]:
        return self.ordering.up_to(value, limit)


class KeyIndex:
    """Documents by a key computed from them (None: not indexed); keys may repeat."""

    def __init__(self, key: Callable[[Doc], Hashable | None]) -> None:
        self._key = key
        self._ids: dict[Hashable, dict[int, None]] = {}

    def _of(self, doc: Doc | None) -> Hashable | None:
        return None if doc is None else _hashable(self._key(doc))

    def change(self, doc_id: int, before: Doc | None, after: Doc | None) -> None:
        old, new = self._of(before), self._of(after)
        if old == new:  # also when there was no document before: then both are None
            return
        if old is not None:
            ids = self._ids.get(old)
            if ids is not None:
                ids.pop(doc_id, None)
                if not ids:
                    del self._ids[old]
        if new is not None:
            self._ids.setdefault(new, {})[doc_id] = None

    def first(self, key: Hashable) -> int | None:
        """The oldest document with this key (keys meant to be unique have one)."""
        ids = self._ids.get(key)
        return min(ids) if ids else None

    def ids(self, key: Hashable) -> list[int]:
        """Every document with this key, in the order they got it."""
        return list(self._ids.get(key, ()))


def _hashable(value: Any) -> Hashable | None:
    """Keys from hand-edited documents may be lists or objects: they are simply not indexed."""
    try:
        hash(value)
    except TypeError:
        return None
    return value
