"""JSON Schemas for every body the API returns, checked with jsonschema, not by ad-hoc key tests.

The schemas require what the contract requires and allow what it leaves free (extra fields, any id
format, any message wording). A schema is the shape of one requirement, so a body that breaks it
blames that requirement whichever scenario read it (an account without `created_at` breaks ACC-6
inside a create's answer, a list walk or a mass-assignment check alike). The error body is the
exception: its requirement depends on the status and on what the scenario asked (ERR-0, ERR-1,
AUTH-5, ...), so the step that checks it decides.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from dpaas_conformance.library.outcomes import TargetFailure
from dpaas_conformance.library.requirements import MUST, SHOULD
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).with_name("schemas")

#: The requirement each schema is the shape of, and whether it holds wherever the body is read
#: (pinned) or is the usual requirement of the call that got it (a list envelope read in a walk
#: that ERR-5 guards is ERR-5's). None: the step decides.
SCHEMA_REQUIREMENTS: dict[str, tuple[str, str, bool] | None] = {
    "account": ("ACC-6", MUST, True),
    "user": ("USER-1", MUST, True),
    "user-recommended": ("USER-1", SHOULD, True),
    "list": ("LIST-1", MUST, False),
    "token": ("AUTH-1", MUST, False),
    "jwks": ("AUTH-17", SHOULD, True),
    "service-account": ("SA-1", MUST, True),
    "key": ("KEY-4", SHOULD, True),
    "error": None,
}


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(name: str, instance: Any) -> list[str]:
    """Every way the instance breaks the schema, as readable lines (empty when it conforms)."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors]


def assert_valid(name: str, instance: Any, requirement: str | None = None,
                 where: str = "the body") -> None:
    """Fails naming the schema's requirement (or `requirement`, for a token that a refresh
    rather than a login handed out); the error body's check stays the step's own assertion."""
    found = problems(name, instance)
    if not found:
        return
    message = (f"{where} is not a valid {name}: {found[0]}"
               + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
               + "".join(f"\n  {p}" for p in found[1:]))
    owner = SCHEMA_REQUIREMENTS.get(name)
    if owner is None:
        raise AssertionError(message)
    default, level, pinned = owner
    raise TargetFailure(requirement or default, message, level, pinned=pinned)
