"""Request-body parsing and field checks that produce the profile's 400/415/422 errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import hdrs, web

from .errors import BadRequest, UnsupportedMediaType, ValidationError

REQUIRED = "This field is required"
READ_ONLY = "This field is read-only"


def _is_json_media_type(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    A Content-Type other than JSON is a 415; with no Content-Type the body is tried as JSON.
    Invalid JSON (or NaN/Infinity, or absurd nesting) or a non-object is a 400. The body
    size cap (413) is enforced by aiohttp's `client_max_size` inside `request.read()`.
    """
    if hdrs.CONTENT_TYPE in request.headers and not _is_json_media_type(request.content_type):
        raise UnsupportedMediaType()
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
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
        if name not in body:
            return {}
        value = body[name]
        if not isinstance(value, dict):
            self.add(name, "Must be an object")
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
        for name in body:
            if name not in allowed and name not in self.details:
                self.add(name, "Unknown field")

    def raise_if_any(self) -> None:
        if self.details:
            raise ValidationError(details=self.details)
