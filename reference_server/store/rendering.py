"""Documents as a list shows them, encoded once: each is encoded the first time it is read after
it changed, and that encoding serves every request until it changes again.

A `Rendering` is one table seen through one projection (the fields a list shows). It hears every
change of its table (`DurableStorage.listen`), undos included, and forgets the document changed;
so what it holds is always what the table holds. It is read and filled only where the store
reads (on the store thread, or on the loop while that thread is quiet: `thread.py`), never
concurrently with a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jsonio import UNSERVABLE, EncodedObject, dumps, servable
from .durable import DurableStorage

#: Encodings kept per rendering; past this the oldest go (they are made again when read).
MAX_ENTRIES = 10_000


class Rendering:
    """`table`'s documents projected on `fields`, each as its `EncodedObject`'s bytes."""

    def __init__(self, storage: DurableStorage, table: str, fields: tuple[str, ...]) -> None:
        self._storage = storage
        self._table = table
        self._fields = fields
        self._encoded: dict[int, tuple[bytes, bool]] = {}
        storage.listen(table, self._forget)

    def _forget(self, doc_id: int, before: Mapping[str, Any] | None,
                after: Mapping[str, Any] | None) -> None:
        self._encoded.pop(doc_id, None)

    def shown(self, doc_id: int) -> EncodedObject:
        """The document as the list shows it (an empty object if it is missing)."""
        hit = self._encoded.get(doc_id)
        if hit is None:
            doc = self._storage.read().get(self._table, {}).get(str(doc_id)) or {}
            shown = {f: doc.get(f) for f in self._fields}
            try:
                hit = (dumps(shown), False)
            except UNSERVABLE:  # stored before input validation existed (jsonio.list_response)
                hit = (dumps(servable(shown)), True)
            if len(self._encoded) >= MAX_ENTRIES:
                del self._encoded[next(iter(self._encoded))]
            self._encoded[doc_id] = hit
        return EncodedObject(*hit)
