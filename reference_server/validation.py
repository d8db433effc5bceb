"""Request-body parsing and field checks that produce the profile's 400/415/422 errors."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import hdrs, web

from .errors import (
    ApiError,
    BadRequest,
    BodyUnreadable,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    ValidationError,
)
from .framing import send_continue
from .state import SETTINGS

REQUIRED = "This field is required"
READ_ONLY = "This field is read-only"
NOT_UNICODE = "Must be valid Unicode text (no lone surrogate escapes)"
DUPLICATE = "Appears more than once in its object"

#: Nesting levels a JSON field may hold (the field's own object is level 1). Deep enough for any
#: real metadata, far from the ~1,000 levels at which Python's JSON encoder gives up.
MAX_DEPTH = 16
#: Integers beyond this lose precision in JavaScript and other IEEE-754 clients (RFC 7493 §2.2).
MAX_SAFE_INTEGER = 2**53 - 1
#: Unknown field names are named back in `details`, shortened and at most this many.
MAX_UNKNOWN_NAMED = 20
_MAX_NAME_ECHO = 64


def is_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate (JSON's "\\ud800"), which UTF-8 cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable_name(name: str) -> str:
    """A field name safe to send back: valid Unicode, short."""
    if not is_unicode(name):
        name = name.encode("utf-8", "replace").decode("utf-8")
    return name if len(name) <= _MAX_NAME_ECHO else name[: _MAX_NAME_ECHO - 1] + "…"


def json_value_problem(value: Any, path: str, depth: int = 1) -> str | None:
    """Why `value` could not be stored and served back as strict JSON, or None.

    Checks nesting depth, finite numbers, safe integers and valid Unicode in keys and strings.
    Iterative, so a hostile depth costs no recursion.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if isinstance(item, dict | list):
            if level > MAX_DEPTH:
                return f"{where}: nested more than {MAX_DEPTH} levels deep"
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not is_unicode(key):
                        return f"{where}: a key is not valid Unicode text (lone surrogate)"
                    stack.append((sub, f"{where}.{_printable_name(key)}", level + 1))
            else:
                stack.extend((sub, f"{where}[{i}]", level + 1) for i, sub in enumerate(item))
        elif isinstance(item, str):
            if not is_unicode(item):
                return f"{where}: not valid Unicode text (lone surrogate escape)"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{where}: numbers must be finite (JSON has no Infinity or NaN)"
        elif isinstance(item, int | float) and not isinstance(item, bool) and (
            abs(item) > MAX_SAFE_INTEGER
        ):
            # Every float past 2**53 is a whole number too, and no client reads it exactly.
            return f"{where}: numbers must be within ±{MAX_SAFE_INTEGER}; send larger ones as text"
    return None


def _is_json_media_type(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(ValueError):
    """A key repeated within one JSON object (RFC 8259 §4: names SHOULD be unique)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: an object, unless a key repeats (then parsers disagree on its value:
    most keep the last, some the first; so the server refuses to guess)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey()
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_reject_constant)


class _Pairs(list[tuple[str, Any]]):
    """An object parsed as its key/value pairs, repeats kept (to find where a key repeats)."""


def _first_repeated_key(tree: Any) -> list[str] | None:
    """The path to the first key that repeats within its object, or None. Iterative."""
    stack: list[tuple[Any, list[str]]] = [(tree, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, _ in node:
                if key in seen:
                    return [*path, key]
                seen.add(key)
            stack.extend((value, [*path, key]) for key, value in reversed(node))
        elif isinstance(node, list):
            stack.extend((value, [*path, f"[{i}]"]) for i, value in reversed(list(enumerate(node))))
    return None


def duplicate_key_error(text: str) -> ApiError:
    """The error for a body in which a key repeats: a 422 naming the field that holds it (or
    the repeated field itself), unless the body is not a valid JSON object anyway (400).
    A second parse, keeping every pair: on this error path only."""
    try:
        tree = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return BadRequest("Request body is not valid JSON")
    if not isinstance(tree, _Pairs):
        return BadRequest("Request body must be a JSON object")
    path = _first_repeated_key(tree)
    if not path:
        return BadRequest("Request body is not valid JSON")
    names = [_printable_name(p) for p in path]
    where = names[0]
    for name in names[1:]:
        where += name if name.startswith("[") else f".{name}"
    message = DUPLICATE if len(names) == 1 else f"{where}: a key appears more than once"
    return ValidationError("Duplicate key in the request body", details={names[0]: [message]})


async def read_body(request: web.Request) -> bytes:
    """The request body's bytes, read within the server's bounds.

    A declared length over the body cap is a 413 before anything is read, and the connection
    is closed; only then is a deferred `100 Continue` sent (framing.py), so a client that waits
    for it sends nothing the server would refuse. A body read past the cap is a 413 from
    aiohttp's `client_max_size`; a body not received within `body_timeout` is a 408, and the
    connection is closed; a body that does not decode (its Content-Encoding) or breaks off is
    a 400. aiohttp keeps what was read: a second call costs nothing (a signed request's body
    is read to check its hash, then parsed by the handler).
    """
    declared = request.content_length
    if declared is not None and declared > request.client_max_size:
        raise PayloadTooLarge()
    await send_continue(request)
    try:
        if request.content.is_eof():  # the whole body is here already: nothing to wait for
            return await request.read()
        # A client trickling its body must not hold a connection and a handler for minutes.
        async with asyncio.timeout(request.app[SETTINGS].body_timeout):
            return await request.read()
    except TimeoutError as exc:
        raise RequestTimeout() from exc
    except web.RequestPayloadError as exc:
        coded = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower() not in (
            "", "identity")
        raise BodyUnreadable(
            "Request body does not decode as its Content-Encoding says" if coded else None
        ) from exc
    except ConnectionResetError as exc:  # the client went away mid-body: nobody to answer
        raise BodyUnreadable("The connection closed before the whole body arrived") from exc


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    A Content-Type other than JSON is a 415; with no Content-Type the body is tried as JSON.
    The body is read by `read_body`, within its bounds. Invalid JSON (or NaN/Infinity, or absurd
    nesting) or a non-object is a 400; a key repeated within an object is a 422 naming the field.
    """
    if hdrs.CONTENT_TYPE in request.headers and not _is_json_media_type(request.content_type):
        raise UnsupportedMediaType()
    raw = await read_body(request)
    try:
        text = raw.decode("utf-8")
        data = _DECODER.decode(text)  # json.loads with these hooks, without a decoder per call
    except _DuplicateKey as exc:
        raise duplicate_key_error(text) from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    return data


class FieldErrors:
    """Collects per-field messages so one 422 names every bad field at once."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.details.setdefault(name, []).append(message)

    def string(
        self,
        body: dict[str, Any],
        name: str,
        *,
        required: bool = True,
        max_length: int = 1000,
        strip: bool = False,
        allow_empty: bool = False,
    ) -> str | None:
        if name not in body or body[name] is None:
            if required:
                self.add(name, REQUIRED)
            return None
        value = body[name]
        if not isinstance(value, str):
            self.add(name, "Must be a string")
            return None
        if not is_unicode(value):
            self.add(name, NOT_UNICODE)
            return None
        if strip:
            value = value.strip()
        if not value and not allow_empty:
            self.add(name, "Must not be empty")
            return None
        if len(value) > max_length:
            self.add(name, f"Must be at most {max_length} characters")
            return None
        return value

    def boolean(self, body: dict[str, Any], name: str, default: bool) -> bool:
        if name not in body:
            return default
        value = body[name]
        if not isinstance(value, bool):
            self.add(name, "Must be a boolean")
            return default
        return value

    def json_object(self, body: dict[str, Any], name: str, max_bytes: int) -> dict[str, Any]:
        """A JSON object field that can always be served back (depth, numbers, Unicode, size)."""
        if name not in body:
            return {}
        value = body[name]
        if not isinstance(value, dict):
            self.add(name, "Must be an object")
            return {}
        problem = json_value_problem(value, name)
        if problem is not None:
            self.add(name, problem)
            return {}
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > max_bytes:
            self.add(name, f"Must serialize to at most {max_bytes} bytes")
            return {}
        return value

    def read_only(self, body: dict[str, Any], names: tuple[str, ...]) -> None:
        for name in names:
            if name in body:
                self.add(name, READ_ONLY)

    def unknown(self, body: dict[str, Any], allowed: set[str]) -> None:
        """Name unknown fields back (shortened, valid Unicode, at most MAX_UNKNOWN_NAMED)."""
        unknown = [name for name in body if name not in allowed and name not in self.details]
        for name in unknown[:MAX_UNKNOWN_NAMED]:
            self.add(_printable_name(name), "Unknown field")

    def raise_if_any(self) -> None:
        if self.details:
            raise ValidationError(details=self.details)
