"""Strict JSON out: every body the server sends is RFC 8259 JSON a strict parser accepts.

Python's `json.dumps` writes `NaN`/`Infinity` and lone surrogate escapes, which JavaScript's
`JSON.parse` and other strict parsers refuse; and it raises `RecursionError` on deep nesting.
Input validation keeps such values out of the database, so `json_response` refusing them is
the last line of defence. `servable` repairs values stored before that validation existed.

A stored document is encoded once (`EncodedObject`, made by the store's `Rendering`), not once
per request: a list page is those encodings joined.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger("reference_server")

#: Deepest nesting `servable` keeps; it is far above what validation lets in (see validation.py).
SERVABLE_DEPTH = 64

#: Errors of `dumps` on a value that cannot be written as strict JSON.
UNSERVABLE = (ValueError, UnicodeEncodeError, RecursionError)


def dumps(data: Any) -> bytes:
    """Strict UTF-8 JSON: raises ValueError on NaN/Infinity, UnicodeEncodeError on surrogates."""
    return json.dumps(data, allow_nan=False, ensure_ascii=False).encode("utf-8")


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """`web.json_response`, strictly encoded (every JSON response of the server goes here)."""
    return web.Response(
        body=dumps(data),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def _clean_text(text: str) -> str:
    """Lone surrogates become U+FFFD, the way a UTF-8 decoder repairs invalid input."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def servable(value: Any, depth: int = 0) -> Any:
    """A copy of `value` that `dumps` accepts.

    Non-finite numbers become null (as `JSON.stringify` does), lone surrogates U+FFFD, and
    anything nested deeper than SERVABLE_DEPTH null.
    """
    if depth > SERVABLE_DEPTH:
        return None
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean_text(str(k)): servable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [servable(v, depth + 1) for v in value]
    return value


class EncodedObject(Mapping[str, Any]):
    """A JSON object already encoded by `dumps` (or repaired by `servable`, then `repaired`).

    A response sends `json` as it is. Whoever looks inside gets a copy decoded from it, their
    own: so the encoding can be shared by every request, and a caller's change to what it reads
    changes nothing stored (and is sent, if it is sent: see `encode_item`).
    """

    __slots__ = ("_value", "json", "repaired")

    def __init__(self, json_bytes: bytes, repaired: bool = False) -> None:
        self.json = json_bytes
        self.repaired = repaired
        self._value: dict[str, Any] | None = None

    @property
    def untouched(self) -> bool:
        """Nobody has looked inside, so nobody can have changed it: `json` is what it holds."""
        return self._value is None

    @property
    def value(self) -> dict[str, Any]:
        if self._value is None:
            self._value = json.loads(self.json)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self.value[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        return f"EncodedObject({self.json!r})"


def encode_item(item: Mapping[str, Any]) -> bytes:
    """One item of a list page; an item stored before input validation existed is repaired and
    logged, not a 500.

    Refusing to load such a database would take every organization down for one record, and
    skipping the item would make `total` lie; so the item is served repaired and logged, and
    the stored record is left as it is for an operator to look at.
    """
    if isinstance(item, EncodedObject):
        if item.repaired:
            _log_repaired(item)
        if item.untouched:
            return item.json
        item = item.value
    elif not isinstance(item, dict):
        item = dict(item)
    try:
        return dumps(item)
    except UNSERVABLE:
        _log_repaired(item)
        return dumps(servable(dict(item)))


def _log_repaired(item: Mapping[str, Any]) -> None:
    log.warning("served a stored item that is not valid JSON, repaired: id=%s",
                _clean_text(str(item.get("id"))))


def list_response(total: int, page: int, results: Sequence[Mapping[str, Any]]) -> web.Response:
    """A list page: `{"total", "page", "results"}`, each item encoded by `encode_item`."""
    items = b", ".join([encode_item(item) for item in results])
    body = b'{"total": %d, "page": %d, "results": [%s]}' % (total, page, items)
    return web.Response(body=body, content_type="application/json", charset="utf-8")
