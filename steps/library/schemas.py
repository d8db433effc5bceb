"""JSON Schemas for every body the API returns, checked with jsonschema, not by ad-hoc key tests.

The schemas require what the contract requires and allow what it leaves free (extra fields, any id
format, any message wording).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).with_name("schemas")


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(name: str, instance: Any) -> list[str]:
    """Every way the instance breaks the schema, as readable lines (empty when it conforms)."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors]


def assert_valid(name: str, instance: Any) -> None:
    found = problems(name, instance)
    assert not found, f"the body is not a valid {name}:\n  " + "\n  ".join(found)
