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
from collections.abc import Iterator
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


def lone_surrogate(data: Any) -> str | None:
    """Where the first string (or key) holding a lone surrogate is, or None."""
    for where, key, value in walk(data):
        if key is not None and _has_surrogate(key):
            return f"{where} (a key)"
        if isinstance(value, str) and _has_surrogate(value):
            return str(where)
    return None


class Path:
    """Where a value sits, written out only when a finding needs it."""

    __slots__ = ("key", "parent")

    def __init__(self, parent: Path | None, key: Any) -> None:
        self.parent, self.key = parent, key

    def inside(self, name: str) -> bool:
        node: Path | None = self
        while node is not None:
            if node.key == name:
                return True
            node = node.parent
        return False

    def __str__(self) -> str:
        keys, node = [], self
        while node is not None and node.parent is not None:
            keys.append(str(node.key))
            node = node.parent
        return "/" + "/".join(reversed(keys)) if keys else "(body)"


def walk(data: Any) -> Iterator[tuple[Path, str | None, Any]]:
    """Every value of a parsed JSON body with its path and key, depth first, with one iterator
    per level open at a time: time and memory stay linear, however large or deep the body."""
    root = Path(None, None)
    yield root, None, data
    stack: list[tuple[Path, Iterator[tuple[Any, Any]], bool]] = []

    def children(value: Any) -> Iterator[tuple[Any, Any]] | None:
        if isinstance(value, dict):
            return iter(value.items())
        if isinstance(value, list):
            return enumerate(value)
        return None

    first = children(data)
    if first is not None:
        stack.append((root, first, isinstance(data, dict)))
    while stack:
        parent, items, keyed = stack[-1]
        step = next(items, None)
        if step is None:
            stack.pop()
            continue
        key, value = step
        where = Path(parent, key)
        yield where, (str(key) if keyed else None), value
        more = children(value)
        if more is not None:
            stack.append((where, more, isinstance(value, dict)))


def _has_surrogate(text: str) -> bool:
    return SURROGATE.search(text) is not None
