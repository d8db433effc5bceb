"""Strict JSON out: every body the server sends is RFC 8259 JSON a strict parser accepts.

Python's `json.dumps` writes `NaN`/`Infinity` and lone surrogate escapes, which JavaScript's
`JSON.parse` and other strict parsers refuse; and it raises `RecursionError` on deep nesting.
Input validation keeps such values out of the database, so `json_response` refusing them is
the last line of defence. `servable` repairs values stored before that validation existed.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
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


def list_response(total: int, page: int, results: list[dict[str, Any]]) -> web.Response:
    """A list page; an item stored before input validation existed is repaired, not a 500.

    Refusing to load such a database would take every organization down for one record, and
    skipping the item would make `total` lie; so the item is served repaired and logged, and
    the stored record is left as it is for an operator to look at.
    """
    body = {"total": total, "page": page, "results": results}
    try:
        return json_response(body)
    except UNSERVABLE:
        pass
    repaired = []
    for item in results:
        try:
            dumps(item)
            repaired.append(item)
        except UNSERVABLE:
            log.warning("served a stored item that is not valid JSON, repaired: id=%s",
                        _clean_text(str(item.get("id"))))
            repaired.append(servable(item))
    return json_response({**body, "results": repaired})
