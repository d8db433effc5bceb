"""Parsing and validation of the list query parameters shared by every list endpoint."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from .errors import ValidationError

DEFAULT_PAGE = 1
DEFAULT_QUANTITY = 20
MAX_QUANTITY = 100
DEFAULT_ORDER = "-created_at"
_MAX_PARAM_LEN = 100
_INT_RE = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class ListParams:
    """A validated page request: 1-based page, page size, sort field and direction."""

    page: int = DEFAULT_PAGE
    quantity: int = DEFAULT_QUANTITY
    order_field: str = "created_at"
    descending: bool = True

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.quantity


@dataclass(frozen=True)
class Page:
    """One page of a list: the total matching count and the items served."""

    total: int
    results: Sequence[Mapping[str, Any]]


def _one(query: MultiMapping[str], name: str, details: dict[str, list[str]]) -> str | None:
    values = query.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        details[name] = ["Only one value is allowed"]
        return None
    return values[0]


def _int_param(
    query: MultiMapping[str],
    name: str,
    default: int,
    maximum: int | None,
    details: dict[str, list[str]],
) -> int:
    raw = _one(query, name, details)
    if raw is None:
        return default
    text = raw.strip()
    if len(text) > _MAX_PARAM_LEN or not _INT_RE.fullmatch(text):
        details[name] = ["Must be an integer"]
        return default
    value = int(text)
    if value < 1:
        details[name] = ["Must be at least 1"]
    elif maximum is not None and value > maximum:
        details[name] = [f"Must be at most {maximum}"]
    return value


def parse_list_params(query: MultiMapping[str], allowed_order: Collection[str]) -> ListParams:
    """Validate `page`, `quantity` and `order_by`; raise a 422 naming every bad parameter."""
    details: dict[str, list[str]] = {}
    page = _int_param(query, "page", DEFAULT_PAGE, None, details)
    quantity = _int_param(query, "quantity", DEFAULT_QUANTITY, MAX_QUANTITY, details)
    order = _one(query, "order_by", details)
    if order is None:
        order = DEFAULT_ORDER
    descending = order.startswith("-")
    field = order[1:] if descending else order
    if "order_by" not in details and field not in allowed_order:
        allowed = ", ".join(sorted(allowed_order))
        details["order_by"] = [f"Unknown sort field; allowed: {allowed} (prefix - to descend)"]
    if details:
        raise ValidationError("Invalid query parameters", details=details)
    return ListParams(page=page, quantity=quantity, order_field=field, descending=descending)
