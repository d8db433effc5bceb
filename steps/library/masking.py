"""Secrets render masked wherever pytest or the suite prints them.

Two layers, because pytest prints far more than the suite writes itself:
- every password and token the suite holds is a `Secret`: a `str` that is itself wherever it is
  sent (JSON bodies, headers, comparisons) and masked wherever it is shown by `repr`, which is
  what pytest uses for a failing step's arguments (`Principal(... password=...)`,
  `Session(... refresh_token=...)`), for assertion introspection and for `--showlocals`;
- before a scenario's report leaves the process, every secret value the scenario could have met
  (the configured passwords, the tokens the target handed out) is masked in its traceback, its
  sections and its judgement, so that a value that got through as a plain string (a token in a
  local dict, a password the target echoed into a message) is masked in the terminal, the JUnit
  file, the HTML report and the JSON report alike.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, TypeVar

import pytest

TOKEN_FIELDS = ("access_token", "refresh_token", "secret_key")
#: Bodies larger than this are not searched for tokens: token responses are small.
TOKEN_BODY_LIMIT = 64 * 1024
#: A value this short is not searched for inside longer text (it would mask common words);
#: such passwords are still masked by `Secret` and in the exchange log as whole JSON values.
MIN_REDACTED = 6
R = TypeVar("R")


def mask(value: str) -> str:
    """Keeps enough of a secret to tell two apart, never enough to reuse it."""
    value = str(value)
    if len(value) <= 8:
        return "***"
    return f"{value[:6]}…{value[-2:]} ({len(value)} chars, masked)"


class Secret(str):
    """A password or a token: itself wherever it is sent, masked wherever it is shown."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask(str(self)))


def secret(value: Any) -> Any:
    """`value` as a Secret when it is a string (a token from a body may be anything)."""
    return Secret(value) if isinstance(value, str) and not isinstance(value, Secret) else value


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every secret (longest first, so that one inside another goes whole) masked in `text`."""
    for value in sorted({str(s) for s in secrets if s and len(s) >= MIN_REDACTED},
                        key=len, reverse=True):
        if value in text:
            text = text.replace(value, mask(value))
        escaped = json.dumps(value)[1:-1]  # as a JSON body or a repr would write it
        if escaped != value and escaped in text:
            text = text.replace(escaped, mask(value))
    return text


def tokens_in(exchanges: Iterable[Any]) -> set[str]:
    """The tokens and key secrets the target handed out, and the refresh tokens the suite sent,
    in a scenario.

    (Tokens the suite forged are test input that no target accepts, and stay readable in the
    replay commands.)"""
    found: set[str] = set()
    for exchange in exchanges:
        for message in (exchange.request, exchange.response):
            content = getattr(message, "content", b"") if message is not None else b""
            if not content or len(content) > TOKEN_BODY_LIMIT:
                continue
            try:
                body = json.loads(content)
            except (ValueError, RecursionError):
                continue
            if isinstance(body, dict):
                found |= {v for k in TOKEN_FIELDS if isinstance(v := body.get(k), str) and v}
    return found


def scrub_report(report: pytest.TestReport, result: R, target: Any, client: Any) -> R:
    """Masks the scenario's secrets (see `secrets_of`) in what the report carries (traceback,
    sections, warning) and in the scenario's typed result, which it returns. A report that
    carries nothing printable is left as it is."""
    failure = getattr(result, "failure", None)
    if (report.longrepr is None and not report.sections and not getattr(result, "reason", "")
            and failure is None):
        return result
    values = [s for s in secrets_of(target, client) if s]
    if not values:
        return result
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact(text, values)
        if clean != text:
            report.longrepr = clean  # a plain string: pytest, JUnit and pytest-html print it
    report.sections = [(title, redact(body, values)) for title, body in report.sections]
    wasxfail = getattr(report, "wasxfail", None)
    if isinstance(wasxfail, str):
        report.wasxfail = redact(wasxfail, values)
    return _redacted(result, values)


#: Fields that name the scenario, from the feature files (public text): a value a scenario sends
#: as a token ("an unknown one") is masked in what it sent and got, never in the key the verdict
#: files the result under (masked, the scenario read as "not run" beside a stray failure).
PUBLIC_FIELDS = frozenset({"identity", "scenario", "where", "step"})


def _redacted(value: R, values: list[str]) -> R:
    """A copy of a frozen dataclass whose text fields (nested ones too) are masked."""
    if not dataclasses.is_dataclass(value):
        return value
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        if f.name in PUBLIC_FIELDS:
            continue
        field_value = getattr(value, f.name)
        if isinstance(field_value, str) and field_value:
            changes[f.name] = redact(field_value, values)
        elif dataclasses.is_dataclass(field_value):
            changes[f.name] = _redacted(field_value, values)
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]


def secrets_of(target: Any, client: Any) -> list[str]:
    """The configured passwords and key secrets, and the tokens and secret keys of the
    scenario's exchanges."""
    found: list[str] = list(getattr(target, "secrets", None) or getattr(target, "passwords", ())
                            or ())
    if client is not None:
        found += sorted(tokens_in(client.exchanges))
    return found
