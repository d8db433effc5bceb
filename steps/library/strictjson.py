"""A JSON parser as strict as RFC 8259 and JavaScript's JSON.parse, for every body the suite reads.

Python's json module accepts `NaN`, `Infinity` and lone surrogate escapes such as "\\ud800"; a
browser or a Go client refuses them, so a server that sends them is unreadable for its users
(ERR-4). Valid surrogate pairs are joined by the parser, so any surrogate left afterwards is lone.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from typing import Any

MAX_DEPTH = 10_000
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")
_LIMIT_LOCK = threading.Lock()
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)


class InvalidJson(ValueError):
    """The text is not JSON as RFC 8259 defines it."""


class TooDeep(Exception):
    """Valid or not, the body nests deeper than the suite can parse: the suite's limit."""


def is_json_media_type(content_type: str | None) -> bool:
    """application/json and the +json family (problem+json, vnd.api+json, ...)."""
    media = (content_type or "").split(";", 1)[0].strip()
    return bool(JSON_MEDIA_TYPE.match(media))


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def loads(raw: bytes | str) -> Any:
    """Parse strictly: UTF-8, no NaN/Infinity tokens, no lone surrogate in any string or key.

    A number too large for a double (1e999, or the 1,000 digits PostgreSQL's jsonb turns it into)
    is valid JSON text, so it is accepted here; only what RFC 8259 forbids is refused.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJson(f"the body is not UTF-8: {exc}") from exc
    try:
        data = parse(raw)
    except InvalidJson:
        raise
    except ValueError as exc:
        raise InvalidJson(f"the body is not JSON: {exc}") from exc
    # A surrogate can only come from a \\uD800-\\uDFFF escape (UTF-8 cannot carry one), so text
    # without such an escape needs no walk.
    where = lone_surrogate(data) if SURROGATE_ESCAPE.search(raw) else None
    if where is not None:
        raise InvalidJson(f"lone surrogate escape at {where}")
    return data


def parse(text: str) -> Any:
    """json.loads, with room for the deep nesting a hostile-data scenario may read back.

    Deep but valid JSON is the target's right; the parser's recursion limit is the suite's own
    limit, so it is raised (up to MAX_DEPTH) rather than held against the target.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        pass
    with _LIMIT_LOCK:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, MAX_DEPTH + 1000))
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise TooDeep(f"the body nests more than {MAX_DEPTH} levels deep") from exc
        finally:
            sys.setrecursionlimit(old)


def lone_surrogate(data: Any, path: str = "") -> str | None:
    """Where the first string (or key) holding a lone surrogate is, or None."""
    stack = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return where or "(body)"
        elif isinstance(value, dict):
            for key, item in value.items():
                if _has_surrogate(key):
                    return f"{where}/{key!r} (a key)"
                stack.append((f"{where}/{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}/{i}", item) for i, item in enumerate(value))
    return None


def _has_surrogate(text: str) -> bool:
    return SURROGATE.search(text) is not None
